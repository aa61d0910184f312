"""Spike-train primitives: kernels, binning, smoothing and count-preserving re-binning."""

from __future__ import annotations

import numpy as np
import pytest

from calcium_forge.errors import InvalidInputError
from calcium_forge.spiketrains import (
    bin_spikes,
    gaussian_kernel_ms,
    rebin_rate,
    smooth_spike_counts,
)
from calcium_forge.spiketrains import gaussian_window as gaussian_kernel_samples


def test_ens2_kernel_is_a_unit_sum_gaussian_of_25_ms():
    k = gaussian_kernel_ms(25.0, 60.0)
    assert k.size % 2 == 1 and np.isclose(k.sum(), 1.0)
    x = np.arange(k.size) - k.size // 2
    sd_bins = np.sqrt(np.sum(k * x**2))
    assert sd_bins == pytest.approx(0.025 * 60.0, rel=0.01)


def test_s2s_kernel_matches_scipy_gaussian_window():
    from scipy.signal.windows import gaussian

    k = gaussian_kernel_samples(11, 5.0)
    ref = gaussian(11, 5.0)
    np.testing.assert_allclose(k, ref / ref.sum())


def test_binning_and_smoothing_of_spike_times():
    fs = 60.0
    counts = bin_spikes(np.array([0.0, 1.0, 1.004, 2.5, 99.0, np.nan]), 200, fs)
    assert counts[0] == 1 and counts[60] == 2 and counts[150] == 1 and counts.sum() == 4
    k = gaussian_kernel_ms(25.0, fs)
    smooth = smooth_spike_counts(counts, k)
    h = k.size // 2
    np.testing.assert_allclose(smooth[60 - h : 60 + h + 1], 2 * k)  # centred on the spike
    assert smooth[150] == pytest.approx(k[h])
    assert smooth[h + 1 :].sum() == pytest.approx(3.0)  # interior spikes keep their count


def _spiky_rate_60hz(rng, seconds=20.0):
    """A rate (spikes/s) at 60 Hz: smoothed Poisson counts, zero in the first and last second."""
    n = int(seconds * 60)
    counts = rng.poisson(2.0 / 60, size=n).astype(float)
    counts[:60] = counts[-60:] = 0.0
    return smooth_spike_counts(counts, gaussian_kernel_ms(25.0, 60.0)) * 60.0


@pytest.mark.parametrize("fs_to", [30.0, 25.0, 7.5])
def test_rebin_rate_preserves_spike_counts(rng, fs_to):
    rate = _spiky_rate_60hz(rng)
    n_out = round(rate.size * fs_to / 60.0)
    out = rebin_rate(rate, 60.0, fs_to, n_out)
    assert out.shape == (n_out,) and out.min() >= 0.0
    assert out.sum() / fs_to == pytest.approx(rate.sum() / 60.0, rel=1e-12)
    # and back to 60 Hz
    back = rebin_rate(out, fs_to, 60.0, rate.size)
    assert back.sum() / 60.0 == pytest.approx(rate.sum() / 60.0, rel=1e-12)
    # rows are independent: a (2, n) input gives the rows' results
    both = rebin_rate(np.stack([rate, 2 * rate]), 60.0, fs_to, n_out)
    np.testing.assert_allclose(both, np.stack([out, 2 * out]), rtol=1e-12, atol=1e-12)


def test_rebin_rate_keeps_a_spike_in_the_bin_that_holds_its_time():
    rate = np.zeros(1200)
    rate[600] = 60.0  # one spike in the 60 Hz bin centred on 10 s
    out = rebin_rate(rate, 60.0, 25.0, 500)
    assert out[250] / 25.0 == pytest.approx(1.0)  # the 25 Hz bin centred on 10 s
    assert np.count_nonzero(out) == 1


def test_rebin_rate_negative_cases(rng):
    # control: picking every 8th sample (what interpolating the rate at the new frame
    # times amounts to) does not preserve the count, so the test above can fail
    rate = _spiky_rate_60hz(rng)
    picked = rate[::8]
    assert abs(picked.sum() / 7.5 - rate.sum() / 60.0) > 0.01 * rate.sum() / 60.0
    with pytest.raises(InvalidInputError, match="sampling rates must be > 0"):
        rebin_rate(rate, 60.0, 0.0, 10)
    with pytest.raises(InvalidInputError, match="sampling rates must be > 0"):
        rebin_rate(rate, -30.0, 30.0, 10)
