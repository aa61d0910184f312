"""Sample data, Traces and Infer spikes widgets under xvfb."""

from __future__ import annotations

import numpy as np
import pytest
from _helpers import save_widget_shot, wait_task

from calcium_forge import napari_api
from calcium_forge._napari.infer_widget import InferSpikesWidget
from calcium_forge._napari.traces_widget import TracesWidget
from calcium_forge.inference import load_model


@pytest.fixture
def hippo_viewer(make_napari_viewer):
    viewer = make_napari_viewer()
    viewer.open_sample("calcium-forge", "hippocampus")
    return viewer


def _kind(viewer, kind):
    return [ly for ly in viewer.layers if ly.metadata.get("calcium_forge", {}).get("kind") == kind]


def test_hippocampus_sample_layers(hippo_viewer):
    from calcium_forge.datasets import hippocampus_dff, load_hippocampus

    viewer = hippo_viewer
    raw = load_hippocampus()
    (rois,) = _kind(viewer, "rois")
    (traces,) = _kind(viewer, "traces")
    assert type(rois).__name__ == "Labels" and type(traces).__name__ == "Image"
    np.testing.assert_array_equal(rois.data, raw.labels)
    assert rois.data.max() == raw.n_rois == 20
    assert traces.data.shape == (20, 18000)
    # traces are drawn in the plot dock: the layer is hidden and does not widen the view
    assert not traces.visible and traces.metadata["calcium_forge"]["fs_hz"] == 30.0
    assert (np.asarray(traces.extent.world[1]) < 1.0).all()
    np.testing.assert_allclose(viewer.layers.extent.world[1], rois.extent.world[1])
    np.testing.assert_allclose(traces.data, hippocampus_dff().traces, rtol=1e-5, atol=1e-6)
    assert traces.name == f"{raw.name} dF/F"
    assert traces.metadata["calcium_forge"]["raw"].kind == "raw"
    # the screenshot of the main view is not blank
    shot = viewer.screenshot(canvas_only=True)
    assert shot.std() > 5


def test_infer_spikes_oasis_widget(hippo_viewer, qtbot):
    viewer = hippo_viewer
    w = InferSpikesWidget(viewer)
    qtbot.addWidget(w)
    w.method.value = "oasis"
    w.rois.value = "selected"
    w.selected.value = "0-3, 7"
    w.run()
    assert w.running and not w.run_button.enabled and w.cancel_button.enabled
    wait_task(qtbot, w)
    assert w.last_error is None, w.last_error
    assert w.run_button.enabled and not w.cancel_button.enabled
    (rate,) = _kind(viewer, "rate")
    (raster,) = _kind(viewer, "raster")
    (overlay,) = _kind(viewer, "spike_overlay")
    assert rate.name == "hippocampus (Suite2P) rate (OASIS)"
    assert rate.data.shape == (5, 18000)
    assert not rate.visible and not raster.visible
    res = rate.metadata["calcium_forge"]["recording"]
    assert res.method == "oasis" and res.recording.meta["roi_indices"] == [0, 1, 2, 3, 7]
    assert np.all(res.rate_hz >= 0) and res.rate_hz.mean() > 0
    # each ROI's noise level and model: in a table and in the layers' metadata
    nu = res.meta["noise_level"]
    assert len(nu) == 5 and w.table.rowCount() == 5
    assert [w.table.item(r, 0).text() for r in range(5)] == ["0", "1", "2", "3", "7"]
    assert float(w.table.item(4, 1).text()) == pytest.approx(nu[4], abs=0.01)
    assert w.table.item(0, 2).text() == res.meta["model"] == "oasis"
    for layer in (rate, raster, overlay):
        info = layer.metadata["calcium_forge"]
        assert info["noise_level"] == nu and info["model"] == ["oasis"] * 5
        assert info["roi"] == [0, 1, 2, 3, 7]
    assert w.status.text().startswith("done: OASIS on 5 ROIs in ")
    # the raster holds every event once (counts add up) at (roi, time_s)
    assert int(raster.features["count"].sum()) == sum(len(e) for e in res.events)
    assert raster.data[:, 1].max() <= 600.0
    # the overlay is a movie of the recording's frames on the ROIs, in seconds from 0
    assert type(overlay).__name__ == "Labels" and overlay.visible
    assert overlay.data.shape == (18000, *viewer.layers["hippocampus (Suite2P) ROIs"].data.shape)
    np.testing.assert_allclose(overlay.scale, [1 / 30.0, 1.0, 1.0])
    assert viewer.dims.axis_labels[0] == "time (s)"
    assert viewer.dims.range[0].start == 0.0
    assert viewer.dims.range[0].stop == pytest.approx(17999 / 30.0)
    # on the frame of ROI 0's first event, exactly the ROIs firing then are drawn
    t0 = float(res.events[0][0])
    viewer.dims.set_point(0, t0)
    frame = round(t0 * 30.0)
    firing = {i for i in range(5) if np.any(np.rint(res.events[i] * 30) == frame)}
    lit = np.asarray(overlay.data[frame])
    assert 0 in firing and set(np.unique(lit)) - {0} == {i + 1 for i in firing}
    # ... on the pixels of those ROIs (ROI 7 of the recording is label 5 of the selection)
    rois = viewer.layers["hippocampus (Suite2P) ROIs"].data
    for i, roi in enumerate([0, 1, 2, 3, 7]):
        assert ((lit == i + 1) == ((rois == roi + 1) & (i in firing))).all()
    save_widget_shot(w, "infer_spikes")


