"""Data-parallel CalciumGAN training under ``torchrun`` (DistributedDataParallel).

``torchrun --nproc_per_node N`` starts N copies of the program with ``RANK``,
``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT`` set.
:func:`init_distributed` turns them into a process group (gloo on CPU, nccl
on CUDA, one GPU per local rank); :func:`train_gan_ddp` wraps the CalciumGAN
generator and critic in ``DistributedDataParallel`` and trains them with the
WGAN-GP recipe of :mod:`calcium_forge.synthesis.train`.

Equivalence with one process: ``GANTrainConfig.batch_size`` is the GLOBAL batch.
Every rank draws the random numbers of the whole global batch (window indices,
z, interpolation weights, Phase Shuffle shifts) from a generator seeded the
same on all ranks, and uses its own contiguous slice; DDP averages the
gradients of the per-rank mean losses, which equals the gradient of the
global mean. So N processes follow, up to floating-point summation order, the
trajectory of one process with the same global batch.

Only rank 0 writes checkpoints (the one-process trainer's format, so either
trainer can resume the other's), the model and logs.

Example (shell)::

    torchrun --nproc_per_node 2 -m calcium_forge.synthesis._ddp train-gan data.npz --out gan/
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InvalidInputError
from ..progress import Progress, drain

__all__ = [
    "DistContext",
    "all_reduce_mean",
    "init_distributed",
    "is_torchrun",
    "iter_train_gan_ddp",
    "shard_indices",
    "train_gan_ddp",
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


class _SlicedRandom:
    """Draw randomness for the global batch on every rank, keep this rank's slice."""

    def __init__(self, seed: int, rank: int, local_batch: int) -> None:
        import torch

        self.gen = torch.Generator().manual_seed(int(seed))
        self.lo = rank * local_batch
        self.hi = self.lo + local_batch

    def randint(self, high: int, global_batch: int, low: int = 0):
        import torch

        return torch.randint(low, high, (global_batch,), generator=self.gen)[self.lo : self.hi]

    def randn(self, global_batch: int, dim: int):
        import torch

        return torch.randn(global_batch, dim, generator=self.gen)[self.lo : self.hi]

    def rand(self, global_batch: int):
        import torch

        return torch.rand(global_batch, generator=self.gen)[self.lo : self.hi]


def _install_sliced_phase_shuffle(critic: Any, rnd: _SlicedRandom, world_size: int) -> None:
    """Make the critic's Phase Shuffle draw global-batch shifts and use this rank's slice."""
    import torch

    shuffle = getattr(critic, "shuffle", None)
    if shuffle is None or getattr(shuffle, "n", 0) == 0:
        return
    original = shuffle.forward

    def forward(x, shifts=None):
        if shifts is None and shuffle.training:
            n = shuffle.n
            shifts = rnd.randint(n + 1, x.shape[0] * world_size, low=-n)
            shifts = shifts.to(torch.int64)
        return original(x, shifts=shifts)

    shuffle.forward = forward


@dataclass
class DDPTrainResult:
    """Outcome of :func:`train_gan_ddp` (identical on every rank).

    Parameters
    ----------
    model : CalciumGAN
        The trained model (unwrapped generator and critic).
    history : dict
        Per generator step: ``step``, ``loss_d``, ``loss_g``, ``wasserstein``,
        ``gp`` (averaged over ranks = the global-batch values).
    steps_done : int
        Generator steps completed (including those before a resume).
    world_size : int
        Processes that trained.
    model_path : pathlib.Path or None
        ``out_dir/model.pt`` written by rank 0.
    seconds : float
        Wall time, seconds.
    """

    model: Any
    history: dict[str, list]
    steps_done: int
    world_size: int
    model_path: Path | None
    seconds: float


