"""Spike-event metrics: hand-computed cases, the banded Victor–Purpura programme,
and agreement with elephant."""

from __future__ import annotations

import numpy as np
import pytest

from calcium_forge.evaluation.event_metrics import (
    match_events,
    van_rossum_distance,
    victor_purpura_distance,
)


def _vp_full_programme(a, b, q):
    """Victor–Purpura over the whole (n+1) x (m+1) table, written plainly."""
    a, b = np.sort(a), np.sort(b)
    d = np.zeros((a.size + 1, b.size + 1))
    d[:, 0] = np.arange(a.size + 1)
    d[0, :] = np.arange(b.size + 1)
    for i in range(1, a.size + 1):
        for j in range(1, b.size + 1):
            d[i, j] = min(
                d[i - 1, j] + 1, d[i, j - 1] + 1, d[i - 1, j - 1] + q * abs(a[i - 1] - b[j - 1])
            )
    return d[-1, -1]


@pytest.mark.parametrize("q", [0.5, 1.0, 4.0, 20.0])
def test_banded_victor_purpura_equals_the_full_programme(rng, q):
    for _ in range(25):
        na, nb = rng.integers(0, 40, size=2)
        t = rng.uniform(1.0, 20.0)
        a = rng.uniform(0, t, na)
        b = np.concatenate([a[: na // 2] + rng.normal(0, 0.2, na // 2), rng.uniform(0, t, nb)])
        assert victor_purpura_distance(a, b, q) == pytest.approx(
            _vp_full_programme(a, b, q), abs=1e-9
        )


def test_victor_purpura_by_hand():
    assert victor_purpura_distance([], []) == 0
    assert victor_purpura_distance([1.0, 2.0], []) == 2
    assert victor_purpura_distance([1.0], [1.3]) == pytest.approx(0.3)  # shift
    assert victor_purpura_distance([1.0], [3.5]) == pytest.approx(2.0)  # delete + insert
    assert victor_purpura_distance([1.0, 2.0], [1.1, 5.0], cost_per_s=1.0) == pytest.approx(2.1)


def test_match_events_by_hand():
    m = match_events([1.0, 2.0, 3.0], [1.04, 2.2, 3.0, 3.01])
    assert (m.true_positives, m.false_positives, m.false_negatives) == (2, 2, 1)
    assert m.precision == pytest.approx(0.5) and m.sensitivity == pytest.approx(2 / 3)
    assert m.error_rate == pytest.approx(1 - 2 * 0.5 * (2 / 3) / (0.5 + 2 / 3))
    assert match_events([1.0], [1.0]).error_rate == 0.0
    assert match_events([1.0], []).error_rate == 1.0


@pytest.mark.parametrize("cost", [0.5, 1.0, 20.0])
def test_victor_purpura_matches_elephant(train_pair, to_neo, cost):
    diss = pytest.importorskip("elephant.spike_train_dissimilarity")
    pq = pytest.importorskip("quantities")
    a, b = train_pair
    ref = diss.victor_purpura_distance([to_neo(a), to_neo(b)], cost_factor=cost / pq.s)[0, 1]
    assert victor_purpura_distance(a, b, cost) == pytest.approx(ref, rel=1e-9)


@pytest.mark.parametrize("tau", [0.025, 0.2])
def test_van_rossum_matches_elephant(train_pair, to_neo, tau):
    diss = pytest.importorskip("elephant.spike_train_dissimilarity")
    pq = pytest.importorskip("quantities")
    a, b = train_pair
    ref = diss.van_rossum_distance([to_neo(a), to_neo(b)], time_constant=tau * pq.s)[0, 1]
    assert van_rossum_distance(a, b, tau) == pytest.approx(ref, rel=1e-9)
