"""Population statistics of real vs synthetic calcium data (CalciumGAN evaluation).

Pipeline (CalciumGAN paper, section 2.2): traces are cut into windows, each
window of each neuron is deconvolved with OASIS (AR(1), L1 penalty, g
estimated) and turned into a spike train (frames whose deconvolved amplitude
exceeds ``spike_threshold_sn`` (default 1) times the neuron's noise level;
on the DG ground-truth data (amplitude 1, sigma 0.3) this threshold recovers
91 % of the true spikes within one frame at 94 % precision, while 2 sn and
3 sn keep only 50 % and 12 %); then, with
elephant, per window: the mean firing rate of every neuron (Hz), the Pearson
correlation of every pair's binned spike trains (``corr_bin_s`` bins) and the
van Rossum distance of every pair (time constant ``vr_tau_s``). The
distributions of these numbers over windows (and neurons/pairs) are compared
with :func:`~calcium_forge.evaluation.distances.kl_divergence` (30 shared
equal-width bins, Jeffreys pseudo-count 0.5). Pooled KLs mix all neurons; the
per-neuron KLs (firing rate of neuron i over windows; van Rossum distances of
pairs involving i) catch identity errors that pooling hides.

The noise level used for the threshold (and passed to OASIS as ``sn``) and the
AR(1) decay time are estimated per neuron on the REAL windows at their native
rate (medians of OASIS' estimates over windows) and used for both real and
synthetic windows, so both go through exactly the same deconvolution.

Further: a Fréchet distance between Gaussians fitted to per-window features
(per neuron: mean, standard deviation, 95th percentile minus median, lag-1
autocorrelation and log power in three frequency bands; standardised by the
real features and projected on their first 10 principal components so that a
few hundred windows estimate the covariances well), the mean power spectra
(Welch, averaged over windows and neurons) with their log-spectral distance in
dB, and a memorisation check: the RMS distance (in units of each neuron's
training standard deviation) from every synthetic window to its nearest
training window, relative to its distance to the nearest held-out real window,
compared with the same ratio for other held-out real windows (see
:class:`Memorisation`). A score near 1 means synthetic windows are as novel as
unseen real data; a score well below 1 (or a high ``copy_fraction``) means the
model reproduces training windows.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InvalidInputError
from ..recording import Recording
from .distances import frechet_distance, kl_divergence

__all__ = [
    "PopulationStats",
    "SynthesisReport",
    "as_windows",
    "deconvolve_windows",
    "estimate_decay_s",
    "estimate_noise",
    "evaluate_synthetic",
    "memorisation",
    "population_statistics",
    "power_spectrum",
    "window_features",
]

PAPER_V1_KL = {"rate": 0.32, "corr": 0.06, "vrd": 0.51}


# ---------------------------------------------------------------- windowing
def as_windows(
    data: Recording | np.ndarray,
    window_frames: int | None = None,
    stride: int | None = None,
) -> np.ndarray:
    """Windows (M, T, N) from a Recording or pass (M, T, N) arrays through.

    Parameters
    ----------
    data : Recording or numpy.ndarray
        A Recording (N, L), or windows (M, T, N).
    window_frames : int, optional
        T; default ``data.meta["window_frames"]`` or 256.
    stride : int, optional
        Stride in frames (default T: non-overlapping).

    Returns
    -------
    numpy.ndarray
        float32 (M, T, N).
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
    """Noise level per neuron (trace units): median over windows of OASIS' PSD estimate."""
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
        (M, T, N) traces at their native rate.
    fs_hz : float
        Frame rate in Hz.
    max_windows : int
        Random subset of windows used (speed).
    seed : int or None
        Seed of the subset.

    Returns
    -------
    numpy.ndarray
        (N,) decay times in seconds (clipped to [1/fs, 10 s]).
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
        Noise level per neuron (N,), passed to OASIS; estimated per window when None.
    decay_s : numpy.ndarray, optional
        Decay time constant per neuron (s); OASIS estimates g per window when None.
    spike_threshold_sn : float
        A frame is a spike when the deconvolved amplitude exceeds this many sn.

    Returns
    -------
    numpy.ndarray
        bool (M, N, T).
    """
    from oasis.functions import GetSn

    from ..inference.oasis import deconvolve_trace

    if decay_s is not None and fs_hz is None:
        raise InvalidInputError("deconvolve_windows: decay_s needs fs_hz.")
    w = np.asarray(windows, np.float64)
    m, t, n = w.shape
    out = np.zeros((m, n, t), bool)
    for i in range(m):
        for j in range(n):
            y = w[i, :, j]
            if np.ptp(y) <= 0:
                continue
            s_n = float(sn[j]) if sn is not None else float(GetSn(y))
            kw = {} if decay_s is None else {"tau_d": float(decay_s[j]), "framerate": fs_hz}
            res = deconvolve_trace(y, sn=s_n, penalty=1, **kw)
            out[i, j] = res.s > spike_threshold_sn * s_n
    return out


# ------------------------------------------------------------ statistics
@dataclass
class PopulationStats:
    """Spike-train statistics of a set of windows.

    Parameters
    ----------
    rates_hz : numpy.ndarray
        (M, N) mean firing rate per window and neuron (spikes/s).
    corr : numpy.ndarray
        (M, P) Pearson correlation of binned trains per window and pair
        (P = N(N-1)/2, upper triangle order); NaN where a train is empty.
    vrd : numpy.ndarray
        (M, P) van Rossum distance per window and pair.
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
        Frame rate in Hz (spike time = frame / fs_hz).
    corr_bin_s : float
        Bin width (s) of the binned trains for the correlation.
    vr_tau_s : float
        van Rossum time constant (s).

    Returns
    -------
    PopulationStats
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
def power_spectrum(windows: np.ndarray, fs_hz: float) -> tuple[np.ndarray, np.ndarray]:
    """Mean Welch power spectrum over windows and neurons.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        Frequencies (Hz) and mean power spectral density (units²/Hz).
    """
    from scipy import signal as sps

    w = np.asarray(windows, np.float64)
    nper = min(w.shape[1], 128)
    f, p = sps.welch(w, fs=fs_hz, nperseg=nper, axis=1)
    return f, p.mean(axis=(0, 2))


