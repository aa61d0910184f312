"""Spike-inference metrics of the ENS² and S2S papers.

Definitions (GT = ground truth, PD = prediction; ENS² Equations 4–10):

Spike-rate metrics, on a common grid at ``fs_hz`` (sample ``j`` = bin
centred on ``j / fs_hz``, as the training targets). The GT rate is the GT
spike count per bin smoothed with a unit-sum Gaussian of ``sigma_ms``
(25 ms) times ``fs_hz`` (spikes/s); PD is the predicted rate in spikes/s.
Integrals are Riemann sums ``∫ f dt = Σ f / fs_hz``; frames where either
trace is NaN are left out.

* **Corr** — Pearson correlation of GT and PD rates.
* **Spearman** — rank correlation of GT and PD rates.
* **vRD** — ``sqrt((1/τ) ∫(GT − PD)² dt / ∫ GT² dt)`` with τ = 25 ms given
  in seconds (the paper's normalising factor, equal to the smoothing width),
  so vRD has units of s^-1/2: a prediction of zero everywhere gives
  ``sqrt(1/τ) ≈ 6.32``.
* **Error** — ``∫|PD − GT| dt / ∫ GT dt``; **Bias** — ``∫(PD − GT) dt / ∫ GT dt``.

Spike-event metrics, on spike times in seconds (:mod:`.event_metrics`, whose
names are re-exported here):

* **VPD** — Victor–Purpura distance with cost ``q = 1/s`` for shifts (1 per
  insertion/deletion) divided by the number of GT spikes.
* **ER** — ``1 − F1``; a PD spike is a true positive when it is matched one
  to one with a GT spike at most ``match_window_s`` (50 ms) away.

S2S protocol (spikefinder, 25 Hz = 40 ms bins): GT counts per 40 ms bin and
PD counts per bin (the rate integrated over the bin); **corr_25hz**,
**spearman_25hz**, and **AUC** of the ROC of "bin holds ≥ 1 GT spike"
scored by the PD count (Mann–Whitney form, ties counted half).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, NamedTuple

import numpy as np

from ..errors import InvalidInputError
from ..spiketrains import bin_spikes, gaussian_kernel_ms, rebin_rate, smooth_spike_counts
from .event_metrics import (
    MATCH_WINDOW_S,
    TAU_S,
    VP_COST_PER_S,
    EventMatch,
    match_events,
    van_rossum_distance,
    victor_purpura_distance,
)

__all__ = [
    "MATCH_WINDOW_S",
    "S2S_EVAL_HZ",
    "TAU_S",
    "VP_COST_PER_S",
    "ErrorBias",
    "EventMatch",
    "SpikeMetrics",
    "auc_score",
    "error_and_bias",
    "evaluate_spikes",
    "ground_truth_rate",
    "match_events",
    "pearson",
    "spearman",
    "van_rossum_distance",
    "van_rossum_rate_distance",
    "victor_purpura_distance",
]

#: Evaluation rate of the S2S / spikefinder protocol, Hz.
S2S_EVAL_HZ = 25.0


# ---------------------------------------------------------------- GT rates
def ground_truth_rate(
    spike_times_s: np.ndarray, n_bins: int, fs_hz: float, sigma_ms: float = TAU_S * 1e3
) -> np.ndarray:
    """GT spike rate in spikes/s: binned counts smoothed with a unit-sum Gaussian.

    Parameters
    ----------
    spike_times_s : numpy.ndarray
        GT spike times, seconds from the first frame.
    n_bins : int
        Number of frames.
    fs_hz : float
        Frame rate, Hz.
    sigma_ms : float
        Gaussian standard deviation, ms (25 ms for ENS²).

    Returns
    -------
    numpy.ndarray
        float64 (n_bins,) spikes/s.
    """
    counts = bin_spikes(spike_times_s, n_bins, fs_hz)
    return smooth_spike_counts(counts, gaussian_kernel_ms(sigma_ms, fs_hz)) * fs_hz


# ---------------------------------------------------------------- rate metrics
def _finite_pair(gt: np.ndarray, pd: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    gt = np.asarray(gt, dtype=np.float64).ravel()
    pd = np.asarray(pd, dtype=np.float64).ravel()
    if gt.shape != pd.shape:
        raise InvalidInputError(
            f"ground-truth and predicted rates differ in length: {gt.size} vs {pd.size}."
        )
    ok = np.isfinite(gt) & np.isfinite(pd)
    return gt[ok], pd[ok]


def pearson(gt: np.ndarray, pd: np.ndarray) -> float:
    """Pearson correlation of two traces on the same grid.

    Parameters
    ----------
    gt, pd : numpy.ndarray
        Ground-truth and predicted values of equal length (any units, e.g.
        spikes/s); frames where either is NaN/inf are left out.

    Returns
    -------
    float
        Correlation in [-1, 1]; NaN when either trace is constant or fewer than
        2 frames are finite.
    """
    g, p = _finite_pair(gt, pd)
    if g.size < 2 or g.std() == 0 or p.std() == 0:
        return float("nan")
    return float(np.corrcoef(g, p)[0, 1])


def spearman(gt: np.ndarray, pd: np.ndarray) -> float:
    """Spearman rank correlation of two traces on the same grid.

    Parameters
    ----------
    gt, pd : numpy.ndarray
        Ground-truth and predicted values of equal length (any units); frames
        where either is NaN/inf are left out.

    Returns
    -------
    float
        Rank correlation in [-1, 1]; NaN when either trace is constant or fewer
        than 2 frames are finite.
    """
    from scipy.stats import rankdata

    g, p = _finite_pair(gt, pd)
    if g.size < 2:
        return float("nan")
    return pearson(rankdata(g), rankdata(p))


def van_rossum_rate_distance(
    gt_rate: np.ndarray, pd_rate: np.ndarray, fs_hz: float, tau_s: float = TAU_S
) -> float:
    """ENS² vRD: ``sqrt((1/τ) ∫(GT − PD)² dt / ∫GT² dt)``.

    Parameters
    ----------
    gt_rate, pd_rate : numpy.ndarray
        Ground-truth and predicted rates (spikes/s) at ``fs_hz``; frames where
        either is NaN are left out.
    fs_hz : float
        Frame rate in Hz (``dt = 1 / fs_hz``).
    tau_s : float
        Normalising time τ in s (25 ms for ENS²).

    Returns
    -------
    float
        vRD in s^-1/2 (``sqrt(1/τ)`` for a prediction of zero); NaN when the GT
        rate is zero everywhere.
    """
    g, p = _finite_pair(gt_rate, pd_rate)
    den = np.sum(g**2) / fs_hz
    if den == 0:
        return float("nan")
    return float(np.sqrt(np.sum((g - p) ** 2) / fs_hz / den / tau_s))


class ErrorBias(NamedTuple):
    """ENS² Error and Bias of a predicted rate (unpacks as ``error, bias``).

    Parameters
    ----------
    error : float
        ``∫|PD − GT| dt / ∫GT dt`` (dimensionless, >= 0).
    bias : float
        ``∫(PD − GT) dt / ∫GT dt`` (dimensionless; > 0 = too many spikes).
    """

    error: float
    bias: float


def error_and_bias(gt_rate: np.ndarray, pd_rate: np.ndarray) -> ErrorBias:
    """ENS² Error ``∫|PD − GT| / ∫GT`` and Bias ``∫(PD − GT) / ∫GT`` (dt cancels).

    Parameters
    ----------
    gt_rate, pd_rate : numpy.ndarray
        Ground-truth and predicted rates (spikes/s) on the same grid; frames
        where either is NaN are left out.

    Returns
    -------
    ErrorBias
        Error and Bias (dimensionless), both NaN when the GT rate sums to 0.
        A NamedTuple: ``err, bias = error_and_bias(...)`` works.
    """
    g, p = _finite_pair(gt_rate, pd_rate)
    tot = g.sum()
    if tot == 0:
        return ErrorBias(float("nan"), float("nan"))
    return ErrorBias(float(np.abs(p - g).sum() / tot), float((p - g).sum() / tot))


def auc_score(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve (Mann–Whitney U / (n_pos n_neg), ties half).

    Parameters
    ----------
    labels : numpy.ndarray
        Binary class of each sample (truthy = positive).
    scores : numpy.ndarray
        Score of each sample (any units; higher = more positive); samples with
        a NaN/inf score are left out.

    Returns
    -------
    float
        AUC in [0, 1]; NaN without both classes.
    """
    from scipy.stats import rankdata

    y = np.asarray(labels).astype(bool).ravel()
    s = np.asarray(scores, dtype=np.float64).ravel()
    ok = np.isfinite(s)
    y, s = y[ok], s[ok]
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(s)
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


