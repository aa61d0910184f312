"""Distillation: move a trained CalciumGAN generator into another architecture.

The paper's generator up-samples with transposed convolutions, which leave a
pattern locked to their grid: narrow spectral peaks at multiples of
fs / stride**depth (1.875 Hz for T = 256 at 30 Hz). A generator with linear
up-sampling cannot draw that pattern, but trains slowly from scratch on a
CPU. Distillation gets it cheaply: the student (any :class:`GANConfig` with the
same window, neurons and latent size) learns to map each latent z to the
teacher's output for the same z,

``L = mean(w * ((G_student(z) - G_teacher(z)) / sigma_n) ** 2)``,
``w = 1 + a * max((G_teacher(z) - median_t G_teacher(z)) / sigma_n, 0)``

with sigma_n each neuron's noise level in the model's [0, 1] units (so that a
neuron with a small range weighs as much as one with a large range), Adam with
a cosine-decaying learning rate. The weight ``w`` (``transient_weight`` a,
default 0) makes the frames of the teacher's transients count in proportion to
their height; it was meant to keep the rare large transients of sparse
neurons, which the plain loss flattens, but on the hippocampus model a = 1 did
not bring them back (docs/benchmarks.md, "Per-neuron statistics"). What the
student cannot draw -- the grid pattern -- is left out, the rest is kept. The
student is returned without observation noise (``obs_sigma`` = 0);
:func:`~calcium_forge.synthesis.observation_noise.top_up_observation_noise`
gives it the data's level. Torch is imported lazily.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ..errors import InvalidInputError
from ..progress import Progress, ProgressGen, drain
from .calciumgan import CalciumGAN
from .gan_networks import GANConfig, build_generator
from .windows import diff_noise_sd

__all__ = ["DistillResult", "distill_generator", "iter_distill_generator"]


@dataclass
class DistillResult:
    """Outcome of :func:`distill_generator`.

    Parameters
    ----------
    model : CalciumGAN
        The student model (teacher's scaling, frame rate and card, plus ``distillation``).
    history : dict
        ``loss`` per step (mean squared difference in units of the noise level).
    cpu_seconds : float
        CPU time of the distillation.
    """

    model: CalciumGAN
    history: dict = field(default_factory=dict)
    cpu_seconds: float = 0.0


def _teacher_output(teacher: CalciumGAN, z):
    """The teacher's noise-free output for latents z (B, T, N) in [0, 1] units."""
    import torch

    cfg = teacher.config
    noise = torch.zeros(z.shape[0], cfg.n_neurons, cfg.window) if cfg.neuron_noise else None
    return teacher.generator(z, noise, False)


def iter_distill_generator(
    teacher: CalciumGAN,
    config: GANConfig,
    windows: np.ndarray,
    *,
    steps: int = 6000,
    batch_size: int = 64,
    lr: float = 3e-4,
    transient_weight: float = 0.0,
    seed: int = 0,
    progress_every: int = 100,
) -> ProgressGen[DistillResult]:
    """Train a generator of architecture ``config`` to reproduce ``teacher``, yielding progress.

    Parameters
    ----------
    teacher : CalciumGAN
        The trained model (not modified).
    config : GANConfig
        The student's architecture; ``window``, ``n_neurons`` and ``latent_dim``
        must be the teacher's.
    windows : numpy.ndarray
        (M, T, N) training windows in trace units (for each neuron's noise level).
    steps : int
        Adam steps.
    batch_size : int
        Latents per step.
    lr : float
        Initial learning rate (cosine decay to lr / 10).
    transient_weight : float
        a in the frame weight ``1 + a * (height above the window's median in
        noise units)`` (0 = plain noise-weighted MSE).
    seed : int
        Seed of the student's initialisation and of the latents.
    progress_every : int
        Yield progress every this many steps.

    Yields
    ------
    Progress
        ``values``: ``loss``.

    Returns
    -------
    DistillResult
    """
    import torch

    t, n, k = teacher.config.window, teacher.config.n_neurons, teacher.config.latent_dim
    if (config.window, config.n_neurons, config.latent_dim) != (t, n, k):
        raise InvalidInputError(
            f"distill_generator: the student's window, neurons and latent size "
            f"({config.window}, {config.n_neurons}, {config.latent_dim}) must be the teacher's "
            f"({t}, {n}, {k})."
        )
    if steps < 1 or batch_size < 1:
        raise InvalidInputError(f"need steps >= 1 and batch_size >= 1; got {steps}, {batch_size}.")
    w01 = np.asarray(teacher.scaling.forward(np.asarray(windows, np.float32)), np.float64)
    sigma_t = torch.from_numpy(diff_noise_sd(w01))
    c0 = time.process_time()
    torch.manual_seed(seed)
    student = build_generator(config)
    teacher.generator.eval()
    opt = torch.optim.Adam(student.parameters(), lr=lr, betas=(0.5, 0.999))
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps, eta_min=lr / 10)
    rng = torch.Generator().manual_seed(int(seed))
    history: dict[str, list[float]] = {"loss": []}
    for step in range(1, steps + 1):
        z = torch.randn(batch_size, k, generator=rng)
        with torch.no_grad():
            target = _teacher_output(teacher, z)
        out = student(z, None, False)
        weight = 1.0
        if transient_weight > 0:
            excess = (target - target.median(dim=1, keepdim=True).values) / sigma_t
            weight = 1.0 + transient_weight * excess.clamp_min(0.0)
        loss = (weight * ((out - target) / sigma_t) ** 2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        history["loss"].append(float(loss.detach()))
        if step % progress_every == 0 or step == steps:
            yield Progress(step, steps, "distillation", {"loss": history["loss"][-1]})
    student.eval()
    settings = {"steps": steps, "batch_size": batch_size, "lr": lr, "seed": seed}
    settings["transient_weight"] = transient_weight
    card = {**teacher.card, "distillation": {**settings, "final_loss": history["loss"][-1]}}
    card["teacher_config"] = teacher.config.to_dict()
    model = CalciumGAN(config, teacher.scaling, teacher.fs_hz, generator=student, card=card)
    model.kind = teacher.kind
    return DistillResult(model, history, time.process_time() - c0)


def distill_generator(
    teacher: CalciumGAN,
    config: GANConfig,
    windows: np.ndarray,
    progress_bar: bool = False,
    **kwargs,
) -> DistillResult:
    """Headless :func:`iter_distill_generator` (same arguments; optional tqdm bar).

    Parameters
    ----------
    teacher : CalciumGAN
        The trained model (not modified).
    config : GANConfig
        The student's architecture.
    windows : numpy.ndarray
        (M, T, N) training windows in trace units.
    progress_bar : bool
        Show a tqdm bar.
    **kwargs
        ``steps``, ``batch_size``, ``lr``, ``transient_weight``, ``seed``,
        ``progress_every``.

    Returns
    -------
    DistillResult
    """
    return drain(
        iter_distill_generator(teacher, config, windows, **kwargs),
        progress_bar=progress_bar,
        desc="distillation",
    )