def window_features(windows: np.ndarray, fs_hz: float) -> np.ndarray:
    """Per-window feature vectors for the Fréchet distance.

    Per neuron: mean, standard deviation, 95th percentile minus median, lag-1
    autocorrelation, and log10 power in three bands (0–0.5 Hz, 0.5–2 Hz, 2 Hz–Nyquist).

    Returns
    -------
    numpy.ndarray
        (M, 7 N).
    """
    from scipy import signal as sps

    w = np.asarray(windows, np.float64)
    t = w.shape[1]
    mean = w.mean(1)
    sd = w.std(1)
    spread = np.percentile(w, 95, axis=1) - np.median(w, axis=1)
    d = w - mean[:, None]
    ac1 = (d[:, 1:] * d[:, :-1]).sum(1) / np.maximum((d * d).sum(1), 1e-12)
    f, p = sps.welch(w, fs=fs_hz, nperseg=min(t, 128), axis=1)
    bands = [(0, 0.5), (0.5, 2.0), (2.0, np.inf)]
    bp = [np.log10(p[:, (f >= lo) & (f < hi)].sum(1) + 1e-12) for lo, hi in bands]
    return np.concatenate([mean, sd, spread, ac1, *bp], axis=1)


@dataclass
class Memorisation:
    """Nearest-neighbour memorisation check.

    For a window x, ``r(x) = d(x, training) / d(x, reference)`` with d the
    distance to the nearest window of a set. Synthetic windows are compared
    with held-out real windows of one half (reference set B); the other half of
    the held-out windows (A) gives the calibration ``r(a) = d(a, training) /
    d(a, B)``. A model that copies its training data has r much smaller than
    real unseen data; the ratio cancels the bias of low-variance samples
    being close to everything.

    Parameters
    ----------
    score : float
        median r(synthetic) / median r(held-out A): ~1 = as novel as unseen
        real windows, << 1 = copies.
    copy_fraction : float
        Fraction of synthetic windows with r below the 5th percentile of the
        held-out r (~0.05 expected without copying).
    synthetic_ratio : numpy.ndarray
        r for each synthetic window.
    held_out_ratio : numpy.ndarray
        r for each held-out window of A.
    synthetic_nn : numpy.ndarray
        Distance of each synthetic window to its nearest training window.
    """

    score: float
    copy_fraction: float
    synthetic_ratio: np.ndarray
    held_out_ratio: np.ndarray
    synthetic_nn: np.ndarray


