"""Recording -> sliding windows (M, T, N), global min/max scaling, held-out block.

CalciumGAN trains on windows of ``T`` frames cut from an (N, L) recording with
stride ``s``, scaled to [0, 1] by the global minimum and maximum of the
training data (paper eq. 4). Held-out evaluation windows come from a separate
time block at the end of the recording, so no held-out frame is ever inside a
training window.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InvalidInputError
from ..recording import Recording

__all__ = [
    "Scaling",
    "WindowSplit",
    "diff_noise_sd",
    "make_windows",
    "observation_noise_sd",
    "split_windows",
    "windows_to_traces",
]


@dataclass
class Scaling:
    """Global min/max scaling ``x01 = (x - x_min) / (x_max - x_min)``.

    Parameters
    ----------
    x_min, x_max : float or numpy.ndarray
        Minimum and maximum of the training data (trace units): scalars for the
        paper's global scaling, or (N,) arrays for per-neuron scaling (they
        broadcast over the last axis of (..., N) windows).
    """

    x_min: float | np.ndarray
    x_max: float | np.ndarray

    @classmethod
    def fit(cls, windows: np.ndarray, per_neuron: bool = False) -> Scaling:
        """Scaling from the finite values of (..., N) data.

        Parameters
        ----------
        windows : numpy.ndarray
            Data with neurons on the last axis.
        per_neuron : bool
            One min/max per neuron instead of the global one.
        """
        x = np.asarray(windows, np.float64)
        if not np.isfinite(x).any():
            raise InvalidInputError("Scaling.fit: the data has no finite value.")
        if per_neuron:
            flat = x.reshape(-1, x.shape[-1])
            lo, hi = np.nanmin(flat, axis=0), np.nanmax(flat, axis=0)
            hi = np.where(hi > lo, hi, lo + 1.0)
            return cls(lo, hi)
        lo, hi = float(np.nanmin(x)), float(np.nanmax(x))
        if hi <= lo:
            raise InvalidInputError(
                f"Scaling.fit: data is constant ({lo}); CalciumGAN needs varying traces."
            )
        return cls(lo, hi)

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Scale to [0, 1] (values outside the fitted range fall outside [0, 1])."""
        return ((np.asarray(x) - self.x_min) / (self.x_max - self.x_min)).astype(np.float32)

    def inverse(self, x01: np.ndarray) -> np.ndarray:
        """Back to the original units."""
        return (np.asarray(x01) * (self.x_max - self.x_min) + self.x_min).astype(np.float32)

    def to_dict(self) -> dict:
        """JSON-friendly form."""

        def conv(v):
            return np.asarray(v, np.float64).tolist()

        return {"x_min": conv(self.x_min), "x_max": conv(self.x_max)}

    @classmethod
    def from_dict(cls, d: dict) -> Scaling:
        """Inverse of :meth:`to_dict`."""

        def conv(v):
            return float(v) if np.ndim(v) == 0 else np.asarray(v, np.float64)

        return cls(conv(d["x_min"]), conv(d["x_max"]))

    @property
    def per_neuron(self) -> bool:
        """True for per-neuron scaling."""
        return np.ndim(self.x_min) > 0


def observation_noise_sd(windows: np.ndarray, max_windows: int = 256) -> np.ndarray:
    """White-noise level of each neuron: the median over windows of OASIS' PSD estimate.

    The estimate (``oasis.functions.GetSn``: the power between fs/4 and fs/2)
    is the one the evaluation uses for its spike threshold, so a model that
    adds noise of this level gives traces whose estimated noise matches the
    data's.

    Parameters
    ----------
    windows : numpy.ndarray
        (M, T, N) windows, in any units (the result is in the same units).
    max_windows : int
        Use at most this many windows, evenly spaced (the estimate is a median).

    Returns
    -------
    numpy.ndarray
        float32 (N,) noise standard deviation per neuron (>= 0).
    """
    from oasis.functions import GetSn

    w = np.asarray(windows, np.float64)
    if w.ndim != 3 or w.shape[1] < 8:
        raise InvalidInputError(
            f"observation_noise_sd: expected (M, T, N) windows with T >= 8; got {w.shape}."
        )
    pick = np.unique(np.linspace(0, len(w) - 1, min(len(w), max_windows)).astype(int))
    sn = np.array([[GetSn(w[i, :, j]) for j in range(w.shape[2])] for i in pick])
    return np.nan_to_num(np.median(sn, axis=0)).astype(np.float32)


def diff_noise_sd(windows: np.ndarray) -> np.ndarray:
    """Noise SD per neuron from frame-to-frame differences: median |diff| / (0.6745 sqrt 2).

    The weights of distillation and correlation matching (in the model's
    [0, 1] units) use it.

    Parameters
    ----------
    windows : numpy.ndarray
        (M, T, N) windows (any units; the result is in the same units).

    Returns
    -------
    numpy.ndarray
        float32 (N,) SD per neuron, at least 1e-4.
    """
    w = np.asarray(windows, np.float64)
    if w.ndim != 3 or w.shape[1] < 2:
        raise InvalidInputError(f"diff_noise_sd: expected (M, T, N) windows; got {w.shape}.")
    sd = np.median(np.abs(np.diff(w, axis=1)), axis=(0, 1)) / (0.6745 * 2**0.5)
    return np.maximum(sd, 1e-4).astype(np.float32)


