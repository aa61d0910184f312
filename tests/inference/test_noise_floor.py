"""The noise floor: fragments lighter than what noise alone produces get no events."""

from __future__ import annotations

import numpy as np
import pytest

from calcium_forge.errors import InvalidInputError
from calcium_forge.inference.events import greedy_spike_counts
from calcium_forge.inference.noise_floor import NOISE_SECONDS, noise_floors, white_noise_dff
from calcium_forge.signal import noise_level
from calcium_forge.spiketrains import gaussian_kernel

KERNEL = gaussian_kernel(1.5)


def rectifier(x: np.ndarray) -> np.ndarray:
    """A 'network' that turns every upward noise excursion into rate (spikes per bin)."""
    return np.clip(np.asarray(x, dtype=np.float64), 0.0, None) * 2.0


def test_white_noise_has_the_noise_level_asked_for():
    x = white_noise_dff(30.0, 6.0, 4, 120.0, seed=1)
    assert np.median(noise_level(x, 30.0)) == pytest.approx(6.0, rel=0.05)


def test_floor_keeps_noise_events_within_the_budget_and_spares_real_bumps():
    nus = np.array([2.0, 8.0, 8.1, np.nan])
    floor = noise_floors(nus, 30.0, rectifier, KERNEL, max_events_per_s=0.01)
    assert floor.min_mass[3] == 0.0  # no noise level: no floor
    assert floor.min_mass[1] == floor.min_mass[2] > 0  # same quarter-octave bin
    assert floor.min_mass[1] > floor.min_mass[0]  # noisier ROI, higher floor
    # fresh noise of nu 8 through the same rule: events with and without the floor
    x = white_noise_dff(30.0, 8.0, 4, NOISE_SECONDS / 4, seed=99)
    rate = rectifier(x)
    without = greedy_spike_counts(rate, KERNEL, seed_mass=None).counts.sum()
    with_floor = greedy_spike_counts(
        rate, KERNEL, seed_mass=None, min_fragment_mass=floor.min_mass[1]
    ).counts.sum()
    assert without / NOISE_SECONDS > 0.05  # negative control: the rule fires in this noise
    assert with_floor / NOISE_SECONDS <= 0.05  # the bound of the noise-only test
    # a bump carrying twice the floor keeps its spikes; one carrying half of it loses them
    bump = np.zeros((1, 600))
    bump[0, 300:305] = 2.0 * floor.min_mass[1] / 5
    light = greedy_spike_counts(
        bump / 4, KERNEL, seed_mass=None, min_fragment_mass=floor.min_mass[1]
    )
    assert light.counts.sum() == 0
    kept = greedy_spike_counts(bump, KERNEL, seed_mass=None, min_fragment_mass=floor.min_mass[1])
    assert kept.counts.sum() >= 2


def test_bad_budget_is_refused():
    with pytest.raises(InvalidInputError, match="max_noise_events_per_s"):
        noise_floors(np.array([4.0]), 30.0, rectifier, KERNEL, max_events_per_s=0.0)