def iter_train_gan_ddp(
    data: Any,
    gan_config: Any = None,
    train_config: Any = None,
    *,
    ctx: DistContext | None = None,
    out_dir: str | Path | None = None,
    resume: str | Path | None = None,
    progress_every: int = 10,
    name: str = "model",
) -> Generator[Progress, None, DDPTrainResult]:
    """Generator version of :func:`train_gan_ddp` (progress is yielded on every rank)."""
    import torch
    from torch.nn.parallel import DistributedDataParallel as DDP

    from ..recording import Recording
    from .calciumgan import CalciumGAN, GANConfig, build_critic, build_generator
    from .train import (
        CHECKPOINT_FORMAT,
        GANTrainConfig,
        _fingerprint,
        gradient_penalty,
        load_checkpoint,
    )
    from .windows import WindowSplit, split_windows

    ctx = ctx or init_distributed()
    tcfg = train_config or GANTrainConfig()
    if tcfg.pretrain_steps:
        raise InvalidInputError(
            "train_gan_ddp does not run autoencoder pretraining; pretrain with one process "
            "(train-gan --pretrain-steps) or set pretrain_steps=0."
        )
    if tcfg.batch_size % ctx.world_size:
        raise InvalidInputError(
            f"the global batch_size {tcfg.batch_size} must be divisible by the number of "
            f"processes {ctx.world_size}; choose e.g. {ctx.world_size * 16}."
        )
    b_local = tcfg.batch_size // ctx.world_size
    if isinstance(data, WindowSplit):
        split = data
    elif isinstance(data, Recording):
        window = gan_config.window if gan_config is not None else GANConfig().window
        split = split_windows(
            data,
            window,
            stride=tcfg.window_stride,
            held_out_fraction=tcfg.held_out_fraction,
            per_neuron_scaling=bool(getattr(tcfg, "per_neuron_scaling", False)),
        )
    else:
        raise InvalidInputError(
            f"train_gan_ddp: data must be a Recording or WindowSplit; got {type(data).__name__}."
        )
    cfg = gan_config or GANConfig.cpu(n_neurons=split.n_neurons)
    if (cfg.window, cfg.n_neurons) != split.train.shape[1:]:
        raise InvalidInputError(
            f"train_gan_ddp: windows are (T, N) = {split.train.shape[1:]} but the model "
            f"expects ({cfg.window}, {cfg.n_neurons}). Set GANConfig(window=..., n_neurons=...)."
        )
    out = Path(out_dir) if out_dir is not None else None
    if out is not None and ctx.is_main:
        out.mkdir(parents=True, exist_ok=True)

    old_threads = torch.get_num_threads()
    if tcfg.num_threads:
        torch.set_num_threads(int(tcfg.num_threads))
    device = torch.device(ctx.device)
    torch.manual_seed(tcfg.seed)
    gen = build_generator(cfg).to(device)
    critic = build_critic(cfg).to(device)
    rnd = _SlicedRandom(tcfg.seed + 1, ctx.rank, b_local)
    _install_sliced_phase_shuffle(critic, rnd, ctx.world_size)
    if ctx.distributed:
        ids = [ctx.local_rank] if device.type == "cuda" else None
        gen_m, critic_m = DDP(gen, device_ids=ids), DDP(critic, device_ids=ids)
    else:
        gen_m, critic_m = gen, critic
    opt_g = torch.optim.Adam(gen_m.parameters(), lr=tcfg.lr, betas=tcfg.betas)
    opt_d = torch.optim.Adam(critic_m.parameters(), lr=tcfg.lr, betas=tcfg.betas)
    train_t = torch.from_numpy(np.ascontiguousarray(split.train)).to(device)
    n_train = int(train_t.shape[0])
    history: dict[str, list] = {
        "step": [], "loss_d": [], "loss_g": [], "wasserstein": [], "gp": [], "pretrain_loss": [],
    }  # fmt: skip
    step = 0
    if resume is not None:  # every rank loads the same checkpoint
        ckpt = load_checkpoint(resume)
        if ckpt["data_fingerprint"] != _fingerprint(split.train):
            raise InvalidInputError(
                f"checkpoint {ckpt['_path']} was written for different training windows; "
                "resume with the same data and window options."
            )
        gen.load_state_dict(ckpt["generator"])
        critic.load_state_dict(ckpt["critic"])
        opt_g.load_state_dict(ckpt["opt_g"])
        opt_d.load_state_dict(ckpt["opt_d"])
        history = {k: list(v) for k, v in ckpt["history"].items()}
        step = int(ckpt["step"])
        if "rng_ddp" in ckpt:
            rnd.gen.set_state(ckpt["rng_ddp"])

    def save_checkpoint(interrupted: bool = False) -> None:
        """Rank 0 writes ``checkpoint.pt`` in the format of :mod:`calcium_forge.synthesis.train`."""
        if out is None or not ctx.is_main:
            return
        from ..io.atomic import atomic_path

        state = {
            "format": CHECKPOINT_FORMAT,
            "step": step,
            "pretrained": True,
            "interrupted": interrupted,
            "gan_config": cfg.to_dict(),
            "train_config": tcfg.to_dict(),
            "scaling": split.scaling.to_dict(),
            "fs_hz": float(split.fs_hz),
            "data_fingerprint": _fingerprint(split.train),
            "generator": gen.state_dict(),
            "critic": critic.state_dict(),
            "opt_g": opt_g.state_dict(),
            "opt_d": opt_d.state_dict(),
            "history": history,
            "rng_torch": torch.get_rng_state(),
            "rng_ddp": rnd.gen.get_state(),
            "world_size": ctx.world_size,
        }
        with atomic_path(out / "checkpoint.pt") as tmp:
            torch.save(state, tmp)

    t_start = time.perf_counter()
    gen_m.train()
    critic_m.train()
    try:
        while step < tcfg.steps:
            step += 1
            sums = np.zeros(3)
            for _ in range(tcfg.n_critic):
                real = train_t[rnd.randint(n_train, tcfg.batch_size).to(device)]
                z = rnd.randn(tcfg.batch_size, cfg.latent_dim).to(device)
                eps = rnd.rand(tcfg.batch_size).to(device)
                with torch.no_grad():
                    fake = gen(z)
                d_real = critic_m(real).mean()
                d_fake = critic_m(fake).mean()
                gp = gradient_penalty(critic_m, real, fake, eps)
                loss_d = d_fake - d_real + tcfg.gp_lambda * gp
                opt_d.zero_grad(set_to_none=True)
                loss_d.backward()
                opt_d.step()
                sums += [loss_d.item(), (d_real - d_fake).item(), gp.item()]
            z = rnd.randn(tcfg.batch_size, cfg.latent_dim).to(device)
            loss_g = -critic(gen_m(z)).mean()
            opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            opt_g.step()
            opt_d.zero_grad(set_to_none=True)
            local = [*(sums / tcfg.n_critic), loss_g.item()]
            loss_d_m, w_m, gp_m, loss_g_m = all_reduce_mean(local, ctx)
            history["step"].append(step)
            history["loss_d"].append(float(loss_d_m))
            history["loss_g"].append(float(loss_g_m))
            history["wasserstein"].append(float(w_m))
            history["gp"].append(float(gp_m))
            if tcfg.checkpoint_every and step % tcfg.checkpoint_every == 0:
                save_checkpoint()
            if step % progress_every == 0 or step == tcfg.steps:
                yield Progress(
                    step,
                    tcfg.steps,
                    f"WGAN-GP (DDP x{ctx.world_size})",
                    {"loss_d": float(loss_d_m), "loss_g": float(loss_g_m)},
                )
    except KeyboardInterrupt:
        save_checkpoint(interrupted=True)
        raise
    finally:
        if tcfg.num_threads:
            torch.set_num_threads(old_threads)
    save_checkpoint()
    gen.eval()
    critic.eval()
    model = CalciumGAN(
        config=cfg,
        scaling=split.scaling,
        fs_hz=split.fs_hz,
        generator=gen,
        critic=critic,
        card={
            "name": name,
            "steps": len(history["step"]),
            "train_config": tcfg.to_dict(),
            "n_train_windows": n_train,
            "window_stride": split.stride,
            "train_frames": list(split.train_frames),
            "held_out_frames": list(split.held_out_frames),
            "distributed": {"world_size": ctx.world_size, "backend": ctx.backend},
        },
        kind=getattr(data, "kind", "dff"),
    )
    model_path = None
    if out is not None and ctx.is_main:
        from ..io.atomic import atomic_path

        model_path = model.save(out / "model.pt")
        log = out / "train_log.json"
        import json

        with atomic_path(log) as tmp:
            Path(tmp).write_text(json.dumps({"history": history, "card": model.card}, indent=1))
    ctx.barrier()
    return DDPTrainResult(
        model=model,
        history=history,
        steps_done=len(history["step"]),
        world_size=ctx.world_size,
        model_path=model_path,
        seconds=time.perf_counter() - t_start,
    )


