"""A readable canvas: the field of view alone on the canvas, time in seconds from 0, spikes lit
on the ROIs, plots in a dock; the session screenshot of docs/napari.md (under Xvfb + Mesa)."""

from __future__ import annotations

import numpy as np
import pytest
from _helpers import DOCS_IMAGES, wait_task


def _kind(viewer, kind):
    return [ly for ly in viewer.layers if ly.metadata.get("calcium_forge", {}).get("kind") == kind]


def _lit(shot: np.ndarray) -> int:
    """Pixels of the overlay's white in a screenshot (RGBA uint8)."""
    return int((shot[..., :3] > 235).all(axis=-1).sum())


def test_session_canvas_stays_readable(make_napari_viewer, qtbot):
    from calcium_forge._napari.traces_widget import TracesWidget

    viewer = make_napari_viewer(show=True)
    viewer.window.resize(1400, 900)
    viewer.open_sample("calcium-forge", "synthetic_stack")
    (movie,) = _kind(viewer, "synthetic_movie")
    fov = np.asarray(viewer.layers.extent.world)[:, 1:].copy()
    _, tabs = viewer.window.add_plugin_dock_widget("calcium-forge", "calcium-forge")
    infer = tabs.show_tab("Infer")
    infer.traces_layer.value = viewer.layers["synthetic dF/F"]
    infer.method.value = "oasis"
    infer.run()
    wait_task(qtbot, infer)
    assert infer.last_error is None, infer.last_error
    assert infer.status.text().startswith("done: OASIS on ")
    # traces, rates and rasters are not drawn on the canvas and do not widen it
    for kind in ("traces", "rate", "raster"):
        assert all(not ly.visible for ly in _kind(viewer, kind)), kind
    np.testing.assert_allclose(np.asarray(viewer.layers.extent.world)[:, 1:], fov)
    # the time slider is in seconds and starts at 0 s
    assert viewer.dims.axis_labels[0] == "time (s)"
    rec = viewer.layers["synthetic dF/F"].metadata["calcium_forge"]["recording"]
    assert viewer.dims.range[0].start == 0.0
    assert viewer.dims.range[0].stop == pytest.approx((rec.n_frames - 1) / rec.fs_hz)
    np.testing.assert_allclose(movie.scale[0], 1 / rec.fs_hz)

    plots = TracesWidget(viewer)
    viewer.window.add_dock_widget(plots, area="bottom", name="Traces", add_vertical_stretch=False)
    plots.rois.value = "0, 1"
    plots.window_s.value = 10.0
    # move to the frame where most ROIs fire: the overlay lights them up on the canvas
    (overlay,) = [ly for ly in _kind(viewer, "spike_overlay") if "OASIS" in ly.name]
    active = overlay.data.active
    frame = int(np.argmax(active.sum(axis=1)))
    viewer.dims.set_point(0, frame / rec.fs_hz)
    assert plots.cursors[0].get_xdata()[0] == pytest.approx(frame / rec.fs_hz, abs=1e-3)
    # napari's slider counts frames; the canvas says the time in seconds
    assert viewer.canvas.overlays.text.visible
    assert viewer.canvas.overlays.text.text == (
        f"time {frame / rec.fs_hz:.2f} s / {(rec.n_frames - 1) / rec.fs_hz:.2f} s"
    )
    viewer.reset_view()
    qtbot.wait(200)
    canvas = viewer.screenshot(canvas_only=True, flash=False)
    lit = _lit(canvas)
    assert lit > 20, "no ROI is lit by the spike overlay"
    viewer.dims.set_point(0, int(np.argmin(active.sum(axis=1))) / rec.fs_hz)
    qtbot.wait(200)
    quiet = viewer.screenshot(canvas_only=True, flash=False)
    assert lit > _lit(quiet)
    viewer.dims.set_point(0, frame / rec.fs_hz)
    qtbot.wait(200)
    DOCS_IMAGES.mkdir(parents=True, exist_ok=True)
    shot = viewer.screenshot(canvas_only=False, flash=False)
    from PIL import Image

    Image.fromarray(shot).save(DOCS_IMAGES / "napari_session.png")
    assert shot.std() > 10 and shot.shape[0] >= 600
