"""After adversarial training: the stages that make a CalciumGAN co-fire like real neurons.

:func:`post_train` runs, on the training windows only:

1. **distillation** of the generator into :meth:`GANConfig.linear` (linear
   up-sampling: no transposed-convolution grid in the spectrum;
   :mod:`.distill`), unless it already has that architecture;
2. **observation noise**: independent white noise per neuron up to the
   data's noise level (:mod:`.observation_noise`);
3. **correlation matching** of the pairwise statistics (:mod:`.correlation_matching`).

It is what ``calcium-forge train-gan`` does after training and what the
shipped models are (docs/benchmarks.md, "CalciumGAN" has the measurements of
each stage).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from .calciumgan import CalciumGAN
from .gan_networks import GANConfig

__all__ = ["PostTraining", "post_train"]


@dataclass
class PostTraining:
    """Outcome of :func:`post_train`.

    Parameters
    ----------
    model : CalciumGAN
        The final model (the input model is unchanged).
    cpu_seconds : dict
        CPU seconds per stage that ran (``distillation``, ``observation_noise``,
        ``correlation_matching``).
    """

    model: CalciumGAN
    cpu_seconds: dict = field(default_factory=dict)


def post_train(
    model: CalciumGAN,
    windows: np.ndarray,
    *,
    distill_steps: int = 6000,
    transient_weight: float = 0.0,
    top_up: float = 1.0,
    match_steps: int = 400,
    match_weight: float = 1000.0,
    seed: int = 0,
    progress_bar: bool = False,
) -> PostTraining:
    """Distil, add observation noise and match correlations (each stage skipped at 0).

    Parameters
    ----------
    model : CalciumGAN
        The adversarially trained model.
    windows : numpy.ndarray
        (M, T, N) training windows in trace units.
    distill_steps : int
        Distillation steps into :meth:`GANConfig.linear` (0 = keep the
        architecture; a model with linear up-sampling is never distilled).
    transient_weight : float
        Weight of the teacher's transients in the distillation loss
        (:func:`.distill.iter_distill_generator`).
    top_up : float
        Share of the missing noise variance to add (0 = none).
    match_steps : int
        Correlation-matching steps (0 = none).
    match_weight : float
        Weight of the correlation term of the matching.
    seed : int
        Seed of every stage.
    progress_bar : bool
        tqdm bars for the distillation and the matching.

    Returns
    -------
    PostTraining
    """
    from .correlation_matching import match_correlations
    from .distill import distill_generator
    from .observation_noise import top_up_observation_noise

    cpu: dict[str, float] = {}
    cfg = model.config
    if distill_steps > 0 and cfg.upsample != "linear":
        c0 = time.process_time()
        student = GANConfig.linear(n_neurons=cfg.n_neurons, window=cfg.window)
        student.latent_dim = cfg.latent_dim
        model = distill_generator(
            model,
            student,
            windows,
            steps=distill_steps,
            transient_weight=transient_weight,
            seed=seed,
            progress_bar=progress_bar,
        ).model
        cpu["distillation"] = round(time.process_time() - c0, 1)
    if top_up > 0:
        c0 = time.process_time()
        model = top_up_observation_noise(model, windows, fraction=top_up, seed=seed).model
        cpu["observation_noise"] = round(time.process_time() - c0, 1)
    if match_steps > 0:
        c0 = time.process_time()
        model = match_correlations(
            model,
            windows,
            steps=match_steps,
            weight=match_weight,
            seed=seed,
            progress_bar=progress_bar,
        ).model
        cpu["correlation_matching"] = round(time.process_time() - c0, 1)
    model.card["post_training_cpu_seconds"] = cpu
    return PostTraining(model, cpu)
