"""Training spike-inference networks (ENS², S2S) on paired ground truth.

Rooms: :mod:`.config` (settings and results), :mod:`.data` (paired traces and
window sampling), :mod:`.losses`, :mod:`.loop` (the training generator) and
:mod:`.calibration` (the spike-event gain). This package sits above
:mod:`calcium_forge.evaluation`: validation uses its metrics.
"""

from .config import (
    LR_SCHEDULES,
    METHOD_DEFAULTS,
    SpikeTrainConfig,
    SpikeTrainResult,
    default_config,
)
from .data import load_training_data, paired_from_recordings
from .loop import iter_train, train

__all__ = [
    "LR_SCHEDULES",
    "METHOD_DEFAULTS",
    "SpikeTrainConfig",
    "SpikeTrainResult",
    "default_config",
    "iter_train",
    "load_training_data",
    "paired_from_recordings",
    "train",
]
