"""Population statistics of one set of calcium windows (CalciumGAN evaluation).

Pipeline (CalciumGAN paper, section 2.2): traces are cut into windows
(:func:`as_windows`), each window of each neuron is deconvolved with OASIS
(AR(1), L1 penalty, g estimated) and turned into a spike train
(:func:`deconvolve_windows`: frames whose deconvolved amplitude exceeds
``spike_threshold_sn`` (default 1) times the neuron's noise level; on the DG
ground-truth data (amplitude 1, sigma 0.3) this threshold recovers 91 % of the
true spikes within one frame at 94 % precision, while 2 sn and 3 sn keep only
50 % and 12 %); then, with elephant, per window (:func:`population_statistics`):
the mean firing rate of every neuron (Hz), the Pearson correlation of every
pair's binned spike trains (``corr_bin_s`` bins) and the van Rossum distance of
every pair (time constant ``vr_tau_s``).

The noise level used for the threshold (and passed to OASIS as ``sn``,
:func:`estimate_noise`) and the AR(1) decay time (:func:`estimate_decay_s`) are
estimated per neuron at the windows' native rate (medians of OASIS' estimates
over windows); the synthetic-vs-real report estimates them on the REAL windows
and uses them for both sets, so both go through exactly the same
deconvolution.

Trace statistics of a set: per-window feature vectors (:func:`window_features`)
and the mean Welch power spectrum (:func:`power_spectrum`).

Comparing two sets (KL divergences, Fréchet distance, log-spectral distance,
memorisation) is :mod:`.synthetic`; its figures are :mod:`.figures`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from ..errors import InvalidInputError
from ..recording import Recording

__all__ = [
    "PopulationStats",
    "PowerSpectrum",
    "as_windows",
    "deconvolve_windows",
    "deconvolved_amplitudes",
    "estimate_decay_s",
    "estimate_noise",
    "population_statistics",
    "power_spectrum",
    "window_features",
]


# ---------------------------------------------------------------- windowing
def as_windows(
    data: Recording | np.ndarray,
    window_frames: int | None = None,
    stride: int | None = None,
) -> np.ndarray:
    """Windows (M, T, N) from a Recording or pass (M, T, N) arrays through.

    NaN frames of a Recording are filled with the neuron's median.

    Parameters
    ----------
    data : Recording or numpy.ndarray
        A Recording (N, L), or windows (M, T, N) (trace units, e.g. dF/F).
    window_frames : int, optional
        T in frames; default ``data.meta["window_frames"]`` or 256.
    stride : int, optional
        Stride in frames (default T: non-overlapping).

    Returns
    -------
    numpy.ndarray
        float32 (M, T, N), in the units of the traces.
    """
    if isinstance(data, Recording):
        t = int(window_frames or data.meta.get("window_frames") or 256)
        if data.n_frames < t:
            raise InvalidInputError(
                f"{data.name}: {data.n_frames} frames is shorter than one window ({t} frames)."
            )
        tr = np.array(data.traces, np.float32)
        if np.isnan(tr).any():
            tr = np.where(np.isnan(tr), np.nanmedian(tr, axis=1, keepdims=True), tr)
        view = np.lib.stride_tricks.sliding_window_view(tr, t, axis=1)[:, :: stride or t]
        return np.ascontiguousarray(view.transpose(1, 2, 0))
    w = np.asarray(data, np.float32)
    if w.ndim != 3:
        raise InvalidInputError(
            f"expected a Recording or windows of shape (M, T, N); got an array of shape {w.shape}."
        )
    return w


# ------------------------------------------------------------ deconvolution
def estimate_noise(windows: np.ndarray) -> np.ndarray:
    """Noise level per neuron: median over windows of OASIS' PSD estimate.

    Parameters
    ----------
    windows : numpy.ndarray
        (M, T, N) traces at their native rate (trace units).

    Returns
    -------
    numpy.ndarray
        (N,) noise standard deviation in trace units (at least 1e-9).
    """
    from oasis.functions import GetSn

    w = np.asarray(windows, np.float64)
    m, _, n = w.shape
    sn = np.empty((m, n))
    for i in range(m):
        for j in range(n):
            sn[i, j] = GetSn(w[i, :, j])
    out = np.median(sn, axis=0)
    return np.maximum(out, 1e-9)


def estimate_decay_s(
    windows: np.ndarray, fs_hz: float, max_windows: int = 40, seed: int | None = 0
) -> np.ndarray:
    """AR(1) decay time constant per neuron (s): median of OASIS' estimates over windows.

    Parameters
    ----------
    windows : numpy.ndarray
        (M, T, N) traces at their native rate (trace units).
    fs_hz : float
        Frame rate in Hz.
    max_windows : int
        Size of the random subset of windows used (speed).
    seed : int or None
        Seed of the subset.

    Returns
    -------
    numpy.ndarray
        (N,) decay times in seconds (clipped to [1/fs_hz, 10 s]).
    """
    from oasis.functions import estimate_parameters

    w = np.asarray(windows, np.float64)
    m, _, n = w.shape
    rng = np.random.default_rng(seed)
    idx = rng.choice(m, min(m, max_windows), replace=False)
    g = np.full((len(idx), n), np.nan)
    for a, i in enumerate(idx):
        for j in range(n):
            if np.ptp(w[i, :, j]) > 0:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    g[a, j] = float(np.ravel(estimate_parameters(w[i, :, j], p=1)[0])[0])
    gm = np.clip(np.nan_to_num(np.nanmedian(g, axis=0), nan=0.9), 0.05, 0.999)
    tau = -1.0 / (fs_hz * np.log(gm))
    return np.clip(tau, 1.0 / fs_hz, 10.0)


def deconvolved_amplitudes(
    windows: np.ndarray,
    fs_hz: float | None = None,
    sn: np.ndarray | None = None,
    decay_s: np.ndarray | None = None,
) -> np.ndarray:
    """OASIS (AR(1), L1) per window and neuron -> deconvolved amplitude per frame, in sn units.

    Parameters
    ----------
    windows : numpy.ndarray
        (M, T, N) traces in original units at their native rate.
    fs_hz : float, optional
        Frame rate in Hz (needed with ``decay_s``).
    sn : numpy.ndarray, optional
        Noise level per neuron (N,) in trace units, passed to OASIS; estimated
        per window when None.
    decay_s : numpy.ndarray, optional
        Decay time constant per neuron (N,) in s; OASIS estimates g per window
        when None.

    Returns
    -------
    numpy.ndarray
        float (M, N, T): deconvolved amplitude / noise level (dimensionless; 0
        for constant windows).
    """
    from oasis.functions import GetSn

    from ..inference.oasis import deconvolve_trace

    if decay_s is not None and fs_hz is None:
        raise InvalidInputError("decay_s needs fs_hz, the frame rate in Hz.")
    w = np.asarray(windows, np.float64)
    m, t, n = w.shape
    out = np.zeros((m, n, t))
    for i in range(m):
        for j in range(n):
            y = w[i, :, j]
            if np.ptp(y) <= 0:
                continue
            s_n = float(sn[j]) if sn is not None else float(GetSn(y))
            kw = {} if decay_s is None else {"tau_d": float(decay_s[j]), "framerate": fs_hz}
            out[i, j] = deconvolve_trace(y, sn=s_n, penalty=1, **kw).s / s_n
    return out


def deconvolve_windows(
    windows: np.ndarray,
    fs_hz: float | None = None,
    sn: np.ndarray | None = None,
    decay_s: np.ndarray | None = None,
    spike_threshold_sn: float = 1.0,
) -> np.ndarray:
    """OASIS (AR(1), L1) per window and neuron -> binary spike frames.

    Parameters
    ----------
    windows : numpy.ndarray
        (M, T, N) traces in original units at their native rate.
    fs_hz : float, optional
        Frame rate in Hz (needed with ``decay_s``).
    sn : numpy.ndarray, optional
        Noise level per neuron (N,) in trace units, passed to OASIS; estimated
        per window when None.
    decay_s : numpy.ndarray, optional
        Decay time constant per neuron (N,) in s; OASIS estimates g per window
        when None.
    spike_threshold_sn : float
        A frame is a spike when the deconvolved amplitude exceeds this many sn
        (dimensionless multiple of the noise level).

    Returns
    -------
    numpy.ndarray
        bool (M, N, T): True on frames with a spike.
    """
    return deconvolved_amplitudes(windows, fs_hz, sn, decay_s) > spike_threshold_sn


# ------------------------------------------------------------ statistics
@dataclass
class PopulationStats:
    """Spike-train statistics of a set of windows.

    Parameters
    ----------
    rates_hz : numpy.ndarray
        (M, N) mean firing rate per window and neuron (spikes/s).
    corr : numpy.ndarray
        (M, P) Pearson correlation (dimensionless) of binned trains per window
        and pair (P = N(N-1)/2, upper triangle order); NaN where a train is empty.
    vrd : numpy.ndarray
        (M, P) van Rossum distance (dimensionless, elephant's normalisation)
        per window and pair.
    spikes : numpy.ndarray
        bool (M, N, T) spike frames.
    """

    rates_hz: np.ndarray
    corr: np.ndarray
    vrd: np.ndarray
    spikes: np.ndarray


def population_statistics(
    spikes: np.ndarray,
    fs_hz: float,
    corr_bin_s: float = 0.1,
    vr_tau_s: float = 0.5,
) -> PopulationStats:
    """Firing rates, pairwise correlations and van Rossum distances (elephant).

    Parameters
    ----------
    spikes : numpy.ndarray
        bool (M, N, T) spike frames.
    fs_hz : float
        Frame rate in Hz (spike time = frame / fs_hz, in s).
    corr_bin_s : float
        Bin width (s) of the binned trains for the correlation.
    vr_tau_s : float
        van Rossum time constant (s).

    Returns
    -------
    PopulationStats
        Rates (spikes/s), correlations and van Rossum distances per window.
    """
    import neo
    import quantities as pq
    from elephant.conversion import BinnedSpikeTrain
    from elephant.spike_train_correlation import correlation_coefficient
    from elephant.spike_train_dissimilarity import van_rossum_distance

    s = np.asarray(spikes, bool)
    m, n, t = s.shape
    dur = t / fs_hz
    iu = np.triu_indices(n, 1)
    rates = s.sum(axis=2) / dur
    corr = np.full((m, len(iu[0])), np.nan)
    vrd = np.full((m, len(iu[0])), np.nan)
    for i in range(m):
        trains = [
            neo.SpikeTrain(np.flatnonzero(s[i, j]) / fs_hz * pq.s, t_stop=dur * pq.s)
            for j in range(n)
        ]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            binned = BinnedSpikeTrain(trains, bin_size=corr_bin_s * pq.s)
            c = np.asarray(correlation_coefficient(binned))
            d = np.asarray(van_rossum_distance(trains, time_constant=vr_tau_s * pq.s))
        corr[i] = c[iu]
        vrd[i] = d[iu]
    return PopulationStats(rates_hz=rates, corr=corr, vrd=vrd, spikes=s)


# ------------------------------------------------------------ features, spectra
class PowerSpectrum(NamedTuple):
    """A mean power spectrum (unpacks as ``freqs_hz, psd``).

    Parameters
    ----------
    freqs_hz : numpy.ndarray
        (F,) frequencies in Hz.
    psd : numpy.ndarray
        (F,) power spectral density in trace units²/Hz.
    """

    freqs_hz: np.ndarray
    psd: np.ndarray


def power_spectrum(windows: np.ndarray, fs_hz: float) -> PowerSpectrum:
    """Mean Welch power spectrum over windows and neurons.

    Parameters
    ----------
    windows : numpy.ndarray
        (M, T, N) traces (trace units).
    fs_hz : float
        Frame rate in Hz.

    Returns
    -------
    PowerSpectrum
        Frequencies (Hz) and mean power spectral density (units²/Hz); Welch
        segments of ``min(T, 128)`` frames.
    """
    f, p = _welch(np.asarray(windows, np.float64), fs_hz)
    return PowerSpectrum(f, p.mean(axis=(0, 2)))


def _welch(w: np.ndarray, fs_hz: float) -> tuple[np.ndarray, np.ndarray]:
    """Welch spectra of (M, T, N) windows along time: segments of ``min(T, 128)`` frames."""
    from scipy import signal as sps

    return sps.welch(w, fs=fs_hz, nperseg=min(w.shape[1], 128), axis=1)


def window_features(windows: np.ndarray, fs_hz: float) -> np.ndarray:
    """Per-window feature vectors for the Fréchet distance.

    Per neuron: mean, standard deviation, 95th percentile minus median (trace
    units), lag-1 autocorrelation (dimensionless), and log10 power (log10 of
    units²) in three bands (0–0.5 Hz, 0.5–2 Hz, 2 Hz–Nyquist).

    Parameters
    ----------
    windows : numpy.ndarray
        (M, T, N) traces (trace units).
    fs_hz : float
        Frame rate in Hz.

    Returns
    -------
    numpy.ndarray
        (M, 7 N): the seven features, each a block of N columns.
    """
    w = np.asarray(windows, np.float64)
    mean = w.mean(1)
    sd = w.std(1)
    spread = np.percentile(w, 95, axis=1) - np.median(w, axis=1)
    d = w - mean[:, None]
    ac1 = (d[:, 1:] * d[:, :-1]).sum(1) / np.maximum((d * d).sum(1), 1e-12)
    f, p = _welch(w, fs_hz)
    bands = [(0, 0.5), (0.5, 2.0), (2.0, np.inf)]
    bp = [np.log10(p[:, (f >= lo) & (f < hi)].sum(1) + 1e-12) for lo, hi in bands]
    return np.concatenate([mean, sd, spread, ac1, *bp], axis=1)


# ------------------------------------------------------------ deprecated aliases
#: Names that moved to :mod:`calcium_forge.evaluation.synthetic`.
_MOVED_TO_SYNTHETIC = frozenset(
    {"Memorisation", "PAPER_V1_KL", "SynthesisReport", "evaluate_synthetic", "memorisation"}
)


def __getattr__(name: str) -> Any:
    """Deprecated aliases: the synthetic-vs-real report moved to :mod:`.synthetic`.

    Parameters
    ----------
    name : str
        Attribute looked up on this module.

    Returns
    -------
    Any
        The object of the same name in :mod:`calcium_forge.evaluation.synthetic`
        (with a DeprecationWarning).
    """
    if name in _MOVED_TO_SYNTHETIC:
        from . import synthetic  # lazy: synthetic imports this module

        warnings.warn(
            f"calcium_forge.evaluation.population.{name} moved to "
            f"calcium_forge.evaluation.synthetic.{name}; import it from there "
            "(or from calcium_forge.evaluation).",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(synthetic, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