def test_infer_spikes_wrong_input_notifies(make_napari_viewer, qtbot, notes):
    viewer = make_napari_viewer()
    viewer.add_image(np.zeros((5, 16, 16)), name="movie")
    w = InferSpikesWidget(viewer)
    qtbot.addWidget(w)
    w.run()  # no traces layer at all
    assert not w.running
    assert w.last_error and "no traces layer" in w.last_error
    assert any("no traces layer" in m for _, m in notes)


def test_traces_widget(hippo_viewer, qtbot, tmp_path):
    viewer = hippo_viewer
    (traces,) = _kind(viewer, "traces")
    rec = traces.metadata["calcium_forge"]["recording"]
    from calcium_forge.inference import infer_spikes

    res = infer_spikes(rec.select([0, 1, 2]), method="oasis")
    napari_api.add_inference(viewer, res)
    w = TracesWidget(viewer)
    qtbot.addWidget(w)
    assert w.rate_layer.value is not None  # picks the rate layer by itself
    # click ROI 2 in the Labels layer -> it is shown
    (rois,) = _kind(viewer, "rois")
    ys, xs = np.nonzero(rois.data == 3)

    class Click:
        position = (float(ys[0]), float(xs[0]))
        view_direction = None
        dims_displayed = (0, 1)

    viewer.layers.selection.active = viewer.layers[-1]  # the overlay, not the ROIs
    for callback in viewer.mouse_drag_callbacks:  # what napari calls on a canvas click
        callback(viewer, Click())
    assert w.selected == [2]
    w.stack.value = True
    w.select_roi(0)
    assert w.selected == [0, 2]  # stacked, in ROI order
    axes = [ax for ax in w.figure.axes if ax.get_ylabel().startswith("ROI ")]
    assert len(axes) == 2
    # the raster of every ROI sits on top: the result's events, selected rows highlighted
    raster = next(ax for ax in w.figure.axes if ax.get_ylabel() == "ROI")
    assert raster.get_title(loc="left") == "events (OASIS)"
    rows = raster.collections
    assert len(rows) == 20
    np.testing.assert_allclose(np.sort(rows[1].get_positions()), np.sort(res.events[1]))
    assert len(rows[5].get_positions()) == 0  # no inference for ROI 5
    red = [i for i, c in enumerate(rows) if tuple(np.ravel(c.get_color())[:3]) != (0.25,) * 3]
    assert red == [0, 2]
    assert all(float(t).is_integer() for t in raster.get_yticks())
    assert axes[1].get_ylabel().startswith("ROI 2")
    line = axes[1].lines[0]
    np.testing.assert_allclose(line.get_ydata(), rec.traces[2])
    np.testing.assert_allclose(line.get_xdata()[-1], (18000 - 1) / 30.0)
    # time cursor follows the time slider of a movie layer
    viewer.add_image(np.zeros((300, 8, 8), np.float32), scale=(1 / 30.0, 1, 1), name="movie")
    viewer.dims.set_current_step(0, 150)
    assert w.cursors and w.cursors[0].get_xdata()[0] == pytest.approx(5.0, abs=0.05)
    w.window_s.value = 8.0  # zoom on 8 s around the cursor, following the slider
    viewer.dims.set_current_step(0, 240)
    assert w.figure.axes[0].get_xlim() == pytest.approx((4.0, 12.0), abs=0.05)
    png = w.save(tmp_path / "traces.png")
    svg = w.save(tmp_path / "traces.svg")
    assert png.read_bytes()[:4] == b"\x89PNG" and b"<svg" in svg.read_bytes()[:500]
    save_widget_shot(w, "traces")
    # with a movie, a click carries (time, y, x): still the ROI under the cursor
    ys, xs = np.nonzero(rois.data == 2)

    from types import SimpleNamespace

    click = SimpleNamespace(
        position=(5.0, float(ys[0]), float(xs[0])), view_direction=None, dims_displayed=[1, 2]
    )
    w.stack.value = False
    for callback in viewer.mouse_drag_callbacks:
        callback(viewer, click)
    assert w.selected == [1]


