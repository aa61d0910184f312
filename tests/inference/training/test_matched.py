"""Noise- and rate-matched training windows: target ν reached, noisy recordings skipped,
datasets balanced, spikes kept through resampling."""

from __future__ import annotations

import numpy as np
import pytest

from calcium_forge.inference.training.data import PairedTrace, load_ground_truth
from calcium_forge.inference.training.matched import (
    MatchedWindowSampler,
    calibrate_noise,
    degrade,
    shot_noise_profile,
)
from calcium_forge.signal import noise_level
from calcium_forge.spiketrains import bin_spikes, gaussian_kernel_ms, smooth_spike_counts


def _synthetic_trace(rng, fs, seconds, nu_base, dataset, rate_hz=1.0, amp=0.3, decay_s=0.6):
    """GCaMP-like dF/F: Poisson spikes through an exponential decay, plus white noise."""
    n = int(seconds * fs)
    spikes = np.sort(rng.uniform(0, seconds, rng.poisson(rate_hz * seconds)))
    counts = bin_spikes(spikes, n, fs)
    kernel = np.exp(-np.arange(int(5 * decay_s * fs)) / (decay_s * fs))
    clean = amp * np.convolve(counts, kernel)[:n]
    noise_std = nu_base * np.sqrt(fs) / 95.39
    dff = clean + rng.normal(0, noise_std, n)
    target = smooth_spike_counts(counts, gaussian_kernel_ms(25.0, fs))
    return PairedTrace(
        dff=dff.astype(np.float32),
        target=target.astype(np.float32),
        counts=counts.astype(np.float32),
        spike_times_s=spikes,
        fs_hz=fs,
        native_fs_hz=fs,
        noise_level=float(noise_level(dff, fs)),
        dataset=dataset,
        neuron=f"{dataset}/n{rng.integers(1e9)}",
    )


def _pooled_nu(windows: np.ndarray, fs: float) -> float:
    """ν over all within-window differences (no jumps across window boundaries)."""
    return float(np.median(np.abs(np.diff(windows, axis=1))) / np.sqrt(fs) * 100)


@pytest.mark.parametrize("fs", [7.5, 30.0])
@pytest.mark.parametrize("nu_target", [2.0, 4.0, 8.0])
def test_generated_windows_reach_the_target_noise_level(fs, nu_target):
    rng = np.random.default_rng(1)
    traces = [_synthetic_trace(rng, fs, 600, 1.0, f"DS0{i}") for i in range(3)]
    sampler = MatchedWindowSampler(traces, window=64, nu_range=(nu_target, nu_target))
    batch = sampler.sample(2000, np.random.default_rng(2))
    assert _pooled_nu(batch.x, fs) == pytest.approx(nu_target, rel=0.10)
    np.testing.assert_array_equal(batch.nu, nu_target)


def test_the_check_fails_without_added_noise():
    """Negative control: the clean windows are far from the target, so the test can fail."""
    rng = np.random.default_rng(1)
    traces = [_synthetic_trace(rng, 30.0, 600, 1.0, "DS01")]
    sampler = MatchedWindowSampler(traces, window=64, nu_range=(8.0, 8.0))
    batch = sampler.sample(500, np.random.default_rng(2))
    clean = sampler.x[: 500 * 32].reshape(500, 32)  # the same trace without added noise
    assert _pooled_nu(clean, 30.0) < 0.5 * 8.0
    assert _pooled_nu(batch.x, 30.0) > 0.9 * 8.0


def test_recordings_noisier_than_the_target_are_skipped():
    rng = np.random.default_rng(3)
    quiet = _synthetic_trace(rng, 30.0, 300, 1.0, "DS01")
    noisy = _synthetic_trace(rng, 30.0, 300, 6.0, "DS02")
    sampler = MatchedWindowSampler([quiet, noisy], window=64, nu_range=(3.0, 3.0))
    batch = sampler.sample(400, np.random.default_rng(4))
    assert set(batch.trace.tolist()) == {0}
    # at a target above both, both take part
    sampler = MatchedWindowSampler([quiet, noisy], window=64, nu_range=(8.0, 8.0))
    assert set(sampler.sample(400, np.random.default_rng(4)).trace.tolist()) == {0, 1}