# ---------------------------------------------------------------- convenience
@dataclass
class SpikeMetrics:
    """All metrics of one neuron (see the module docstring for definitions).

    Parameters
    ----------
    corr, spearman, vrd, error, bias : float
        Spike-rate metrics at ``fs_hz`` (vRD in s^-1/2).
    vpd : float or None
        Victor–Purpura distance per GT spike (None without PD events).
    er : float or None
        1 − F1 with ``match_window_s`` (None without PD events).
    precision, sensitivity : float or None
        Of the event matching.
    corr_25hz, spearman_25hz, auc_25hz : float
        S2S / spikefinder protocol at 25 Hz.
    n_gt_spikes : int
        GT spikes inside the evaluated span.
    n_pd_spikes : int or None
        Predicted events.
    fs_hz : float
        Grid of the rate metrics, Hz.
    """

    corr: float
    spearman: float
    vrd: float
    error: float
    bias: float
    vpd: float | None
    er: float | None
    precision: float | None
    sensitivity: float | None
    corr_25hz: float
    spearman_25hz: float
    auc_25hz: float
    n_gt_spikes: int
    n_pd_spikes: int | None
    fs_hz: float

    def as_dict(self) -> dict[str, Any]:
        """The metrics as a plain dict.

        Returns
        -------
        dict of str to Any
            Field name -> value (units as in the class docstring).
        """
        return asdict(self)


