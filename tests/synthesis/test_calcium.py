"""Calcium forward model: AR(1)/AR(2) kernels, saturation, noise, DG dataset."""

from __future__ import annotations

import numpy as np
import pytest

from calcium_forge.synthesis.calcium import (
    CalciumModel,
    decay_s_from_g,
    g_from_decay_s,
    make_dg_dataset,
    spikes_to_calcium,
)


def test_ar1_impulse_response_is_geometric_with_paper_g():
    s = np.zeros(50)
    s[5] = 1
    y = spikes_to_calcium(s, 24.0, CalciumModel(noise_sigma=0), noise=False)
    assert y[:5].max() == 0
    np.testing.assert_allclose(y[5:15], 0.95 ** np.arange(10), rtol=1e-4)  # g = 0.95 at 24 Hz


def test_kinetics_are_sampling_rate_aware():
    assert g_from_decay_s(decay_s_from_g(0.95, 24.0), 24.0) == pytest.approx(0.95)
    m = CalciumModel(noise_sigma=0)
    for fs in (24.0, 60.0):
        s = np.zeros(int(fs * 5))
        s[0] = 1
        y = spikes_to_calcium(s, fs, m, noise=False)
        t_half = np.argmax(y < 0.5) / fs
        assert t_half == pytest.approx(m.decay_s * np.log(2), abs=1.5 / fs)


def test_ar2_has_a_rise_and_unit_peak():
    s = np.zeros(200)
    s[10] = 1
    fs = 30.0
    y1 = spikes_to_calcium(s, fs, CalciumModel(noise_sigma=0), noise=False)
    y2 = spikes_to_calcium(s, fs, CalciumModel(rise_s=0.1, noise_sigma=0), noise=False)
    assert np.argmax(y1) == 10
    assert np.argmax(y2) > 11
    assert y2.max() == pytest.approx(1.0, rel=1e-3)


def test_saturation_is_sublinear_for_bursts():
    fs = 30.0
    one = np.zeros(100)
    one[10] = 1
    burst = np.zeros(100)
    burst[10] = 10
    lin = CalciumModel(noise_sigma=0)
    sat = CalciumModel(noise_sigma=0, saturation_kd=3.0, hill_n=1.0)
    y1 = spikes_to_calcium(one, fs, sat, noise=False)
    yb = spikes_to_calcium(burst, fs, sat, noise=False)
    assert y1.max() == pytest.approx(1.0, rel=1e-4)  # one spike keeps its amplitude
    assert yb.max() < 0.5 * spikes_to_calcium(burst, fs, lin, noise=False).max()


def test_noise_level_and_seed():
    s = np.zeros((3, 20000))
    m = CalciumModel(noise_sigma=0.3, baseline=2.0)
    a = spikes_to_calcium(s, 24.0, m, seed=1)
    b = spikes_to_calcium(s, 24.0, m, seed=1)
    np.testing.assert_array_equal(a, b)
    assert a.std() == pytest.approx(0.3, rel=0.02)
    assert a.mean() == pytest.approx(2.0, abs=0.01)


def test_make_dg_dataset_has_ground_truth_spikes():
    rec = make_dg_dataset(8, 120.0, 24.0, rates_hz=(0.5, 2.0), seed=3)
    assert rec.traces.shape == (8, 2880) and rec.fs_hz == 24.0
    assert len(rec.spike_times) == 8
    rates = np.array([len(s) for s in rec.spike_times]) / rec.duration_s
    target = np.array(rec.meta["dg"]["rates_hz"])
    assert np.all(np.abs(rates - target) < 4 * np.sqrt(target / rec.duration_s) + 0.05)
    # the traces are the forward model of those spikes
    counts = np.zeros((8, rec.n_frames))
    for i, st in enumerate(rec.spike_times):
        counts[i, np.round(st * 24.0).astype(int)] = 1
    clean = spikes_to_calcium(counts, 24.0, CalciumModel(), noise=False)
    assert np.std(rec.traces - clean) == pytest.approx(0.3, rel=0.05)
    rec2 = make_dg_dataset(8, 120.0, 24.0, rates_hz=(0.5, 2.0), seed=3)
    np.testing.assert_array_equal(rec.traces, rec2.traces)
