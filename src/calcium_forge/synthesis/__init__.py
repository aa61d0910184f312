"""Synthetic calcium data: dichotomized Gaussian, calcium forward model, CalciumGAN, movies.

Importing this package does not import torch; the GAN parts load it on use.

>>> from calcium_forge.synthesis import make_dg_dataset, CalciumGAN   # doctest: +SKIP
>>> rec = make_dg_dataset(n_neurons=20, duration_s=60, fs_hz=30, seed=0)  # doctest: +SKIP
>>> gan = CalciumGAN.load("hippocampus")                               # doctest: +SKIP
>>> synthetic = gan.sample_long(3000, seed=1)                          # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

from .baseline import DGBaseline
from .calcium import (
    CalciumModel,
    decay_s_from_g,
    g_from_decay_s,
    make_dg_dataset,
    random_dg,
    spikes_to_calcium,
)
from .calciumgan import CalciumGAN, GANConfig, available_models, crossfade_windows, load_model
from .dg import DGModel, bivariate_normal_cdf, fit_dg, nearest_correlation
from .train import (
    GANTrainConfig,
    GANTrainResult,
    _deprecated_alias,
    iter_train_gan,
    load_checkpoint,
    model_from_checkpoint,
    train_gan,
)
from .windows import Scaling, WindowSplit, make_windows, split_windows, windows_to_traces

__all__ = [
    "CalciumGAN",
    "CalciumModel",
    "DGBaseline",
    "DGModel",
    "GANConfig",
    "GANTrainConfig",
    "GANTrainResult",
    "Scaling",
    "WindowSplit",
    "available_models",
    "bivariate_normal_cdf",
    "crossfade_windows",
    "decay_s_from_g",
    "fit_dg",
    "g_from_decay_s",
    "iter_train_gan",
    "load_checkpoint",
    "load_model",
    "make_dg_dataset",
    "make_windows",
    "model_from_checkpoint",
    "nearest_correlation",
    "random_dg",
    "spikes_to_calcium",
    "split_windows",
    "train_gan",
    "windows_to_traces",
]


def __getattr__(name: str) -> Any:
    # old names (TrainConfig, TrainResult): deprecated aliases, as in .train
    return _deprecated_alias(__name__, name)
