"""Deprecated: spike-model training now lives in :mod:`calcium_forge.inference.training`.

``from calcium_forge.inference.train import train`` keeps working and warns;
import from ``calcium_forge.inference.training`` instead. ``TrainConfig`` and
``TrainResult`` are the old names of :class:`~calcium_forge.inference.training.SpikeTrainConfig`
and :class:`~calcium_forge.inference.training.SpikeTrainResult`.
"""

from __future__ import annotations

import warnings

from .engine import predict_trace
from .training import (
    LR_SCHEDULES,
    METHOD_DEFAULTS,
    default_config,
    iter_train,
    load_training_data,
    paired_from_recordings,
    train,
)
from .training import SpikeTrainConfig as TrainConfig
from .training import SpikeTrainResult as TrainResult

__all__ = [
    "LR_SCHEDULES",
    "METHOD_DEFAULTS",
    "TrainConfig",
    "TrainResult",
    "default_config",
    "iter_train",
    "load_training_data",
    "paired_from_recordings",
    "predict_trace",
    "train",
]

warnings.warn(
    "calcium_forge.inference.train is deprecated; import from calcium_forge.inference.training "
    "instead (TrainConfig is SpikeTrainConfig, TrainResult is SpikeTrainResult)",
    DeprecationWarning,
    stacklevel=2,
)
