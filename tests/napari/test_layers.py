"""Pure layer conversion (no Qt, no viewer)."""

from __future__ import annotations

import numpy as np
import pytest

from calcium_forge import napari_api
from calcium_forge._napari import layers as L
from calcium_forge.errors import InvalidInputError
from calcium_forge.recording import Recording
from calcium_forge.results import SpikeInference


def _rec(rng, n_rois=3, n_frames=300, fs_hz=30.0, with_truth=True):
    labels = np.zeros((20, 30), dtype=np.int32)
    labels[2:6, 3:7] = 1  # centroid (3.5, 4.5)
    labels[10:14, 20:24] = 2  # (11.5, 21.5)
    labels[15:17, 1:3] = 3
    truth = [np.array([1.0, 1.01, 5.0]), np.array([2.5]), np.array([])] if with_truth else None
    return Recording(
        traces=rng.normal(size=(n_rois, n_frames)).astype(np.float32),
        fs_hz=fs_hz,
        labels=labels,
        mean_image=rng.random((20, 30)).astype(np.float32),
        iscell=np.array([True, False, True]),
        spike_times=truth,
        meta={"name": "plane0"},
    )


def test_roi_centroids_and_radii():
    labels = np.zeros((10, 10), dtype=np.int32)
    labels[1:3, 1:3] = 1
    labels[5:9, 4:8] = 3
    c = L.roi_centroids(labels, 3)
    np.testing.assert_allclose(c[0], [1.5, 1.5])
    assert np.isnan(c[1]).all()  # ROI 1 has no pixel
    np.testing.assert_allclose(c[2], [6.5, 5.5])
    np.testing.assert_allclose(L.roi_radii(labels, 3), np.sqrt([4, 0, 16]) / np.sqrt(np.pi))


def test_recording_layers(rng):
    rec = _rec(rng)
    out = L.recording_layers(rec)
    kinds = [k["metadata"]["calcium_forge"]["kind"] for _, k, _ in out]
    assert kinds == ["mean_image", "rois", "traces", "raster"]
    assert [t for _, _, t in out] == ["image", "labels", "image", "points"]
    data, kw, _ = out[2]
    assert data.shape == (3, 300)
    assert kw["name"] == "plane0 dF/F"
    # a data carrier drawn in the plot dock: hidden, inside one pixel of the canvas
    assert kw["visible"] is False and kw["scale"] == (pytest.approx(1 / 3), pytest.approx(1 / 300))
    assert kw["metadata"]["calcium_forge"]["fs_hz"] == 30.0
    assert kw["metadata"]["calcium_forge"]["recording"] is rec
    lab_kw = out[1][1]
    # non-cell ROI 1 (label 2) is grey, cells are coloured
    assert lab_kw["colormap"][2][:3] == (0.55, 0.55, 0.55)
    assert lab_kw["colormap"][1][:3] != (0.55, 0.55, 0.55)
    np.testing.assert_array_equal(lab_kw["features"]["iscell"], [True, False, True])
    # ground-truth raster: two spikes of ROI 0 share frame 30 -> one point of count 2
    pts, pkw, _ = out[3]
    assert pkw["visible"] is False and max(np.max(pts, axis=0) * pkw["scale"]) < 1.0
    assert pkw["metadata"]["calcium_forge"]["ground_truth"] is True
    np.testing.assert_array_equal(pkw["features"]["count"], [2, 1, 1])
    np.testing.assert_allclose(pts[:, 0], [0, 0, 1])
    # frame j is the bin centred on j / fs (as the traces image is drawn)
    np.testing.assert_allclose(pts[:, 1], [30 / 30, 150 / 30, 75 / 30])
    np.testing.assert_allclose(pkw["size"], L.RASTER_SIZE_PER_SPIKE * np.array([2, 1, 1]))


def test_inference_layers_names_scale_overlay(rng):
    rec = _rec(rng, with_truth=False)
    rate = rng.random((3, 300)).astype(np.float32)
    res = SpikeInference(
        rate_hz=rate,
        events=[np.array([0.5]), np.array([]), np.array([9.0])],
        method="ens2",
        fs_hz=30.0,
        recording=rec,
    )
    out = L.inference_layers(res)
    names = [k["name"] for _, k, _ in out]
    assert names == ["plane0 rate (ENS²)", "plane0 spikes (ENS²)", "plane0 spike overlay (ENS²)"]
    assert out[0][1]["visible"] is False
    assert out[0][1]["metadata"]["calcium_forge"]["kind"] == "rate"
    np.testing.assert_array_equal(out[0][0], rate)
    ov, okw, otype = out[2]
    assert otype == "labels" and okw["metadata"]["calcium_forge"]["kind"] == "spike_overlay"
    assert okw["scale"] == (pytest.approx(1 / 30), 1.0, 1.0)
    assert okw["axis_labels"] == ("time (s)", "y", "x")
    # a lazy movie of the recording's frames: spike at 0.5 s -> ROI 0 lights up on frame 15
    # only; 9.0 s -> ROI 2 on frame 270; ROI 1 never
    assert ov.shape == (300, 20, 30)
    np.testing.assert_array_equal(ov[15], np.where(rec.labels == 1, 1, 0))
    np.testing.assert_array_equal(ov[270], np.where(rec.labels == 3, 3, 0))
    assert not ov[16].any() and not ov[14].any()
    full = np.asarray(ov)
    assert set(np.flatnonzero(full.any(axis=(1, 2)))) == {15, 270}
    np.testing.assert_array_equal(ov[10:20, 2:6, 3:7], full[10:20, 2:6, 3:7])
    # the inverse: the rate layer gives back the result
    assert L.result_from_layer_data(okw["metadata"]) is res
    back = L.recording_from_layer_data(out[0][0], out[0][1]["metadata"])
    assert back.kind == "rate" and back.n_rois == 3


def test_recording_from_plain_image_uses_time_scale():
    data = np.ones((4, 100), dtype=np.float32)
    rec = L.recording_from_layer_data(data, {}, (1.0, 0.02), layer_name="x")
    assert rec.fs_hz == pytest.approx(50.0) and rec.n_rois == 4
    with pytest.raises(InvalidInputError, match="not a traces layer"):
        L.recording_from_layer_data(np.ones((3, 4, 5)), {}, None, layer_name="movie")
    with pytest.raises(InvalidInputError, match="no spike inference"):
        L.result_from_layer_data({}, layer_name="movie")


def test_stack_layer_is_lazy_and_scaled():
    class Lazy:
        shape = (1000, 8, 8)
        ndim = 3
        dtype = np.float32

        def __init__(self):
            self.touched = []

        def __getitem__(self, idx):
            self.touched.append(idx)
            return np.ones((len(np.atleast_1d(idx)), 8, 8), np.float32)

    lazy = Lazy()
    data, kw, t = L.stack_layer(lazy, 10.0, name="movie")
    assert data is lazy and t == "image"
    assert kw["scale"] == (0.1, 1.0, 1.0)
    assert len(lazy.touched) == 1 and len(lazy.touched[0]) == 5  # only 5 frames read


def test_napari_api_layer_data(rng):
    rec = _rec(rng)
    syn = napari_api.layer_data(rec, synthetic=True)
    assert syn[0][1]["metadata"]["calcium_forge"]["kind"] == "synthetic_traces"
    assert syn[0][1]["name"] == "plane0 synthetic dF/F"
    with pytest.raises(InvalidInputError, match="cannot show"):
        napari_api.layer_data(42)
