"""Spike inference for one recording larger than RAM, ROI block by ROI block.

The engine and its blocking, progress-bar front end live in
:mod:`calcium_forge.inference.streamed`; this module re-exports them beside
:func:`batch_infer`.
"""

from __future__ import annotations

from ..inference.streamed import (
    StreamedInference,
    infer_spikes_streamed,
    iter_infer_spikes_streamed,
)

__all__ = ["StreamedInference", "infer_spikes_streamed", "iter_infer_spikes_streamed"]
