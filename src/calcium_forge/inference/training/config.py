"""Settings and results of spike-model training (ENS², S2S, Cascade).

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
    "CASCADE_SIGMA_FRAMES",
    "LR_SCHEDULES",
    "METHOD_DEFAULTS",
    "OPTIMIZERS",
    "SpikeTrainConfig",
    "SpikeTrainResult",
    "build_optimiser",
    "cascade_sigma_ms",
    "check_same_optimiser",
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
    # Cascade (Rupprecht et al. 2021): 64-frame windows -> the centre frame's rate, MSE, an
    # ensemble of 5, noise-matched windows at one frame rate; the target smoothing follows
    # the rate (sigma_ms None -> cascade_sigma_ms(fs_hz), 1.5 frames). Adam 1e-3 instead of
    # Cascade's Adagrad 0.05 (optimizer="adagrad", learning_rate=0.05 for the original): on
    # matched 30 Hz windows of DS10 + DS12 (10 training, 2 validation neurons, batch 256)
    # Adam reached within 150 iterations the validation MSE Adagrad had after 1,500
    # (0.0026 vs 0.0030; median validation r 0.89 vs 0.87), and CPU budgets are iterations.
    "cascade": dict(
        fs_hz=30.0,
        window=64,
        batch_size=1024,
        learning_rate=1e-3,
        optimizer="adam",
        iterations=5000,
        patience=1000,
        val_every=100,
        loss="mse",
        sigma_ms=None,
        kernel_samples=None,
        segment_samples=64,
        noise_matched=True,
    ),
}

#: Optimisers of :class:`SpikeTrainConfig` (``optimizer``).
OPTIMIZERS = ("adam", "adagrad")

#: Target smoothing of Cascade models in frames: σ = 1.5 frames (see :func:`cascade_sigma_ms`).
CASCADE_SIGMA_FRAMES = 1.5


def cascade_sigma_ms(fs_hz: float) -> float:
    """Default σ (ms) of the Gaussian target smoothing of a Cascade model at ``fs_hz``.

    σ = 1.5 frames, i.e. 1500 / fs ms: 200 ms at 7.5 Hz, 100 ms at 15 Hz,
    50 ms at 30 Hz, 25 ms at 60 Hz. These are the smoothings of Cascade's own
    pretrained models at those rates (``..._7.5Hz_smoothing200ms``,
    ``..._30Hz_smoothing50ms``), and 25 ms at 60 Hz is ENS²'s. A σ fixed in
    milliseconds cannot suit 7.5–60 Hz: 25 ms is a third of a frame at 7.5 Hz
    (the centre frame's target would be almost a bare spike count, a target
    that jumps with sub-frame spike timing the dF/F cannot resolve), while
    200 ms smears a 60 Hz target over 24 frames. A σ of about 1.5 frames
    keeps a spike's target spread over ~3 frames at every rate.

    Parameters
    ----------
    fs_hz : float
        The model's frame rate, Hz.

    Returns
    -------
    float
        σ in ms.
    """
    return CASCADE_SIGMA_FRAMES * 1000.0 / float(fs_hz)


@dataclass
class SpikeTrainConfig:
    """Settings of one training run (all JSON-serialisable).

    Attributes
    ----------
    method : str
        ``"ens2"``, ``"s2s"`` or ``"cascade"`` (which needs ``noise_matched``).
    iterations : int
        Maximum number of optimiser steps.
    batch_size : int
        Windows (ENS², Cascade) or segments (S2S) per step.
    learning_rate : float
        Optimiser learning rate (the initial one with ``lr_schedule="cosine"``).
    optimizer : {"adam", "adagrad"}
        Adam (ENS², S2S) or Adagrad (Cascade's original).
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
    optimizer: str = "adam"
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
    method : {"ens2", "s2s", "cascade"}
        Network kind: ENS² (60 Hz, 96-sample windows, MSE), S2S (100 Hz,
        Pearson loss) or Cascade (30 Hz by default, 64-frame windows, MSE,
        Adam, noise-matched; ``sigma_ms`` defaults to
        :func:`cascade_sigma_ms` of the rate); see :data:`METHOD_DEFAULTS`.
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
        raise InvalidInputError(
            f"method must be one of {', '.join(METHOD_DEFAULTS)}, got {method!r}"
        )
    kw = dict(METHOD_DEFAULTS[method])
    if method == "s2s":
        kw["val_windows"] = 400
    kw.update({k: v for k, v in overrides.items() if v is not None})
    if method == "cascade" and kw.get("sigma_ms") is None and kw.get("kernel_samples") is None:
        kw["sigma_ms"] = cascade_sigma_ms(kw["fs_hz"])
    if kw.get("lr_schedule", "constant") not in LR_SCHEDULES:
        raise InvalidInputError(
            f"lr_schedule must be one of {', '.join(LR_SCHEDULES)}, got {kw['lr_schedule']!r}"
        )
    if kw.get("optimizer", "adam") not in OPTIMIZERS:
        raise InvalidInputError(
            f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {kw['optimizer']!r}"
        )
    _check_matched(method, kw)
    return SpikeTrainConfig(method=method, **kw)


def _check_matched(method: str, kw: dict) -> None:
    """Refuse inconsistent noise-matching settings, naming the field and the fix."""
    if method == "cascade" and not kw.get("noise_matched"):
        raise InvalidInputError(
            "method='cascade' trains on noise-matched windows only; keep noise_matched=True"
        )
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
        Optimiser learning rate (constant, or the cosine schedule's value).
    """
    if config.lr_schedule == "cosine":
        frac = min(iteration / max(config.iterations, 1), 1.0)
        return config.learning_rate * 0.5 * (1.0 + math.cos(math.pi * frac))
    return config.learning_rate


def build_optimiser(config: SpikeTrainConfig, parameters):
    """The optimiser of a run: Adam, or Adagrad (Cascade's), at ``config.learning_rate``.

    Parameters
    ----------
    config : SpikeTrainConfig
        Gives ``optimizer`` and ``learning_rate``.
    parameters : iterable of torch.nn.Parameter
        The network's parameters.

    Returns
    -------
    torch.optim.Optimizer
        ``torch.optim.Adam`` (defaults otherwise) or ``torch.optim.Adagrad``
        (Keras' Adagrad: initial accumulator 0.1 and ε = 1e-7).

    Raises
    ------
    InvalidInputError
        Unknown optimiser name.
    """
    import torch

    if config.optimizer == "adam":
        return torch.optim.Adam(parameters, lr=config.learning_rate)
    if config.optimizer == "adagrad":
        return torch.optim.Adagrad(
            parameters, lr=config.learning_rate, initial_accumulator_value=0.1, eps=1e-7
        )
    raise InvalidInputError(
        f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {config.optimizer!r}"
    )


def check_same_optimiser(saved: dict, config: SpikeTrainConfig | None, resume: Any) -> None:
    """Refuse to resume a run with another optimiser than its checkpoint's.

    Parameters
    ----------
    saved : dict
        The checkpoint's config (``checkpoint["config"]``; without ``optimizer``
        it was an Adam run).
    config : SpikeTrainConfig or None
        Settings passed to the resumed run (None: the checkpoint's).
    resume : path
        The checkpoint path (for the message).

    Raises
    ------
    InvalidInputError
        When the optimisers differ (the saved optimiser state would not fit).
    """
    before = saved.get("optimizer", "adam")
    if config is not None and config.optimizer != before:
        raise InvalidInputError(
            f"resume={str(resume)!r}: optimizer={config.optimizer!r} differs from the "
            f"checkpoint's {before!r}; resume with the same settings"
        )


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
