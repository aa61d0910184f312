"""Spike trains on a frame grid: binning, Gaussian kernels, smoothing and re-binning.

One implementation of each primitive that training targets, spike-event
estimation and the evaluation metrics share.

Conventions
-----------
Sample ``k`` of a trace at ``fs_hz`` stands for the bin *centred* on its time
``k / fs_hz``, ``[(k - 1/2)/fs_hz, (k + 1/2)/fs_hz)``. Spike times are in
seconds from the first sample. Kernels sum to 1, so smoothing preserves the
number of spikes and smoothed counts keep the unit *spikes per bin*.

Re-binning (:func:`rebin_rate`) treats a rate in spikes/s as a piecewise-constant
spike density and integrates it over the new bins, so the number of spikes in
any stretch of time is preserved (unlike interpolating the rate, or Fourier
resampling it, which would also create negative values).
"""

from __future__ import annotations

import numpy as np

from .errors import InvalidInputError

__all__ = [
    "bin_spikes",
    "gaussian_kernel",
    "gaussian_kernel_ms",
    "gaussian_window",
    "rebin_rate",
    "smooth_spike_counts",
]


def gaussian_kernel(sigma_bins: float, truncate: float = 4.0) -> np.ndarray:
    """A Gaussian smoothing kernel that sums to 1 (spike count preserving).

    Parameters
    ----------
    sigma_bins : float
        Standard deviation in bins (e.g. 25 ms at 60 Hz = 1.5 bins).
    truncate : float
        Half-width of the kernel in standard deviations.

    Returns
    -------
    numpy.ndarray
        float64 kernel of odd length ``2 * max(1, ceil(truncate * sigma_bins)) + 1``.
    """
    if not np.isfinite(sigma_bins) or sigma_bins <= 0:
        raise InvalidInputError(f"sigma_bins must be > 0; got {sigma_bins!r}.")
    half = max(1, int(np.ceil(truncate * sigma_bins)))
    x = np.arange(-half, half + 1, dtype=np.float64)
    k = np.exp(-0.5 * (x / sigma_bins) ** 2)
    return k / k.sum()


def gaussian_kernel_ms(sigma_ms: float, fs_hz: float, truncate: float = 4.0) -> np.ndarray:
    """Unit-sum Gaussian kernel of standard deviation ``sigma_ms`` sampled at ``fs_hz``.

    Parameters
    ----------
    sigma_ms : float
        Standard deviation in milliseconds (ENS²: 25 ms).
    fs_hz : float
        Sampling rate of the spike-count bins (Hz).
    truncate : float
        Half-width of the kernel in standard deviations.

    Returns
    -------
    numpy.ndarray
        Odd-length float64 kernel summing to 1 (see :func:`gaussian_kernel`).
    """
    if not sigma_ms > 0 or not fs_hz > 0:
        raise InvalidInputError(
            f"sigma_ms and fs_hz must be > 0, got sigma_ms={sigma_ms}, fs_hz={fs_hz}"
        )
    return gaussian_kernel(sigma_ms * 1e-3 * fs_hz, truncate)


def gaussian_window(width: int, sd: float) -> np.ndarray:
    """Unit-sum Gaussian window of ``width`` samples and standard deviation ``sd`` samples.

    This is the S2S target kernel (width 11, sd 5), i.e.
    ``scipy.signal.windows.gaussian(width, sd)`` normalised to sum 1.

    Parameters
    ----------
    width : int
        Window length in samples (odd for a centred kernel).
    sd : float
        Standard deviation in samples.

    Returns
    -------
    numpy.ndarray
        float64 (width,) kernel summing to 1.
    """
    if width < 1 or not sd > 0:
        raise InvalidInputError(f"width must be >= 1 and sd > 0, got width={width}, sd={sd}")
    x = np.arange(width, dtype=np.float64) - (width - 1) / 2.0
    k = np.exp(-0.5 * (x / sd) ** 2)
    return k / k.sum()


def bin_spikes(spike_times_s: np.ndarray, n_bins: int, fs_hz: float) -> np.ndarray:
    """Count spikes in bins centred on the samples ``k / fs_hz`` (k = 0 … n_bins − 1).

    Parameters
    ----------
    spike_times_s : numpy.ndarray
        Spike times in seconds from the first sample (non-finite times are dropped).
    n_bins : int
        Number of bins (samples of the trace).
    fs_hz : float
        Bin rate in Hz.

    Returns
    -------
    numpy.ndarray
        float64 (n_bins,) spike counts per bin; spikes outside the trace are dropped.
    """
    t = np.asarray(spike_times_s, dtype=np.float64).ravel()
    idx = np.round(t[np.isfinite(t)] * fs_hz).astype(np.int64)
    idx = idx[(idx >= 0) & (idx < n_bins)]
    return np.bincount(idx, minlength=n_bins).astype(np.float64)


def smooth_spike_counts(counts: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Convolve spike counts with a centred kernel ('same' length, zero outside, last axis).

    Parameters
    ----------
    counts : numpy.ndarray
        Spike counts per bin, (..., n_bins).
    kernel : numpy.ndarray
        1-D kernel of odd length (e.g. :func:`gaussian_kernel`).

    Returns
    -------
    numpy.ndarray
        float64 smoothed counts (spikes per bin), same shape as ``counts``.
    """
    from scipy.ndimage import convolve1d

    kernel = np.asarray(kernel)
    if kernel.ndim != 1 or kernel.size % 2 == 0:
        raise InvalidInputError(f"kernel must be 1-D of odd length, got shape {kernel.shape}")
    return convolve1d(np.asarray(counts, dtype=np.float64), kernel, axis=-1, mode="constant")


def rebin_rate(rate_hz: np.ndarray, fs_from_hz: float, fs_to_hz: float, n_out: int) -> np.ndarray:
    """Re-bin spike rates (spikes/s) from one sampling rate to another, preserving counts.

    Parameters
    ----------
    rate_hz : numpy.ndarray
        (..., n_in) rate in spikes/s at ``fs_from_hz``; sample ``k`` is the bin
        centred on ``k/fs_from_hz`` s. Must be finite.
    fs_from_hz, fs_to_hz : float
        Source and target sampling rates, Hz.
    n_out : int
        Number of target bins (parts of target bins outside the source take
        the density of the first/last source bin).

    Returns
    -------
    numpy.ndarray
        float64 (..., n_out) rate in spikes/s at ``fs_to_hz``.
    """
    if fs_from_hz <= 0 or fs_to_hz <= 0:
        raise InvalidInputError(
            f"sampling rates must be > 0 Hz; got fs_from_hz={fs_from_hz}, fs_to_hz={fs_to_hz}."
        )
    rate = np.asarray(rate_hz, dtype=np.float64)
    n_in = rate.shape[-1]
    counts = rate / fs_from_hz  # spikes per source bin
    cum = np.zeros((*rate.shape[:-1], n_in + 1))
    np.cumsum(counts, axis=-1, out=cum[..., 1:])
    # target bin edges, in units of source bins counted from the first source edge
    ratio = fs_from_hz / fs_to_hz
    x = (np.arange(n_out + 1, dtype=np.float64) - 0.5) * ratio + 0.5
    i0 = np.clip(np.floor(x).astype(np.int64), 0, n_in - 1)
    frac = x - i0  # < 0 or > 1 outside the source: flat extension of the end bins
    edge = cum[..., i0] + frac * counts[..., i0]
    return np.diff(edge, axis=-1) * fs_to_hz