def _nn_dist(a: np.ndarray, b: np.ndarray, scale: np.ndarray) -> np.ndarray:
    a2 = (a / scale).reshape(len(a), -1)
    b2 = (b / scale).reshape(len(b), -1)
    bb = (b2 * b2).sum(1)
    out = np.empty(len(a2))
    for start in range(0, len(a2), 64):
        x = a2[start : start + 64]
        d2 = (x * x).sum(1)[:, None] + bb[None] - 2 * x @ b2.T
        out[start : start + 64] = np.sqrt(np.maximum(d2.min(1), 0) / a2.shape[1])
    return out


def memorisation(synthetic: np.ndarray, training: np.ndarray, held_out: np.ndarray) -> Memorisation:
    """Nearest-training-window check of synthetic vs held-out real windows.

    Distances are RMS over frames and neurons, each neuron in units of its
    standard deviation in the training windows. ``held_out`` (>= 4 windows) is
    split alternately into A (calibration) and B (reference set).
    """
    tr = np.asarray(training, np.float64)
    ho = np.asarray(held_out, np.float64)
    if len(ho) < 4:
        raise InvalidInputError(
            f"memorisation needs >= 4 held-out windows; got {len(ho)}. Use a longer held-out "
            "block or shorter windows."
        )
    scale = tr.std(axis=(0, 1)) + 1e-12
    a_set, b_set = ho[0::2], ho[1::2]
    syn = np.asarray(synthetic, np.float64)
    ds = _nn_dist(syn, tr, scale)
    r_syn = ds / np.maximum(_nn_dist(syn, b_set, scale), 1e-12)
    r_ho = _nn_dist(a_set, tr, scale) / np.maximum(_nn_dist(a_set, b_set, scale), 1e-12)
    thr = np.percentile(r_ho, 5)
    return Memorisation(
        score=float(np.median(r_syn) / max(np.median(r_ho), 1e-12)),
        copy_fraction=float(np.mean(r_syn < thr)),
        synthetic_ratio=r_syn,
        held_out_ratio=r_ho,
        synthetic_nn=ds,
    )


