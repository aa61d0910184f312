"""Recording: validation, helpers and selection."""

from __future__ import annotations

import numpy as np
import pytest

from calcium_forge import Recording
from calcium_forge.errors import InvalidInputError


def test_basic_properties():
    rec = Recording(traces=np.zeros((3, 100), dtype=np.float64), fs_hz=20)
    assert rec.traces.dtype == np.float32 and rec.n_rois == 3 and rec.n_frames == 100
    assert rec.duration_s == 5.0 and rec.time_s[-1] == pytest.approx(4.95)
    assert rec.iscell.dtype == bool and rec.iscell.all()
    assert Recording(traces=np.zeros(10), fs_hz=1).traces.shape == (1, 10)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"traces": np.zeros((2, 3, 4))}, "2-D"),
        ({"traces": np.array([[1.0, np.inf]])}, "infinite"),
        ({"fs_hz": 0}, "fs_hz"),
        ({"fs_hz": float("inf")}, "fs_hz"),
        ({"fs_hz": "fast"}, "fs_hz"),
        ({"kind": "spikes"}, "kind"),
        ({"neuropil": np.zeros((2, 9))}, "neuropil"),
        ({"iscell": np.ones(3)}, "iscell"),
        ({"labels": np.full((4, 4), 5)}, "labels values"),
        ({"labels": np.zeros(4)}, "labels must be a 2-D"),
        ({"labels": np.zeros((4, 4)), "mean_image": np.zeros((3, 3))}, "differ in size"),
        ({"spike_times": [np.array([1.0])]}, "spike_times"),
        ({"spike_times": [np.array([np.nan]), np.array([])]}, "NaN"),
    ],
)
def test_validation(kwargs, match):
    base = {"traces": np.zeros((2, 10)), "fs_hz": 10.0}
    base.update(kwargs)
    with pytest.raises(InvalidInputError, match=match):
        Recording(**base)


def test_nan_allowed_and_suite2p_iscell():
    rec = Recording(traces=np.array([[1.0, np.nan]]), fs_hz=1, iscell=np.array([[1.0, 0.9]]))
    assert np.isnan(rec.traces[0, 1]) and rec.iscell.tolist() == [True]


def test_select_renumbers_labels():
    labels = np.array([[1, 2, 3], [0, 2, 3]])
    rec = Recording(
        traces=np.arange(30).reshape(3, 10),
        fs_hz=5,
        labels=labels,
        spike_times=[np.array([0.1]), np.array([]), np.array([1.0, 0.5])],
        iscell=np.array([True, False, True]),
    )
    sub = rec.select([2, 0])
    assert sub.n_rois == 2
    np.testing.assert_array_equal(sub.traces[0], np.arange(20, 30))
    np.testing.assert_array_equal(sub.labels, [[2, 0, 1], [0, 0, 1]])
    np.testing.assert_array_equal(sub.spike_times[0], [0.5, 1.0])  # sorted
    assert rec.select(rec.iscell).n_rois == 2
