"""Distances between a compared set of windows and the reference (the synthetic report's scores).

Used by :func:`~.synthetic.evaluate_synthetic` for the synthetic set and for
the real-vs-real floor alike: pooled and per-neuron KLs of the spike-train
statistics (:mod:`.population`), the Fréchet distance of window features and
the log-spectral distance of the mean spectra, and the co-firing distances of
:mod:`.cofiring`, flattened into one dict by :func:`distance_scores`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .cofiring import CoFiring, cofiring_scores
from .distances import frechet_distance, kl_divergence
from .population import PopulationStats, power_spectrum, window_features

__all__ = ["compare", "distance_scores"]


def _kl_fields(real_s: PopulationStats, syn_s: PopulationStats, n_bins: int) -> dict[str, Any]:
    """Pooled and per-neuron KLs (nats): the ``kl_*`` fields of a SynthesisReport."""
    n = real_s.rates_hz.shape[1]
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
    return {
        "kl_rate": kl_divergence(real_s.rates_hz, syn_s.rates_hz, n_bins),
        "kl_corr": kl_divergence(real_s.corr, syn_s.corr, n_bins),
        "kl_vrd": kl_divergence(real_s.vrd, syn_s.vrd, n_bins),
        "kl_rate_per_neuron": kl_rate_n,
        "kl_vrd_per_neuron": kl_vrd_n,
    }


def _feature_frechet(real_f: np.ndarray, syn_f: np.ndarray, k: int) -> float:
    """Fréchet distance of features standardised by, and projected on the first k PCs of, real."""
    mu, sd = real_f.mean(0), real_f.std(0) + 1e-9
    a, b = (real_f - mu) / sd, (syn_f - mu) / sd
    k = max(1, min(k, a.shape[1], len(a) - 1))
    _, _, vt = np.linalg.svd(a - a.mean(0), full_matrices=False)
    return frechet_distance(a @ vt[:k].T, b @ vt[:k].T)


def _trace_fields(
    real_w: np.ndarray, syn_w: np.ndarray, fs_hz: float, frechet_components: int
) -> dict[str, Any]:
    """Fréchet distance of window features and mean spectra with their distance (dB)."""
    frechet = _feature_frechet(
        window_features(real_w, fs_hz), window_features(syn_w, fs_hz), frechet_components
    )
    f, p_real = power_spectrum(real_w, fs_hz)
    _, p_syn = power_spectrum(syn_w, fs_hz)
    lsd = float(np.sqrt(np.mean((10 * np.log10((p_syn[1:] + 1e-20) / (p_real[1:] + 1e-20))) ** 2)))
    return {
        "frechet": frechet,
        "log_spectral_distance_db": lsd,
        "freqs_hz": f,
        "psd_real": p_real,
        "psd_synthetic": p_syn,
    }


def distance_scores(
    kl: dict[str, Any], trace: dict[str, Any], real_cf: CoFiring, other_cf: CoFiring, n_bins: int
) -> dict[str, float]:
    """Every distance of a compared set to the reference, flat (0 = identical).

    Parameters
    ----------
    kl : dict
        Output of the KL step (``kl_rate``, ``kl_corr``, ``kl_vrd`` and per-neuron arrays).
    trace : dict
        Output of the trace step (``frechet``, ``log_spectral_distance_db``).
    real_cf, other_cf : CoFiring
        Co-firing statistics of the reference and the compared set.
    n_bins : int
        KL bins.

    Returns
    -------
    dict of str to float
        KLs (nats), Fréchet distance, log-spectral distance (dB) and the
        :func:`~.cofiring.cofiring_scores`.
    """
    return {
        "kl_rate": kl["kl_rate"],
        "kl_rate_per_neuron_mean": float(np.nanmean(kl["kl_rate_per_neuron"])),
        "kl_rate_per_neuron_max": float(np.nanmax(kl["kl_rate_per_neuron"])),
        "kl_corr_spikes": kl["kl_corr"],
        "kl_vrd": kl["kl_vrd"],
        "kl_vrd_per_neuron_mean": float(np.nanmean(kl["kl_vrd_per_neuron"])),
        "frechet": trace["frechet"],
        "log_spectral_distance_db": trace["log_spectral_distance_db"],
        **cofiring_scores(real_cf, other_cf, n_bins),
    }


def compare(
    real: tuple[np.ndarray, PopulationStats, CoFiring],
    other: tuple[np.ndarray, PopulationStats, CoFiring],
    fs_hz: float,
    n_bins: int,
    frechet_components: int,
) -> tuple[dict[str, Any], dict[str, Any], dict[str, float]]:
    """KL fields, trace fields and flat distances of ``other`` against ``real``.

    Parameters
    ----------
    real, other : tuple
        (windows (M, T, N), PopulationStats, CoFiring) of the reference and
        the compared set.
    fs_hz : float
        Frame rate in Hz.
    n_bins : int
        KL bins.
    frechet_components : int
        Principal components of the Fréchet distance.

    Returns
    -------
    tuple of dict
        The ``kl_*`` fields and the trace fields of a SynthesisReport, and
        :func:`distance_scores`.
    """
    kl = _kl_fields(real[1], other[1], n_bins)
    trace = _trace_fields(real[0], other[0], fs_hz, frechet_components)
    return kl, trace, distance_scores(kl, trace, real[2], other[2], n_bins)