def _prediction(
    result_or_rate: Any, fs_hz: float | None, roi: int, pd_spike_times: np.ndarray | None
) -> tuple[np.ndarray, float, np.ndarray | None]:
    """(rate in spikes/s, its frame rate in Hz, predicted spike times in s or None)."""
    if hasattr(result_or_rate, "rate_hz"):
        rate = np.asarray(result_or_rate.rate_hz[roi], dtype=np.float64)
        if pd_spike_times is None and result_or_rate.events is not None:
            pd_spike_times = result_or_rate.events[roi]
        return rate, float(result_or_rate.fs_hz), pd_spike_times
    rate = np.asarray(result_or_rate, dtype=np.float64).ravel()
    if fs_hz is None or not fs_hz > 0:
        raise InvalidInputError(f"fs_hz must be > 0 for a rate array; got {fs_hz!r}.")
    return rate, float(fs_hz), pd_spike_times


def _rebin_keeping_nans(rate: np.ndarray, fs_hz: float, new_fs_hz: float, n_new: int) -> np.ndarray:
    """Count-preserving re-bin of a rate (spikes/s; NaN counted as 0) to ``n_new`` bins.

    A new bin is NaN where the old frame nearest to its centre was NaN.
    """
    nan = np.isnan(rate)
    new = rebin_rate(np.nan_to_num(rate), fs_hz, new_fs_hz, n_new)
    near = np.clip(np.round(np.arange(n_new) * fs_hz / new_fs_hz).astype(int), 0, rate.size - 1)
    new[nan[near]] = np.nan
    return new


def _gt_in_span(gt_spike_times: np.ndarray, n_frames: int, fs_hz: float) -> np.ndarray:
    """GT spike times (s) inside the frames' span ``[-0.5, n_frames - 0.5) / fs_hz``."""
    gt_t = np.asarray(gt_spike_times, dtype=np.float64).ravel()
    span_end = (n_frames - 0.5) / fs_hz
    return gt_t[(gt_t >= -0.5 / fs_hz) & (gt_t < span_end)]


def _s2s_counts(gt_t: np.ndarray, rate: np.ndarray, fs_hz: float) -> tuple[np.ndarray, np.ndarray]:
    """S2S protocol: (GT spike counts, PD counts = rate integrated) per 40 ms bin."""
    n25 = int(np.floor(rate.size * S2S_EVAL_HZ / fs_hz))
    gt25 = bin_spikes(gt_t, n25, S2S_EVAL_HZ)
    pd25 = _rebin_keeping_nans(rate, fs_hz, S2S_EVAL_HZ, n25) / S2S_EVAL_HZ
    return gt25, pd25


