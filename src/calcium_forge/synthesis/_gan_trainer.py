"""The CalciumGAN trainer: its state, its checkpoint file and its named steps.

:class:`GANTrainer` owns what one WGAN-GP run holds -- generator, critic, their
optimisers, the GradScaler, the optional weight average of the generator, the
history, the step counter -- and the checkpoint that stores it
(:data:`CHECKPOINT_FORMAT`, :data:`CHECKPOINT_VERSION`). Building it builds,
resumes and DDP-wraps the networks; its methods are the steps (``pretrain``,
``critic_step``, ``generator_step``, ``update_average``, ``save_checkpoint``,
``make_model``, ``finish``) and :meth:`GANTrainer.run` is the short loop over them.
The public entry point is :func:`calcium_forge.synthesis.train.iter_train_gan`.
The file (a little over 500 lines) is one class whose short methods share one
run's state, plus the checkpoint reader and the loss; cutting the class would
spread that state over modules.

One process or DDP: with a distributed ``DistContext`` the networks are wrapped
in ``DistributedDataParallel``, ``batch_size`` is the global batch, rank 0 alone
writes files and pretraining averages its gradients with one all-reduce. Every
random draw (batch indices, z, eps, Phase Shuffle shifts) comes from torch's
global generator, seeded with ``seed``; under DDP every rank draws the whole
global batch -- the same numbers everywhere -- and keeps its shard
(:func:`~calcium_forge.synthesis._ddp.shard_indices` of the batch positions), so
N processes follow one process with the same global batch up to summation order
(and, in pretraining, the code-moment penalty, whose batch statistics are per
rank). With one process the shard is the whole batch: the draws, and so the
weights, are those of the one-process trainer before DDP joined it.

Checkpoint versions: 2 adds ``version`` and ``world_size``. Version-1 files (no
``version``) of the one-process trainer resume exactly; those of the former DDP
trainer resume too, but its private random stream (``rng_ddp``) is not continued.
"""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import MissingFileError, ModelError
from ..progress import Progress, ProgressGen
from ._ddp import DistContext, all_reduce_mean, average_gradients, shard_indices
from .calciumgan import CalciumGAN
from .gan_networks import GANConfig, build_critic, build_generator
from .windows import Scaling, WindowSplit, observation_noise_sd

__all__ = [
    "CHECKPOINT_FORMAT",
    "CHECKPOINT_VERSION",
    "GANTrainer",
    "gradient_penalty",
    "load_checkpoint",
    "model_from_checkpoint",
]

CHECKPOINT_FORMAT = "calcium-forge/calciumgan-checkpoint"
#: 1: the first format (no ``version`` key); 2: ``version`` and ``world_size`` added.
CHECKPOINT_VERSION = 2
HISTORY_KEYS = ("step", "loss_d", "loss_g", "wasserstein", "gp", "pretrain_loss")


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


def fingerprint(windows: np.ndarray) -> list[float]:
    """Shape and sum of the training windows: a checkpoint resumes only on the same data."""
    return [float(x) for x in (*windows.shape, float(np.float64(windows.sum())))]


def load_checkpoint(path: str | Path) -> dict:
    """Read a training checkpoint (``torch.load(weights_only=True)``).

    Parameters
    ----------
    path : str or Path
        ``checkpoint.pt`` or the folder holding it.

    Returns
    -------
    dict
        The checkpoint state, with ``_path`` (str) added.
    """
    import torch

    path = Path(path)
    if path.is_dir():
        path = path / "checkpoint.pt"
    if not path.exists():
        raise MissingFileError(
            f"checkpoint {path} does not exist; pass the checkpoint.pt written by train-gan "
            "(or its folder)."
        )
    state = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise ModelError(f"{path} is not a CalciumGAN training checkpoint.")
    version = int(state.get("version", 1))
    if version > CHECKPOINT_VERSION:
        raise ModelError(
            f"checkpoint {path} has version {version}; this calcium-forge reads versions up to "
            f"{CHECKPOINT_VERSION}. Upgrade calcium-forge to resume it, or start a new run."
        )
    state["_path"] = str(path)
    return state


