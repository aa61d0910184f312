"""Fixtures for the io tests (helpers live in _io_helpers.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from _io_helpers import write_plane


@pytest.fixture
def plane_factory(tmp_path, rng):
    """Call ``plane_factory(name, **kwargs)`` to write a plane folder under tmp_path."""

    def make(name: str = "plane0", **kwargs) -> Path:
        return write_plane(tmp_path / name, rng, **kwargs)

    return make


@pytest.fixture
def cascade_struct(rng):
    """A plausible single recording: 20 Hz, 60 s, spikes with calcium transients."""
    fs, n = 20.0, 1200
    t = 0.05 + np.arange(n) / fs
    spikes_s = np.sort(rng.uniform(1.0, 58.0, 40))
    y = 0.02 * rng.standard_normal(n)
    for s in spikes_s:
        k = t >= s
        y[k] += 0.3 * np.exp(-(t[k] - s) / 0.5)
    return {"fluo_time": t, "fluo_mean": y, "events_AP": spikes_s * 1e4}