def test_datasets_are_balanced_whatever_their_size():
    rng = np.random.default_rng(5)
    big = [_synthetic_trace(rng, 30.0, 1200, 1.0, "DS01") for _ in range(4)]
    small = [_synthetic_trace(rng, 30.0, 200, 1.0, "DS02")]
    sampler = MatchedWindowSampler(big + small, window=64, nu_range=(2.0, 6.0))
    batch = sampler.sample(4000, np.random.default_rng(6))
    share_small = np.mean(batch.trace == 4)
    assert share_small == pytest.approx(0.5, abs=0.05)  # 1/25 of the data, half the windows


def test_targets_stay_aligned_with_their_windows():
    rng = np.random.default_rng(7)
    t = _synthetic_trace(rng, 30.0, 300, 1.0, "DS01")
    base = float(noise_level(t.dff, 30.0))
    sampler = MatchedWindowSampler([t], window=32, nu_range=(base, base))  # adds no noise
    batch = sampler.sample(50, np.random.default_rng(8))
    view = np.lib.stride_tricks.sliding_window_view(t.dff, 32)
    for x, y in zip(batch.x, batch.y, strict=True):
        start = np.flatnonzero(np.all(view == x, axis=1))
        assert start.size == 1
        np.testing.assert_array_equal(y, t.target[start[0] : start[0] + 32])


def test_calibration_is_monotone_and_starts_at_the_trace_noise():
    rng = np.random.default_rng(9)
    t = _synthetic_trace(rng, 30.0, 300, 2.0, "DS01")
    cal = calibrate_noise(t.dff, 30.0, nu_max=10.0)
    assert cal.base_nu == pytest.approx(float(noise_level(t.dff, 30.0)))
    assert cal.nu[-1] > 10.0 and np.all(np.diff(cal.nu) > -0.05)
    assert np.isnan(cal.std_for(1.0)) and cal.std_for(cal.base_nu) == pytest.approx(0.0)


def test_shot_noise_grows_with_fluorescence():
    prof = shot_noise_profile(np.array([0.0, 0.0, 3.0, 0.0]))
    assert prof[2] == pytest.approx(2.0) and prof[0] == pytest.approx(1.0)
    rng = np.random.default_rng(0)
    x = np.zeros((2, 20000))
    x[1] = 3.0
    out = degrade(
        x, 0.1, rng, white_fraction=0.0, profile=shot_noise_profile(x.ravel()).reshape(2, -1)
    )
    assert out[1].std() > 1.5 * out[0].std()


def test_bad_arguments_are_named():
    rng = np.random.default_rng(0)
    t = _synthetic_trace(rng, 30.0, 60, 1.0, "DS01")
    with pytest.raises(ValueError, match="nu_range"):
        MatchedWindowSampler([t], window=32, nu_range=(4.0, 2.0))
    with pytest.raises(ValueError, match="quieter"):
        MatchedWindowSampler([t], window=32, nu_range=(0.1, 2.0))
    with pytest.raises(ValueError, match="white_fraction"):
        MatchedWindowSampler([t], window=32, nu_range=(2.0, 4.0), white_fraction=2.0)


@pytest.mark.parametrize("fs", [7.5, 15.0, 30.0, 60.0])
def test_resampling_real_ground_truth_keeps_every_spike(ground_truth_dir, fs):
    folder = sorted(ground_truth_dir.glob("DS0*"))[0]
    files = sorted(folder.glob("*.mat"))[:2]
    data = load_ground_truth(files, fs_hz=fs)
    for t in data.traces:
        duration = t.dff.size / fs
        inside = np.sum((t.spike_times_s >= -0.5 / fs) & (t.spike_times_s < duration - 0.5 / fs))
        assert t.counts.sum() == inside
        assert t.target.sum() == pytest.approx(inside, rel=0.02, abs=1)


def test_real_ground_truth_windows_reach_the_target(ground_truth_dir):
    folders = sorted(ground_truth_dir.glob("DS1[01]*"))
    files = [f for d in folders for f in sorted(d.glob("*.mat"))[:2]]
    data = load_ground_truth(files, fs_hz=30.0)
    sampler = MatchedWindowSampler(data.traces, window=64, nu_range=(8.0, 8.0))
    batch = sampler.sample(2000, np.random.default_rng(0))
    assert _pooled_nu(batch.x, 30.0) == pytest.approx(8.0, rel=0.10)