# ------------------------------------------------------------ report
@dataclass
class SynthesisReport:
    """Real vs synthetic population statistics and their distances.

    KLs are KL(real || synthetic) in nats (binning: see module docstring).
    """

    kl_rate: float
    kl_corr: float
    kl_vrd: float
    kl_rate_per_neuron: np.ndarray
    kl_vrd_per_neuron: np.ndarray
    frechet: float
    log_spectral_distance_db: float
    memorisation: Memorisation | None
    real: PopulationStats
    synthetic: PopulationStats
    freqs_hz: np.ndarray
    psd_real: np.ndarray
    psd_synthetic: np.ndarray
    real_windows: np.ndarray
    synthetic_windows: np.ndarray
    fs_hz: float
    settings: dict[str, Any] = field(default_factory=dict)
    names: tuple[str, str] = ("real", "synthetic")

    @property
    def memorisation_score(self) -> float:
        """Memorisation score (NaN when no training windows were given)."""
        return self.memorisation.score if self.memorisation is not None else float("nan")

    def summary(self) -> dict[str, float]:
        """The headline numbers as a flat dict."""
        return {
            "kl_rate": self.kl_rate,
            "kl_corr": self.kl_corr,
            "kl_vrd": self.kl_vrd,
            "kl_rate_per_neuron_mean": float(np.nanmean(self.kl_rate_per_neuron)),
            "kl_rate_per_neuron_max": float(np.nanmax(self.kl_rate_per_neuron)),
            "kl_vrd_per_neuron_mean": float(np.nanmean(self.kl_vrd_per_neuron)),
            "frechet": self.frechet,
            "log_spectral_distance_db": self.log_spectral_distance_db,
            "memorisation_score": self.memorisation_score,
            "copy_fraction": (
                self.memorisation.copy_fraction if self.memorisation else float("nan")
            ),
            "mean_rate_real_hz": float(self.real.rates_hz.mean()),
            "mean_rate_synthetic_hz": float(self.synthetic.rates_hz.mean()),
            "mean_corr_real": float(np.nanmean(self.real.corr)),
            "mean_corr_synthetic": float(np.nanmean(self.synthetic.corr)),
            "n_windows_real": int(self.real.rates_hz.shape[0]),
            "n_windows_synthetic": int(self.synthetic.rates_hz.shape[0]),
        }

    def to_markdown(self) -> str:
        """A Markdown summary table (with the paper's V1 figures for scale)."""
        s = self.summary()
        a, b = self.names
        rows = [
            ("KL firing rate (pooled)", s["kl_rate"], PAPER_V1_KL["rate"]),
            ("KL firing rate (per neuron, mean)", s["kl_rate_per_neuron_mean"], None),
            ("KL firing rate (per neuron, max)", s["kl_rate_per_neuron_max"], None),
            ("KL pairwise correlation", s["kl_corr"], PAPER_V1_KL["corr"]),
            ("KL van Rossum distance (pooled)", s["kl_vrd"], PAPER_V1_KL["vrd"]),
            ("KL van Rossum (per neuron, mean)", s["kl_vrd_per_neuron_mean"], None),
            ("Fréchet distance (window features)", s["frechet"], None),
            ("log-spectral distance (dB)", s["log_spectral_distance_db"], None),
            ("memorisation score (1 = as novel as held-out)", s["memorisation_score"], None),
            ("copy fraction (expected ~0.05)", s["copy_fraction"], None),
            (f"mean firing rate {a} (Hz)", s["mean_rate_real_hz"], None),
            (f"mean firing rate {b} (Hz)", s["mean_rate_synthetic_hz"], None),
            (f"mean pairwise correlation {a}", s["mean_corr_real"], None),
            (f"mean pairwise correlation {b}", s["mean_corr_synthetic"], None),
        ]
        lines = [
            f"### {a} vs {b}",
            "",
            f"{s['n_windows_real']} {a} and {s['n_windows_synthetic']} {b} windows of "
            f"{self.real_windows.shape[1]} frames at {self.fs_hz:g} Hz; KL(real || synthetic) "
            "in nats, 30 shared bins, pseudo-count 0.5.",
            "",
            "| statistic | value | paper (V1) |",
            "|---|---:|---:|",
        ]
        for name, v, ref in rows:
            lines.append(f"| {name} | {v:.4g} | {'' if ref is None else ref} |")
        return "\n".join(lines) + "\n"

    def save_figures(self, out_dir: str | Path, dpi: int = 100) -> list[Path]:
        """Write raster, histogram and spectrum figures as PNG (matplotlib Agg, no pyplot).

        Returns
        -------
        list of Path
            The written files: ``raster.png``, ``histograms.png``, ``spectra.png``.
        """
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        from ..io.atomic import atomic_path

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        a, b = self.names
        written = []

        def subplots(ncols: int, figsize: tuple[float, float], **kw):
            fig = Figure(figsize=figsize)
            FigureCanvasAgg(fig)  # Agg canvas: no pyplot, safe from GUI threads
            axes = fig.subplots(1, ncols, **kw)
            return fig, axes

        def save(fig: Figure, name: str) -> None:
            p = out / name
            with atomic_path(p) as tmp:
                fig.savefig(tmp, dpi=dpi, format="png")
            written.append(p)

        # raster of one window each
        fig, axes = subplots(2, (10, 4), sharey=True)
        for ax, st, label, color in (
            (axes[0], self.real, a, "tab:blue"),
            (axes[1], self.synthetic, b, "tab:orange"),
        ):
            spikes = st.spikes[0]
            for j in range(spikes.shape[0]):
                ts = np.flatnonzero(spikes[j]) / self.fs_hz
                ax.vlines(ts, j + 0.6, j + 1.4, color=color, linewidth=1)
            ax.set_title(f"{label}: inferred spikes (window 0)")
            ax.set_xlabel("time (s)")
        axes[0].set_ylabel("neuron")
        fig.tight_layout()
        save(fig, "raster.png")

        fig, axes = subplots(3, (13, 3.6))
        for ax, key, label, kl in (
            (axes[0], "rates_hz", "firing rate (Hz)", self.kl_rate),
            (axes[1], "corr", "pairwise correlation", self.kl_corr),
            (axes[2], "vrd", "van Rossum distance", self.kl_vrd),
        ):
            x = np.asarray(getattr(self.real, key)).ravel()
            y = np.asarray(getattr(self.synthetic, key)).ravel()
            x, y = x[np.isfinite(x)], y[np.isfinite(y)]
            if x.size and y.size:
                edges = np.linspace(min(x.min(), y.min()), max(x.max(), y.max()) + 1e-12, 31)
                ax.hist(x, edges, density=True, alpha=0.6, label=a, color="tab:blue")
                ax.hist(y, edges, density=True, alpha=0.6, label=b, color="tab:orange")
            ax.set_xlabel(label)
            ax.set_title(f"KL = {kl:.3g}")
        axes[0].legend()
        fig.tight_layout()
        save(fig, "histograms.png")

        fig, ax = subplots(1, (5.5, 4))
        ax.loglog(self.freqs_hz[1:], self.psd_real[1:], label=a, color="tab:blue")
        ax.loglog(self.freqs_hz[1:], self.psd_synthetic[1:], label=b, color="tab:orange")
        ax.set_xlabel("frequency (Hz)")
        ax.set_ylabel("mean PSD (units²/Hz)")
        ax.set_title(f"log-spectral distance {self.log_spectral_distance_db:.2f} dB")
        ax.legend()
        fig.tight_layout()
        save(fig, "spectra.png")
        return written


