"""Synthetic vs real calcium data: the CalciumGAN evaluation report.

Both sets are cut into windows and go through the same deconvolution and
population statistics (:mod:`.population`: OASIS spike trains, firing rates,
pairwise correlations, van Rossum distances), with the noise level and AR(1)
decay time estimated on the REAL windows and used for both. The
distributions of these numbers over windows (and neurons/pairs) are compared
with :func:`~calcium_forge.evaluation.distances.kl_divergence` (30 shared
equal-width bins, Jeffreys pseudo-count 0.5). Pooled KLs mix all neurons; the
per-neuron KLs (firing rate of neuron i over windows; van Rossum distances of
pairs involving i) catch identity errors that pooling hides.

Further: a Fréchet distance between Gaussians fitted to per-window features
(:func:`~.population.window_features`; standardised by the real features and
projected on their first 10 principal components so that a few hundred
windows estimate the covariances well), the mean power spectra (Welch,
averaged over windows and neurons) with their log-spectral distance in dB,
and a memorisation check (:mod:`.novelty`, re-exported here): the RMS
distance (in units of each neuron's training standard deviation) from every
synthetic window to its nearest training window, relative to its distance to
the nearest held-out real window, compared with the same ratio for other
held-out real windows (see :class:`Memorisation`). A score near 1 means
synthetic windows are as novel as unseen real data; a score well below 1 (or a
high ``copy_fraction``) means the model reproduces training windows.

Co-firing (:mod:`.cofiring`): the mean and distribution of pairwise
correlations of the traces and of the spike trains, the identity-matched
correlation-matrix distance, per-neuron rate errors and the population
synchrony distribution. Pass ``floor=`` (real data of another block, e.g. the
training half) to score it against ``real`` the same way: every distance then
stands beside its real-vs-real floor (the floors of the mean-correlation errors
are at least the standard error of the difference of the two real means) and
:meth:`SynthesisReport.flags` names those above 1.5x the floor (and a
memorisation score below 0.8).

The report's figures are drawn by :mod:`.figures`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InvalidInputError
from ..recording import Recording
from .cofiring import (
    CoFiring,
    cofiring_statistics,
    flagged,
    floor_table,
    mean_corr_standard_errors,
)
from .comparison import compare, distance_scores
from .novelty import Memorisation, memorisation
from .population import (
    PopulationStats,
    as_windows,
    deconvolve_windows,
    estimate_decay_s,
    estimate_noise,
    population_statistics,
)

__all__ = [
    "PAPER_V1_KL",
    "Memorisation",
    "SynthesisReport",
    "distance_scores",
    "evaluate_synthetic",
    "memorisation",
]

#: KL(real || synthetic) of the CalciumGAN paper on V1 data (nats), for scale.
PAPER_V1_KL = {"rate": 0.32, "corr": 0.06, "vrd": 0.51}


# ------------------------------------------------------------ report
@dataclass
class SynthesisReport:
    """Real vs synthetic population statistics and their distances.

    KLs are KL(real || synthetic) in nats (binning: see the module docstring).

    Parameters
    ----------
    kl_rate, kl_corr, kl_vrd : float
        Pooled KLs (nats) of firing rate, pairwise correlation and van Rossum
        distance.
    kl_rate_per_neuron : numpy.ndarray
        (N,) KL (nats) of each neuron's firing rate over windows.
    kl_vrd_per_neuron : numpy.ndarray
        (N,) KL (nats) of the van Rossum distances of the pairs involving each
        neuron (NaN when N = 1).
    frechet : float
        Fréchet distance (squared, in standardised feature units) of the window
        features.
    log_spectral_distance_db : float
        RMS difference of the mean power spectra in dB (0 Hz bin left out).
    memorisation : Memorisation or None
        The memorisation check (None without training windows).
    real, synthetic : PopulationStats
        Spike-train statistics of the two sets.
    freqs_hz : numpy.ndarray
        (F,) frequencies (Hz) of the power spectra.
    psd_real, psd_synthetic : numpy.ndarray
        (F,) mean power spectral densities (trace units²/Hz).
    real_windows, synthetic_windows : numpy.ndarray
        (M, T, N) windows that were compared (trace units).
    fs_hz : float
        Frame rate in Hz.
    settings : dict
        The statistic settings, the window length (frames) and the per-neuron
        noise levels (trace units) and decay times (s) used.
    names : (str, str)
        Labels of the two sets in the Markdown and figures.
    cofiring_real, cofiring_synthetic : CoFiring or None
        Co-firing statistics of the two sets (:mod:`.cofiring`).
    scores : dict
        Every distance of the synthetic set to the real one (0 = identical;
        KLs in nats), flat (see :func:`.comparison.distance_scores`).
    floor_scores : dict or None
        The same distances of the ``floor`` block to the real one (None
        without ``floor``).
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
    cofiring_real: CoFiring | None = None
    cofiring_synthetic: CoFiring | None = None
    scores: dict[str, float] = field(default_factory=dict)
    floor_scores: dict[str, float] | None = None

    def flags(self) -> list[str]:
        """Distances above 1.5x their floor, and ``memorisation_score`` when below 0.8.

        Returns
        -------
        list of str
            Names from :attr:`scores` (empty when nothing is flagged).
        """
        return flagged(self.scores, self.floor_scores, self.memorisation_score)

    @property
    def memorisation_score(self) -> float:
        """Memorisation score (dimensionless; NaN when no training windows were given)."""
        return self.memorisation.score if self.memorisation is not None else float("nan")

    def summary(self) -> dict[str, float]:
        """The headline numbers as a flat dict.

        Returns
        -------
        dict of str to float
            KLs (nats), Fréchet distance, log-spectral distance (dB),
            memorisation score and copy fraction, mean firing rates (Hz), mean
            pairwise correlations and the numbers of windows (int).
        """
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
            **{
                f"mean_corr_dff_{k}": float(np.nanmean(cf.corr_dff))
                for k, cf in (("real", self.cofiring_real), ("synthetic", self.cofiring_synthetic))
                if cf is not None
            },
            "n_windows_real": int(self.real.rates_hz.shape[0]),
            "n_windows_synthetic": int(self.synthetic.rates_hz.shape[0]),
        }

    def to_markdown(self) -> str:
        """A Markdown summary table (with the paper's V1 figures for scale).

        Returns
        -------
        str
            A heading, one line on the windows and binning, and a table of
            :meth:`summary`'s numbers (units in the row names).
        """
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
            (f"mean pairwise dF/F correlation {a}", s.get("mean_corr_dff_real", np.nan), None),
            (f"mean pairwise dF/F correlation {b}", s.get("mean_corr_dff_synthetic", np.nan), None),
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
        if self.floor_scores is not None:
            flags = self.flags()
            lines += [
                "",
                f"Distances beside the real-vs-real floor; flagged: {', '.join(flags) or 'none'}.",
                "",
                *floor_table(self.scores, self.floor_scores),
            ]
        return "\n".join(lines) + "\n"

    def save_figures(self, out_dir: str | Path, dpi: int = 100) -> list[Path]:
        """Write raster, histogram and spectrum figures as PNG (matplotlib Agg, no pyplot).

        Parameters
        ----------
        out_dir : str or Path
            Folder (created when missing).
        dpi : int
            Resolution in dots per inch.

        Returns
        -------
        list of Path
            The written files: ``raster.png``, ``histograms.png``, ``spectra.png``
            and, when co-firing statistics are present, ``cofiring.png``.
        """
        from .figures import (
            cofiring_figure,
            histogram_figure,
            raster_figure,
            save_png,
            spectrum_figure,
        )

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        st = self.settings
        raster = raster_figure(self.real, self.synthetic, self.fs_hz, self.names, st)
        written = [save_png(raster, out / "raster.png", dpi)]
        hists = histogram_figure(
            self.real, self.synthetic, self.kl_rate, self.kl_corr, self.kl_vrd, self.names, st
        )
        written.append(save_png(hists, out / "histograms.png", dpi))
        spectra = spectrum_figure(
            self.freqs_hz,
            self.psd_real,
            self.psd_synthetic,
            self.log_spectral_distance_db,
            self.names,
        )
        written.append(save_png(spectra, out / "spectra.png", dpi))
        if self.cofiring_real is not None and self.cofiring_synthetic is not None:
            cof = cofiring_figure(
                self.cofiring_real, self.cofiring_synthetic, self.scores, self.names, st
            )
            written.append(save_png(cof, out / "cofiring.png", dpi))
        return written


