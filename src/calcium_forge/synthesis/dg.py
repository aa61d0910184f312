"""Dichotomized Gaussian (DG) model of correlated binary spike trains.

Macke et al. (2009): a latent multivariate normal ``z ~ N(gamma, Lambda)``
(unit variances) is thresholded at zero, ``s_i = 1[z_i > 0]``. Each neuron's
spike probability per bin is ``mu_i = Phi(gamma_i)`` and each pair's joint
probability is the bivariate normal CDF ``Phi_2(gamma_i, gamma_j; lambda_ij)``,
so fitting inverts ``Phi_2`` for every pair (vectorised bisection on the latent
correlation) and repairs a non positive-definite ``Lambda`` by eigenvalue
clipping (nearest correlation matrix, Higham-style).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special, stats

from ..errors import InvalidInputError

__all__ = [
    "DGModel",
    "bivariate_normal_cdf",
    "fit_dg",
    "nearest_correlation",
]

_EPS_P = 1e-6


def bivariate_normal_cdf(h: np.ndarray, k: np.ndarray, rho: np.ndarray) -> np.ndarray:
    """P(X <= h, Y <= k) for standard bivariate normals with correlation ``rho``.

    Uses Owen's T function (exact, vectorised):
    ``Phi2 = (Phi(h) + Phi(k))/2 - T(h, a_h) - T(k, a_k) - beta``.

    Parameters
    ----------
    h, k : numpy.ndarray
        Upper limits (broadcastable).
    rho : numpy.ndarray
        Correlations in (-1, 1).

    Returns
    -------
    numpy.ndarray
        Joint probabilities.
    """
    h = np.asarray(h, dtype=np.float64)
    k = np.asarray(k, dtype=np.float64)
    rho = np.clip(np.asarray(rho, dtype=np.float64), -0.999999, 0.999999)
    h, k, rho = np.broadcast_arrays(h, k, rho)
    # avoid the removable singularity at h == 0 or k == 0
    h = np.where(np.abs(h) < 1e-10, 1e-10, h)
    k = np.where(np.abs(k) < 1e-10, 1e-10, k)
    s = np.sqrt(1.0 - rho**2)
    a_h = (k - rho * h) / (h * s)
    a_k = (h - rho * k) / (k * s)
    beta = np.where(h * k > 0, 0.0, 0.5)
    return (
        0.5 * special.ndtr(h)
        + 0.5 * special.ndtr(k)
        - special.owens_t(h, a_h)
        - special.owens_t(k, a_k)
        - beta
    )


def nearest_correlation(corr: np.ndarray, min_eig: float = 1e-6) -> np.ndarray:
    """Closest positive-definite correlation matrix (eigenvalue clipping).

    Parameters
    ----------
    corr : numpy.ndarray
        Symmetric (N, N) matrix with unit diagonal, possibly indefinite.
    min_eig : float
        Smallest eigenvalue kept.

    Returns
    -------
    numpy.ndarray
        Positive-definite (N, N) correlation matrix.
    """
    c = 0.5 * (corr + corr.T)
    for _ in range(100):
        w, v = np.linalg.eigh(c)
        if w.min() >= min_eig:
            break
        c = (v * np.maximum(w, min_eig)) @ v.T
        d = np.sqrt(np.diag(c))
        c = c / np.outer(d, d)
        c = 0.5 * (c + c.T)
    np.fill_diagonal(c, 1.0)
    return c


@dataclass
class DGModel:
    """A fitted dichotomized Gaussian.

    Parameters
    ----------
    mean : numpy.ndarray
        Target spike probability per bin, per neuron (N,).
    gamma : numpy.ndarray
        Latent Gaussian means (N,), ``Phi(gamma) = mean``.
    latent_corr : numpy.ndarray
        Latent correlation matrix (N, N), positive definite.
    bin_s : float or None
        Bin width in seconds the probabilities refer to (for rates in Hz).
    """

    mean: np.ndarray
    gamma: np.ndarray
    latent_corr: np.ndarray
    bin_s: float | None = None

    @property
    def n_neurons(self) -> int:
        """Number of neurons."""
        return int(self.mean.shape[0])

    @property
    def rates_hz(self) -> np.ndarray:
        """Mean firing rates in spikes/s (needs ``bin_s``)."""
        if self.bin_s is None:
            raise InvalidInputError("DGModel.bin_s is None: rates in Hz need the bin width (s).")
        return self.mean / self.bin_s

    def covariance(self) -> np.ndarray:
        """Spike covariance (N, N) implied by the latent model."""
        n = self.n_neurons
        gi, gj = np.meshgrid(self.gamma, self.gamma, indexing="ij")
        p11 = bivariate_normal_cdf(gi, gj, self.latent_corr)
        cov = p11 - np.outer(self.mean, self.mean)
        cov[np.diag_indices(n)] = self.mean * (1 - self.mean)
        return cov

    def sample(self, n_bins: int, seed: int | None = 0) -> np.ndarray:
        """Draw correlated binary spike patterns.

        Parameters
        ----------
        n_bins : int
            Number of time bins.
        seed : int or None
            Random seed.

        Returns
        -------
        numpy.ndarray
            bool (n_bins, N), True = spike in that bin.
        """
        rng = np.random.default_rng(seed)
        chol = np.linalg.cholesky(self.latent_corr)
        z = rng.standard_normal((int(n_bins), self.n_neurons)) @ chol.T
        return (z + self.gamma) > 0


def fit_dg(
    spikes: np.ndarray | None = None,
    *,
    mean: np.ndarray | None = None,
    cov: np.ndarray | None = None,
    bin_s: float | None = None,
    n_iter: int = 60,
) -> DGModel:
    """Fit a dichotomized Gaussian to binary spikes or to target moments.

    Parameters
    ----------
    spikes : numpy.ndarray, optional
        (n_bins, N) spike matrix; counts > 0 are treated as one spike.
    mean, cov : numpy.ndarray, optional
        Target spike probabilities per bin (N,) and covariance (N, N), used
        instead of ``spikes``.
    bin_s : float, optional
        Bin width in seconds (stored for rates in Hz).
    n_iter : int
        Bisection iterations per pair (60 gives ~1e-18 precision on rho).

    Returns
    -------
    DGModel
    """
    if spikes is not None:
        s = np.asarray(spikes)
        if s.ndim != 2:
            raise InvalidInputError(
                f"fit_dg: spikes must be 2-D (n_bins, n_neurons); got shape {s.shape}."
            )
        s = (s > 0).astype(np.float64)
        mean = s.mean(axis=0)
        cov = np.cov(s, rowvar=False, bias=True)
        cov = np.atleast_2d(cov)
    if mean is None or cov is None:
        raise InvalidInputError("fit_dg: pass either spikes or both mean= and cov=.")
    mean = np.clip(np.asarray(mean, dtype=np.float64), _EPS_P, 1 - _EPS_P)
    cov = np.asarray(cov, dtype=np.float64)
    n = mean.shape[0]
    if cov.shape != (n, n):
        raise InvalidInputError(f"fit_dg: cov must be ({n}, {n}); got {cov.shape}.")
    gamma = stats.norm.ppf(mean)
    iu = np.triu_indices(n, 1)
    gi, gj = gamma[iu[0]], gamma[iu[1]]
    target = cov[iu] + mean[iu[0]] * mean[iu[1]]
    # the achievable joint probability range for these marginals
    lo_p = bivariate_normal_cdf(gi, gj, -0.999999)
    hi_p = bivariate_normal_cdf(gi, gj, 0.999999)
    target = np.clip(target, lo_p, hi_p)
    lo = np.full(target.shape, -0.999999)
    hi = np.full(target.shape, 0.999999)
    for _ in range(n_iter):  # Phi2 is increasing in rho
        mid = 0.5 * (lo + hi)
        f = bivariate_normal_cdf(gi, gj, mid)
        below = f < target
        lo = np.where(below, mid, lo)
        hi = np.where(below, hi, mid)
    rho = 0.5 * (lo + hi)
    lam = np.eye(n)
    lam[iu] = rho
    lam[(iu[1], iu[0])] = rho
    lam = nearest_correlation(lam)
    return DGModel(mean=mean, gamma=gamma, latent_corr=lam, bin_s=bin_s)
