"""Spike inference: ENS², S2S and OASIS, from dF/F to spike rates and events.

>>> from calcium_forge.inference import infer_spikes            # doctest: +SKIP
>>> result = infer_spikes(dff, fs_hz=30.0, method="ens2")       # doctest: +SKIP

Importing this package does not import torch; the networks load on first use.
"""

from __future__ import annotations

from ..results import SpikeInference
from .api import infer_spikes, iter_infer_spikes
from .registry import load_model

__all__ = ["SpikeInference", "infer_spikes", "iter_infer_spikes", "load_model"]
