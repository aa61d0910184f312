"""Settings and results of spike-model training (ENS², S2S).

:class:`SpikeTrainConfig` holds every setting of one run (JSON-serialisable, stored in
the model card); :func:`default_config` gives the papers' settings per method;
:class:`SpikeTrainResult` is what a run returns.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ...errors import InvalidInputError

__all__ = [
    "LR_SCHEDULES",
    "METHOD_DEFAULTS",
    "SpikeTrainConfig",
    "SpikeTrainResult",
    "default_config",
]

#: Paper settings per method.
METHOD_DEFAULTS: dict[str, dict[str, Any]] = {
    "ens2": dict(
        fs_hz=60.0,
        window=96,
        batch_size=1024,
        learning_rate=1e-3,
        iterations=5000,
        patience=500,
        val_every=50,
        loss="mse",
        sigma_ms=25.0,
        kernel_samples=None,
        segment_samples=96,
    ),
    "s2s": dict(
        fs_hz=100.0,
        window=100,
        batch_size=20,
        learning_rate=1e-3,
        iterations=5000,
        patience=None,  # 6 epochs, resolved from the data size
        val_every=None,  # one epoch
        loss="pearson",
        sigma_ms=None,
        kernel_samples=(11, 5.0),
        segment_samples=2000,
    ),
}


@dataclass
class SpikeTrainConfig:
    """Settings of one training run (all JSON-serialisable).

    Attributes
    ----------
    method : str
        ``"ens2"`` or ``"s2s"``.
    iterations : int
        Maximum number of optimiser steps.
    batch_size : int
        Windows (ENS²) or segments (S2S) per step.
    learning_rate : float
        Adam learning rate (the initial one with ``lr_schedule="cosine"``).
    lr_schedule : {"constant", "cosine"}
        ``"cosine"`` lowers the learning rate from ``learning_rate`` to 0 along
        half a cosine over ``iterations`` (computed from the iteration count, so
        a resumed run follows the same curve); the paper uses a constant rate.
    patience : int or None
        Early stopping: stop when the validation loss has not improved for this
        many iterations (ENS²: 500; S2S: None → 6 epochs). With
        ``val_fraction=0`` the training batch loss is watched instead and the
        final weights are kept (the authors' ENS² code).
    val_every : int or None
        Iterations between validation checks (S2S: None → once per epoch).
    val_fraction : float
        Fraction of the neurons of each dataset held out for validation
        (0: train on every neuron, early stopping on the training loss).
    val_windows : int
        Size of the fixed validation sample (windows / segments).
    noise_augment : bool
        Add white noise to training windows so that their noise level ν is a
        random value in [0, ``noise_max``] (no noise when the recording is
        already noisier), as in noise-augmented ENS².
    noise_max : float
        Upper noise level ν (Cascade units).
    noise_matched : bool
        Train on noise- and rate-matched windows (Cascade's recipe,
        :mod:`calcium_forge.inference.training.matched`): each window gets a
        target ν drawn from ``nu_range`` and calibrated signal-dependent plus
        white noise; recordings noisier than the target are skipped and
        datasets are balanced. Replaces ``noise_augment``.
    nu_range : (float, float)
        Range of target noise levels ν (% / √Hz) of matched windows.
    white_fraction : float
        Share of white noise in the added variance of matched windows.
    conditioned : bool
        Give the network each window's noise level and frame rate as inputs
        (``ENS2UNet(n_conditions=2)``); needs ``noise_matched``.
    train_rates_hz : tuple of float or None
        Frame rates (Hz) the matched windows are drawn at, one rate per batch in
        turn (``None``: ``fs_hz`` only). ``fs_hz`` stays the rate of validation
        and event calibration.
    segment_samples : int
        S2S training segment length in samples (ENS² uses the window).
    checkpoint_every : int
        Iterations between checkpoints (0: never).
    report_every : int
        Iterations between progress reports.
    seed : int
        Seed of initialisation, sampling, noise and dropout.
    network_kwargs : dict
        Extra constructor arguments of the network (e.g. ENS² ``channels``).
    calibrate_events : bool
        After training, choose the spike-event gain on the validation neurons
        (training neurons when there are none) and store it in the card
        (:mod:`calcium_forge.inference.training.calibration`).
    fs_hz, window, loss, sigma_ms, kernel_samples :
        Model rate (Hz), window (samples), loss name and target smoothing.
    """

    method: str = "ens2"
    iterations: int = 5000
    batch_size: int = 1024
    learning_rate: float = 1e-3
    lr_schedule: str = "constant"
    patience: int | None = 500
    val_every: int | None = 50
    val_fraction: float = 0.2
    val_windows: int = 8192
    noise_augment: bool = False
    noise_max: float = 15.0
    noise_matched: bool = False
    nu_range: tuple[float, float] = (0.5, 15.0)
    white_fraction: float = 0.5
    conditioned: bool = False
    train_rates_hz: tuple[float, ...] | None = None
    segment_samples: int = 96
    checkpoint_every: int = 500
    report_every: int = 10
    seed: int = 0
    network_kwargs: dict = field(default_factory=dict)
    calibrate_events: bool = True
    fs_hz: float = 60.0
    window: int = 96
    loss: str = "mse"
    sigma_ms: float | None = 25.0
    kernel_samples: tuple[int, float] | None = None

    def to_dict(self) -> dict:
        """JSON-friendly dict of the settings (stored in checkpoints and model cards).

        Returns
        -------
        dict
            Every field; ``kernel_samples`` as a list.
        """
        d = asdict(self)
        for key in ("kernel_samples", "nu_range", "train_rates_hz"):
            if d[key] is not None:
                d[key] = list(d[key])
        return d


def default_config(method: str = "ens2", **overrides) -> SpikeTrainConfig:
    """Paper settings for ``method`` with ``overrides`` applied.

    Parameters
    ----------
    method : {"ens2", "s2s"}
        Network kind: ENS² (60 Hz, 96-sample windows, MSE) or S2S (100 Hz,
        Pearson loss); see :data:`METHOD_DEFAULTS`.
    **overrides
        Fields of :class:`SpikeTrainConfig` to change (``None`` values are ignored).

    Returns
    -------
    SpikeTrainConfig

    Raises
    ------
    InvalidInputError
        Unknown method or learning-rate schedule.
    """
    if method not in METHOD_DEFAULTS:
        raise InvalidInputError(f"method must be 'ens2' or 's2s', got {method!r}")
    kw = dict(METHOD_DEFAULTS[method])
    if method == "s2s":
        kw["val_windows"] = 400
    kw.update({k: v for k, v in overrides.items() if v is not None})
    if kw.get("lr_schedule", "constant") not in LR_SCHEDULES:
        raise InvalidInputError(
            f"lr_schedule must be one of {', '.join(LR_SCHEDULES)}, got {kw['lr_schedule']!r}"
        )
    _check_matched(method, kw)
    return SpikeTrainConfig(method=method, **kw)


def _check_matched(method: str, kw: dict) -> None:
    """Refuse inconsistent noise-matching settings, naming the field and the fix."""
    if kw.get("conditioned") and not kw.get("noise_matched"):
        raise InvalidInputError(
            "conditioned=True needs noise_matched=True (the noise level the network is "
            "given must vary across training windows)"
        )
    if kw.get("conditioned") and method != "ens2":
        raise InvalidInputError(f"conditioned training exists for ENS² only, not {method!r}")
    if kw.get("noise_matched") and kw.get("noise_augment"):
        raise InvalidInputError("use noise_matched or noise_augment, not both")
    rates = kw.get("train_rates_hz")
    if rates is not None and (not rates or min(float(r) for r in rates) <= 0):
        raise InvalidInputError(f"train_rates_hz must be positive rates in Hz, got {rates!r}")
    if rates is not None and len(rates) > 1 and not kw.get("conditioned"):
        raise InvalidInputError(
            f"train_rates_hz={list(rates)} trains one network at several rates: set "
            "conditioned=True so that it knows each window's rate"
        )


#: Learning-rate schedules of :class:`SpikeTrainConfig`.
LR_SCHEDULES = ("constant", "cosine")


def learning_rate_at(config: SpikeTrainConfig, iteration: int) -> float:
    """Learning rate for the step after ``iteration`` completed steps.

    Parameters
    ----------
    config : SpikeTrainConfig
        Gives ``learning_rate``, ``lr_schedule`` and the iteration budget.
    iteration : int
        Optimiser steps completed.

    Returns
    -------
    float
        Adam learning rate (constant, or the cosine schedule's value).
    """
    if config.lr_schedule == "cosine":
        frac = min(iteration / max(config.iterations, 1), 1.0)
        return config.learning_rate * 0.5 * (1.0 + math.cos(math.pi * frac))
    return config.learning_rate


@dataclass
class SpikeTrainResult:
    """Outcome of a training run.

    Attributes
    ----------
    network : torch.nn.Module
        Network with the best validation weights, in eval mode.
    card : dict
        Model card (see :mod:`calcium_forge.inference.registry`).
    history : dict
        ``iteration``, ``train_loss`` (mean since the last report) and
        ``val_iteration``, ``val_loss`` lists.
    best_iteration : int
        Iteration of the best validation loss.
    iterations_run : int
        Optimiser steps done.
    stopped_early : bool
        True if early stopping ended the run.
    train_neurons, val_neurons : list of str
        Neuron ids in each split.
    val_scores : dict
        ``median_corr`` and per-neuron ``corr`` of full-trace predictions on
        the validation neurons at the model rate.
    elapsed_s : float
        Wall-clock time of this call (s).
    model_path : pathlib.Path or None
        Saved ``.pt`` when ``out_dir`` was given.
    """

    network: Any
    card: dict
    history: dict
    best_iteration: int
    iterations_run: int
    stopped_early: bool
    train_neurons: list[str]
    val_neurons: list[str]
    val_scores: dict
    elapsed_s: float
    model_path: Path | None = None
