"""Synthetic paired traces for the training tests (Poisson spikes through a calcium kernel)."""

from __future__ import annotations

import numpy as np

from calcium_forge.inference.training.data import PairedData, PairedTrace
from calcium_forge.signal import noise_level as _noise_levels
from calcium_forge.spiketrains import gaussian_kernel_ms, smooth_spike_counts


def noise_level(x, fs):
    """Cascade noise level ν of one trace as a float."""
    return float(_noise_levels(x, fs))


def synthetic_paired(n_neurons=6, seconds=120.0, fs=60.0, seed=0, nan_stretch=False):
    """Poisson spikes → exponential calcium kernel (τ = 0.4 s) + noise, as paired traces."""
    rng = np.random.default_rng(seed)
    k = gaussian_kernel_ms(25.0, fs)
    n = int(seconds * fs)
    tau = np.exp(-np.arange(int(3 * fs)) / (0.4 * fs))
    traces = []
    for i in range(n_neurons):
        counts = rng.poisson(1.5 / fs, size=n).astype(float)
        dff = np.convolve(counts, 0.5 * tau)[:n] + 0.02 * rng.standard_normal(n)
        if nan_stretch and i == 0:
            dff[1000:1100] = np.nan
        spikes = np.repeat(np.arange(n), counts.astype(int)) / fs
        traces.append(
            PairedTrace(
                dff=dff.astype(np.float32),
                target=smooth_spike_counts(counts, k).astype(np.float32),
                counts=counts.astype(np.float32),
                spike_times_s=spikes,
                fs_hz=fs,
                native_fs_hz=fs,
                noise_level=noise_level(dff, fs),
                dataset=f"DS9{i % 2}-synthetic",
                neuron=f"DS9{i % 2}-synthetic/cell{i}",
            )
        )
    return PairedData(traces, fs, k, {"kind": "gaussian", "sigma_ms": 25.0})
