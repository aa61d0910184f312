"""Deprecated: paired training data now live in :mod:`calcium_forge.inference.training.data`.

``from calcium_forge.inference.data import load_ground_truth`` keeps working and
warns; import from ``calcium_forge.inference.training.data`` instead (window
sampling, the neuron split and added noise are in
``calcium_forge.inference.training.sampling``; binning, kernels and smoothing
in ``calcium_forge.spiketrains``; the noise level in ``calcium_forge.signal``).
"""

from __future__ import annotations

import warnings

from ..signal import noise_level
from ..spiketrains import bin_spikes, gaussian_kernel_ms, smooth_spike_counts
from ..spiketrains import gaussian_window as gaussian_kernel_samples
from .training.data import (
    INHIBITORY_DATASETS,
    PairedData,
    PairedTrace,
    dataset_folders,
    indicator_of,
    load_ground_truth,
    load_training_data,
    paired_from_recordings,
)
from .training.sampling import MAD_TO_STD, WindowSampler, added_noise_std, split_by_neuron

__all__ = [
    "INHIBITORY_DATASETS",
    "MAD_TO_STD",
    "PairedData",
    "PairedTrace",
    "WindowSampler",
    "added_noise_std",
    "bin_spikes",
    "dataset_folders",
    "gaussian_kernel_ms",
    "gaussian_kernel_samples",
    "indicator_of",
    "load_ground_truth",
    "load_training_data",
    "noise_level",
    "paired_from_recordings",
    "smooth_spike_counts",
    "split_by_neuron",
]

warnings.warn(
    "calcium_forge.inference.data is deprecated; import from "
    "calcium_forge.inference.training.data (and .training.sampling) instead",
    DeprecationWarning,
    stacklevel=2,
)
