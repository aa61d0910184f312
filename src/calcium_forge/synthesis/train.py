"""WGAN-GP training of CalciumGAN, with checkpoints, exact resume and AE pretraining.

Loss (Gulrajani et al. 2017, paper eq. 1):
``L_D = E[D(G(z))] - E[D(x)] + lambda E[(||grad D(x_hat)||_2 - 1)^2]`` with
``x_hat = eps x + (1 - eps) G(z)``, lambda = 10, and ``L_G = -E[D(G(z))]``;
5 critic steps per generator step; Adam(lr 1e-4, betas (0.9, 0.9999)) for both.

Every random draw (batch indices, z, eps, Phase Shuffle) comes from torch's
global CPU generator, whose state is saved in each checkpoint together with
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
"""

from __future__ import annotations

import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InvalidInputError, ModelError
from ..progress import Progress, ProgressGen, drain
from ..recording import Recording
from .calciumgan import CalciumGAN, GANConfig, build_critic, build_generator
from .windows import Scaling, WindowSplit, split_windows

__all__ = [
    "CHECKPOINT_FORMAT",
    "GANTrainConfig",
    "GANTrainResult",
    "gradient_penalty",
    "iter_train_gan",
    "load_checkpoint",
    "train_gan",
]

CHECKPOINT_FORMAT = "calcium-forge/calciumgan-checkpoint"


@dataclass
class GANTrainConfig:
    """Training hyper-parameters (defaults = the paper's, on CPU).

    Parameters
    ----------
    steps : int
        Generator steps (each preceded by ``n_critic`` critic steps).
    batch_size : int
        Windows per batch.
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
        "cpu" or "cuda".
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
    """

    model: CalciumGAN
    history: dict[str, list]
    steps_done: int
    checkpoint: Path | None
    split: WindowSplit
    stopped_early: bool = False
    seconds: float = 0.0


#: Old names kept as deprecated aliases (module ``__getattr__`` warns on use).
_DEPRECATED_NAMES = {"TrainConfig": "GANTrainConfig", "TrainResult": "GANTrainResult"}


def __getattr__(name: str) -> Any:
    if name in _DEPRECATED_NAMES:
        new = _DEPRECATED_NAMES[name]
        warnings.warn(
            f"calcium_forge.synthesis.train.{name} is deprecated; use {new} (same class).",
            DeprecationWarning,
            stacklevel=2,
        )
        return globals()[new]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def gradient_penalty(critic, real, fake, eps, scale: float = 1.0):
    """WGAN-GP penalty ``mean((||grad_x_hat D(x_hat)||_2 - 1)^2)``.

    Parameters
    ----------
    critic : callable
        The critic.
    real, fake : torch.Tensor
        (B, T, N) batches.
    eps : torch.Tensor
        (B,) interpolation weights in [0, 1].
    scale : float
        GradScaler scale (fp16): outputs are scaled before differentiation and
        the gradients unscaled, as in PyTorch's AMP gradient-penalty recipe.

    Returns
    -------
    torch.Tensor
        Scalar penalty.
    """
    import torch

    e = eps.view(-1, 1, 1).to(real.dtype)
    x_hat = (e * real + (1 - e) * fake).detach().requires_grad_(True)
    out = critic(x_hat)
    (grad,) = torch.autograd.grad(out.sum() * scale, x_hat, create_graph=True)
    grad = grad.float() / scale
    norm = grad.flatten(1).norm(2, dim=1)
    return ((norm - 1.0) ** 2).mean()


def _fingerprint(windows: np.ndarray) -> list[float]:
    return [float(x) for x in (*windows.shape, float(np.float64(windows.sum())))]


def load_checkpoint(path: str | Path) -> dict:
    """Read a training checkpoint (``torch.load(weights_only=True)``)."""
    import torch

    path = Path(path)
    if path.is_dir():
        path = path / "checkpoint.pt"
    if not path.exists():
        from ..errors import MissingFileError

        raise MissingFileError(
            f"checkpoint {path} does not exist; pass the checkpoint.pt written by train-gan "
            "(or its folder)."
        )
    state = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise ModelError(f"{path} is not a CalciumGAN training checkpoint.")
    state["_path"] = str(path)
    return state


