"""Chunk-by-chunk ROI trace extraction from lazy stacks equals eager extraction."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
import tifffile

from calcium_forge.errors import InvalidInputError
from calcium_forge.io.extraction import extract_traces, make_masks


def _scene(rng, n_frames=240, ny=96, nx=80, n_rois=7):
    """A movie with disk-shaped ROIs with their own activity, plus a global neuropil drift."""
    labels = np.zeros((ny, nx), np.int32)
    yy, xx = np.mgrid[:ny, :nx]
    centers = [(15 + 22 * (i // 3), 14 + 24 * (i % 3)) for i in range(n_rois)]
    for i, (cy, cx) in enumerate(centers):
        labels[(yy - cy) ** 2 + (xx - cx) ** 2 <= 16] = i + 1
    activity = rng.gamma(2.0, 50.0, size=(n_rois, n_frames)).astype(np.float32)
    drift = 100 + 20 * np.sin(np.arange(n_frames) / 15.0)
    movie = np.empty((n_frames, ny, nx), np.float32)
    movie[:] = drift[:, None, None]
    movie += rng.normal(0, 5, size=movie.shape).astype(np.float32)
    for i in range(n_rois):
        movie[:, labels == i + 1] += activity[i][:, None]
    return np.clip(movie, 0, 65535).astype(np.uint16), labels


def _eager(movie, mask):
    return movie[:, mask].astype(np.float64).mean(axis=1)


def test_lazy_tiff_matches_eager(tmp_path, rng):
    movie, labels = _scene(rng)
    path = tmp_path / "movie.tif"
    tifffile.imwrite(path, movie)
    import zarr

    lazy = zarr.open(tifffile.imread(path, aszarr=True), mode="r")
    rec = extract_traces(lazy, labels, fs_hz=30.0, chunk_frames=37)
    assert rec.kind == "raw" and rec.fs_hz == 30.0
    assert rec.traces.shape == (labels.max(), movie.shape[0])
    for i in range(labels.max()):
        np.testing.assert_allclose(rec.traces[i], _eager(movie, labels == i + 1), rtol=1e-5)
    np.testing.assert_allclose(rec.mean_image, movie.mean(axis=0), rtol=1e-5)
    # neuropil: each annulus is background only, outside the inner radius, and its mean
    # equals the eager mean over the same pixels
    masks = make_masks(labels)
    for i in range(labels.max()):
        pix = masks.neuropil[i].indices
        assert len(pix) >= 20
        assert (labels.ravel()[pix] == 0).all()
        np.testing.assert_allclose(
            rec.neuropil[i], movie.reshape(len(movie), -1)[:, pix].mean(axis=1), rtol=1e-5
        )
    # the ROI signal is in the traces, the neuropil tracks the drift, not the ROI activity
    drift_corr = np.corrcoef(rec.neuropil[0], rec.traces[1])[0, 1]
    assert abs(drift_corr) < 0.5


def test_chunk_size_does_not_change_result_and_bounds_memory(tmp_path, rng):
    movie, labels = _scene(rng, n_frames=300, ny=128, nx=128)
    path = tmp_path / "big.tif"
    tifffile.imwrite(path, movie)
    import zarr

    lazy = zarr.open(tifffile.imread(path, aszarr=True), mode="r")
    a = extract_traces(lazy, labels, fs_hz=10.0, chunk_frames=300, neuropil=False)
    tracemalloc.start()
    b = extract_traces(lazy, labels, fs_hz=10.0, chunk_frames=16, neuropil=False)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    np.testing.assert_allclose(a.traces, b.traces, rtol=1e-6)
    movie_bytes_f32 = movie.size * 4
    # one 16-frame float32 chunk is 1 MiB; the whole movie as float32 is 19.7 MB
    assert peak < movie_bytes_f32 / 4, (peak, movie_bytes_f32)


def test_read_stack_path_is_lazy_and_matches(tmp_path, rng):
    from calcium_forge.io import read_stack

    movie, labels = _scene(rng, n_frames=120)
    path = tmp_path / "stack.tif"
    tifffile.imwrite(path, movie)
    stack = read_stack(path, fs_hz=15.0)
    assert not isinstance(stack.data, np.ndarray), "read_stack must not load the movie"
    rec = extract_traces(path, labels, fs_hz=15.0, chunk_frames=25)
    for i in range(labels.max()):
        np.testing.assert_allclose(rec.traces[i], _eager(movie, labels == i + 1), rtol=1e-5)
    assert rec.source is not None and rec.source.endswith("stack.tif")


def test_bad_inputs_raise_clear_errors(rng):
    movie, labels = _scene(rng, n_frames=10, ny=40, nx=40, n_rois=1)
    with pytest.raises(InvalidInputError, match="labels have shape"):
        extract_traces(movie, labels[:-1], fs_hz=1.0)
    with pytest.raises(InvalidInputError, match="fs_hz"):
        extract_traces(movie, labels)
    with pytest.raises(InvalidInputError, match="no ROI"):
        extract_traces(movie, np.zeros_like(labels), fs_hz=1.0)
    gap = labels.copy()
    gap[gap == 1] = 2
    with pytest.raises(InvalidInputError, match="no pixel"):
        make_masks(gap)