# ------------------------------------------------------------ evaluation steps
def _frame_rate(
    real: Recording | np.ndarray, synthetic: Recording | np.ndarray, fs_hz: float | None
) -> float:
    """``fs_hz``, else the synthetic then the real Recording's frame rate (Hz)."""
    if fs_hz is None:
        for obj in (synthetic, real):
            if isinstance(obj, Recording):
                fs_hz = obj.fs_hz
                break
    if fs_hz is None:
        raise InvalidInputError("evaluate_synthetic: pass fs_hz= when both inputs are arrays.")
    return fs_hz


def _window_frames(
    real: Recording | np.ndarray, synthetic: Recording | np.ndarray, window_frames: int | None
) -> int | None:
    """``window_frames``, else from the Recordings' meta or the synthetic windows' T."""
    if window_frames is None and isinstance(synthetic, Recording):
        window_frames = synthetic.meta.get("window_frames")
    if window_frames is None and isinstance(real, Recording):
        window_frames = real.meta.get("window_frames")
    if window_frames is None and isinstance(synthetic, np.ndarray) and synthetic.ndim == 3:
        window_frames = synthetic.shape[1]
    return window_frames


def _subsample(w: np.ndarray, max_windows: int | None, rng: np.random.Generator) -> np.ndarray:
    """At most ``max_windows`` windows, a random subset kept in order."""
    if max_windows is None or len(w) <= max_windows:
        return w
    idx = np.sort(rng.choice(len(w), max_windows, replace=False))
    return w[idx]


