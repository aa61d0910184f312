"""Recording.crop: frame spans with ground-truth spikes shifted to the new origin."""

import numpy as np
import pytest

from calcium_forge import InvalidInputError, Recording


def test_crop_keeps_spikes_inside_and_shifts_them():
    rec = Recording(
        traces=np.arange(20, dtype=np.float32).reshape(2, 10),
        fs_hz=10.0,
        spike_times=[np.array([0.05, 0.35, 0.95]), np.array([0.6])],
    )
    out = rec.crop(3, 7)
    assert out.traces.shape == (2, 4)
    np.testing.assert_array_equal(out.traces[0], [3, 4, 5, 6])
    np.testing.assert_allclose(out.spike_times[0], [0.05])
    np.testing.assert_allclose(out.spike_times[1], [0.3])
    assert out.meta["crop_frames"] == [3, 7]


def test_crop_empty_span_is_an_error():
    rec = Recording(traces=np.zeros((1, 5), np.float32), fs_hz=1.0)
    with pytest.raises(InvalidInputError, match="selects no frame"):
        rec.crop(4, 2)
