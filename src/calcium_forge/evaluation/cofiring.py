"""Population co-firing statistics and their distances (CalciumGAN evaluation).

Pooled histogram KLs can look fine while a synthetic population co-fluctuates
far more than the real one. This module measures what correlation and
assembly analyses rely on, for one set of windows (:func:`cofiring_statistics`)
and between two sets (:func:`cofiring_scores`):

- pairwise Pearson correlations of the traces (dF/F) within each window, and
  of the binned spike trains (the OASIS spikes of :mod:`.population`, bins of
  ``corr_bin_s``): their mean and the KL of their distributions over windows
  and pairs;
- the mean correlation matrices (neuron identity matched) and the RMS
  difference of their off-diagonal entries;
- the firing rate of each neuron over all windows and the relative error per
  neuron;
- population synchrony: the number of neurons with at least one spike in each
  ``corr_bin_s`` bin, and the KL of its distribution over 0..N.

Every score is a distance (0 = identical); the report puts each beside its
real-vs-real floor (:func:`~.synthetic.evaluate_synthetic` with ``floor=``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .distances import histogram_kl, kl_divergence

__all__ = [
    "FLOOR_LIMIT",
    "MEMORISATION_LIMIT",
    "CoFiring",
    "cofiring_scores",
    "cofiring_statistics",
    "flagged",
    "floor_table",
    "mean_corr_standard_errors",
    "pairwise_trace_correlations",
]

#: A score is flagged when it exceeds this multiple of its real-vs-real floor.
FLOOR_LIMIT = 1.5
#: The memorisation check is flagged below this score (1 = as novel as held-out data).
MEMORISATION_LIMIT = 0.8


@dataclass
class CoFiring:
    """Co-firing statistics of one set of windows.

    Parameters
    ----------
    corr_dff : numpy.ndarray
        (M, P) Pearson correlation of the traces of every pair in every window
        (dimensionless; P = N(N-1)/2, upper triangle in row order; NaN for a
        flat trace).
    corr_spikes : numpy.ndarray
        (M, P) Pearson correlation of the binned spike trains (NaN where a
        train is empty).
    rates_hz : numpy.ndarray
        (N,) firing rate of each neuron over all windows (spikes/s).
    synchrony : numpy.ndarray
        (N + 1,) counts of bins with 0..N active neurons (a neuron is active in
        a bin when it has at least one spike frame in it).
    n_neurons : int
        N.
    """

    corr_dff: np.ndarray
    corr_spikes: np.ndarray
    rates_hz: np.ndarray
    synchrony: np.ndarray
    n_neurons: int

    def matrix(self, which: str = "dff") -> np.ndarray:
        """Mean correlation matrix over windows, (N, N), ones on the diagonal.

        Parameters
        ----------
        which : str
            ``"dff"`` (traces) or ``"spikes"`` (binned spike trains).

        Returns
        -------
        numpy.ndarray
            (N, N) symmetric matrix of mean correlations (dimensionless; NaN
            for pairs never defined).
        """
        c = self.corr_dff if which == "dff" else self.corr_spikes
        n = self.n_neurons
        iu = np.triu_indices(n, 1)
        mean = np.full(len(iu[0]), np.nan)
        ok = np.isfinite(c).any(0)
        mean[ok] = np.nanmean(c[:, ok], axis=0)
        out = np.eye(n)
        out[iu] = mean
        out[(iu[1], iu[0])] = mean
        return out


def pairwise_trace_correlations(windows: np.ndarray) -> np.ndarray:
    """Pearson correlation of every neuron pair within each window.

    Parameters
    ----------
    windows : numpy.ndarray
        (M, T, N) traces (any units).

    Returns
    -------
    numpy.ndarray
        (M, N(N-1)/2) correlations (dimensionless), upper triangle in row
        order; NaN where a trace is flat.
    """
    w = np.asarray(windows, np.float64)
    z = w - w.mean(axis=1, keepdims=True)
    norm = np.sqrt((z * z).sum(axis=1, keepdims=True))
    z = np.divide(z, norm, out=np.full_like(z, np.nan), where=norm > 0)
    c = np.einsum("mti,mtj->mij", z, z)
    iu = np.triu_indices(w.shape[2], 1)
    return c[:, iu[0], iu[1]]


def cofiring_statistics(
    windows: np.ndarray, spikes: np.ndarray, spike_corr: np.ndarray, fs_hz: float, bin_s: float
) -> CoFiring:
    """Co-firing statistics of a set of windows and their spike frames.

    Parameters
    ----------
    windows : numpy.ndarray
        (M, T, N) traces (trace units).
    spikes : numpy.ndarray
        bool (M, N, T) spike frames of the same windows.
    spike_corr : numpy.ndarray
        (M, P) pairwise correlations of the binned spike trains (from
        :func:`~.population.population_statistics`).
    fs_hz : float
        Frame rate in Hz.
    bin_s : float
        Synchrony bin width in s (the spike-correlation bin).

    Returns
    -------
    CoFiring
    """
    s = np.asarray(spikes, bool)
    m, n, t = s.shape
    per_bin = max(1, round(bin_s * fs_hz))
    nb = t // per_bin
    active = s[:, :, : nb * per_bin].reshape(m, n, nb, per_bin).any(axis=3)
    counts = np.bincount(active.sum(axis=1).ravel(), minlength=n + 1)
    return CoFiring(
        corr_dff=pairwise_trace_correlations(windows),
        corr_spikes=np.asarray(spike_corr, np.float64),
        rates_hz=s.sum(axis=(0, 2)) / (m * t / fs_hz),
        synchrony=counts[: n + 1].astype(np.float64),
        n_neurons=n,
    )


def _rms_offdiag(a: np.ndarray, b: np.ndarray) -> float:
    iu = np.triu_indices(len(a), 1)
    d = a[iu] - b[iu]
    d = d[np.isfinite(d)]
    return float(np.sqrt(np.mean(d * d))) if d.size else float("nan")


def cofiring_scores(real: CoFiring, other: CoFiring, n_bins: int = 30) -> dict[str, float]:
    """Distances (0 = identical) between the co-firing statistics of two sets.

    Parameters
    ----------
    real : CoFiring
        Reference statistics.
    other : CoFiring
        Compared statistics (synthetic, or another block of real data for the floor).
    n_bins : int
        Shared bins of the correlation KLs (see :mod:`.distances`).

    Returns
    -------
    dict of str to float
        ``mean_corr_dff_error`` and ``mean_corr_spikes_error`` (absolute
        difference of the mean pairwise correlations), ``kl_corr_dff`` (nats;
        the spike-correlation KL is the report's ``kl_corr``),
        ``corr_matrix_distance_dff`` and
        ``corr_matrix_distance_spikes`` (RMS over pairs of the difference of
        the mean correlation matrices, identity matched), ``rate_error_mean``
        and ``rate_error_max`` (relative error of each neuron's firing rate,
        mean and max over neurons) and ``kl_synchrony`` (nats, over 0..N
        active neurons per bin).
    """
    out: dict[str, float] = {}
    for which in ("dff", "spikes"):
        a = getattr(real, f"corr_{which}")
        b = getattr(other, f"corr_{which}")
        out[f"mean_corr_{which}_error"] = float(abs(np.nanmean(b) - np.nanmean(a)))
        if which == "dff":  # the spike-correlation KL is the report's ``kl_corr``
            out["kl_corr_dff"] = kl_divergence(a, b, n_bins)
        out[f"corr_matrix_distance_{which}"] = _rms_offdiag(real.matrix(which), other.matrix(which))
    rel = np.abs(other.rates_hz - real.rates_hz) / np.maximum(real.rates_hz, 1e-9)
    out["rate_error_mean"] = float(rel.mean())
    out["rate_error_max"] = float(rel.max())
    out["kl_synchrony"] = histogram_kl(real.synchrony, other.synchrony)
    return out


def mean_corr_standard_errors(real: CoFiring, other: CoFiring) -> dict[str, float]:
    """Standard errors of the differences of the mean pairwise correlations.

    The windows are the independent samples: SE = sqrt(var_a / M_a + var_b /
    M_b) of the per-window mean correlations. A real-vs-real floor of the
    ``mean_corr_*_error`` scores below this is luck of the draw; the report
    raises those floors to it.

    Parameters
    ----------
    real, other : CoFiring
        The two sets (e.g. the reference and the floor block).

    Returns
    -------
    dict of str to float
        ``mean_corr_dff_error`` and ``mean_corr_spikes_error`` standard errors
        (dimensionless).
    """
    out = {}
    for which in ("dff", "spikes"):
        se2 = 0.0
        for cf in (real, other):
            c = getattr(cf, f"corr_{which}")
            ok = np.isfinite(c).any(1)
            per_window = np.nanmean(c[ok], axis=1) if ok.any() else np.zeros(1)
            se2 += per_window.var(ddof=1) / len(per_window) if len(per_window) > 1 else 0.0
        out[f"mean_corr_{which}_error"] = float(np.sqrt(se2))
    return out


def flagged(
    scores: dict[str, float],
    floor: dict[str, float] | None,
    memorisation_score: float = float("nan"),
    limit: float = FLOOR_LIMIT,
) -> list[str]:
    """Names of the scores above ``limit`` times their floor (and a failed memorisation check).

    Parameters
    ----------
    scores : dict of str to float
        Distances of the compared set to the reference (0 = identical).
    floor : dict of str to float or None
        The same distances of real data from another block (None: only the
        memorisation check is judged).
    memorisation_score : float
        Score of the memorisation check (NaN when not run).
    limit : float
        Allowed multiple of the floor (dimensionless).

    Returns
    -------
    list of str
        Flagged score names (``"memorisation_score"`` when it is below
        :data:`MEMORISATION_LIMIT`).
    """
    out = []
    if floor is not None:
        for name, value in scores.items():
            ref = floor.get(name, float("nan"))
            if np.isfinite(value) and np.isfinite(ref) and value > limit * ref:
                out.append(name)
    if np.isfinite(memorisation_score) and memorisation_score < MEMORISATION_LIMIT:
        out.append("memorisation_score")
    return out


def floor_table(
    scores: dict[str, float], floor: dict[str, float], limit: float = FLOOR_LIMIT
) -> list[str]:
    """Markdown rows: score, floor, ratio and a flag when the ratio exceeds ``limit``.

    Parameters
    ----------
    scores, floor : dict of str to float
        Distances of the compared set and of the real-vs-real floor (same keys).
    limit : float
        Allowed multiple of the floor (dimensionless).

    Returns
    -------
    list of str
        Table lines (header included).
    """
    lines = [
        "| distance (0 = identical) | value | floor | ratio | flag |",
        "|---|---:|---:|---:|:-:|",
    ]
    for name, value in scores.items():
        ref = floor.get(name, float("nan"))
        ratio = value / ref if np.isfinite(ref) and ref > 0 else float("nan")
        bad = name in flagged({name: value}, floor, limit=limit)
        flag = f"**> {limit:g}x**" if bad else ""
        lines.append(f"| {name} | {value:.4g} | {ref:.4g} | {ratio:.2f} | {flag} |")
    return lines
