"""Matching a recording to a model: frame-rate limits, trained ranges, per-ROI noise level.

Every network call measures each ROI's noise level ν (Cascade's definition,
:func:`calcium_forge.signal.noise_level`) and records it in the result. A
conditioned network (trained on noise- and rate-matched windows,
:mod:`calcium_forge.inference.training.matched`) runs at the recording's own
frame rate when its card says it was trained for that rate, and is given each
ROI's ν and the rate; a classic network runs at its card's rate. A frame rate
or ν outside what the model was trained on gives a warning that names the ROIs,
the value and the range; a frame rate below :data:`MIN_FS_HZ` or above
:data:`MAX_FS_HZ` is refused unless the caller forces it.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from ..errors import InvalidInputError
from ..signal import noise_level

__all__ = [
    "MAX_FS_HZ",
    "MIN_FS_HZ",
    "ModelRange",
    "OutsideTrainedRangeWarning",
    "bind_trace_condition",
    "check_frame_rate",
    "model_range",
    "roi_noise_levels",
    "warn_outside",
]

#: Slowest frame rate accepted without ``force_rate=True``, Hz.
MIN_FS_HZ = 2.0
#: Fastest frame rate accepted without ``force_rate=True``, Hz.
MAX_FS_HZ = 1000.0


class OutsideTrainedRangeWarning(UserWarning):
    """A recording's frame rate or noise level lies outside the model's training range."""


def check_frame_rate(fs_hz: float, force: bool = False) -> None:
    """Refuse frame rates no calcium recording has, unless forced.

    Parameters
    ----------
    fs_hz : float
        The recording's frame rate, Hz.
    force : bool
        Accept any positive rate (``force_rate=True`` in :func:`infer_spikes`).

    Raises
    ------
    InvalidInputError
        When ``fs_hz`` is below :data:`MIN_FS_HZ` or above :data:`MAX_FS_HZ`.
    """
    if force or MIN_FS_HZ <= fs_hz <= MAX_FS_HZ:
        return
    raise InvalidInputError(
        f"fs_hz={fs_hz:g} Hz is outside {MIN_FS_HZ:g}–{MAX_FS_HZ:g} Hz, the range of calcium "
        "imaging frame rates; check the frame rate (Suite2P: ops['fs'], TIFF metadata) and pass "
        "the right fs_hz, or pass force_rate=True if it really is right."
    )


@dataclass(frozen=True)
class ModelRange:
    """What a model was trained on.

    Attributes
    ----------
    rates_hz : (float, float) or None
        Lowest and highest training frame rate (Hz) of a model that runs at the
        recording's own rate; None for a model with one fixed rate.
    noise_levels : (float, float) or None
        Range of training noise levels ν (% / √Hz); None when not recorded.
    conditioned : bool
        The network takes each ROI's ν and the rate as inputs.
    """

    rates_hz: tuple[float, float] | None
    noise_levels: tuple[float, float] | None
    conditioned: bool

    def run_rate(self, fs_hz: float, model_fs_hz: float) -> float:
        """The rate (Hz) to run the network at for a recording at ``fs_hz``.

        Parameters
        ----------
        fs_hz : float
            The recording's frame rate, Hz.
        model_fs_hz : float
            The card's ``fs_hz`` (the only rate of a classic model).

        Returns
        -------
        float
            ``fs_hz`` itself when the model was trained for it, else the nearest
            trained rate (a classic model: its own rate).
        """
        if self.rates_hz is None:
            return float(model_fs_hz)
        lo, hi = self.rates_hz
        return float(min(max(fs_hz, lo), hi))


def model_range(card: dict, network: object | None = None) -> ModelRange:
    """Read a model card's training range.

    Parameters
    ----------
    card : dict
        The model card (``training.noise_matching`` for matched models,
        ``training.noise_augmentation`` for noise-augmented ones).
    network : torch.nn.Module, optional
        The network (its ``n_conditions`` tells whether it is conditioned).

    Returns
    -------
    ModelRange
    """
    training = card.get("training") if isinstance(card.get("training"), dict) else {}
    matching = training.get("noise_matching") or {}
    conditioned = bool(getattr(network, "n_conditions", 0))
    if matching.get("enabled"):
        rates = [float(r) for r in matching.get("rates_hz") or []]
        nu = matching.get("nu_range")
        return ModelRange(
            rates_hz=(min(rates), max(rates)) if conditioned and rates else None,
            noise_levels=(float(nu[0]), float(nu[1])) if nu else None,
            conditioned=conditioned,
        )
    augmentation = training.get("noise_augmentation") or {}
    if augmentation.get("enabled"):
        return ModelRange(None, (0.0, float(augmentation.get("nu_max", 0.0))), conditioned)
    return ModelRange(None, None, conditioned)


def roi_noise_levels(traces: np.ndarray, fs_hz: float) -> np.ndarray:
    """Each ROI's noise level ν (% / √Hz) at ``fs_hz`` (NaN frames ignored).

    Parameters
    ----------
    traces : numpy.ndarray
        (n_rois, n_frames) dF/F (fraction).
    fs_hz : float
        Their frame rate, Hz.

    Returns
    -------
    numpy.ndarray
        float64 (n_rois,).
    """
    return np.atleast_1d(noise_level(traces, fs_hz)).astype(np.float64)


def _roi_list(rois: np.ndarray, limit: int = 10) -> str:
    shown = ", ".join(str(int(r)) for r in rois[:limit])
    return shown + (f" and {rois.size - limit} more" if rois.size > limit else "")


def warn_outside(name: str, fs_hz: float, nu: np.ndarray, trained: ModelRange) -> None:
    """Warn when the frame rate or some ROIs' ν lie outside what the model was trained on.

    Parameters
    ----------
    name : str
        The model's name (for the message).
    fs_hz : float
        The recording's frame rate, Hz.
    nu : numpy.ndarray
        Each ROI's noise level ν, % / √Hz.
    trained : ModelRange
        The model's training range.
    """
    if trained.rates_hz is not None:
        lo, hi = trained.rates_hz
        if not lo <= fs_hz <= hi:
            warnings.warn(
                f"{name}: the frame rate {fs_hz:g} Hz is outside the trained {lo:g}–{hi:g} Hz "
                f"(all ROIs); the traces are resampled to {min(max(fs_hz, lo), hi):g} Hz.",
                OutsideTrainedRangeWarning,
                stacklevel=3,
            )
    if trained.noise_levels is not None:
        lo, hi = trained.noise_levels
        out = np.flatnonzero(np.isfinite(nu) & ((nu < lo) | (nu > hi)))
        if out.size:
            warnings.warn(
                f"{name}: ROI(s) {_roi_list(out)} have noise level ν "
                f"{np.round(nu[out[:10]], 2).tolist()} outside the trained {lo:g}–{hi:g} "
                "(% / √Hz); their rates are less reliable.",
                OutsideTrainedRangeWarning,
                stacklevel=3,
            )


def bind_trace_condition(network, dff: np.ndarray, fs_hz: float | None):
    """A conditioned network bound to one trace's noise level and rate (others unchanged).

    Parameters
    ----------
    network : torch.nn.Module
        Any spike network; only one with ``n_conditions > 0`` is bound.
    dff : numpy.ndarray
        The trace (dF/F, fraction) at ``fs_hz``; its ν is measured here.
    fs_hz : float or None
        Rate of the trace, Hz (required for a conditioned network).

    Returns
    -------
    torch.nn.Module
    """
    if not getattr(network, "n_conditions", 0):
        return network
    from .networks import condition_values, with_condition

    if fs_hz is None:
        raise InvalidInputError(
            "this network is conditioned on the noise level and frame rate; pass fs_hz="
        )
    nu = float(noise_level(np.asarray(dff, dtype=np.float64), fs_hz))
    return with_condition(network, condition_values(nu, fs_hz))
