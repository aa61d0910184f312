"""The memorisation check of a generative model: are its windows copies of training data?

For a window x, ``r(x) = d(x, training) / d(x, reference)`` with d the RMS
distance (in units of each neuron's training standard deviation) to the
nearest window of a set. Synthetic windows are compared with held-out real
windows (never trained on); other held-out real windows give the calibration.
A score near 1 means synthetic windows are as novel as unseen real data; a
score well below 1 (or a high ``copy_fraction``) means the model reproduces
training windows. Used by :func:`~.synthetic.evaluate_synthetic`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InvalidInputError

__all__ = ["Memorisation", "memorisation"]


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
        median r(synthetic) / median r(held-out A) (dimensionless): ~1 = as
        novel as unseen real windows, << 1 = copies.
    copy_fraction : float
        Fraction (0–1) of synthetic windows with r below the 5th percentile of
        the held-out r (~0.05 expected without copying).
    synthetic_ratio : numpy.ndarray
        r for each synthetic window (dimensionless).
    held_out_ratio : numpy.ndarray
        r for each held-out window of A (dimensionless).
    synthetic_nn : numpy.ndarray
        RMS distance of each synthetic window to its nearest training window,
        in training standard deviations.
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
    standard deviation in the training windows. ``held_out`` is split
    alternately into A (calibration) and B (reference set).

    Parameters
    ----------
    synthetic : numpy.ndarray
        (M_s, T, N) synthetic windows (trace units).
    training : numpy.ndarray
        (M_t, T, N) the model's training windows (trace units).
    held_out : numpy.ndarray
        (M_h, T, N) real windows never trained on; M_h >= 4.

    Returns
    -------
    Memorisation
        Score, copy fraction and the per-window ratios.
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
