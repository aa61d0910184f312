"""Pieces of the robust spike-inference benchmark that can be tested on their own.

:mod:`robust_inference` (the script) degrades every test recording to cells of
frame rate × noise level ν, runs every method on the same degraded traces and
scores them with the functions here:

* :func:`degrade_to_cell` — a ground-truth trace at the cell's rate plus
  calibrated Cascade-style noise (signal-dependent + white) up to the cell's ν;
  ``None`` when the trace is already noisier than that.
* :func:`smoothed_corr` — Pearson correlation of predicted rate and true spike
  counts, both smoothed with a Gaussian of σ = 50 ms at the imaging rate.
* :func:`event_error_rate` — ER = 1 − F1 of predicted events (50 ms window).
* :func:`rate_bias` — ∫(PD − GT) dt / ∫GT dt.
* :func:`noise_only_traces` and :func:`false_event_rate` — events per second
  a method finds in white noise of a given ν.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from calcium_forge.errors import InvalidInputError
from calcium_forge.evaluation.spikes import error_and_bias, match_events, pearson
from calcium_forge.inference.training.data import PairedTrace
from calcium_forge.inference.training.matched import calibrate_noise, degrade
from calcium_forge.inference.training.sampling import added_noise_std
from calcium_forge.signal import noise_level
from calcium_forge.spiketrains import gaussian_kernel_ms, smooth_spike_counts

__all__ = [
    "CORR_SIGMA_MS",
    "MATCH_WINDOW_S",
    "NATIVE_HZ",
    "Cell",
    "DegradedTrace",
    "TraceScores",
    "degrade_to_cell",
    "event_error_rate",
    "false_event_rate",
    "noise_only_traces",
    "rate_bias",
    "score_trace",
    "smoothed_corr",
    "trace_seed",
]

#: σ of the Gaussian that smooths prediction and truth before Corr, ms.
CORR_SIGMA_MS = 50.0
#: Tolerance of the event matching behind ER, s.
MATCH_WINDOW_S = 0.05
#: Rate of the "native" cell (the recording resampled, no noise added), Hz.
NATIVE_HZ = 60.0


@dataclass(frozen=True)
class Cell:
    """One degradation of the test recordings: a frame rate and a target noise level.

    Attributes
    ----------
    fs_hz : float
        Frame rate the recordings are resampled to, Hz.
    nu : float or None
        Target noise level ν (% / √Hz); None for the native cell (no noise added).
    """

    fs_hz: float
    nu: float | None

    @property
    def key(self) -> str:
        """Name of the cell in the results (``"30Hz-nu4"``, ``"native-60Hz"``)."""
        if self.nu is None:
            return f"native-{self.fs_hz:g}Hz"
        return f"{self.fs_hz:g}Hz-nu{self.nu:g}"

    @classmethod
    def parse(cls, text: str) -> Cell:
        """Read ``"RATE:NU"`` (e.g. ``"30:4"``, Hz and % / √Hz) or ``"native"``.

        Parameters
        ----------
        text : str
            The cell as given on the command line.

        Returns
        -------
        Cell
        """
        if text.strip().lower() == "native":
            return cls(NATIVE_HZ, None)
        try:
            rate, nu = (float(v) for v in text.split(":"))
        except ValueError:
            raise InvalidInputError(
                f"--cells: {text!r} is not RATE:NU (e.g. 30:4) or 'native'"
            ) from None
        if not (rate > 0 and nu > 0):
            raise InvalidInputError(f"--cells: rate and ν must be > 0, got {text!r}")
        return cls(rate, nu)


@dataclass
class DegradedTrace:
    """A ground-truth recording as one cell of the benchmark presents it.

    Attributes
    ----------
    dff : numpy.ndarray
        float32 dF/F (fraction) at ``fs_hz`` with the added noise; NaN at gaps.
    counts : numpy.ndarray
        float64 true spike counts per frame.
    spike_times_s : numpy.ndarray
        True spike times, s from the first frame.
    fs_hz : float
        Frame rate, Hz.
    nu_base : float
        ν of the resampled trace before noise was added, % / √Hz.
    nu : float
        ν of the returned trace, % / √Hz.
    """

    dff: np.ndarray
    counts: np.ndarray
    spike_times_s: np.ndarray
    fs_hz: float
    nu_base: float
    nu: float


def trace_seed(base_seed: int, neuron: str, recording: int, cell: Cell) -> int:
    """A fixed seed for one recording in one cell (the same in every run and process).

    Parameters
    ----------
    base_seed : int
        The benchmark's seed.
    neuron : str
        Neuron id (``"<dataset>/<file stem>"``).
    recording : int
        Index of the recording among the neuron's recordings.
    cell : Cell
        The cell.

    Returns
    -------
    int
        Non-negative 63-bit seed.
    """
    tag = zlib.crc32(f"{neuron}#{recording}@{cell.key}".encode())
    return int(np.random.SeedSequence([int(base_seed), tag]).generate_state(1, np.uint64)[0] >> 1)


def degrade_to_cell(
    trace: PairedTrace, nu: float | None, seed: int, white_fraction: float = 0.5
) -> DegradedTrace | None:
    """Add calibrated noise to a resampled ground-truth trace until its ν is ``nu``.

    The noise is :func:`calcium_forge.inference.training.matched.degrade`'s
    (shot-like √|dF/F + 1| scaled plus white Gaussian), its standard deviation
    read off :func:`calibrate_noise` for this trace; calibration and noise use
    the same seed, so the trace reaches the calibrated ν.

    Parameters
    ----------
    trace : PairedTrace
        Ground truth already at the cell's rate (``load_ground_truth(files, fs_hz=rate)``).
    nu : float or None
        Target noise level, % / √Hz; None returns the trace unchanged (native cell).
    seed : int
        Seed of the calibration and of the noise (see :func:`trace_seed`).
    white_fraction : float
        Share of white noise in the added variance.

    Returns
    -------
    DegradedTrace or None
        None when the trace is already noisier than ``nu`` (it is skipped).
    """
    dff = np.asarray(trace.dff, dtype=np.float64)
    fs = float(trace.fs_hz)
    base = float(noise_level(dff, fs))
    counts = np.asarray(trace.counts, dtype=np.float64)
    if nu is None:
        return DegradedTrace(trace.dff, counts, trace.spike_times_s, fs, base, base)
    calibration = calibrate_noise(dff, fs, nu_max=nu, white_fraction=white_fraction, seed=seed)
    std = float(calibration.std_for(nu))
    if not np.isfinite(std):
        return None
    noisy = degrade(dff, std, np.random.default_rng(seed), white_fraction).astype(np.float32)
    reached = float(noise_level(noisy, fs))
    return DegradedTrace(noisy, counts, trace.spike_times_s, fs, base, reached)


def smoothed_corr(
    counts: np.ndarray, rate_hz: np.ndarray, fs_hz: float, sigma_ms: float = CORR_SIGMA_MS
) -> float:
    """Pearson correlation of true counts and predicted rate, both Gaussian-smoothed.

    Parameters
    ----------
    counts : numpy.ndarray
        True spike counts per frame.
    rate_hz : numpy.ndarray
        Predicted rate (spikes/s) on the same frames; NaN frames (gaps) are left out.
    fs_hz : float
        Frame rate, Hz.
    sigma_ms : float
        σ of the smoothing Gaussian, ms.

    Returns
    -------
    float
        Correlation in [-1, 1]; NaN when either smoothed trace is constant.
    """
    rate = np.asarray(rate_hz, dtype=np.float64)
    ok = np.isfinite(rate)
    kernel = gaussian_kernel_ms(sigma_ms, fs_hz)
    gt = smooth_spike_counts(np.where(ok, counts, 0.0), kernel)
    pd = smooth_spike_counts(np.where(ok, rate, 0.0), kernel)
    return pearson(gt[ok], pd[ok])


def _spikes_on_frames(spike_times_s: np.ndarray, finite: np.ndarray, fs_hz: float) -> np.ndarray:
    """True spike times (s) that fall on finite frames of the trace."""
    t = np.asarray(spike_times_s, dtype=np.float64).ravel()
    idx = np.round(t * fs_hz).astype(np.int64)
    inside = (idx >= 0) & (idx < finite.size)
    keep = np.zeros(t.size, dtype=bool)
    keep[inside] = finite[idx[inside]]
    return t[keep]


def event_error_rate(
    spike_times_s: np.ndarray,
    events_s: np.ndarray,
    finite: np.ndarray,
    fs_hz: float,
    window_s: float = MATCH_WINDOW_S,
) -> float:
    """ER = 1 − F1 of predicted events against the true spikes on finite frames.

    Parameters
    ----------
    spike_times_s, events_s : numpy.ndarray
        True spike times and predicted event times, s from the first frame.
    finite : numpy.ndarray
        bool per frame: the trace is finite there (true spikes in gaps and
        beyond the trace are not counted).
    fs_hz : float
        Frame rate, Hz.
    window_s : float
        Match tolerance, s.

    Returns
    -------
    float
        ER in [0, 1] (NaN without true spikes and events).
    """
    gt = _spikes_on_frames(spike_times_s, np.asarray(finite, dtype=bool), fs_hz)
    return float(match_events(gt, np.asarray(events_s, dtype=np.float64), window_s).error_rate)


def rate_bias(counts: np.ndarray, rate_hz: np.ndarray, fs_hz: float) -> float:
    """Bias ∫(PD − GT) dt / ∫GT dt over the frames where the prediction is finite.

    Parameters
    ----------
    counts : numpy.ndarray
        True spike counts per frame.
    rate_hz : numpy.ndarray
        Predicted rate, spikes/s.
    fs_hz : float
        Frame rate, Hz.

    Returns
    -------
    float
        Dimensionless (> 0: too many spikes); NaN without true spikes.
    """
    return float(error_and_bias(np.asarray(counts, dtype=np.float64) * fs_hz, rate_hz).bias)


@dataclass
class TraceScores:
    """Scores of one prediction on one degraded trace.

    Attributes
    ----------
    corr : float
        :func:`smoothed_corr`.
    er : float
        :func:`event_error_rate` (NaN without events requested).
    bias : float
        :func:`rate_bias`.
    """

    corr: float
    er: float
    bias: float


def score_trace(
    trace: DegradedTrace, rate_hz: np.ndarray, events_s: np.ndarray | None
) -> TraceScores:
    """Corr, ER and Bias of one prediction on one degraded trace.

    Parameters
    ----------
    trace : DegradedTrace
        The trace the method was given, with its truth.
    rate_hz : numpy.ndarray
        Predicted rate on the trace's frames, spikes/s.
    events_s : numpy.ndarray or None
        Predicted event times, s.

    Returns
    -------
    TraceScores
    """
    rate = np.asarray(rate_hz, dtype=np.float64).ravel()
    fs = trace.fs_hz
    er = (
        float("nan")
        if events_s is None
        else event_error_rate(trace.spike_times_s, events_s, np.isfinite(rate), fs)
    )
    return TraceScores(
        corr=smoothed_corr(trace.counts, rate, fs),
        er=er,
        bias=rate_bias(trace.counts, rate, fs),
    )


def noise_only_traces(
    fs_hz: float, nu: float, n_traces: int = 10, seconds: float = 120.0, seed: int = 0
) -> np.ndarray:
    """White Gaussian noise traces with noise level ν (std = ν·√fs / 95.39 in dF/F).

    Parameters
    ----------
    fs_hz : float
        Frame rate, Hz.
    nu : float
        Noise level, % / √Hz.
    n_traces : int
        Number of traces.
    seconds : float
        Duration of each trace, s.
    seed : int
        The benchmark's seed (combined with rate and ν: fixed traces per cell).

    Returns
    -------
    numpy.ndarray
        float32 (n_traces, round(seconds · fs_hz)) dF/F.
    """
    std = float(added_noise_std(nu, 0.0, fs_hz))
    rng = np.random.default_rng([int(seed), round(fs_hz * 1000), round(nu * 1000)])
    n = round(seconds * fs_hz)
    return (std * rng.standard_normal((n_traces, n))).astype(np.float32)


def false_event_rate(events: list[np.ndarray], duration_s: float) -> float:
    """Events per second found in noise-only traces.

    Parameters
    ----------
    events : list of numpy.ndarray
        Event times (s) per trace.
    duration_s : float
        Duration of each trace, s.

    Returns
    -------
    float
        Total events / total duration, events/s.
    """
    if not events or not duration_s > 0:
        raise InvalidInputError("false_event_rate needs at least one trace of positive duration")
    return float(sum(np.asarray(e).size for e in events) / (len(events) * duration_s))