def model_from_checkpoint(checkpoint: str | Path | dict) -> CalciumGAN:
    """The model a training checkpoint holds, ready to sample (e.g. one point of a learning curve).

    Parameters
    ----------
    checkpoint : str, Path or dict
        ``checkpoint.pt`` (or its folder), or a :func:`load_checkpoint` state.

    Returns
    -------
    CalciumGAN
        The generator's weight average when the run kept one, else the generator;
        ``card["steps"]`` is the checkpoint's step.
    """
    state = checkpoint if isinstance(checkpoint, dict) else load_checkpoint(checkpoint)
    config = GANConfig.from_dict(state["gan_config"])
    gen = build_generator(config)
    gen.load_state_dict(state.get("generator_ema", state["generator"]))
    card = {"steps": int(state["step"]), "checkpoint": state.get("_path", "<state>")}
    return CalciumGAN(
        config=config,
        scaling=Scaling.from_dict(state["scaling"]),
        fs_hz=float(state["fs_hz"]),
        generator=gen,
        card=card,
    )


class GANTrainer:
    """State and named steps of one WGAN-GP run (one process or one DDP rank).

    Parameters
    ----------
    split : WindowSplit
        Training windows (every rank holds all of them).
    gan_config : GANConfig
        Architecture.
    config : GANTrainConfig
        Hyper-parameters (``batch_size`` is the global batch under DDP).
    ddp : DistContext, optional
        From :func:`~calcium_forge.synthesis._ddp.init_distributed`; None or a
        single-process context trains in one process on ``config.device``.
    checkpoint : dict, optional
        A :func:`load_checkpoint` state to continue from.
    out_dir : Path, optional
        Folder of ``checkpoint.pt``, ``model.pt`` and ``train_log.json`` (rank 0 writes).
    name : str
        Model name stored in the card.
    kind : str
        Recording kind of the training traces ("dff" or "raw").
    """

    def __init__(
        self,
        split: WindowSplit,
        gan_config: GANConfig,
        config: Any,
        *,
        ddp: DistContext | None = None,
        checkpoint: dict | None = None,
        out_dir: Path | None = None,
        name: str = "model",
        kind: str = "dff",
    ) -> None:
        import torch

        self.split, self.gan_config, self.config = split, gan_config, config
        self.ddp = ddp if ddp is not None and ddp.distributed else None
        self.world_size = self.ddp.world_size if self.ddp else 1
        self.is_main = self.ddp is None or self.ddp.is_main
        self.out_dir, self.name, self.kind = out_dir, name, kind
        if out_dir is not None and self.is_main:
            out_dir.mkdir(parents=True, exist_ok=True)
        self.device = torch.device(self.ddp.device if self.ddp else config.device)
        self.use_cuda_amp = config.mixed_precision and self.device.type == "cuda"
        self.use_cpu_amp = config.mixed_precision and self.device.type == "cpu"
        self.fingerprint = fingerprint(split.train)
        self.history: dict[str, list] = {k: [] for k in HISTORY_KEYS}
        self.step = 0
        self.pretrained = config.pretrain_steps == 0
        self.scaling: Scaling = split.scaling
        self.last_checkpoint: Path | None = None
        self.t_start = time.perf_counter()
        self._build()
        if checkpoint is not None:
            self._resume_from(checkpoint)
        self._start_weight_averaging(checkpoint)
        self._wrap_data_parallel()

    # ------------------------------------------------------------------ building
    def _build(self) -> None:
        """Seed torch, build the networks, optimisers, GradScaler and the data tensor."""
        import torch

        config = self.config
        torch.manual_seed(config.seed)
        self.gen = build_generator(self.gan_config).to(self.device)
        if self.gan_config.observation_noise:  # a checkpoint's own value replaces it
            sd = observation_noise_sd(self.split.train)
            self.gen.obs_sigma.copy_(torch.from_numpy(sd).to(self.device))
        self.critic = build_critic(self.gan_config).to(self.device)
        self.opt_g = torch.optim.Adam(self.gen.parameters(), lr=config.lr, betas=config.betas)
        self.opt_d = torch.optim.Adam(self.critic.parameters(), lr=config.lr, betas=config.betas)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.use_cuda_amp)
        self.train_t = torch.from_numpy(np.ascontiguousarray(self.split.train)).to(self.device)
        self.n_train = int(self.train_t.shape[0])
        self.batch_rows = None  # this rank's positions in the global batch (None: all)
        self.ema_gen: Any = None
        self.ema_from: int | None = None

    def _resume_from(self, ckpt: dict) -> None:
        """Load networks, optimisers, history, step, scaling and RNG state of a checkpoint."""
        import torch

        if ckpt["data_fingerprint"] != self.fingerprint:
            raise ModelError(
                f"checkpoint {ckpt['_path']} was written for different training windows "
                f"({ckpt['data_fingerprint'][:3]}); resume with the same data and window options."
            )
        self.gen.load_state_dict(ckpt["generator"])
        self.critic.load_state_dict(ckpt["critic"])
        self.opt_g.load_state_dict(ckpt["opt_g"])
        self.opt_d.load_state_dict(ckpt["opt_d"])
        if "scaler" in ckpt and self.use_cuda_amp:
            self.scaler.load_state_dict(ckpt["scaler"])
        self.history = {k: list(v) for k, v in ckpt["history"].items()}
        self.step = int(ckpt["step"])
        self.pretrained = bool(ckpt["pretrained"])
        self.scaling = Scaling.from_dict(ckpt["scaling"])
        torch.set_rng_state(ckpt["rng_torch"])
        if self.device.type == "cuda" and "rng_cuda" in ckpt:  # pragma: no cover - no GPU here
            torch.cuda.set_rng_state(ckpt["rng_cuda"])

    def _start_weight_averaging(self, ckpt: dict | None) -> None:
        """Set up the generator's moving average (``ema_decay``), from the checkpoint if any."""
        if self.config.ema_decay is None:
            return
        self.ema_gen = copy.deepcopy(self.gen)  # no new random draws: training is unchanged
        if ckpt is not None and "generator_ema" in ckpt:
            self.ema_gen.load_state_dict(ckpt["generator_ema"])
            self.ema_from = ckpt.get("ema_from_step")
        else:
            self.ema_gen.load_state_dict(self.gen.state_dict())
            self.ema_from = self.step if self.pretrained else None  # else: after pretraining
        self.ema_gen.eval()
        for prm in self.ema_gen.parameters():
            prm.requires_grad_(False)

    def _wrap_data_parallel(self) -> None:
        """DDP-wrap the networks and shard the global batch (identity for one process)."""
        import torch

        self.gen_m, self.critic_m = self.gen, self.critic
        if self.ddp is None:
            return
        from torch.nn.parallel import DistributedDataParallel as DDP

        ids = [self.ddp.local_rank] if self.device.type == "cuda" else None
        self.gen_m = DDP(self.gen, device_ids=ids)
        self.critic_m = DDP(self.critic, device_ids=ids)
        rows = shard_indices(self.config.batch_size, self.ddp.rank, self.world_size, shuffle=False)
        self.batch_rows = torch.from_numpy(rows)
        shuffle = getattr(self.critic, "shuffle", None)
        if shuffle is not None:
            shuffle.batch_shard = (self.batch_rows, self.world_size)

    # ------------------------------------------------------------------ helpers
    def _autocast(self):
        import torch

        dtype = torch.float16 if self.use_cuda_amp else torch.bfloat16
        enabled = self.use_cuda_amp or self.use_cpu_amp
        return torch.autocast(device_type=self.device.type, dtype=dtype, enabled=enabled)

    def _local(self, drawn):
        """This rank's rows of a global-batch draw (the whole draw for one process)."""
        return drawn if self.batch_rows is None else drawn[self.batch_rows.to(drawn.device)]

    def _real_batch(self):
        import torch

        return self.train_t[self._local(torch.randint(0, self.n_train, (self.config.batch_size,)))]

    def _latent_batch(self):
        import torch

        b = self.config.batch_size
        return self._local(torch.randn(b, self.gan_config.latent_dim, device=self.device))

    def _obs_noise_batch(self):
        """Standard-normal observation noise (B, T, N) for this rank, or False without the option.

        Drawn for the global batch and cut to this rank's rows (like the latents),
        so that data-parallel ranks together draw what one process would.
        """
        import torch

        g = self.gan_config
        if not g.observation_noise:
            return False
        shape = (self.config.batch_size, g.window, g.n_neurons)
        return self._local(torch.randn(shape, device=self.device))

    def _mean_over_ranks(self, *values: float) -> list[float]:
        if self.ddp is None:
            return list(values)
        return [float(v) for v in all_reduce_mean(list(values), self.ddp)]

    # ------------------------------------------------------------------ steps
    def pretrain(self, progress_every: int) -> ProgressGen[None]:
        """Autoencoder pretraining: critic body + linear head encode, the generator decodes."""
        import torch

        config = self.config
        head = torch.nn.Linear(self.critic.n_features, self.gan_config.latent_dim).to(self.device)
        params = [*self.critic.parameters(), *self.gen.parameters(), *head.parameters()]
        opt_ae = torch.optim.Adam(params, lr=config.pretrain_lr, betas=(0.9, 0.999))
        self.critic.eval()  # Phase Shuffle off while reconstructing
        self.gen.train()
        for i in range(config.pretrain_steps):
            x = self._real_batch()
            with self._autocast():
                code = head(self.critic.features(x))
                recon = self.gen(code.float(), None, False)  # the signal, noise-free
            loss = torch.mean((recon.float() - x) ** 2)
            moments = code.float().mean(0).pow(2).mean() + (code.float().var(0) - 1).pow(2).mean()
            opt_ae.zero_grad(set_to_none=True)
            (loss + 1e-2 * moments).backward()
            if self.ddp is not None:
                average_gradients(params, self.ddp)
            opt_ae.step()
            (mse,) = self._mean_over_ranks(loss.item())
            self.history["pretrain_loss"].append(mse)
            if (i + 1) % progress_every == 0 or i + 1 == config.pretrain_steps:
                yield Progress(
                    i + 1, config.pretrain_steps, "autoencoder pretraining", {"recon_mse": mse}
                )
        self.pretrained = True
        if self.ema_gen is not None:  # the average starts with the adversarial steps
            self.ema_gen.load_state_dict(self.gen.state_dict())
            self.ema_from = self.step

    def critic_step(self) -> tuple[float, float, float]:
        """One critic update on a fresh batch; returns (loss_d, Wasserstein estimate, gp)."""
        import torch

        real = self._real_batch()
        z = self._latent_batch()
        obs = self._obs_noise_batch()
        eps = self._local(torch.rand(self.config.batch_size, device=self.device))
        with self._autocast():
            with torch.no_grad():
                fake = self.gen(z, None, obs).float()
            d_real = self.critic_m(real).float().mean()
            d_fake = self.critic_m(fake).float().mean()
            scale = self.scaler.get_scale() if self.use_cuda_amp else 1.0
            gp = gradient_penalty(self.critic_m, real, fake, eps, scale=scale)
        loss_d = d_fake - d_real + self.config.gp_lambda * gp
        self.opt_d.zero_grad(set_to_none=True)
        self.scaler.scale(loss_d).backward()
        self.scaler.step(self.opt_d)
        self.scaler.update()
        return loss_d.item(), (d_real - d_fake).item(), gp.item()

    def generator_step(self) -> float:
        """One generator update (``L_G = -E[D(G(z))]``); returns loss_g."""
        z = self._latent_batch()
        obs = self._obs_noise_batch()
        with self._autocast():
            loss_g = -self.critic(self.gen_m(z, None, obs)).float().mean()
        self.opt_g.zero_grad(set_to_none=True)
        self.scaler.scale(loss_g).backward()
        self.scaler.step(self.opt_g)
        self.scaler.update()
        self.opt_d.zero_grad(set_to_none=True)  # the generator step left grads in the critic
        return loss_g.item()

    def update_average(self) -> None:
        """Move the generator's weight average toward the generator (``ema_decay``)."""
        if self.ema_gen is None:
            return
        import torch

        with torch.no_grad():
            d = float(self.config.ema_decay)
            for pe, pg in zip(self.ema_gen.parameters(), self.gen.parameters(), strict=True):
                pe.mul_(d).add_(pg.detach(), alpha=1.0 - d)
            for be, bg in zip(self.ema_gen.buffers(), self.gen.buffers(), strict=True):
                be.copy_(bg)

    def gan_step(self) -> None:
        """One generator step: ``n_critic`` critic steps, the generator, the average, history."""
        n = self.config.n_critic
        d_sum = w_sum = gp_sum = 0.0
        for _ in range(n):
            loss_d, w, gp = self.critic_step()
            d_sum += loss_d
            w_sum += w
            gp_sum += gp
        loss_g = self.generator_step()
        self.update_average()
        self.step += 1
        loss_d, loss_g, w, gp = self._mean_over_ranks(d_sum / n, loss_g, w_sum / n, gp_sum / n)
        for key, value in (
            ("step", self.step), ("loss_d", loss_d), ("loss_g", loss_g), ("wasserstein", w),
            ("gp", gp),
        ):  # fmt: skip
            self.history[key].append(value)

    def over_budget(self) -> bool:
        """True once ``time_budget_s`` has passed (under DDP: on any rank, so all stop)."""
        budget = self.config.time_budget_s
        if budget is None:
            return False
        over = time.perf_counter() - self.t_start > budget
        if self.ddp is not None:
            over = bool(all_reduce_mean([float(over)], self.ddp)[0] > 0)
        return over

    # ------------------------------------------------------------------ the loop
    def run(self, progress_every: int) -> ProgressGen[bool]:
        """Pretrain if due, then WGAN-GP steps to ``steps``; returns True if the budget ended it.

        A ``KeyboardInterrupt`` or a closed generator writes a checkpoint before
        it propagates.
        """
        config = self.config
        self.t_start = time.perf_counter()
        try:
            if not self.pretrained:
                yield from self.pretrain(progress_every)
            self.critic.train()
            self.gen.train()
            t_last, samples = time.perf_counter(), 0
            while self.step < config.steps:
                if self.over_budget():
                    return True
                self.gan_step()
                samples += config.batch_size * (2 * config.n_critic + 1)
                if config.checkpoint_every and self.step % config.checkpoint_every == 0:
                    self.save_checkpoint()
                if self.step % progress_every == 0 or self.step == config.steps:
                    now = time.perf_counter()
                    yield self._progress(samples / max(now - t_last, 1e-9))
                    t_last, samples = now, 0
        except (KeyboardInterrupt, GeneratorExit):
            # Ctrl-C, or the consumer closed the generator (a Cancel button in napari,
            # a script that stops early): keep the state reached so far.
            self.save_checkpoint(interrupted=True)
            raise
        return False

    def _progress(self, samples_per_s: float) -> Progress:
        h = self.history
        what = "WGAN-GP" if self.ddp is None else f"WGAN-GP (DDP x{self.world_size})"
        values = {k: h[k][-1] for k in ("loss_d", "loss_g", "wasserstein", "gp")}
        return Progress(
            self.step, self.config.steps, what, {**values, "samples_per_s": samples_per_s}
        )

    # ------------------------------------------------------------------ files
    def checkpoint_state(self, interrupted: bool = False) -> dict[str, Any]:
        """Everything needed to continue the run exactly (see :func:`load_checkpoint`)."""
        import torch

        state: dict[str, Any] = {
            "format": CHECKPOINT_FORMAT,
            "version": CHECKPOINT_VERSION,
            "step": self.step,
            "pretrained": self.pretrained,
            "interrupted": interrupted,
            "gan_config": self.gan_config.to_dict(),
            "train_config": self.config.to_dict(),
            "scaling": self.scaling.to_dict(),
            "fs_hz": float(self.split.fs_hz),
            "data_fingerprint": self.fingerprint,
            "generator": self.gen.state_dict(),
            "critic": self.critic.state_dict(),
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict(),
            "history": self.history,
            "rng_torch": torch.get_rng_state(),
            "world_size": self.world_size,
        }
        if self.use_cuda_amp:
            state["scaler"] = self.scaler.state_dict()
        if self.ema_gen is not None:
            state["generator_ema"] = self.ema_gen.state_dict()
            state["ema_from_step"] = self.ema_from
        if self.device.type == "cuda":  # pragma: no cover
            state["rng_cuda"] = torch.cuda.get_rng_state()
        return state

    def save_checkpoint(self, interrupted: bool = False) -> Path | None:
        """Write ``out_dir/checkpoint.pt`` atomically (rank 0 only); returns its path."""
        if self.out_dir is None or not self.is_main:
            return None
        import torch

        from ..io.atomic import atomic_path

        path = self.out_dir / "checkpoint.pt"
        with atomic_path(path) as tmp:
            torch.save(self.checkpoint_state(interrupted), tmp)
        self.last_checkpoint = path
        return path

    def make_model(self) -> CalciumGAN:
        """The trained model (the weight average as generator when there is one) and its card."""
        split, config = self.split, self.config
        card: dict[str, Any] = {
            "name": self.name,
            "steps": self.step,
            "pretrain_steps": config.pretrain_steps,
            "train_config": config.to_dict(),
            "n_train_windows": self.n_train,
            "window_stride": split.stride,
            "train_frames": list(split.train_frames),
            "held_out_frames": list(split.held_out_frames),
        }
        if self.ema_gen is not None:
            card["generator_weights"] = (
                f"exponential moving average (decay {config.ema_decay}) of the generator "
                f"from step {self.ema_from} to {self.step}"
            )
        if self.ddp is not None:
            card["distributed"] = {"world_size": self.world_size, "backend": self.ddp.backend}
        return CalciumGAN(
            config=self.gan_config,
            scaling=self.scaling,
            fs_hz=split.fs_hz,
            generator=self.ema_gen if self.ema_gen is not None else self.gen,
            critic=self.critic,
            card=card,
            kind=self.kind,
        )

    def finish(self, stopped_early: bool) -> tuple[CalciumGAN, Path | None]:
        """Final checkpoint, the model, and (rank 0) ``model.pt`` + ``train_log.json``."""
        self.save_checkpoint()
        model = self.make_model()
        model.card["stopped_early"] = stopped_early
        model.card["train_seconds"] = round(time.perf_counter() - self.t_start, 1)
        self.gen.eval()
        self.critic.eval()
        if getattr(self.critic, "shuffle", None) is not None:
            self.critic.shuffle.batch_shard = None
        model_path = None
        if self.out_dir is not None and self.is_main:
            from ..io.atomic import write_text

            model_path = model.save(self.out_dir / "model.pt")
            log = {"history": self.history, "card": model.card}
            write_text(self.out_dir / "train_log.json", json.dumps(log, indent=1, default=float))
        if self.ddp is not None:
            self.ddp.barrier()  # the other ranks return once the files exist
        return model, model_path
