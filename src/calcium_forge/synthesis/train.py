"""WGAN-GP training of CalciumGAN: the one trainer, in one process or data-parallel (DDP).

Loss (Gulrajani et al. 2017, paper eq. 1):
``L_D = E[D(G(z))] - E[D(x)] + lambda E[(||grad D(x_hat)||_2 - 1)^2]`` with
``x_hat = eps x + (1 - eps) G(z)``, lambda = 10, and ``L_G = -E[D(G(z))]``;
5 critic steps per generator step; Adam(lr 1e-4, betas (0.9, 0.9999)) for both.

Every random draw (batch indices, z, eps, Phase Shuffle) comes from torch's
global generator, whose state is saved in each checkpoint together with
the model, optimiser (and GradScaler) states, the configs and the data
scaling: resuming from a checkpoint reproduces the uninterrupted run exactly
(on the same device and thread count). A ``KeyboardInterrupt`` (or closing
the generator, e.g. a Cancel button) during training writes a checkpoint
before it propagates.

Autoencoder pretraining (thesis 004): the critic's convolutional body plus a
linear head is an encoder to the latent space, the generator is the decoder;
they are trained to reconstruct real windows (MSE, plus a penalty pulling the
codes' mean to 0 and variance to 1 so that the decoder is useful for z ~ N(0, I))
before adversarial training. One argument, ``pretrain_steps``, switches it on.

Data parallelism: pass ``ddp=init_distributed()`` (from
:mod:`calcium_forge.synthesis._ddp`) in a program started by ``torchrun``; the
run then has every feature of a one-process run (mixed precision, weight
averaging, pretraining, time budget, checkpoints and resume) with
``batch_size`` as the global batch, and rank 0 writes the files.
``calcium-forge train-gan`` does this by itself under torchrun.

This module holds the settings, the result and the entry points; the trainer's
state and its named steps (critic step, generator step, weight average,
checkpoint, model) are :class:`calcium_forge.synthesis._gan_trainer.GANTrainer`.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..errors import InvalidInputError
from ..progress import ProgressGen, drain
from ..recording import Recording
from ._ddp import DistContext, init_distributed
from ._gan_trainer import (
    CHECKPOINT_FORMAT,
    CHECKPOINT_VERSION,
    GANTrainer,
    gradient_penalty,
    load_checkpoint,
    model_from_checkpoint,
)
from .calciumgan import CalciumGAN
from .gan_networks import GANConfig
from .windows import WindowSplit, split_windows

__all__ = [
    "CHECKPOINT_FORMAT",
    "CHECKPOINT_VERSION",
    "GANTrainConfig",
    "GANTrainResult",
    "gradient_penalty",
    "iter_train_gan",
    "load_checkpoint",
    "model_from_checkpoint",
    "train_gan",
]


@dataclass
class GANTrainConfig:
    """Training hyper-parameters (defaults = the paper's, on CPU).

    Parameters
    ----------
    steps : int
        Generator steps (each preceded by ``n_critic`` critic steps).
    batch_size : int
        Windows per batch (under DDP the global batch, divisible by the number of processes).
    n_critic : int
        Critic steps per generator step (paper: 5).
    gp_lambda : float
        Gradient-penalty weight (paper: 10).
    lr : float
        Adam learning rate (paper: 1e-4).
    betas : (float, float)
        Adam betas (paper: (0.9, 0.9999)).
    mixed_precision : bool
        bf16 autocast on CPU, fp16 autocast with a GradScaler on CUDA.
    device : str
        "cpu" or "cuda" (under DDP each rank uses the device of its context).
    pretrain_steps : int
        Autoencoder pretraining steps before the GAN (0 = off).
    pretrain_lr : float
        Adam learning rate of the autoencoder pretraining.
    checkpoint_every : int
        Write a checkpoint every this many generator steps (0 = only at the end
        and on interruption; needs ``out_dir``).
    seed : int
        Seed of every random draw.
    num_threads : int or None
        ``torch.set_num_threads`` while training (None leaves it).
    time_budget_s : float or None
        Stop (and checkpoint) after this much wall time in seconds.
    window_stride : int
        Stride of the training windows when a Recording is given.
    held_out_fraction : float
        Fraction of a Recording kept as held-out block (not trained on).
    per_neuron_scaling : bool
        Min/max scaling per neuron instead of the paper's global one.
    ema_decay : float or None
        Keep an exponential moving average of the generator's weights with
        this decay per generator step (e.g. 0.999) and sample from it (weight
        averaging; Yazıcı et al. 2019). None: the raw generator (the paper).
        It can be switched on when resuming; the average then starts there.
    """

    steps: int = 1000
    batch_size: int = 32
    n_critic: int = 5
    gp_lambda: float = 10.0
    lr: float = 1e-4
    betas: tuple[float, float] = (0.9, 0.9999)
    mixed_precision: bool = False
    device: str = "cpu"
    pretrain_steps: int = 0
    pretrain_lr: float = 1e-3
    checkpoint_every: int = 0
    seed: int = 0
    num_threads: int | None = 1
    time_budget_s: float | None = None
    window_stride: int = 4
    held_out_fraction: float = 0.2
    per_neuron_scaling: bool = False
    ema_decay: float | None = None

    def __post_init__(self) -> None:
        self.betas = (float(self.betas[0]), float(self.betas[1]))
        if self.ema_decay is not None and not 0.0 <= float(self.ema_decay) < 1.0:
            raise InvalidInputError(
                f"GANTrainConfig.ema_decay must be in [0, 1) or None; got {self.ema_decay!r}."
            )
        if self.steps < 0 or self.batch_size < 1 or self.n_critic < 1:
            raise InvalidInputError(
                f"GANTrainConfig needs steps >= 0, batch_size >= 1, n_critic >= 1; got "
                f"{self.steps}, {self.batch_size}, {self.n_critic}."
            )

    def to_dict(self) -> dict:
        """JSON-friendly form."""
        d = asdict(self)
        d["betas"] = list(self.betas)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> GANTrainConfig:
        """Inverse of :meth:`to_dict`."""
        d = dict(d)
        d["betas"] = tuple(d.get("betas", (0.9, 0.9999)))
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})


@dataclass
class GANTrainResult:
    """Outcome of :func:`iter_train_gan`.

    Parameters
    ----------
    model : CalciumGAN
        The trained model (generator + critic).
    history : dict
        Per generator step lists: ``step``, ``loss_d``, ``loss_g``, ``wasserstein``,
        ``gp``; ``pretrain_loss`` per pretraining step.
    steps_done : int
        Generator steps completed (including those before a resume).
    checkpoint : Path or None
        The last checkpoint written.
    split : WindowSplit
        The data windows used (train + held-out).
    stopped_early : bool
        True when the time budget ended training before ``steps``.
    seconds : float
        Wall time of this call in seconds.
    model_path : Path or None
        ``out_dir/model.pt`` (written by rank 0; None without ``out_dir`` and on other ranks).
    world_size : int
        Processes that trained (1 without DDP).
    """

    model: CalciumGAN
    history: dict[str, list]
    steps_done: int
    checkpoint: Path | None
    split: WindowSplit
    stopped_early: bool = False
    seconds: float = 0.0
    model_path: Path | None = None
    world_size: int = 1


#: Old names kept as deprecated aliases (module ``__getattr__`` warns on use).
_DEPRECATED_NAMES = {"TrainConfig": "GANTrainConfig", "TrainResult": "GANTrainResult"}


def _deprecated_alias(module: str, name: str) -> Any:
    """The class an old ``name`` of ``module`` stands for, with a DeprecationWarning.

    Parameters
    ----------
    module : str
        The module the name was looked up on (named in the warning).
    name : str
        The attribute looked up.

    Returns
    -------
    Any
        The class of :data:`_DEPRECATED_NAMES` the old name maps to.

    Raises
    ------
    AttributeError
        When ``name`` is not an old name either.
    """
    if name in _DEPRECATED_NAMES:
        new = _DEPRECATED_NAMES[name]
        warnings.warn(
            f"{module}.{name} is deprecated; use {new} (same class).",
            DeprecationWarning,
            stacklevel=3,
        )
        return globals()[new]
    raise AttributeError(f"module {module!r} has no attribute {name!r}")


def __getattr__(name: str) -> Any:
    return _deprecated_alias(__name__, name)


def _resolve_train_config(train_config: GANTrainConfig | None, ckpt: dict | None) -> GANTrainConfig:
    """The run's settings: given ones, or the checkpoint's with the few that may change."""
    config = train_config or GANTrainConfig()
    if ckpt is None:
        return config
    resumed = GANTrainConfig.from_dict(ckpt["train_config"])
    if train_config is not None:
        resumed.steps = train_config.steps
        resumed.time_budget_s = train_config.time_budget_s
        resumed.checkpoint_every = train_config.checkpoint_every
        if train_config.ema_decay is not None:
            resumed.ema_decay = train_config.ema_decay
    return resumed


def _training_windows(
    data: Recording | WindowSplit,
    gan_config: GANConfig | None,
    config: GANTrainConfig,
    ckpt: dict | None,
) -> WindowSplit:
    """The windows to train on: ``data`` itself, or a Recording cut by ``config``."""
    if isinstance(data, WindowSplit):
        return data
    if not isinstance(data, Recording):
        raise InvalidInputError(
            f"iter_train_gan: data must be a Recording or WindowSplit; got {type(data).__name__}."
        )
    if ckpt is not None:
        window = GANConfig.from_dict(ckpt["gan_config"]).window
    else:
        window = (gan_config or GANConfig()).window
    return split_windows(
        data,
        window,
        stride=config.window_stride,
        held_out_fraction=config.held_out_fraction,
        per_neuron_scaling=config.per_neuron_scaling,
    )


def _resolve_gan_config(
    gan_config: GANConfig | None,
    split: WindowSplit,
    config: GANTrainConfig,
    ckpt: dict | None,
    ddp: DistContext | None,
) -> GANConfig:
    """The architecture (the checkpoint's when resuming), checked against data and processes."""
    if ckpt is not None:
        gan_config = GANConfig.from_dict(ckpt["gan_config"])
    else:
        gan_config = gan_config or GANConfig.cpu(n_neurons=split.n_neurons)
    if (gan_config.window, gan_config.n_neurons) != split.train.shape[1:]:
        raise InvalidInputError(
            f"iter_train_gan: windows are (T, N) = {split.train.shape[1:]} but the model "
            f"expects ({gan_config.window}, {gan_config.n_neurons}). "
            "Set GANConfig(window=..., n_neurons=...)."
        )
    if len(split.train) < 2:
        raise InvalidInputError("iter_train_gan: need at least 2 training windows.")
    world = ddp.world_size if ddp is not None and ddp.distributed else 1
    if config.batch_size % world:
        raise InvalidInputError(
            f"iter_train_gan: the global batch_size {config.batch_size} must be divisible by "
            f"the number of processes {world}; choose e.g. {world * 16}."
        )
    return gan_config


def iter_train_gan(
    data: Recording | WindowSplit,
    gan_config: GANConfig | None = None,
    train_config: GANTrainConfig | None = None,
    *,
    ddp: DistContext | None = None,
    out_dir: str | Path | None = None,
    resume: str | Path | None = None,
    progress_every: int = 10,
    name: str = "model",
) -> ProgressGen[GANTrainResult]:
    """Train a CalciumGAN, yielding :class:`~calcium_forge.progress.Progress`.

    Parameters
    ----------
    data : Recording or WindowSplit
        Training data. A Recording is cut into windows (``train_config.window_stride``)
        with its last ``held_out_fraction`` kept out.
    gan_config : GANConfig, optional
        Architecture (default :meth:`GANConfig.cpu` for the data's N). Ignored
        when resuming (the checkpoint's config is used).
    train_config : GANTrainConfig, optional
        Hyper-parameters. When resuming, the checkpoint's config is used except
        ``steps``, ``time_budget_s`` and ``checkpoint_every`` given here (and
        ``ema_decay``, which can be switched on).
    ddp : DistContext, optional
        From :func:`~calcium_forge.synthesis._ddp.init_distributed` under
        torchrun: train with DistributedDataParallel over its processes
        (``batch_size`` is the global batch; every rank holds ``data``; rank 0
        writes the files; progress is yielded on every rank). None, or a
        single-process context, trains in this process.
    out_dir : str or Path, optional
        Folder for ``checkpoint.pt`` (latest state), ``model.pt`` (final model)
        and ``train_log.json`` (history and card).
    resume : str or Path, optional
        A checkpoint (or its folder) to continue from (every rank reads it).
    progress_every : int
        Yield progress every this many generator steps.
    name : str
        Model name stored in its card.

    Yields
    ------
    Progress
        ``values``: loss_d, loss_g, wasserstein (critic estimate), gp, samples_per_s.

    Returns
    -------
    GANTrainResult
    """
    from ..inference.engine import torch_threads

    ckpt = load_checkpoint(resume) if resume is not None else None
    config = _resolve_train_config(train_config, ckpt)
    split = _training_windows(data, gan_config, config, ckpt)
    gan_config = _resolve_gan_config(gan_config, split, config, ckpt, ddp)
    with torch_threads(config.num_threads or None):
        trainer = GANTrainer(
            split,
            gan_config,
            config,
            ddp=ddp,
            checkpoint=ckpt,
            out_dir=Path(out_dir) if out_dir is not None else None,
            name=name,
            kind=getattr(data, "kind", "dff"),
        )
        stopped_early = yield from trainer.run(progress_every)
    model, model_path = trainer.finish(stopped_early)
    return GANTrainResult(
        model=model,
        history=trainer.history,
        steps_done=trainer.step,
        checkpoint=trainer.last_checkpoint,
        split=split,
        stopped_early=stopped_early,
        seconds=time.perf_counter() - trainer.t_start,
        model_path=model_path,
        world_size=trainer.world_size,
    )


def train_gan(
    data: Recording | WindowSplit,
    gan_config: GANConfig | None = None,
    train_config: GANTrainConfig | None = None,
    *,
    ddp: DistContext | None = None,
    out_dir: str | Path | None = None,
    resume: str | Path | None = None,
    progress_bar: bool = False,
    name: str = "model",
) -> GANTrainResult:
    """Train a CalciumGAN headless; see :func:`iter_train_gan` (bar on rank 0 only)."""
    return drain(
        iter_train_gan(
            data, gan_config, train_config, ddp=ddp, out_dir=out_dir, resume=resume, name=name
        ),
        progress_bar=progress_bar and (ddp is None or ddp.is_main),
        desc="CalciumGAN",
    )


def _train_gan_ddp(*args: Any, ctx: DistContext | None = None, **kwargs: Any) -> GANTrainResult:
    """Deprecated ``_ddp.train_gan_ddp``: :func:`train_gan`, ``ddp=ctx or init_distributed()``.

    Parameters
    ----------
    *args, **kwargs
        As in :func:`train_gan` (without ``ddp``).
    ctx : DistContext, optional
        The process group (default: :func:`init_distributed`).

    Returns
    -------
    GANTrainResult
        What :func:`train_gan` returns.
    """
    return train_gan(*args, ddp=ctx or init_distributed(), **kwargs)