def make_windows(traces: np.ndarray, window: int, stride: int = 1) -> np.ndarray:
    """Cut (N, L) traces into sliding windows (M, T, N).

    Parameters
    ----------
    traces : numpy.ndarray
        (N, L) traces.
    window : int
        Window length T in frames.
    stride : int
        Step between window starts in frames.

    Returns
    -------
    numpy.ndarray
        (M, T, N) copy, M = (L - T) // stride + 1.
    """
    traces = np.asarray(traces)
    if traces.ndim != 2:
        raise InvalidInputError(f"make_windows: traces must be (N, L); got {traces.shape}.")
    length = traces.shape[1]
    if window < 2 or stride < 1:
        raise InvalidInputError(
            f"make_windows: window must be >= 2 and stride >= 1 frames; got {window}, {stride}."
        )
    if length < window:
        raise InvalidInputError(
            f"make_windows: recording has {length} frames, fewer than window={window}. "
            "Use a shorter window."
        )
    view = np.lib.stride_tricks.sliding_window_view(traces, window, axis=1)  # (N, L-T+1, T)
    return np.ascontiguousarray(view[:, ::stride, :].transpose(1, 2, 0))


def windows_to_traces(windows: np.ndarray) -> np.ndarray:
    """Concatenate (M, T, N) windows end to end into (N, M*T) traces."""
    w = np.asarray(windows)
    return np.ascontiguousarray(w.transpose(2, 0, 1).reshape(w.shape[2], -1))


@dataclass
class WindowSplit:
    """Training and held-out windows of one recording.

    Parameters
    ----------
    train : numpy.ndarray
        (M, T, N) float32 training windows, scaled to [0, 1].
    held_out : numpy.ndarray
        (M_h, T, N) float32 held-out windows (same scaling), from the last block.
    scaling : Scaling
        The global min/max of the training block.
    window : int
        T in frames.
    stride : int
        Stride of the training windows in frames.
    fs_hz : float
        Frame rate in Hz.
    train_frames, held_out_frames : (int, int)
        Frame ranges [start, stop) of the two blocks.
    """

    train: np.ndarray
    held_out: np.ndarray
    scaling: Scaling
    window: int
    stride: int
    fs_hz: float
    train_frames: tuple[int, int]
    held_out_frames: tuple[int, int]

    @property
    def n_neurons(self) -> int:
        """N."""
        return int(self.train.shape[2])


def split_windows(
    recording: Recording | np.ndarray,
    window: int,
    stride: int = 1,
    held_out_fraction: float = 0.2,
    fs_hz: float | None = None,
    held_out_stride: int | None = None,
    per_neuron_scaling: bool = False,
) -> WindowSplit:
    """Training windows from the first block, held-out windows from the last.

    Parameters
    ----------
    recording : Recording or numpy.ndarray
        The data (a Recording, or (N, L) traces with ``fs_hz``). NaN frames are
        replaced by each ROI's median.
    window : int
        T in frames.
    stride : int
        Stride of training windows in frames.
    held_out_fraction : float
        Fraction of the recording (at its end) kept for evaluation, in [0, 0.9].
        0 gives an empty held-out set.
    fs_hz : float, optional
        Needed when ``recording`` is an array.
    held_out_stride : int, optional
        Stride of held-out windows (default: ``window`` — non-overlapping).
    per_neuron_scaling : bool
        Scale each neuron by its own min/max (the paper uses one global min/max;
        per-neuron scaling helps when one ROI's dF/F range dwarfs the others).

    Returns
    -------
    WindowSplit
    """
    if isinstance(recording, Recording):
        traces, fs = recording.traces, recording.fs_hz
    else:
        traces, fs = np.asarray(recording, dtype=np.float32), fs_hz
        if fs is None:
            raise InvalidInputError("split_windows: pass fs_hz= with an array of traces.")
    if not 0 <= held_out_fraction <= 0.9:
        raise InvalidInputError(f"held_out_fraction must lie in [0, 0.9]; got {held_out_fraction}.")
    traces = np.array(traces, dtype=np.float32)
    if np.isnan(traces).any():
        med = np.nanmedian(traces, axis=1, keepdims=True)
        traces = np.where(np.isnan(traces), med, traces)
    length = traces.shape[1]
    n_held = round(length * held_out_fraction)
    cut = length - n_held
    if cut < window:
        raise InvalidInputError(
            f"split_windows: the training block has {cut} frames (< window={window}); "
            "lower held_out_fraction or the window."
        )
    if n_held and n_held < window:
        raise InvalidInputError(
            f"split_windows: the held-out block has {n_held} frames (< window={window}); "
            "raise held_out_fraction or lower the window."
        )
    train_tr = traces[:, :cut]
    scaling = Scaling.fit(train_tr.T, per_neuron=per_neuron_scaling)
    train = scaling.forward(make_windows(train_tr, window, stride))
    if n_held:
        held = scaling.forward(make_windows(traces[:, cut:], window, held_out_stride or window))
    else:
        held = np.zeros((0, window, traces.shape[0]), np.float32)
    return WindowSplit(
        train=train,
        held_out=held,
        scaling=scaling,
        window=int(window),
        stride=int(stride),
        fs_hz=float(fs),
        train_frames=(0, cut),
        held_out_frames=(cut, length),
    )