def _feature_frechet(real_f: np.ndarray, syn_f: np.ndarray, k: int) -> float:
    mu, sd = real_f.mean(0), real_f.std(0) + 1e-9
    a, b = (real_f - mu) / sd, (syn_f - mu) / sd
    k = max(1, min(k, a.shape[1], len(a) - 1))
    _, _, vt = np.linalg.svd(a - a.mean(0), full_matrices=False)
    return frechet_distance(a @ vt[:k].T, b @ vt[:k].T)


def _subsample(w: np.ndarray, max_windows: int | None, rng: np.random.Generator) -> np.ndarray:
    if max_windows is None or len(w) <= max_windows:
        return w
    idx = np.sort(rng.choice(len(w), max_windows, replace=False))
    return w[idx]


def evaluate_synthetic(
    real: Recording | np.ndarray,
    synthetic: Recording | np.ndarray,
    *,
    fs_hz: float | None = None,
    window_frames: int | None = None,
    real_stride: int | None = None,
    training: Recording | np.ndarray | None = None,
    held_out: Recording | np.ndarray | None = None,
    max_windows: int | None = 300,
    corr_bin_s: float = 0.1,
    vr_tau_s: float = 0.5,
    spike_threshold_sn: float = 1.0,
    n_bins: int = 30,
    frechet_components: int = 10,
    seed: int | None = 0,
    names: tuple[str, str] = ("real", "synthetic"),
) -> SynthesisReport:
    """Compare real and synthetic population calcium data.

    Parameters
    ----------
    real : Recording or numpy.ndarray
        Reference data: a Recording (cut into windows) or windows (M, T, N).
    synthetic : Recording or numpy.ndarray
        Generated data, same N and units (e.g. ``CalciumGAN.sample(...)``).
    fs_hz : float, optional
        Frame rate in Hz (needed when both inputs are arrays).
    window_frames : int, optional
        T; default the synthetic Recording's ``meta["window_frames"]`` or 256.
    real_stride : int, optional
        Stride (frames) for cutting ``real`` into windows (default T: no overlap).
    training : Recording or numpy.ndarray, optional
        The model's training data (windows (M, T, N) or a Recording), for the
        memorisation check (skipped when None).
    held_out : Recording or numpy.ndarray, optional
        Real data never trained on, for the memorisation check (default ``real``).
    max_windows : int or None
        Random subset size per set (speed).
    corr_bin_s, vr_tau_s, spike_threshold_sn, n_bins :
        Statistic settings (see the module docstring).
    frechet_components : int
        Number of principal components (of the standardised real features) the
        Fréchet distance is computed in.
    seed : int or None
        Seed of the window subsets.
    names : (str, str)
        Labels used in the Markdown and figures.

    Returns
    -------
    SynthesisReport
    """
    rng = np.random.default_rng(seed)
    if fs_hz is None:
        for obj in (synthetic, real):
            if isinstance(obj, Recording):
                fs_hz = obj.fs_hz
                break
    if fs_hz is None:
        raise InvalidInputError("evaluate_synthetic: pass fs_hz= when both inputs are arrays.")
    if window_frames is None and isinstance(synthetic, Recording):
        window_frames = synthetic.meta.get("window_frames")
    if window_frames is None and isinstance(real, Recording):
        window_frames = real.meta.get("window_frames")
    if window_frames is None and isinstance(synthetic, np.ndarray) and synthetic.ndim == 3:
        window_frames = synthetic.shape[1]
    syn_w = _subsample(as_windows(synthetic, window_frames), max_windows, rng)
    t = syn_w.shape[1]
    real_w = _subsample(as_windows(real, t, real_stride), max_windows, rng)
    if real_w.shape[1:] != syn_w.shape[1:]:
        raise InvalidInputError(
            f"evaluate_synthetic: real windows are (T, N) = {real_w.shape[1:]} but synthetic "
            f"are {syn_w.shape[1:]}; use the same neurons and window length."
        )
    n = real_w.shape[2]
    sn = estimate_noise(real_w)
    decay = estimate_decay_s(real_w, fs_hz, seed=seed)
    real_s = population_statistics(
        deconvolve_windows(real_w, fs_hz, sn, decay, spike_threshold_sn),
        fs_hz,
        corr_bin_s,
        vr_tau_s,
    )
    syn_s = population_statistics(
        deconvolve_windows(syn_w, fs_hz, sn, decay, spike_threshold_sn),
        fs_hz,
        corr_bin_s,
        vr_tau_s,
    )
    kl_rate = kl_divergence(real_s.rates_hz, syn_s.rates_hz, n_bins)
    kl_corr = kl_divergence(real_s.corr, syn_s.corr, n_bins)
    kl_vrd = kl_divergence(real_s.vrd, syn_s.vrd, n_bins)
    kl_rate_n = np.array(
        [kl_divergence(real_s.rates_hz[:, j], syn_s.rates_hz[:, j], n_bins) for j in range(n)]
    )
    iu = np.triu_indices(n, 1)
    kl_vrd_n = (
        np.array(
            [
                kl_divergence(
                    real_s.vrd[:, (iu[0] == j) | (iu[1] == j)],
                    syn_s.vrd[:, (iu[0] == j) | (iu[1] == j)],
                    n_bins,
                )
                for j in range(n)
            ]
        )
        if n > 1
        else np.full(n, np.nan)
    )
    fr = window_features(real_w, fs_hz)
    fs_ = window_features(syn_w, fs_hz)
    frechet = _feature_frechet(fr, fs_, frechet_components)
    f, p_real = power_spectrum(real_w, fs_hz)
    _, p_syn = power_spectrum(syn_w, fs_hz)
    lsd = float(np.sqrt(np.mean((10 * np.log10((p_syn[1:] + 1e-20) / (p_real[1:] + 1e-20))) ** 2)))
    mem = None
    if training is not None:
        tr_w = as_windows(training, t, max(1, t // 4))
        ho_w = as_windows(held_out, t) if held_out is not None else real_w
        mem = memorisation(syn_w, tr_w, _subsample(ho_w, max_windows, rng))
    return SynthesisReport(
        kl_rate=kl_rate,
        kl_corr=kl_corr,
        kl_vrd=kl_vrd,
        kl_rate_per_neuron=kl_rate_n,
        kl_vrd_per_neuron=kl_vrd_n,
        frechet=frechet,
        log_spectral_distance_db=lsd,
        memorisation=mem,
        real=real_s,
        synthetic=syn_s,
        freqs_hz=f,
        psd_real=p_real,
        psd_synthetic=p_syn,
        real_windows=real_w,
        synthetic_windows=syn_w,
        fs_hz=float(fs_hz),
        settings={
            "corr_bin_s": corr_bin_s,
            "vr_tau_s": vr_tau_s,
            "spike_threshold_sn": spike_threshold_sn,
            "n_bins": n_bins,
            "pseudocount": 0.5,
            "frechet_components": frechet_components,
            "window_frames": t,
            "noise_sn_per_neuron": sn.tolist(),
            "decay_s_per_neuron": decay.tolist(),
        },
        names=tuple(names),
    )
