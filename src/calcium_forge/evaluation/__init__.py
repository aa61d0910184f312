"""Evaluation: spike-inference metrics (:mod:`.spikes`, with the spike-event
metrics in :mod:`.event_metrics`), tuning indices (:mod:`.tuning`),
distribution distances (:mod:`.distances`), population statistics of spike
trains and windows (:mod:`.population`), and the synthetic-vs-real report
(:mod:`.synthetic`, with the memorisation check in :mod:`.novelty` and the
figures in :mod:`.figures`).

:mod:`.spikes` and :mod:`.synthetic` are imported here (numpy/scipy only;
OASIS, elephant and matplotlib are imported inside functions); import the
other modules explicitly.
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
from .synthetic import SynthesisReport, evaluate_synthetic

__all__ = [
    "EventMatch",
    "SpikeMetrics",
    "SynthesisReport",
    "auc_score",
    "evaluate_spikes",
    "evaluate_synthetic",
    "ground_truth_rate",
    "match_events",
    "van_rossum_distance",
    "victor_purpura_distance",
]
