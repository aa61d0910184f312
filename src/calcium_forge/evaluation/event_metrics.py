"""Spike-event metrics on spike times in seconds (ENS² VPD and ER; van Rossum).

* **VPD** — Victor–Purpura distance with cost ``q = 1/s`` for shifts (1 per
  insertion/deletion); :func:`~.spikes.evaluate_spikes` divides it by the
  number of GT spikes.
* **ER** — ``1 − F1``; a PD spike is a true positive when it is matched one
  to one with a GT spike at most ``match_window_s`` (50 ms) away. The
  matching maximises the number of pairs (greedy in time order, which is
  optimal for a tolerance on a line).

:func:`van_rossum_distance` (exponential kernel, elephant's normalisation)
and :func:`victor_purpura_distance` agree with
``elephant.spike_train_dissimilarity``. Rate metrics and the per-neuron
evaluation are :mod:`.spikes` (which re-exports these names).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "MATCH_WINDOW_S",
    "TAU_S",
    "VP_COST_PER_S",
    "EventMatch",
    "match_events",
    "van_rossum_distance",
    "victor_purpura_distance",
]

#: ENS² time constant, seconds: the van Rossum kernel here, and in :mod:`.spikes` the
#: smoothing of the GT rate and the vRD normalising time.
TAU_S = 0.025
#: ER match tolerance, seconds.
MATCH_WINDOW_S = 0.05
#: Victor–Purpura shift cost, 1/s.
VP_COST_PER_S = 1.0


def victor_purpura_distance(
    a_s: np.ndarray, b_s: np.ndarray, cost_per_s: float = VP_COST_PER_S
) -> float:
    """Victor–Purpura distance between two spike trains (times in s).

    Insert/delete cost 1, shifting by Δt costs ``cost_per_s * |Δt|``.

    Dynamic programme over ``D[i, j]`` (first ``i`` spikes of ``a`` against the
    first ``j`` of ``b``), restricted to a band: a shift of ``|Δt| ≥
    2 / cost_per_s`` costs at least a deletion plus an insertion, so spike
    ``a_i`` only ever pairs with the ``b`` spikes closer than that. With
    ``F[i, j] = D[i, j] − i − j`` (non-increasing in ``j``), a row only changes
    inside its band, ``F[i, j] = min(F[i−1, j], min_{k ≤ j in band}(F[i−1, k−1]
    + cost·|a_i − b_k| − 2))``, and every column right of the band holds one
    common value. Cost O(n · spikes within reach) instead of O(n · m); equal to
    the full programme (``tests/evaluation/test_event_metrics.py``).

    Parameters
    ----------
    a_s, b_s : numpy.ndarray
        Spike times of the two trains, in s (any order).
    cost_per_s : float
        Cost per second of shifting a spike (q, in 1/s); <= 0 makes shifts free.

    Returns
    -------
    float
        The distance (dimensionless cost, >= 0; ``len(a) + len(b)`` when one
        train is empty).
    """
    a = np.sort(np.asarray(a_s, dtype=np.float64).ravel())
    b = np.sort(np.asarray(b_s, dtype=np.float64).ravel())
    n, m = a.size, b.size
    if n == 0 or m == 0:
        return float(n + m)
    if cost_per_s <= 0:
        return float(abs(n - m))  # shifts are free: only the count difference costs
    reach = 2.0 / cost_per_s
    lo = np.searchsorted(b, a - reach, side="right") + 1  # first column (1-based) in reach
    hi = np.searchsorted(b, a + reach, side="left")  # last column in reach
    f = np.zeros(m + 1)  # F[i, j] for j <= top
    top = 0
    beyond = 0.0  # F[i, j] for every j > top
    for i in range(n):
        lo_i, hi_i = int(lo[i]), int(hi[i])
        if hi_i < lo_i:
            continue  # no b spike within reach: F does not change
        if hi_i > top:
            f[top + 1 : hi_i + 1] = beyond
            top = hi_i
        shift = cost_per_s * np.abs(a[i] - b[lo_i - 1 : hi_i]) - 2.0
        best = np.minimum.accumulate(f[lo_i - 1 : hi_i] + shift)
        f[lo_i : hi_i + 1] = np.minimum(f[lo_i : hi_i + 1], best)
        beyond = min(beyond, float(best[-1]))
    return float((f[m] if m <= top else beyond) + n + m)


def van_rossum_distance(a_s: np.ndarray, b_s: np.ndarray, tau_s: float = TAU_S) -> float:
    """Van Rossum distance between spike trains (exponential kernel, elephant's scale).

    ``D² = Σ_ij e^{-|a_i-a_j|/τ} + Σ_ij e^{-|b_i-b_j|/τ} - 2 Σ_ij e^{-|a_i-b_j|/τ}``,
    i.e. ``(2/τ) ∫ (f - g)² dt`` for the trains filtered with
    ``e^{-t/τ}``; one spike against none gives 1.

    Parameters
    ----------
    a_s, b_s : numpy.ndarray
        Spike times of the two trains, in s.
    tau_s : float
        Kernel time constant τ in s.

    Returns
    -------
    float
        The distance (dimensionless, >= 0).
    """

    def cross(x: np.ndarray, y: np.ndarray) -> float:
        total = 0.0
        for s in range(0, x.size, 2048):
            total += float(np.exp(-np.abs(x[s : s + 2048, None] - y[None, :]) / tau_s).sum())
        return total

    a = np.asarray(a_s, dtype=np.float64).ravel()
    b = np.asarray(b_s, dtype=np.float64).ravel()
    d2 = cross(a, a) + cross(b, b) - 2.0 * cross(a, b)
    return float(np.sqrt(max(d2, 0.0)))


@dataclass
class EventMatch:
    """One-to-one matching of predicted to GT spikes within a tolerance.

    Parameters
    ----------
    true_positives, false_positives, false_negatives : int
        Matched PD spikes, unmatched PD spikes, unmatched GT spikes.
    precision, sensitivity, f1, error_rate : float
        Derived scores, fractions in [0, 1] (ER = 1 − F1); NaN where undefined.
    """

    true_positives: int
    false_positives: int
    false_negatives: int
    precision: float
    sensitivity: float
    f1: float
    error_rate: float


def match_events(
    gt_s: np.ndarray, pd_s: np.ndarray, window_s: float = MATCH_WINDOW_S
) -> EventMatch:
    """Match PD to GT spikes one to one with ``|t_pd − t_gt| ≤ window_s``; ER = 1 − F1.

    Parameters
    ----------
    gt_s, pd_s : numpy.ndarray
        Ground-truth and predicted spike times in s (any order).
    window_s : float
        Match tolerance in s.

    Returns
    -------
    EventMatch
        Counts of matched/unmatched spikes, precision, sensitivity, F1 and ER.
    """
    g = np.sort(np.asarray(gt_s, dtype=np.float64).ravel())
    p = np.sort(np.asarray(pd_s, dtype=np.float64).ravel())
    i = k = tp = 0
    eps = 1e-9
    while i < g.size and k < p.size:
        d = p[k] - g[i]
        if abs(d) <= window_s + eps:
            tp += 1
            i += 1
            k += 1
        elif d < 0:
            k += 1
        else:
            i += 1
    fp, fn = p.size - tp, g.size - tp
    prec = tp / p.size if p.size else float("nan")
    sens = tp / g.size if g.size else float("nan")
    if tp == 0:
        f1 = 0.0 if (p.size or g.size) else float("nan")
    else:
        f1 = 2 * prec * sens / (prec + sens)
    return EventMatch(tp, fp, fn, prec, sens, f1, 1.0 - f1)