def train_gan_ddp(
    data: Any,
    gan_config: Any = None,
    train_config: Any = None,
    *,
    ctx: DistContext | None = None,
    out_dir: str | Path | None = None,
    resume: str | Path | None = None,
    progress_bar: bool = False,
    name: str = "model",
) -> DDPTrainResult:
    """Train a CalciumGAN with DistributedDataParallel over the torchrun processes.

    Parameters
    ----------
    data : Recording or WindowSplit
        Training data (every rank holds it; windows are sampled from it).
    gan_config : GANConfig, optional
        Architecture (default :meth:`GANConfig.cpu` for the data's N).
    train_config : GANTrainConfig, optional
        Hyper-parameters; ``batch_size`` is the GLOBAL batch (divisible by the
        number of processes). ``pretrain_steps`` must be 0.
    ctx : DistContext, optional
        From :func:`init_distributed` (called when omitted; single process
        outside torchrun).
    out_dir : path, optional
        Rank 0 writes ``checkpoint.pt`` (every ``checkpoint_every`` steps, at
        the end and on Ctrl-C; the format of :mod:`calcium_forge.synthesis.train`),
        ``model.pt`` and ``train_log.json`` here.
    resume : path, optional
        A ``checkpoint.pt`` (DDP or one-process) to continue from, read by every rank.
    progress_bar : bool
        Show a tqdm bar (rank 0 only).
    name : str
        Model name stored in the card.

    Returns
    -------
    DDPTrainResult
    """
    ctx = ctx or init_distributed()
    gen = iter_train_gan_ddp(
        data, gan_config, train_config, ctx=ctx, out_dir=out_dir, resume=resume, name=name
    )
    return drain(gen, progress_bar=progress_bar and ctx.is_main, desc="CalciumGAN (DDP)")


