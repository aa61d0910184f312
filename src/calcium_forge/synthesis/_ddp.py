"""Process-group helpers for data-parallel CalciumGAN training under ``torchrun``.

``torchrun --nproc_per_node N`` starts N copies of the program with ``RANK``,
``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT`` set.
:func:`init_distributed` turns them into a process group (gloo on CPU, nccl
on CUDA, one GPU per local rank) and returns a :class:`DistContext`; outside
torchrun it returns a single-process context. The one trainer,
:func:`calcium_forge.synthesis.train.iter_train_gan`, takes that context as
``ddp=`` and does the rest (DistributedDataParallel, the global batch sharded
with :func:`shard_indices`, rank 0 writing the files). :func:`all_reduce_mean`
and :func:`average_gradients` are the two collectives it needs beyond DDP.

Example (shell)::

    torchrun --nproc_per_node 2 -m calcium_forge.cli train-gan data.npz --out gan/

``train_gan_ddp`` is a deprecated alias of ``train_gan(..., ddp=init_distributed())``.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np

from ..errors import InvalidInputError

__all__ = [
    "DistContext",
    "all_reduce_mean",
    "average_gradients",
    "init_distributed",
    "is_torchrun",
    "shard_indices",
]

_TORCHRUN_VARS = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


@dataclass
class DistContext:
    """Where this process stands in a (possibly single-process) job.

    Parameters
    ----------
    rank : int
        Global rank, 0..world_size-1.
    world_size : int
        Number of processes.
    local_rank : int
        Rank on this node (selects the GPU).
    backend : str or None
        ``"gloo"``, ``"nccl"`` or None when no process group exists.
    device : str
        ``"cpu"`` or ``"cuda:<local_rank>"``.
    owns_group : bool
        True when :func:`init_distributed` created the process group (and
        :meth:`close` destroys it).
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    backend: str | None = None
    device: str = "cpu"
    owns_group: bool = False

    @property
    def is_main(self) -> bool:
        """True on rank 0, the only rank that writes files and logs."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        """True when there is a process group with more than one process."""
        return self.backend is not None and self.world_size > 1

    def barrier(self) -> None:
        """Wait for every rank (no-op without a process group)."""
        if self.backend is not None:
            import torch.distributed as dist

            dist.barrier()

    def close(self) -> None:
        """Destroy the process group if this context created it."""
        if self.owns_group:
            import torch.distributed as dist

            if dist.is_initialized():
                dist.destroy_process_group()
            self.owns_group = False
            self.backend = None


def is_torchrun(environ: dict[str, str] | None = None) -> bool:
    """True when the torchrun variables (RANK, WORLD_SIZE, ...) are set."""
    env = os.environ if environ is None else environ
    return all(v in env for v in _TORCHRUN_VARS)


def init_distributed(
    backend: str | None = None, timeout_s: float = 300.0, device: str | None = None
) -> DistContext:
    """Join the torchrun process group, or return a single-process context.

    Parameters
    ----------
    backend : {"gloo", "nccl"}, optional
        Default: ``"nccl"`` when CUDA is available and ``device`` is not
        ``"cpu"``, else ``"gloo"``.
    timeout_s : float
        Collective-operation timeout in seconds.
    device : str, optional
        Force ``"cpu"``; by default ``"cuda:<LOCAL_RANK>"`` with nccl.

    Returns
    -------
    DistContext
        ``world_size == 1`` and no process group when not under torchrun.
    """
    if not is_torchrun():
        return DistContext(device=device or "cpu")
    import torch
    import torch.distributed as dist

    rank = int(os.environ["RANK"])
    world = int(os.environ["WORLD_SIZE"])
    local = int(os.environ["LOCAL_RANK"])
    use_cuda = torch.cuda.is_available() and device != "cpu"
    backend = backend or ("nccl" if use_cuda else "gloo")
    if backend not in ("gloo", "nccl"):
        raise InvalidInputError(f"backend must be 'gloo' or 'nccl'; got {backend!r}.")
    if backend == "nccl":
        if not use_cuda:
            raise InvalidInputError(
                "backend='nccl' needs CUDA GPUs; none is available here. Use backend='gloo'."
            )
        torch.cuda.set_device(local)
        dev = f"cuda:{local}"
    else:
        dev = device or "cpu"
    owns = False
    if not dist.is_initialized():
        dist.init_process_group(
            backend=backend,
            init_method="env://",
            rank=rank,
            world_size=world,
            timeout=timedelta(seconds=timeout_s),
        )
        owns = True
    return DistContext(rank, world, local, backend, dev, owns)


def shard_indices(
    n_items: int,
    rank: int,
    world_size: int,
    *,
    shuffle: bool = True,
    seed: int = 0,
    epoch: int = 0,
    drop_last: bool = False,
) -> np.ndarray:
    """Indices of the items rank ``rank`` handles, like ``torch.utils.data.DistributedSampler``.

    The (optionally shuffled, with ``seed + epoch``) index list is padded by
    repeating its start (or truncated with ``drop_last``) to a multiple of
    ``world_size``; rank ``r`` takes every ``world_size``-th index from ``r``.
    The shards are disjoint (apart from padding) and together cover every item.

    Parameters
    ----------
    n_items : int
        Number of items (e.g. training windows).
    rank, world_size : int
        This process and the number of processes.
    shuffle : bool
        Permute the items first (same permutation on every rank).
    seed, epoch : int
        Seed of the permutation; change ``epoch`` to reshuffle.
    drop_last : bool
        Drop the tail instead of padding.

    Returns
    -------
    numpy.ndarray
        int64 indices, ``ceil(n/world)`` (or ``floor`` with ``drop_last``) of them.
    """
    if world_size < 1 or not 0 <= rank < world_size:
        raise InvalidInputError(f"need 0 <= rank < world_size; got rank={rank}, {world_size}.")
    if n_items < 0:
        raise InvalidInputError(f"n_items must be >= 0; got {n_items}.")
    if shuffle:
        idx = np.random.default_rng([seed, epoch]).permutation(n_items)
    else:
        idx = np.arange(n_items)
    if drop_last:
        idx = idx[: (n_items // world_size) * world_size]
    else:
        per = -(-n_items // world_size) if n_items else 0
        if per * world_size > n_items:
            idx = np.concatenate([idx, np.resize(idx, per * world_size - n_items)])
    return idx[rank::world_size].astype(np.int64)


def all_reduce_mean(values: list[float] | np.ndarray, ctx: DistContext) -> np.ndarray:
    """Average numbers over all ranks (identity for one process).

    Parameters
    ----------
    values : sequence of float
        This rank's values (same length on every rank).
    ctx : DistContext
        The job.

    Returns
    -------
    numpy.ndarray
        float64 means over ranks.
    """
    arr = np.asarray(values, dtype=np.float64)
    if not ctx.distributed:
        return arr
    import torch
    import torch.distributed as dist

    t = torch.as_tensor(arr, dtype=torch.float64, device=ctx.device)
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return (t / ctx.world_size).cpu().numpy()


def average_gradients(parameters: Iterable[Any], ctx: DistContext) -> None:
    """Replace every gradient by its mean over ranks (no-op for one process).

    For steps that do not run through ``DistributedDataParallel`` (the
    autoencoder pretraining): the gradients are flattened into one tensor and
    all-reduced once. Every rank must pass the same parameters in the same order.

    Parameters
    ----------
    parameters : iterable of torch.nn.Parameter
        Parameters whose ``.grad`` to average (those without a gradient are skipped).
    ctx : DistContext
        The job.
    """
    if not ctx.distributed:
        return
    import torch
    import torch.distributed as dist

    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat, op=dist.ReduceOp.SUM)
    flat /= ctx.world_size
    offset = 0
    for g in grads:
        g.copy_(flat[offset : offset + g.numel()].view_as(g))
        offset += g.numel()


def __getattr__(name: str) -> Any:
    if name == "train_gan_ddp":
        warnings.warn(
            "calcium_forge.synthesis._ddp.train_gan_ddp is deprecated; use "
            "calcium_forge.synthesis.train.train_gan(..., ddp=init_distributed()).",
            DeprecationWarning,
            stacklevel=2,
        )
        from .train import _train_gan_ddp

        return _train_gan_ddp
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
