"""OASIS deconvolution (Friedrich et al. 2017) as a spike-inference baseline.

``oasis.functions.deconvolve`` with an AR(1) calcium model, L1 penalty and
automatic decay (``optimize_g=5``), as in the ENS² benchmark. It runs on
the INPUT frames (no resampling). The noise level ``sn`` is estimated on the
native-rate trace with OASIS' own PSD estimator and passed explicitly: on
dF/F that was upsampled the estimate collapses (no power above the old
Nyquist frequency), so it must never be taken at a model rate.

From the deconvolved activity ``s`` (a calcium jump per frame, dF/F units):

* the **unit amplitude** ``A`` (dF/F per spike) is ``spike_amplitude`` when
  given; otherwise the median of the deconvolved values that exceed
  ``threshold_sn * sn`` (the typical significant event, taken as one spike);
* **events**: frames with ``s >= max(0.55 * A, threshold_sn * sn)`` (the
  55 %-of-a-transient rule the ENS² authors used for OASIS, guarded by a
  noise floor) get ``max(1, round(s / A))`` spikes at the frame centre
  ``(j + 0.5) / fs_hz``;
* **rate**: ``s / A * fs_hz`` spikes/s.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass

import numpy as np

from ..errors import InvalidInputError, require
from ..progress import Progress

#: Events need ``s >= threshold_sn * sn`` (noise floor, in units of the noise SD).
DEFAULT_THRESHOLD_SN = 3.0
#: Fraction of the unit amplitude above which a deconvolved value is an event.
AMPLITUDE_FRACTION = 0.55


@dataclass
class OasisResult:
    """OASIS output for a set of ROIs (input frame rate).

    Parameters
    ----------
    rate_hz : numpy.ndarray
        float32 (n_rois, n_frames) spikes/s (``s / A * fs_hz``).
    counts : numpy.ndarray
        int32 (n_rois, n_frames) thresholded spike counts per frame.
    sn : numpy.ndarray
        Noise SD per ROI (dF/F), estimated at the native rate.
    g : numpy.ndarray
        AR(1) coefficient per ROI.
    unit_amplitude : numpy.ndarray
        dF/F per spike used per ROI (``A``).
    """

    rate_hz: np.ndarray
    counts: np.ndarray
    sn: np.ndarray
    g: np.ndarray
    unit_amplitude: np.ndarray


def oasis_one(
    trace: np.ndarray,
    fs_hz: float,
    spike_amplitude: float | None = None,
    threshold_sn: float = DEFAULT_THRESHOLD_SN,
    optimize_g: int = 5,
) -> tuple[np.ndarray, np.ndarray, float, float, float]:
    """Deconvolve one finite dF/F trace; see the module docstring for the rules.

    Returns
    -------
    tuple
        (rate_hz float64, counts int32, sn, g, unit_amplitude).
    """
    functions = require("oasis.functions", "", "OASIS spike inference")
    y = np.asarray(trace, dtype=np.float64)
    sn = float(functions.GetSn(y))
    if not np.isfinite(sn) or sn <= 0:
        sn = float(np.median(np.abs(np.diff(y))) / (0.6745 * np.sqrt(2)) or 1e-6)
    _c, s, _b, g, _lam = functions.deconvolve(y, g=(None,), sn=sn, penalty=1, optimize_g=optimize_g)
    s = np.clip(np.asarray(s, dtype=np.float64), 0.0, None)
    floor = threshold_sn * sn
    if spike_amplitude is not None:
        amp = float(spike_amplitude)
    else:
        big = s[s >= floor]
        amp = float(np.median(big)) if big.size else max(floor, float(s.max()), 1e-12)
    thr = max(AMPLITUDE_FRACTION * amp, floor)
    counts = np.where(s >= thr, np.maximum(1, np.rint(s / amp)), 0).astype(np.int32)
    rate = s / amp * fs_hz
    return rate, counts, sn, float(np.atleast_1d(g)[0]), amp


def iter_oasis(
    traces: np.ndarray,
    fs_hz: float,
    spike_amplitude: float | None = None,
    threshold_sn: float = DEFAULT_THRESHOLD_SN,
    optimize_g: int = 5,
) -> Generator[Progress, None, OasisResult]:
    """Run OASIS on every ROI (generator yielding one Progress per ROI).

    Parameters
    ----------
    traces : numpy.ndarray
        (n_rois, n_frames) finite dF/F (fraction) at the native frame rate.
    fs_hz : float
        Frame rate, Hz.
    spike_amplitude : float, optional
        dF/F jump of one spike, when known (e.g. from ground truth).
    threshold_sn : float
        Noise floor for events, in units of the noise SD.
    optimize_g : int
        Isolated events used by OASIS to refine the decay (ENS² used 5).

    Returns
    -------
    OasisResult
    """
    x = np.atleast_2d(np.asarray(traces, dtype=np.float64))
    if not np.isfinite(x).all():
        raise InvalidInputError("OASIS needs finite traces (bridge NaN first).")
    n = x.shape[0]
    rate = np.zeros(x.shape, dtype=np.float32)
    counts = np.zeros(x.shape, dtype=np.int32)
    sn = np.zeros(n)
    g = np.zeros(n)
    amp = np.zeros(n)
    for i in range(n):
        r, c, sn[i], g[i], amp[i] = oasis_one(
            x[i], fs_hz, spike_amplitude, threshold_sn, optimize_g
        )
        rate[i] = r
        counts[i] = c
        yield Progress(i + 1, n, "OASIS deconvolution")
    return OasisResult(rate_hz=rate, counts=counts, sn=sn, g=g, unit_amplitude=amp)
