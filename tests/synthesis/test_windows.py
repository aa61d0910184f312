"""Windows, min/max scaling round trip and held-out separation."""

from __future__ import annotations

import numpy as np
import pytest

from calcium_forge.errors import InvalidInputError
from calcium_forge.recording import Recording
from calcium_forge.synthesis.windows import (
    Scaling,
    make_windows,
    split_windows,
    windows_to_traces,
)


def test_make_windows_shape_and_content():
    tr = np.arange(2 * 20, dtype=np.float32).reshape(2, 20)
    w = make_windows(tr, 5, stride=3)
    assert w.shape == (6, 5, 2)
    np.testing.assert_array_equal(w[1, :, 0], tr[0, 3:8])
    np.testing.assert_array_equal(w[1, :, 1], tr[1, 3:8])
    np.testing.assert_array_equal(windows_to_traces(make_windows(tr, 5, 5)), tr)
    with pytest.raises(InvalidInputError, match="window"):
        make_windows(tr, 50)


@pytest.mark.parametrize("per_neuron", [False, True])
def test_scaling_round_trip(per_neuron):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(30, 16, 3)) * np.array([1.0, 5.0, 0.1]) + 2
    s = Scaling.fit(x, per_neuron=per_neuron)
    y = s.forward(x)
    assert y.min() == pytest.approx(0, abs=1e-6) and y.max() == pytest.approx(1, abs=1e-6)
    if per_neuron:
        np.testing.assert_allclose(y.reshape(-1, 3).max(0), 1, atol=1e-6)
    np.testing.assert_allclose(s.inverse(y), x, rtol=1e-5, atol=1e-5)
    s2 = Scaling.from_dict(s.to_dict())
    np.testing.assert_allclose(s2.inverse(y), x, rtol=1e-5, atol=1e-5)


def test_held_out_windows_come_from_a_separate_block():
    length = 1000
    tr = np.tile(np.arange(length, dtype=np.float32), (3, 1))  # value = frame index
    rec = Recording(tr, 30.0)
    sp = split_windows(rec, 50, stride=7, held_out_fraction=0.25)
    assert sp.train_frames == (0, 750) and sp.held_out_frames == (750, 1000)
    train_frames = sp.scaling.inverse(sp.train)
    held_frames = sp.scaling.inverse(sp.held_out)
    assert train_frames.max() < 750 <= held_frames.min() + 1e-3
    assert sp.held_out.shape == (5, 50, 3)  # non-overlapping by default
    assert sp.train.shape[1:] == (50, 3) and sp.train.dtype == np.float32
    assert 0 <= sp.train.min() and sp.train.max() <= 1  # scaled by the training block


def test_split_rejects_too_short_blocks():
    rec = Recording(np.zeros((2, 100), np.float32) + np.arange(100), 30.0)
    with pytest.raises(InvalidInputError, match="held-out block"):
        split_windows(rec, 50, held_out_fraction=0.2)


def test_diff_noise_sd_recovers_white_noise_and_names_bad_shapes():
    from calcium_forge.synthesis.windows import diff_noise_sd

    rng = np.random.default_rng(0)
    w = rng.standard_normal((50, 200, 3)) * np.array([0.1, 1.0, 3.0])
    w[:, :, 1] += np.linspace(0, 5, 200)  # a slow drift barely changes the differences
    np.testing.assert_allclose(diff_noise_sd(w), [0.1, 1.0, 3.0], rtol=0.05)
    assert diff_noise_sd(np.zeros((2, 10, 1)))[0] == pytest.approx(1e-4)
    with pytest.raises(InvalidInputError, match="expected"):
        diff_noise_sd(np.zeros((4, 10)))
