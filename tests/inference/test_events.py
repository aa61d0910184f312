"""The vectorised ENS² greedy estimator recovers spike counts."""

from __future__ import annotations

import numpy as np
import pytest

from calcium_forge.inference.events import greedy_spike_counts, greedy_spike_counts_reference
from calcium_forge.spiketrains import gaussian_kernel, smooth_spike_counts

KERNEL = gaussian_kernel(1.5)  # 25 ms at 60 Hz


def test_recovers_counts_of_clean_smoothed_train(rng):
    n = 6000
    counts = np.zeros((3, n), dtype=np.int32)
    for row in counts:
        idx = rng.choice(np.arange(20, n - 20, 15), size=60, replace=False)
        row[idx] = rng.integers(1, 4, size=idx.size)  # 1-3 spikes in a bin
    rate = smooth_spike_counts(counts, KERNEL)
    got = greedy_spike_counts(rate, KERNEL)
    np.testing.assert_array_equal(got.counts, counts)
    times = got.spike_times(60.0)
    assert [t.size for t in times] == counts.sum(axis=1).tolist()
    first = np.nonzero(counts[0])[0][0]
    assert times[0][0] == pytest.approx(first / 60.0)  # bin centre


def test_equals_plain_greedy_loop_on_noisy_rate(rng):
    n = 400
    c = np.zeros(n)
    np.add.at(c, rng.integers(5, n - 5, 14), 1)
    rate = 0.8 * smooth_spike_counts(c, KERNEL) + np.abs(rng.normal(0, 0.03, n))
    fast = greedy_spike_counts(rate, KERNEL).counts[0]
    slow = greedy_spike_counts_reference(rate, KERNEL)
    np.testing.assert_array_equal(fast, slow)
    assert fast.sum() > 0


def test_rate_below_epsilon_gives_no_spikes():
    rate = np.full(500, 0.005)
    assert greedy_spike_counts(rate, KERNEL, epsilon=0.01).counts.sum() == 0
    # a half-spike bump is not worth a spike (adding one raises the MSE)
    c = np.zeros(500)
    c[250] = 1
    assert greedy_spike_counts(0.4 * smooth_spike_counts(c, KERNEL), KERNEL).counts.sum() == 0
    assert greedy_spike_counts(0.7 * smooth_spike_counts(c, KERNEL), KERNEL).counts.sum() == 1


def test_nan_and_edges():
    rate = np.zeros(100)
    rate[:3] = smooth_spike_counts(np.eye(1, 100, 0)[0], KERNEL)[:3]  # spike at the edge
    rate[50] = np.nan
    got = greedy_spike_counts(rate, KERNEL)
    assert got.counts[0, 0] == 1 and got.counts.sum() == 1


def test_fragment_groups_bound_memory_without_changing_results(rng):
    c = (rng.random((4, 5000)) < 0.03) * rng.integers(1, 3, (4, 5000))
    rate = smooth_spike_counts(c, KERNEL) + np.abs(rng.normal(0, 0.02, (4, 5000)))
    whole = greedy_spike_counts(rate, KERNEL).counts
    for max_flat in (1, 300):
        np.testing.assert_array_equal(
            greedy_spike_counts(rate, KERNEL, max_flat_bins=max_flat).counts, whole
        )


def test_seed_mass_gives_a_broad_bump_its_spike(rng):
    # a spike predicted with uncertain timing: 0.9 spikes spread over ~20 bins.
    # No single spike lowers the MSE, so the pure MSE rule places none; the
    # authors' seed rule (fragment mass >= 0.5) places one at the peak.
    x = np.arange(200)
    rate = 0.9 * np.exp(-0.5 * ((x - 100) / 6.0) ** 2)
    rate /= rate.sum() / 0.9
    assert greedy_spike_counts(rate, KERNEL, seed_mass=None).counts.sum() == 0
    got = greedy_spike_counts(rate, KERNEL, seed_mass=0.5).counts[0]
    assert got.sum() == 1 and got[100] == 1
    # below the seed mass nothing is placed
    assert greedy_spike_counts(0.4 * rate / 0.9, KERNEL, seed_mass=0.5).counts.sum() == 0


@pytest.mark.parametrize("seed_mass", [None, 0.5])
def test_seeded_and_unseeded_equal_plain_loop(rng, seed_mass):
    n = 600
    c = np.zeros(n)
    np.add.at(c, rng.integers(5, n - 5, 20), 1)
    wide = smooth_spike_counts(c, gaussian_kernel(5.0))  # blurred prediction
    rate = 0.7 * wide + np.abs(rng.normal(0, 0.02, n))
    fast = greedy_spike_counts(rate, KERNEL, seed_mass=seed_mass).counts[0]
    slow = greedy_spike_counts_reference(rate, KERNEL, seed_mass=seed_mass)
    np.testing.assert_array_equal(fast, slow)


def test_long_runs_are_cut_into_pieces_of_max_fragment_bins(rng):
    from calcium_forge.inference.events import find_fragments

    rate = np.zeros((2, 3000))
    rate[0, 100:1350] = 1.0  # one run of 1250 bins
    rate[1, 10:20] = 1.0
    rows, starts, stops = find_fragments(rate, 0.01, 500)
    assert rows.tolist() == [0, 0, 0, 1]
    assert starts.tolist() == [100, 600, 1100, 10]
    assert stops.tolist() == [600, 1100, 1350, 20]
    # without a cap the run stays whole
    assert find_fragments(rate, 0.01, None)[1].tolist() == [100, 10]


def test_dense_firing_costs_iterations_per_piece_not_per_run(rng):
    # 10 spikes/s at 60 Hz for 10 min: the rate never drops below epsilon, so
    # uncapped the whole trace is one fragment and every spike is one full scan.
    n = 36_000
    c = (rng.random(n) < 10 / 60).astype(float)
    rate = smooth_spike_counts(c, KERNEL) + 0.02
    capped = greedy_spike_counts(rate, KERNEL)
    assert capped.n_fragments >= n // 500
    # iterations are bounded by the spikes of one 500-bin piece, not of the run
    assert capped.n_iterations < 200 < c.sum()
    # and the events still follow the spikes
    assert abs(int(capped.counts.sum()) - int(c.sum())) < 0.1 * c.sum()
    # the cut is the same in the plain loop (one run of 640 bins: pieces of 500 and 140)
    c2 = np.zeros(640)
    np.add.at(c2, rng.integers(5, 635, 20), 1)
    run = smooth_spike_counts(c2, KERNEL) + 0.02
    np.testing.assert_array_equal(
        greedy_spike_counts(run, KERNEL).counts[0], greedy_spike_counts_reference(run, KERNEL)
    )


def test_bad_max_fragment_bins_is_rejected():
    from calcium_forge.errors import InvalidInputError

    with pytest.raises(InvalidInputError, match="max_fragment_bins"):
        greedy_spike_counts(np.ones(100), KERNEL, max_fragment_bins=0)