def _matched_windows(
    real: Recording | np.ndarray,
    synthetic: Recording | np.ndarray,
    window_frames: int | None,
    real_stride: int | None,
    max_windows: int | None,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """(real, synthetic) windows (M, T, N) of the same T and N, subsampled."""
    syn_w = _subsample(as_windows(synthetic, window_frames), max_windows, rng)
    t = syn_w.shape[1]
    real_w = _subsample(as_windows(real, t, real_stride), max_windows, rng)
    if real_w.shape[1:] != syn_w.shape[1:]:
        raise InvalidInputError(
            f"evaluate_synthetic: real windows are (T, N) = {real_w.shape[1:]} but synthetic "
            f"are {syn_w.shape[1:]}; use the same neurons and window length."
        )
    return real_w, syn_w


def _spike_statistics(
    windows: np.ndarray,
    fs_hz: float,
    sn: np.ndarray,
    decay_s: np.ndarray,
    spike_threshold_sn: float,
    corr_bin_s: float,
    vr_tau_s: float,
) -> PopulationStats:
    """Population statistics of the windows' OASIS spike trains (given sn and decay times)."""
    spikes = deconvolve_windows(windows, fs_hz, sn, decay_s, spike_threshold_sn)
    return population_statistics(spikes, fs_hz, corr_bin_s, vr_tau_s)


def _memorisation_check(
    syn_w: np.ndarray,
    real_w: np.ndarray,
    training: Recording | np.ndarray | None,
    held_out: Recording | np.ndarray | None,
    max_windows: int | None,
    rng: np.random.Generator,
) -> Memorisation | None:
    """:func:`memorisation` against training windows (stride T/4); None without training."""
    if training is None:
        return None
    t = syn_w.shape[1]
    tr_w = as_windows(training, t, max(1, t // 4))
    ho_w = as_windows(held_out, t) if held_out is not None else real_w
    return memorisation(syn_w, tr_w, _subsample(ho_w, max_windows, rng))


def evaluate_synthetic(
    real: Recording | np.ndarray,
    synthetic: Recording | np.ndarray,
    *,
    fs_hz: float | None = None,
    window_frames: int | None = None,
    real_stride: int | None = None,
    training: Recording | np.ndarray | None = None,
    held_out: Recording | np.ndarray | None = None,
    floor: Recording | np.ndarray | None = None,
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
        T in frames; default the synthetic Recording's ``meta["window_frames"]``
        or 256.
    real_stride : int, optional
        Stride (frames) for cutting ``real`` into windows (default T: no overlap).
    training : Recording or numpy.ndarray, optional
        The model's training data (windows (M, T, N) or a Recording), for the
        memorisation check (skipped when None).
    held_out : Recording or numpy.ndarray, optional
        Real data never trained on, for the memorisation check (default ``real``).
    floor : Recording or numpy.ndarray, optional
        Real data from another block (e.g. the training half; windows of the
        same T, or a Recording cut like ``real``), scored against ``real``
        exactly like ``synthetic``: the real-vs-real floor of every distance.
    max_windows : int or None
        Random subset size per set (speed).
    corr_bin_s, vr_tau_s : float
        Correlation bin width and van Rossum time constant, in s.
    spike_threshold_sn : float
        Spike threshold in multiples of the noise level.
    n_bins : int
        Number of shared KL bins (see the module docstring).
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
        KLs (nats), Fréchet and log-spectral (dB) distances, memorisation, and
        the statistics they were computed from.
    """
    rng = np.random.default_rng(seed)
    fs_hz = _frame_rate(real, synthetic, fs_hz)
    window_frames = _window_frames(real, synthetic, window_frames)
    real_w, syn_w = _matched_windows(real, synthetic, window_frames, real_stride, max_windows, rng)
    # one deconvolution for both sets: noise level and decay time from the real windows
    sn = estimate_noise(real_w)
    decay = estimate_decay_s(real_w, fs_hz, seed=seed)
    spike_settings = (sn, decay, spike_threshold_sn, corr_bin_s, vr_tau_s)

    def stats(w: np.ndarray) -> tuple[np.ndarray, PopulationStats, CoFiring]:
        ps = _spike_statistics(w, fs_hz, *spike_settings)
        return w, ps, cofiring_statistics(w, ps.spikes, ps.corr, fs_hz, corr_bin_s)

    real_t, syn_t = stats(real_w), stats(syn_w)
    kl, trace, scores = compare(real_t, syn_t, fs_hz, n_bins, frechet_components)
    floor_scores = None
    if floor is not None:
        floor_w = _subsample(as_windows(floor, syn_w.shape[1], real_stride), max_windows, rng)
        floor_t = stats(floor_w)
        floor_scores = compare(real_t, floor_t, fs_hz, n_bins, frechet_components)[2]
        for key, se in mean_corr_standard_errors(real_t[2], floor_t[2]).items():
            floor_scores[key] = max(floor_scores[key], se)  # a floor below its SE is luck
    real_s, syn_s = real_t[1], syn_t[1]
    return SynthesisReport(
        **kl,
        **trace,
        cofiring_real=real_t[2],
        cofiring_synthetic=syn_t[2],
        scores=scores,
        floor_scores=floor_scores,
        memorisation=_memorisation_check(syn_w, real_w, training, held_out, max_windows, rng),
        real=real_s,
        synthetic=syn_s,
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
            "window_frames": syn_w.shape[1],
            "noise_sn_per_neuron": sn.tolist(),
            "decay_s_per_neuron": decay.tolist(),
        },
        names=tuple(names),
    )
