"""Synthetic two-photon movies keep ROI positions and ground truth."""

from __future__ import annotations

import numpy as np
import pytest

from calcium_forge.errors import InvalidInputError
from calcium_forge.synthesis.movie import (
    MovieParams,
    SyntheticMovie,
    make_synthetic_stack,
    random_somata,
    render_movie,
)


def test_random_somata_are_separate_cells():
    lab = random_somata((96, 96), 12, seed=0)
    assert lab.dtype == np.int32 and lab.max() == 12
    sizes = np.bincount(lab.ravel())[1:]
    assert sizes.min() >= 20


def test_movie_keeps_roi_positions_and_traces():
    st = make_synthetic_stack((64, 64), n_cells=8, n_frames=200, seed=1)
    movie, lab, rec = st.movie, st.labels, st.recording
    assert movie.shape == (200, 64, 64) and movie.dtype == np.float32
    assert rec.labels is lab or np.array_equal(rec.labels, lab)
    assert len(rec.spike_times) == 8 and sum(len(s) for s in rec.spike_times) > 0
    mean = movie.mean(0)
    # cells are brighter than their surroundings, at the labelled positions
    assert mean[lab > 0].mean() > mean[lab == 0].mean() + 10
    for i in range(8):
        px = movie[:, lab == i + 1].mean(1)
        assert np.corrcoef(px, rec.traces[i])[0, 1] > 0.8
    # the expected mean image is close to the rendered mean
    assert np.corrcoef(rec.mean_image.ravel(), mean.ravel())[0, 1] > 0.9


def test_lazy_movie_is_reproducible_and_noisy():
    lab = random_somata((32, 32), 3, seed=2)
    tr = np.zeros((3, 50), np.float32)
    lazy = render_movie(lab, tr, seed=5, lazy=True)
    assert isinstance(lazy, SyntheticMovie) and lazy.shape == (50, 32, 32)
    full = render_movie(lab, tr, seed=5)
    np.testing.assert_array_equal(lazy[7], full[7])
    np.testing.assert_array_equal(lazy[10:12, 3], full[10:12, 3])
    # Poisson-Gaussian noise: frame-to-frame variance ~ gain * mean photons + read noise^2
    p = MovieParams()
    photons = lazy.expected_frame(0)
    var = full.var(0)
    expected = p.gain**2 * photons + p.read_noise**2
    assert np.median(var / expected) == pytest.approx(1.0, abs=0.25)


def test_render_validates_inputs():
    with pytest.raises(InvalidInputError, match="one trace per label"):
        render_movie(np.ones((4, 4), int) * 3, np.zeros((2, 5)))
