"""Deprecated: ROI trace extraction now lives in :mod:`calcium_forge.io.extraction`.

``from calcium_forge.extraction import extract_traces`` keeps working and warns;
import from ``calcium_forge.io.extraction`` (or ``calcium_forge.io``) instead.
"""

from __future__ import annotations

import warnings

from .io.extraction import *  # noqa: F403
from .io.extraction import __all__  # noqa: F401

warnings.warn(
    "calcium_forge.extraction is deprecated; import from calcium_forge.io.extraction instead",
    DeprecationWarning,
    stacklevel=2,
)
