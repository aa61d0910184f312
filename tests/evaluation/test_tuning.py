"""OSI/DSI vector-sum indices on known tuning curves."""

from __future__ import annotations

import numpy as np
import pytest

from calcium_forge.errors import InvalidInputError
from calcium_forge.evaluation.tuning import dsi, osi, tuning

DIRS = np.arange(0, 360, 45.0)


def test_flat_single_direction_and_bidirectional_curves():
    flat = np.ones(8)
    single = np.zeros(8)
    single[2] = 5.0  # 90 degrees only
    both = np.zeros(8)
    both[[2, 6]] = 5.0  # 90 and 270: same orientation, opposite directions
    assert osi(flat, DIRS) == pytest.approx(0.0, abs=1e-12)
    assert dsi(flat, DIRS) == pytest.approx(0.0, abs=1e-12)
    assert osi(single, DIRS) == pytest.approx(1.0)
    assert dsi(single, DIRS) == pytest.approx(1.0)
    assert osi(both, DIRS) == pytest.approx(1.0)
    assert dsi(both, DIRS) == pytest.approx(0.0, abs=1e-12)
    res = tuning(np.stack([single, both]), DIRS)
    assert res.preferred_direction_deg[0] == pytest.approx(90.0)
    assert res.preferred_orientation_deg[1] == pytest.approx(90.0)


def test_von_mises_tuning_is_between_and_validated():
    r = np.exp(2 * np.cos(np.deg2rad(DIRS - 45)))
    assert 0.3 < dsi(r, DIRS) < 1 and 0 < osi(r, DIRS) < 1
    assert np.isnan(osi(np.zeros(8), DIRS))
    with pytest.raises(InvalidInputError, match=">= 0"):
        osi(-np.ones(8), DIRS)
    with pytest.raises(InvalidInputError, match="directions"):
        osi(np.ones(7), DIRS)