# ---------------------------------------------------------------------------- entry point
def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m calcium_forge.synthesis._ddp",
        description="Run under torchrun: torchrun --nproc_per_node N "
        "-m calcium_forge.synthesis._ddp train-gan DATA --out DIR",
    )
    sub = p.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train-gan", help="DDP CalciumGAN training")
    t.add_argument("data", help="recording to train on (any format calcium_forge.read reads)")
    t.add_argument("--out", required=True, help="output folder (rank 0 writes model.pt)")
    t.add_argument("--fs-hz", type=float, default=None)
    t.add_argument("--steps", type=int, default=1000)
    t.add_argument("--batch-size", type=int, default=32, help="GLOBAL batch")
    t.add_argument("--window", type=int, default=256)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--threads", type=int, default=1, help="torch threads per process")
    t.add_argument("--checkpoint-every", type=int, default=0, help="generator steps")
    t.add_argument("--resume", default=None, help="checkpoint.pt to continue from")
    return p.parse_args(argv)


def main(argv: list[str] | None = None, log: Callable[[str], None] | None = None) -> int:
    """``python -m calcium_forge.synthesis._ddp train-gan ...`` (started by torchrun)."""
    args = _parse(argv)
    from ..io import read
    from .calciumgan import GANConfig
    from .train import GANTrainConfig

    ctx = init_distributed()
    try:
        rec = read(args.data, **({"fs_hz": args.fs_hz} if args.fs_hz else {}))
        if isinstance(rec, list):
            rec = rec[0]
        cfg = GANConfig.cpu(n_neurons=rec.n_rois, window=args.window)
        tcfg = GANTrainConfig(
            steps=args.steps,
            batch_size=args.batch_size,
            seed=args.seed,
            num_threads=args.threads,
            checkpoint_every=args.checkpoint_every,
        )
        res = train_gan_ddp(
            rec, cfg, tcfg, ctx=ctx, out_dir=args.out, resume=args.resume, progress_bar=True
        )
        if ctx.is_main:
            (log or print)(
                f"trained {res.steps_done} steps on {ctx.world_size} process(es) "
                f"({ctx.backend or 'no process group'}) in {res.seconds:.1f} s -> {res.model_path}"
            )
    finally:
        ctx.close()
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