def iter_train_gan(
    data: Recording | WindowSplit,
    gan_config: GANConfig | None = None,
    train_config: GANTrainConfig | None = None,
    *,
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
        ``steps``, ``time_budget_s`` and ``checkpoint_every`` given here.
    out_dir : str or Path, optional
        Folder for ``checkpoint.pt`` (latest state) and ``model.pt`` (final model).
    resume : str or Path, optional
        A checkpoint (or its folder) to continue from.
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
    import torch

    ckpt = load_checkpoint(resume) if resume is not None else None
    tcfg = train_config or GANTrainConfig()
    if ckpt is not None:
        base = GANTrainConfig.from_dict(ckpt["train_config"])
        if train_config is not None:
            base.steps = train_config.steps
            base.time_budget_s = train_config.time_budget_s
            base.checkpoint_every = train_config.checkpoint_every
            if train_config.ema_decay is not None:
                base.ema_decay = train_config.ema_decay
        tcfg = base
    if isinstance(data, WindowSplit):
        split = data
    elif isinstance(data, Recording):
        window = (
            GANConfig.from_dict(ckpt["gan_config"]).window
            if ckpt is not None
            else (gan_config.window if gan_config is not None else GANConfig().window)
        )
        split = split_windows(
            data,
            window,
            stride=tcfg.window_stride,
            held_out_fraction=tcfg.held_out_fraction,
            per_neuron_scaling=tcfg.per_neuron_scaling,
        )
    else:
        raise InvalidInputError(
            f"iter_train_gan: data must be a Recording or WindowSplit; got {type(data).__name__}."
        )
    if ckpt is not None:
        cfg = GANConfig.from_dict(ckpt["gan_config"])
    else:
        cfg = gan_config or GANConfig.cpu(n_neurons=split.n_neurons)
    if (cfg.window, cfg.n_neurons) != split.train.shape[1:]:
        raise InvalidInputError(
            f"iter_train_gan: windows are (T, N) = {split.train.shape[1:]} but the model "
            f"expects ({cfg.window}, {cfg.n_neurons}). Set GANConfig(window=..., n_neurons=...)."
        )
    if len(split.train) < 2:
        raise InvalidInputError("iter_train_gan: need at least 2 training windows.")
    out_dir = Path(out_dir) if out_dir is not None else None
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)

    old_threads = torch.get_num_threads()
    if tcfg.num_threads:
        torch.set_num_threads(int(tcfg.num_threads))
    device = torch.device(tcfg.device)
    use_cuda_amp = tcfg.mixed_precision and device.type == "cuda"
    use_cpu_amp = tcfg.mixed_precision and device.type == "cpu"
    amp_dtype = torch.float16 if use_cuda_amp else torch.bfloat16

    def autocast():
        return torch.autocast(
            device_type=device.type, dtype=amp_dtype, enabled=use_cuda_amp or use_cpu_amp
        )

    torch.manual_seed(tcfg.seed)
    gen = build_generator(cfg).to(device)
    critic = build_critic(cfg).to(device)
    opt_g = torch.optim.Adam(gen.parameters(), lr=tcfg.lr, betas=tcfg.betas)
    opt_d = torch.optim.Adam(critic.parameters(), lr=tcfg.lr, betas=tcfg.betas)
    scaler = torch.amp.GradScaler("cuda", enabled=use_cuda_amp)
    train_t = torch.from_numpy(np.ascontiguousarray(split.train)).to(device)
    n_train = train_t.shape[0]
    history: dict[str, list] = {
        "step": [],
        "loss_d": [],
        "loss_g": [],
        "wasserstein": [],
        "gp": [],
        "pretrain_loss": [],
    }
    step = 0
    pretrained = tcfg.pretrain_steps == 0
    scaling = split.scaling
    if ckpt is not None:
        if ckpt["data_fingerprint"] != _fingerprint(split.train):
            raise ModelError(
                f"checkpoint {ckpt['_path']} was written for different training windows "
                f"({ckpt['data_fingerprint'][:3]}); resume with the same data and window options."
            )
        gen.load_state_dict(ckpt["generator"])
        critic.load_state_dict(ckpt["critic"])
        opt_g.load_state_dict(ckpt["opt_g"])
        opt_d.load_state_dict(ckpt["opt_d"])
        if "scaler" in ckpt and use_cuda_amp:
            scaler.load_state_dict(ckpt["scaler"])
        history = {k: list(v) for k, v in ckpt["history"].items()}
        step = int(ckpt["step"])
        pretrained = bool(ckpt["pretrained"])
        scaling = Scaling.from_dict(ckpt["scaling"])
        torch.set_rng_state(ckpt["rng_torch"])
        if device.type == "cuda" and "rng_cuda" in ckpt:  # pragma: no cover - no GPU here
            torch.cuda.set_rng_state(ckpt["rng_cuda"])

    # weight averaging of the generator (optional); started at the first GAN step
    ema_gen = None
    ema_from = None
    if tcfg.ema_decay is not None:
        import copy

        ema_gen = copy.deepcopy(gen)  # no new random draws: training is unchanged
        if ckpt is not None and "generator_ema" in ckpt:
            ema_gen.load_state_dict(ckpt["generator_ema"])
            ema_from = ckpt.get("ema_from_step")
        else:
            ema_gen.load_state_dict(gen.state_dict())
            ema_from = step if pretrained else None
        ema_gen.eval()
        for prm in ema_gen.parameters():
            prm.requires_grad_(False)

    def make_model() -> CalciumGAN:
        card = {
            "name": name,
            "steps": step,
            "pretrain_steps": tcfg.pretrain_steps,
            "train_config": tcfg.to_dict(),
            "n_train_windows": int(n_train),
            "window_stride": split.stride,
            "train_frames": list(split.train_frames),
            "held_out_frames": list(split.held_out_frames),
        }
        if ema_gen is not None:
            card["generator_weights"] = (
                f"exponential moving average (decay {tcfg.ema_decay}) of the generator "
                f"from step {ema_from} to {step}"
            )
        return CalciumGAN(
            config=cfg,
            scaling=scaling,
            fs_hz=split.fs_hz,
            generator=ema_gen if ema_gen is not None else gen,
            critic=critic,
            card=card,
            kind=getattr(data, "kind", "dff"),
        )

    last_ckpt: Path | None = None

    def save_checkpoint(interrupted: bool = False) -> Path | None:
        nonlocal last_ckpt
        if out_dir is None:
            return None
        from ..io.atomic import atomic_path

        state: dict[str, Any] = {
            "format": CHECKPOINT_FORMAT,
            "step": step,
            "pretrained": pretrained,
            "interrupted": interrupted,
            "gan_config": cfg.to_dict(),
            "train_config": tcfg.to_dict(),
            "scaling": scaling.to_dict(),
            "fs_hz": float(split.fs_hz),
            "data_fingerprint": _fingerprint(split.train),
            "generator": gen.state_dict(),
            "critic": critic.state_dict(),
            "opt_g": opt_g.state_dict(),
            "opt_d": opt_d.state_dict(),
            "history": history,
            "rng_torch": torch.get_rng_state(),
        }
        if use_cuda_amp:
            state["scaler"] = scaler.state_dict()
        if ema_gen is not None:
            state["generator_ema"] = ema_gen.state_dict()
            state["ema_from_step"] = ema_from
        if device.type == "cuda":  # pragma: no cover
            state["rng_cuda"] = torch.cuda.get_rng_state()
        path = out_dir / "checkpoint.pt"
        with atomic_path(path) as tmp:
            torch.save(state, tmp)
        last_ckpt = path
        return path

    t_start = time.perf_counter()
    stopped_early = False
    try:
        # ------------------------------------------------ autoencoder pretraining
        if not pretrained:
            head = torch.nn.Linear(critic.n_features, cfg.latent_dim).to(device)
            params = [*critic.parameters(), *gen.parameters(), *head.parameters()]
            opt_ae = torch.optim.Adam(params, lr=tcfg.pretrain_lr, betas=(0.9, 0.999))
            critic.eval()  # Phase Shuffle off while reconstructing
            gen.train()
            for i in range(tcfg.pretrain_steps):
                idx = torch.randint(0, n_train, (tcfg.batch_size,))
                x = train_t[idx]
                with autocast():
                    code = head(critic.features(x))
                    recon = gen(code.float())
                loss = torch.mean((recon.float() - x) ** 2)
                moments = (
                    code.float().mean(0).pow(2).mean() + (code.float().var(0) - 1).pow(2).mean()
                )
                total = loss + 1e-2 * moments
                opt_ae.zero_grad(set_to_none=True)
                total.backward()
                opt_ae.step()
                history["pretrain_loss"].append(loss.item())
                if (i + 1) % progress_every == 0 or i + 1 == tcfg.pretrain_steps:
                    yield Progress(
                        i + 1,
                        tcfg.pretrain_steps,
                        "autoencoder pretraining",
                        {"recon_mse": history["pretrain_loss"][-1]},
                    )
            pretrained = True
            del head, opt_ae
            if ema_gen is not None:
                ema_gen.load_state_dict(gen.state_dict())
                ema_from = step
        critic.train()
        gen.train()
        # -------------------------------------------------------------- WGAN-GP
        t_last = time.perf_counter()
        samples_since = 0
        while step < tcfg.steps:
            if (
                tcfg.time_budget_s is not None
                and time.perf_counter() - t_start > tcfg.time_budget_s
            ):
                stopped_early = True
                break
            w_sum = gp_sum = d_sum = 0.0
            for _ in range(tcfg.n_critic):
                idx = torch.randint(0, n_train, (tcfg.batch_size,))
                real = train_t[idx]
                z = torch.randn(tcfg.batch_size, cfg.latent_dim, device=device)
                eps = torch.rand(tcfg.batch_size, device=device)
                with autocast():
                    with torch.no_grad():
                        fake = gen(z).float()
                    d_real = critic(real).float().mean()
                    d_fake = critic(fake).float().mean()
                    gp = gradient_penalty(
                        critic, real, fake, eps, scale=scaler.get_scale() if use_cuda_amp else 1.0
                    )
                loss_d = d_fake - d_real + tcfg.gp_lambda * gp
                opt_d.zero_grad(set_to_none=True)
                scaler.scale(loss_d).backward()
                scaler.step(opt_d)
                scaler.update()
                w_sum += (d_real - d_fake).item()
                gp_sum += gp.item()
                d_sum += loss_d.item()
            z = torch.randn(tcfg.batch_size, cfg.latent_dim, device=device)
            with autocast():
                loss_g = -critic(gen(z)).float().mean()
            opt_g.zero_grad(set_to_none=True)
            scaler.scale(loss_g).backward()
            scaler.step(opt_g)
            scaler.update()
            opt_d.zero_grad(set_to_none=True)  # the generator step left grads in the critic
            if ema_gen is not None:
                with torch.no_grad():
                    d = float(tcfg.ema_decay)
                    for pe, pg in zip(ema_gen.parameters(), gen.parameters(), strict=True):
                        pe.mul_(d).add_(pg.detach(), alpha=1.0 - d)
                    for be, bg in zip(ema_gen.buffers(), gen.buffers(), strict=True):
                        be.copy_(bg)
            step += 1
            samples_since += tcfg.batch_size * (2 * tcfg.n_critic + 1)
            history["step"].append(step)
            history["loss_d"].append(d_sum / tcfg.n_critic)
            history["loss_g"].append(loss_g.item())
            history["wasserstein"].append(w_sum / tcfg.n_critic)
            history["gp"].append(gp_sum / tcfg.n_critic)
            if tcfg.checkpoint_every and step % tcfg.checkpoint_every == 0:
                save_checkpoint()
            if step % progress_every == 0 or step == tcfg.steps:
                now = time.perf_counter()
                sps = samples_since / max(now - t_last, 1e-9)
                t_last, samples_since = now, 0
                yield Progress(
                    step,
                    tcfg.steps,
                    "WGAN-GP",
                    {
                        "loss_d": history["loss_d"][-1],
                        "loss_g": history["loss_g"][-1],
                        "wasserstein": history["wasserstein"][-1],
                        "gp": history["gp"][-1],
                        "samples_per_s": sps,
                    },
                )
    except (KeyboardInterrupt, GeneratorExit):
        # Ctrl-C, or the consumer closed the generator (a Cancel button in napari,
        # a script that stops early): keep the state reached so far.
        save_checkpoint(interrupted=True)
        raise
    finally:
        if tcfg.num_threads:
            torch.set_num_threads(old_threads)
    save_checkpoint()
    model = make_model()
    model.card["stopped_early"] = stopped_early
    model.card["train_seconds"] = round(time.perf_counter() - t_start, 1)
    gen.eval()
    critic.eval()
    if out_dir is not None:
        model.save(out_dir / "model.pt")
    return GANTrainResult(
        model=model,
        history=history,
        steps_done=step,
        checkpoint=last_ckpt,
        split=split,
        stopped_early=stopped_early,
        seconds=time.perf_counter() - t_start,
    )


def train_gan(
    data: Recording | WindowSplit,
    gan_config: GANConfig | None = None,
    train_config: GANTrainConfig | None = None,
    *,
    out_dir: str | Path | None = None,
    resume: str | Path | None = None,
    progress_bar: bool = False,
    name: str = "model",
) -> GANTrainResult:
    """Train a CalciumGAN headless; see :func:`iter_train_gan`."""
    return drain(
        iter_train_gan(data, gan_config, train_config, out_dir=out_dir, resume=resume, name=name),
        progress_bar=progress_bar,
        desc="CalciumGAN",
    )
