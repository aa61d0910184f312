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

:func:`deconvolve_trace` is the one call into ``oasis.functions.deconvolve``
in the package (spike inference here, the population evaluation and the DG
baseline use it).
"""

from __future__ import annotations

import warnings
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import InvalidInputError, require
from ..progress import Progress

#: Events need ``s >= threshold_sn * sn`` (noise floor, in units of the noise SD).
DEFAULT_THRESHOLD_SN = 3.0
#: Fraction of the unit amplitude above which a deconvolved value is an event.
AMPLITUDE_FRACTION = 0.55
#: Shortest trace OASIS deconvolves (frames): its AR(1) fit uses 5 autocovariance
#: lags and its noise estimate the upper half of a power spectrum.
MIN_OASIS_FRAMES = 16


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


@dataclass
class OasisTrace:
    """What ``oasis.functions.deconvolve`` found in one trace.

    Parameters
    ----------
    c : numpy.ndarray
        float64 (n_frames,) denoised calcium, in the units of the trace.
    s : numpy.ndarray
        float64 (n_frames,) deconvolved activity (calcium jump per frame, trace
        units), as OASIS returns it (not clipped).
    b : float
        Baseline, trace units.
    g : tuple of float
        AR coefficients (one for the AR(1) model; dimensionless, per frame).
    lam : float
        Lagrange multiplier of the noise constraint (L1 penalty).
    sn : float
        Noise SD (trace units) that OASIS was given.
    """

    c: np.ndarray
    s: np.ndarray
    b: float
    g: tuple[float, ...]
    lam: float
    sn: float


def _oasis_functions(feature: str) -> Any:
    """``oasis.functions``, or a MissingDependencyError naming ``feature``."""
    return require("oasis.functions", "", feature)


def deconvolve_trace(
    y: np.ndarray,
    sn: float | None = None,
    penalty: int = 1,
    optimize_g: int = 0,
    g: float | None = None,
    tau_d: float | None = None,
    framerate: float | None = None,
) -> OasisTrace:
    """Deconvolve one trace with OASIS (``oasis.functions.deconvolve``, AR(1)).

    The arguments reach OASIS unchanged; its warnings (convergence, deprecated
    ``g``) are silenced.

    Parameters
    ----------
    y : numpy.ndarray
        (n_frames,) finite trace at its native rate (any units; cast to float64).
    sn : float, optional
        Noise SD in the units of ``y``. None: OASIS' PSD estimate
        (``oasis.functions.GetSn(y)``, what OASIS would use itself).
    penalty : int
        Sparsity penalty: 1 = L1, 0 = L0.
    optimize_g : int
        Number of isolated events used to refine the decay (0 = no refinement).
    g : float, optional
        AR(1) coefficient per frame; estimated from the data when None (and
        when ``tau_d`` is None).
    tau_d : float, optional
        Decay time constant in s; sets g (needs ``framerate``).
    framerate : float, optional
        Frame rate in Hz, with ``tau_d``.

    Returns
    -------
    OasisTrace

    Raises
    ------
    MissingDependencyError
        When the ``oasis-deconv`` package is not installed.
    InvalidInputError
        ``tau_d`` given without ``framerate``.
    """
    functions = _oasis_functions("OASIS deconvolution")
    if tau_d is not None and framerate is None:
        raise InvalidInputError(
            f"deconvolve_trace: tau_d={tau_d!r} s needs framerate (Hz); pass framerate=fs_hz."
        )
    y = np.asarray(y, dtype=np.float64)
    if sn is None:
        sn = float(functions.GetSn(y))
    kw: dict[str, Any] = {"g": (None,) if g is None else (g,)}
    if tau_d is not None:
        kw.update(tau_d=tau_d, framerate=framerate)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        c, s, b, g_out, lam = functions.deconvolve(
            y, sn=sn, penalty=penalty, optimize_g=optimize_g, **kw
        )
    return OasisTrace(
        c=np.asarray(c),
        s=np.asarray(s),
        b=float(b),
        g=tuple(float(v) for v in np.ravel(g_out)),
        lam=float(lam),
        sn=float(sn),
    )


@dataclass
class OasisRoiResult:
    """OASIS spike inference for one ROI (input frame rate), from :func:`oasis_one`.

    Parameters
    ----------
    rate_hz : numpy.ndarray
        float64 (n_frames,) spikes/s (``s / A * fs_hz``).
    counts : numpy.ndarray
        int32 (n_frames,) thresholded spike counts per frame.
    sn : float
        Noise SD (dF/F), estimated at the native rate.
    g : float
        AR(1) coefficient (per frame).
    unit_amplitude : float
        dF/F per spike used (``A``).
    """

    rate_hz: np.ndarray
    counts: np.ndarray
    sn: float
    g: float
    unit_amplitude: float

    def __iter__(self) -> Iterator[Any]:
        """Deprecated: unpacking as the old 5-tuple ``(rate, counts, sn, g, A)``."""
        warnings.warn(
            "oasis_one now returns an OasisRoiResult; unpacking it as a tuple is deprecated. "
            "Use its fields (.rate_hz, .counts, .sn, .g, .unit_amplitude).",
            DeprecationWarning,
            stacklevel=2,
        )
        return iter((self.rate_hz, self.counts, self.sn, self.g, self.unit_amplitude))


def oasis_one(
    trace: np.ndarray,
    fs_hz: float,
    spike_amplitude: float | None = None,
    threshold_sn: float = DEFAULT_THRESHOLD_SN,
    optimize_g: int = 5,
) -> OasisRoiResult:
    """Deconvolve one finite dF/F trace; see the module docstring for the rules.

    Parameters
    ----------
    trace : numpy.ndarray
        (n_frames,) finite dF/F (fraction) at the native frame rate.
    fs_hz : float
        Frame rate, Hz.
    spike_amplitude : float, optional
        dF/F jump of one spike, when known.
    threshold_sn : float
        Noise floor for events, in units of the noise SD.
    optimize_g : int
        Isolated events used by OASIS to refine the decay.

    Returns
    -------
    OasisRoiResult
    """
    functions = _oasis_functions("OASIS spike inference")
    y = np.asarray(trace, dtype=np.float64)
    sn = float(functions.GetSn(y))
    if not np.isfinite(sn) or sn <= 0:
        sn = float(np.median(np.abs(np.diff(y))) / (0.6745 * np.sqrt(2)) or 1e-6)
    dec = deconvolve_trace(y, sn=sn, penalty=1, optimize_g=optimize_g)
    s = np.clip(np.asarray(dec.s, dtype=np.float64), 0.0, None)
    floor = threshold_sn * sn
    if spike_amplitude is not None:
        amp = float(spike_amplitude)
    else:
        big = s[s >= floor]
        amp = float(np.median(big)) if big.size else max(floor, float(s.max()), 1e-12)
    thr = max(AMPLITUDE_FRACTION * amp, floor)
    counts = np.where(s >= thr, np.maximum(1, np.rint(s / amp)), 0).astype(np.int32)
    rate = s / amp * fs_hz
    return OasisRoiResult(rate_hz=rate, counts=counts, sn=sn, g=dec.g[0], unit_amplitude=amp)


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
        one = oasis_one(x[i], fs_hz, spike_amplitude, threshold_sn, optimize_g)
        rate[i] = one.rate_hz
        counts[i] = one.counts
        sn[i], g[i], amp[i] = one.sn, one.g, one.unit_amplitude
        yield Progress(i + 1, n, "OASIS deconvolution")
    return OasisResult(rate_hz=rate, counts=counts, sn=sn, g=g, unit_amplitude=amp)


def iter_oasis_inference(
    traces: np.ndarray,
    nan: np.ndarray,
    fs_in: float,
    rec: Any,
    events: bool,
    spike_amplitude: float | None,
) -> Generator[Progress, None, Any]:
    """OASIS on every ROI of checked dF/F traces, as a :class:`SpikeInference` (generator).

    Parameters
    ----------
    traces : numpy.ndarray
        (n_rois, n_frames) dF/F (fraction) at ``fs_in``; NaN marks gaps.
    nan : numpy.ndarray
        bool (n_rois, n_frames): the gaps.
    fs_in : float
        Frame rate, Hz.
    rec : Recording or None
        The input recording, kept in the result.
    events : bool
        Also return spike events.
    spike_amplitude : float or None
        dF/F jump of one spike, if known.

    Yields
    ------
    Progress
        One per ROI.

    Returns
    -------
    SpikeInference
        Rates in spikes/s on the input frames, events in s, OASIS's card and
        each ROI's ``sn``, ``g``, unit amplitude and noise level in ``meta``.
    """
    import time

    from ..results import SpikeInference
    from ..signal import bridge_nans
    from .matching import roi_noise_levels

    t0 = time.perf_counter()
    n_rois, n_frames = traces.shape
    if n_frames < MIN_OASIS_FRAMES:
        raise InvalidInputError(
            f"traces of {n_frames} frames are too short for OASIS: it needs at least "
            f"{MIN_OASIS_FRAMES} frames ({MIN_OASIS_FRAMES / fs_in:.3g} s at {fs_in:g} Hz) to "
            "estimate the noise and the calcium decay. Give a longer recording."
        )
    # one ROI at a time into preallocated float32 output: memory is the input,
    # the output and a few float64 rows, whatever the number of ROIs
    rate = np.empty((n_rois, n_frames), dtype=np.float32)
    ev: list[np.ndarray] | None = [] if events else None
    sn, g, amp = np.zeros(n_rois), np.zeros(n_rois), np.zeros(n_rois)
    frames = np.arange(n_frames)
    for i in range(n_rois):
        filled, _ = bridge_nans(np.where(nan[i], np.nan, traces[i]))
        one = oasis_one(filled, fs_in, spike_amplitude)
        c = one.counts
        sn[i], g[i], amp[i] = one.sn, one.g, one.unit_amplitude
        rate[i] = one.rate_hz
        rate[i, nan[i]] = np.nan
        if ev is not None:
            c[nan[i]] = 0
            ev.append(np.repeat(frames, c) / fs_in)
        yield Progress(i + 1, n_rois, "OASIS deconvolution")
    card = {
        "name": "oasis",
        "method": "oasis",
        "package": "oasis-deconv",
        "model": "AR(1), L1 penalty, optimize_g=5, sn estimated at the native rate",
        "event_rule": "s >= max(0.55 * A, threshold_sn * sn); n = max(1, round(s / A))",
        "threshold_sn": DEFAULT_THRESHOLD_SN,
        "spike_amplitude": spike_amplitude,
    }
    meta = {
        "model": "oasis",
        "noise_level": [round(float(v), 4) for v in roi_noise_levels(traces, fs_in)],
        "sn": sn.tolist(),
        "g": g.tolist(),
        "unit_amplitude": amp.tolist(),
        "timing": {"total_s": time.perf_counter() - t0},
        "nan_frames": int(nan.sum()),
    }
    return SpikeInference(
        rate_hz=rate,
        events=ev,
        method="oasis",
        fs_hz=fs_in,
        model_card=card,
        recording=rec,
        meta=meta,
    )
