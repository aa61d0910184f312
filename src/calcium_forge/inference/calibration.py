"""Deprecated: event-gain calibration moved to :mod:`calcium_forge.inference.training.calibration`.

``from calcium_forge.inference.calibration import calibrate_event_gain`` keeps
working and warns; import from ``calcium_forge.inference.training.calibration``
instead.
"""

from __future__ import annotations

import warnings

from .training.calibration import (
    DEFAULT_GAINS,
    EventCalibration,
    calibrate_event_gain,
    calibrate_on_traces,
    calibrate_saved_model,
)

__all__ = [
    "DEFAULT_GAINS",
    "EventCalibration",
    "calibrate_event_gain",
    "calibrate_on_traces",
    "calibrate_saved_model",
]

warnings.warn(
    "calcium_forge.inference.calibration is deprecated; import from "
    "calcium_forge.inference.training.calibration instead",
    DeprecationWarning,
    stacklevel=2,
)