def test_traces_widget_shows_ground_truth(make_napari_viewer, qtbot):
    from calcium_forge.synthesis.movie import make_synthetic_stack

    rec = make_synthetic_stack(shape=(32, 32), n_cells=3, n_frames=600, seed=2).recording
    rec.meta["name"] = "gt"
    viewer = make_napari_viewer()
    napari_api.add_recording(viewer, rec)
    w = TracesWidget(viewer)
    qtbot.addWidget(w)
    w.rois.value = "1"
    ax = next(a for a in w.figure.axes if a.get_ylabel().startswith("ROI 1"))
    truth = [ln for ln in ax.lines if ln.get_label() == "ground truth"]
    assert len(truth) == 1 and len(rec.spike_times[1]) > 0
    np.testing.assert_allclose(truth[0].get_xdata(), rec.spike_times[1])


def test_infer_spikes_ens2_shipped_model(make_napari_viewer, qtbot):
    from calcium_forge.datasets import hippocampus_dff
    from calcium_forge.inference.api import DEFAULT_MODELS
    from calcium_forge.inference.registry import list_models

    if DEFAULT_MODELS["ens2"] not in list_models():
        pytest.skip("the shipped ENS² model is not installed")
    rec = hippocampus_dff().select([0, 1])
    rec = type(rec)(
        traces=rec.traces[:, :900], fs_hz=rec.fs_hz, labels=rec.labels, meta={"name": "hippo2"}
    )
    viewer = make_napari_viewer()
    napari_api.add_recording(viewer, rec)
    w = InferSpikesWidget(viewer)
    qtbot.addWidget(w)
    assert DEFAULT_MODELS["ens2"] in w.model.choices
    w.method.value = "ens2"
    w.mode.value = "fast"
    w.event_gain.value = 1.5  # overrides the card's gain for the event estimate
    w.run()
    wait_task(qtbot, w, 300_000)
    assert w.last_error is None, w.last_error
    rate = viewer.layers["hippo2 rate (ENS²)"]
    res = rate.metadata["calcium_forge"]["recording"]
    assert res.model_card["name"] == DEFAULT_MODELS["ens2"]
    shipped_gain = load_model(DEFAULT_MODELS["ens2"]).card["events"]["gain"]
    assert shipped_gain != 1.5  # so the override below is visible
    assert res.meta["event_gain"] == 1.5 and res.model_card["events"]["gain"] == shipped_gain
    assert rate.data.shape == (2, 900) and np.all(rate.data >= 0)
    assert viewer.layers["hippo2 spikes (ENS²)"].data.shape[0] > 0
    assert viewer.layers["hippo2 spike overlay (ENS²)"].data.shape == (900, *rec.labels.shape)


def test_infer_spikes_s2s_shipped_model(make_napari_viewer, qtbot):
    """S2S in the widget: the shipped calibrated model gives rates in spikes/s."""
    from calcium_forge.datasets import hippocampus_dff
    from calcium_forge.inference.registry import list_models

    if "s2s" not in list_models():
        pytest.skip("the shipped S2S model is not installed")
    rec = hippocampus_dff().select([0, 1, 2]).crop(0, 900)
    rec.meta["name"] = "hippo3"
    viewer = make_napari_viewer()
    napari_api.add_recording(viewer, rec)
    w = InferSpikesWidget(viewer)
    qtbot.addWidget(w)
    w.method.value = "s2s"
    w.run()
    wait_task(qtbot, w, 300_000)
    assert w.last_error is None, w.last_error
    rate = viewer.layers["hippo3 rate (S2S)"]
    res = rate.metadata["calcium_forge"]["recording"]
    assert res.method == "s2s" and res.model_card["name"] == "s2s"
    assert rate.data.shape == (3, 900) and np.all(rate.data >= 0)
    # calibrated output: a plausible population rate (spikes/s), not the raw network scale
    assert 0.01 < float(np.mean(rate.data)) < 20.0
    assert viewer.layers["hippo3 spikes (S2S)"].data.shape[0] > 0
