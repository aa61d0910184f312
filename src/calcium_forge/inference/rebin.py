"""Count-preserving conversion of spike rates between sampling rates.

A rate in spikes/s sampled at ``fs_from`` is a piecewise-constant spike
density: sample ``k`` stands for the bin *centred* on its time ``k/fs_from``,
``[(k - 1/2)/fs_from, (k + 1/2)/fs_from)``, holding ``rate[k] / fs_from``
spikes (the convention of the training targets, see
:func:`calcium_forge.inference.data.bin_spikes`). Re-binning integrates that
density over the new bins centred on ``j/fs_to``, so the number of spikes in any stretch
of time is preserved (unlike interpolating the rate, or Fourier resampling
it, which would also create negative values).
"""

from __future__ import annotations

import numpy as np

from ..errors import InvalidInputError


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
