"""Fixtures of the evaluation tests: a pair of spike trains and neo conversion."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest


@pytest.fixture
def train_pair(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Two spike trains (s) in [0, 20): 30 shared spikes jittered by 20 ms, 10 + 5 others."""
    a = np.sort(rng.uniform(0, 20, 40))
    b = np.sort(np.concatenate([a[:30] + rng.normal(0, 0.02, 30), rng.uniform(0, 20, 5)]))
    return a, b


@pytest.fixture
def to_neo() -> Callable[[np.ndarray], object]:
    """Spike times (s) -> ``neo.SpikeTrain`` ending at 21 s (skips without neo)."""
    neo = pytest.importorskip("neo")
    pq = pytest.importorskip("quantities")

    def convert(times: np.ndarray) -> object:
        return neo.SpikeTrain(np.asarray(times) * pq.s, t_stop=21 * pq.s)

    return convert
