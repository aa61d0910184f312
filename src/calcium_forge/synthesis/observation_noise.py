"""Observation noise: give a trained CalciumGAN the independent noise of the recording it learned.

A two-photon dF/F trace is a signal plus shot noise that is independent from
neuron to neuron. A GAN generator draws every output from the same hidden
channels, and under-produces white noise (its output is smoother than the
data): its traces then carry less independent noise than real ones, so that
their pairwise correlations come out too high and too widely spread, and the
high end of their spectra too low.

:func:`top_up_observation_noise` measures, per neuron, the white-noise level of
the data and of the model's samples (the PSD estimate of
:func:`~calcium_forge.synthesis.windows.observation_noise_sd`) and gives the
model independent Gaussian noise of the difference,
``sigma_add = sqrt(max(sigma_data**2 - sigma_model**2, 0))``
(``GANConfig.observation_noise``): the model's samples then carry the data's
noise level, drawn independently for each neuron. Models trained with
``observation_noise`` already carry the data's level; for them the top-up
corrects what the generator adds on its own. Torch is imported lazily.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InvalidInputError
from .calciumgan import CalciumGAN
from .gan_networks import GANConfig, build_generator
from .windows import observation_noise_sd

__all__ = ["NoiseTopUp", "top_up_observation_noise"]


@dataclass
class NoiseTopUp:
    """Outcome of :func:`top_up_observation_noise` (levels in trace units, per neuron).

    Parameters
    ----------
    model : CalciumGAN
        The model with the added noise (a copy; the input model is unchanged).
    data_sd, model_sd, added_sd : numpy.ndarray
        (N,) noise SD of the data, of the model's samples before, and the SD added.
    """

    model: CalciumGAN
    data_sd: np.ndarray
    model_sd: np.ndarray
    added_sd: np.ndarray


def top_up_observation_noise(
    model: CalciumGAN,
    windows: np.ndarray,
    fraction: float = 1.0,
    n_samples: int = 256,
    seed: int = 0,
) -> NoiseTopUp:
    """A copy of ``model`` whose samples carry the data's independent noise level.

    Parameters
    ----------
    model : CalciumGAN
        A trained model (not modified).
    windows : numpy.ndarray
        (M, T, N) real training windows in trace units (T and N as the model's).
    fraction : float
        Share of the missing noise variance to add, in [0, 1] (1 = up to the data's level).
    n_samples : int
        Windows sampled from the model to measure its own noise level.
    seed : int
        Seed of those samples.

    Returns
    -------
    NoiseTopUp
        The new model and the three noise levels; the card records them under
        ``observation_noise``.
    """
    import torch

    if not 0.0 <= fraction <= 1.0:
        raise InvalidInputError(f"fraction must lie in [0, 1]; got {fraction}.")
    w = np.asarray(windows, np.float32)
    if w.ndim != 3 or w.shape[1:] != (model.config.window, model.config.n_neurons):
        raise InvalidInputError(
            f"top_up_observation_noise: windows must be (M, {model.config.window}, "
            f"{model.config.n_neurons}) like the model's; got {w.shape}."
        )
    span = np.asarray(model.scaling.x_max, np.float64) - np.asarray(model.scaling.x_min)
    span = np.broadcast_to(span, (model.config.n_neurons,))
    data_sd = observation_noise_sd(w).astype(np.float64)
    model_sd = observation_noise_sd(model.sample_windows(n_samples, seed=seed)).astype(np.float64)
    old = np.zeros(model.config.n_neurons)
    if model.config.observation_noise:  # the level it adds now, part of model_sd
        old = model.generator.obs_sigma.detach().cpu().numpy().astype(np.float64) * span
    # the generator's own noise is model_sd**2 - old**2; add what makes up the data's
    own = np.maximum(model_sd**2 - old**2, 0.0)
    added = np.sqrt(fraction * np.maximum(data_sd**2 - own, 0.0))
    config = GANConfig.from_dict({**model.config.to_dict(), "observation_noise": True})
    gen = build_generator(config)
    gen.load_state_dict(model.generator.state_dict(), strict=False)
    with torch.no_grad():
        gen.obs_sigma.copy_(torch.from_numpy((added / span).astype(np.float32)))
    card = {
        **model.card,
        "observation_noise": {
            "rule": "independent white noise; SD = sqrt(fraction * max(data^2 - generator^2, "
            "0)) per neuron, levels by OASIS' PSD estimate (trace units)",
            "fraction": fraction,
            "data_sd": data_sd.round(5).tolist(),
            "generator_sd": np.sqrt(own).round(5).tolist(),
            "added_sd": added.round(5).tolist(),
        },
    }
    tuned = CalciumGAN(
        config, model.scaling, model.fs_hz, generator=gen, card=card, kind=model.kind
    )
    return NoiseTopUp(tuned, data_sd, np.sqrt(own), added)
