"""Neuron split, window sampling and added noise (inference.training.sampling)."""

from __future__ import annotations

import numpy as np
import pytest
from _training_helpers import noise_level, synthetic_paired

from calcium_forge.errors import InvalidInputError
from calcium_forge.inference.training.sampling import (
    WindowSampler,
    added_noise_std,
    split_by_neuron,
)


def test_added_noise_reaches_the_requested_noise_level(rng):
    fs = 60.0
    std = added_noise_std(8.0, 0.0, fs)
    noise = rng.standard_normal(400_000) * std
    assert noise_level(noise, fs) == pytest.approx(8.0, rel=0.02)
    # noise adds in variance: from ν = 6 to ν = 10 needs ν_add = 8
    assert added_noise_std(10.0, 6.0, fs) == pytest.approx(std)
    assert added_noise_std(3.0, 5.0, fs) == 0.0  # already noisier: nothing added


def test_window_sampler_skips_nan_and_returns_contiguous_windows(rng):
    data = synthetic_paired(n_neurons=2, seconds=40.0, nan_stretch=True)
    s = WindowSampler(data.traces, 96)
    n = data.traces[0].dff.size
    assert s.n_windows == (n - 96 + 1) * 2 - (100 + 95)
    x, y, nu = s.sample(5000, rng)
    assert x.shape == y.shape == (5000, 96) and np.isfinite(x).all()
    assert set(np.unique(nu)) <= {t.noise_level for t in data.traces}
    start, _ = s.starts(np.arange(s.n_windows))
    assert len(np.unique(start)) == s.n_windows
    i = int(start[123])
    np.testing.assert_array_equal(s.windows(np.array([123]))[0][0], s.x[i : i + 96])
    with pytest.raises(InvalidInputError, match="NaN-free"):
        WindowSampler(data.traces, 10**6)


def test_validation_split_is_by_neuron():
    data = synthetic_paired(n_neurons=8, seconds=10.0)
    tr, va = split_by_neuron(data, 0.25, seed=1)
    assert set(tr).isdisjoint(va) and sorted(tr + va) == data.neurons
    assert {v.split("/")[0] for v in va} == {"DS90-synthetic", "DS91-synthetic"}