def _event_fields(
    gt_t: np.ndarray,
    pd_spike_times: np.ndarray | None,
    vp_cost_per_s: float,
    match_window_s: float,
) -> dict[str, Any]:
    """The event fields of SpikeMetrics (all None without predicted spike times).

    VPD per GT spike, ER, precision, sensitivity and the number of PD spikes.
    """
    if pd_spike_times is None:
        keys = ("vpd", "er", "precision", "sensitivity", "n_pd_spikes")
        return dict.fromkeys(keys)
    pd_t = np.asarray(pd_spike_times, dtype=np.float64).ravel()
    vpd = (
        victor_purpura_distance(gt_t, pd_t, vp_cost_per_s) / gt_t.size
        if gt_t.size
        else float("nan")
    )
    m = match_events(gt_t, pd_t, match_window_s)
    return {
        "vpd": vpd,
        "er": m.error_rate,
        "precision": m.precision,
        "sensitivity": m.sensitivity,
        "n_pd_spikes": int(pd_t.size),
    }


def evaluate_spikes(
    gt_spike_times: np.ndarray,
    result_or_rate: Any,
    fs_hz: float | None = None,
    pd_spike_times: np.ndarray | None = None,
    roi: int = 0,
    sigma_ms: float = TAU_S * 1e3,
    tau_s: float = TAU_S,
    match_window_s: float = MATCH_WINDOW_S,
    vp_cost_per_s: float = VP_COST_PER_S,
    eval_fs_hz: float | None = None,
) -> SpikeMetrics:
    """Evaluate one neuron's inferred rate (and events) against its GT spike times.

    Parameters
    ----------
    gt_spike_times : numpy.ndarray
        GT spike times, s from the first frame.
    result_or_rate : SpikeInference or numpy.ndarray
        A result (row ``roi`` is used, with its events) or a 1-D rate in
        spikes/s at ``fs_hz``. NaN frames are excluded from the rate
        metrics.
    fs_hz : float, optional
        Frame rate of the rate in Hz (required for arrays).
    pd_spike_times : numpy.ndarray, optional
        Predicted spike times (s); default: the result's events.
    roi : int
        Row of a SpikeInference to evaluate.
    sigma_ms : float
        Smoothing of the GT rate, ms.
    tau_s : float
        vRD normalising time, s.
    match_window_s : float
        ER tolerance, s.
    vp_cost_per_s : float
        Victor–Purpura shift cost, 1/s.
    eval_fs_hz : float, optional
        Re-bin the predicted rate to this grid first (count preserving), e.g.
        60 Hz as in the ENS² benchmark.

    Returns
    -------
    SpikeMetrics
        Rate metrics at ``eval_fs_hz`` (or the rate's own grid), S2S metrics at
        25 Hz, and event metrics when predicted spike times are available.
    """
    rate, fs, pd_spike_times = _prediction(result_or_rate, fs_hz, roi, pd_spike_times)
    if eval_fs_hz is not None and not np.isclose(eval_fs_hz, fs):
        n_new = round(rate.size * eval_fs_hz / fs)
        rate, fs = _rebin_keeping_nans(rate, fs, eval_fs_hz, n_new), float(eval_fs_hz)
    gt_t = _gt_in_span(gt_spike_times, rate.size, fs)
    gt_rate = ground_truth_rate(gt_t, rate.size, fs, sigma_ms)
    err, bias = error_and_bias(gt_rate, rate)
    gt25, pd25 = _s2s_counts(gt_t, rate, fs)
    return SpikeMetrics(
        corr=pearson(gt_rate, rate),
        spearman=spearman(gt_rate, rate),
        vrd=van_rossum_rate_distance(gt_rate, rate, fs, tau_s),
        error=err,
        bias=bias,
        **_event_fields(gt_t, pd_spike_times, vp_cost_per_s, match_window_s),
        corr_25hz=pearson(gt25, pd25),
        spearman_25hz=spearman(gt25, pd25),
        auc_25hz=auc_score(gt25 > 0, pd25),
        n_gt_spikes=int(gt_t.size),
        fs_hz=fs,
    )
