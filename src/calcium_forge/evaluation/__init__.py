"""Evaluation: spike-inference metrics (:mod:`.spikes`), population statistics of
synthetic data (:mod:`.population`) and distribution distances (:mod:`.distances`).

Only :mod:`.spikes` is imported here (numpy/scipy only); import the other
modules explicitly.
"""

from __future__ import annotations

from .spikes import (
    EventMatch,
    SpikeMetrics,
    auc_score,
    evaluate_spikes,
    ground_truth_rate,
    match_events,
    van_rossum_distance,
    victor_purpura_distance,
)

__all__ = [
    "EventMatch",
    "SpikeMetrics",
    "auc_score",
    "evaluate_spikes",
    "ground_truth_rate",
    "match_events",
    "van_rossum_distance",
    "victor_purpura_distance",
]
