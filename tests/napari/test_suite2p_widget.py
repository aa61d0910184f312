"""Run Suite2P widget: suite2p in a subprocess on a synthetic movie, output opened as layers."""

from __future__ import annotations

import numpy as np
import pytest
from _helpers import save_widget_shot, wait_task

from calcium_forge import napari_api


def test_run_suite2p_on_synthetic_movie(make_napari_viewer, qtbot, tmp_path):
    pytest.importorskip("suite2p")
    from calcium_forge._napari.suite2p_widget import RunSuite2PWidget
    from calcium_forge.synthesis.movie import make_synthetic_stack

    stack = make_synthetic_stack(shape=(96, 96), n_cells=12, n_frames=300, seed=1)
    viewer = make_napari_viewer()
    napari_api.add_movie(viewer, np.asarray(stack.movie), stack.recording.fs_hz, name="synth")
    w = RunSuite2PWidget(viewer)
    qtbot.addWidget(w)
    assert w.stack_layer.value is viewer.layers["synth"]
    w.registration.value = False
    w.tau_s.value = 0.7
    w.out_dir.value = str(tmp_path / "s2p")
    w.run()
    assert w.running and not w.params.enabled
    wait_task(qtbot, w, 600_000)
    assert w.last_error is None, w.last_error
    plane = tmp_path / "s2p" / "suite2p" / "plane0"
    assert (plane / "F.npy").is_file() and (plane / "stat.npy").is_file()
    kinds = {
        ly.metadata["calcium_forge"]["kind"]: ly
        for ly in viewer.layers
        if "calcium_forge" in ly.metadata and "plane0" in ly.name
    }
    traces, rois = kinds["traces"], kinds["rois"]
    n = int(rois.data.max())
    assert n >= 3 and traces.data.shape == (n, 300)
    assert traces.metadata["calcium_forge"]["fs_hz"] == 30.0 and not traces.visible
    assert rois.data.shape == (96, 96)
    assert kinds["mean_image"].data.shape == (96, 96)
    # suite2p's ROIs land on the true somata
    hit = (rois.data > 0) & (stack.labels > 0)
    assert hit.sum() > 0.5 * (rois.data > 0).sum()
    save_widget_shot(w, "run_suite2p")


def test_run_suite2p_needs_a_movie(make_napari_viewer, qtbot, notes):
    from calcium_forge._napari.suite2p_widget import RunSuite2PWidget

    viewer = make_napari_viewer()
    viewer.add_image(np.zeros((16, 16), np.float32), name="flat")
    w = RunSuite2PWidget(viewer)
    qtbot.addWidget(w)
    assert w.stack_layer.value is None and not w.stack_layer.choices  # 2-D is not a stack
    w.run()
    assert not w.running and "no stack layer chosen" in w.last_error
    assert w.status.text().startswith("failed: ")
    assert any("no stack layer" in m for _, m in notes)


def test_run_suite2p_failure_is_visible(make_napari_viewer, qtbot, tmp_path, notes):
    """suite2p failing on a movie too short for it: error notification, form back, viewer usable."""
    pytest.importorskip("suite2p")
    from calcium_forge._napari.suite2p_widget import RunSuite2PWidget

    rng = np.random.default_rng(0)
    viewer = make_napari_viewer()
    movie = rng.random((4, 32, 32)).astype(np.float32)
    viewer.add_image(movie.mean(axis=0), name="mean")  # 2-D: never offered as a stack
    viewer.add_image(movie, name="short", scale=(1 / 30.0, 1, 1))
    w = RunSuite2PWidget(viewer)
    qtbot.addWidget(w)
    assert [c.name for c in w.stack_layer.choices] == ["short"]
    assert w.stack_layer.value is viewer.layers["short"]
    w.registration.value = False
    w.out_dir.value = str(tmp_path / "s2p")
    w.run()
    assert w.running
    wait_task(qtbot, w, 300_000)
    assert w.last_error and "suite2p" in w.last_error
    assert w.status.text().startswith("failed: ")
    assert any(sev == "error" and "suite2p" in m for sev, m in notes)
    assert w.run_button.enabled and w.params.enabled and not w.cancel_button.enabled
    # the viewer is still usable and the widget can run again
    viewer.add_image(np.ones((8, 8), np.float32), name="after")
    assert viewer.screenshot(canvas_only=True).size > 0
    assert not w.running
