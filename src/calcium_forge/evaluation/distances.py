"""Distances between distributions: histogram KL divergence and Fréchet distance.

KL binning and smoothing (used for every KL in the synthesis evaluation):
both samples are histogrammed on the SAME ``n_bins`` equal-width bins spanning
the union of their finite values (or ``value_range``); each bin gets a
pseudo-count of 0.5 (Krichevsky–Trofimov / Jeffreys smoothing) before
normalising, so empty bins never give infinite KL. ``KL(P || Q) = sum p log(p/q)``
in nats with P the reference (real) and Q the model (synthetic). Finite-sample
KL is biased upward by about (n_bins - 1)/(2 n); compare with a real-vs-real
floor computed the same way.
"""

from __future__ import annotations

import numpy as np

from ..errors import InvalidInputError

__all__ = ["frechet_distance", "histogram_kl", "kl_divergence"]


def _finite(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64).ravel()
    return x[np.isfinite(x)]


def histogram_kl(p_counts: np.ndarray, q_counts: np.ndarray, pseudocount: float = 0.5) -> float:
    """KL(P || Q) in nats between two histograms on the same bins (smoothed).

    Parameters
    ----------
    p_counts, q_counts : numpy.ndarray
        Counts per bin of P (reference) and Q (model), same shape.
    pseudocount : float
        Added to every bin count before normalising (0.5 = Jeffreys).

    Returns
    -------
    float
        KL(P || Q) in nats (>= 0).
    """
    p = np.asarray(p_counts, np.float64) + pseudocount
    q = np.asarray(q_counts, np.float64) + pseudocount
    if p.shape != q.shape:
        raise InvalidInputError(f"histogram_kl: shapes differ {p.shape} vs {q.shape}.")
    p /= p.sum()
    q /= q.sum()
    return float(np.sum(p * np.log(p / q)))


def kl_divergence(
    reference: np.ndarray,
    model: np.ndarray,
    n_bins: int = 30,
    value_range: tuple[float, float] | None = None,
    pseudocount: float = 0.5,
) -> float:
    """KL divergence between the distributions of two samples of a statistic.

    Parameters
    ----------
    reference : numpy.ndarray
        Samples of P (e.g. real firing rates); NaN/inf are ignored.
    model : numpy.ndarray
        Samples of Q (e.g. synthetic firing rates).
    n_bins : int
        Number of shared equal-width bins.
    value_range : (float, float), optional
        Bin range; default the min/max over both samples.
    pseudocount : float
        Added to every bin count (0.5 = Jeffreys).

    Returns
    -------
    float
        KL(P || Q) in nats; NaN when either sample has no finite value. Two
        samples that are both constant at the same value give 0.
    """
    a, b = _finite(reference), _finite(model)
    if a.size == 0 or b.size == 0:
        return float("nan")
    if value_range is None:
        lo = min(a.min(), b.min())
        hi = max(a.max(), b.max())
    else:
        lo, hi = map(float, value_range)
    if hi <= lo:
        hi = lo + 1e-12
    edges = np.linspace(lo, hi, int(n_bins) + 1)
    pa, _ = np.histogram(np.clip(a, lo, hi), edges)
    pb, _ = np.histogram(np.clip(b, lo, hi), edges)
    return histogram_kl(pa, pb, pseudocount)


def frechet_distance(features_a: np.ndarray, features_b: np.ndarray, eps: float = 1e-6) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets.

    ``d^2 = |mu_a - mu_b|^2 + Tr(S_a + S_b - 2 (S_a S_b)^{1/2})`` (Heusel et al.,
    the FID formula; thesis eq. 2.11).

    Parameters
    ----------
    features_a, features_b : numpy.ndarray
        (n_a, D) and (n_b, D) feature vectors (any units, the same for both).
    eps : float
        Added to the covariance diagonals when their product is singular
        (feature units squared).

    Returns
    -------
    float
        d^2 (>= 0), in feature units squared.
    """
    from scipy import linalg

    a = np.asarray(features_a, np.float64)
    b = np.asarray(features_b, np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise InvalidInputError(
            f"frechet_distance: need (n, D) arrays with the same D; got {a.shape} and {b.shape}."
        )
    if len(a) < 2 or len(b) < 2:
        raise InvalidInputError("frechet_distance: need at least 2 samples per set.")
    mu_a, mu_b = a.mean(0), b.mean(0)
    s_a = np.atleast_2d(np.cov(a, rowvar=False))
    s_b = np.atleast_2d(np.cov(b, rowvar=False))
    covmean = linalg.sqrtm(s_a @ s_b)
    if not np.isfinite(covmean).all():
        off = np.eye(len(s_a)) * eps
        covmean = linalg.sqrtm((s_a + off) @ (s_b + off))
    covmean = np.real(covmean)
    d2 = float(np.sum((mu_a - mu_b) ** 2) + np.trace(s_a) + np.trace(s_b) - 2 * np.trace(covmean))
    return max(d2, 0.0)
