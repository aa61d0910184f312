"""TaskWidget: every run ends in one final status (done / cancelled / failed), never "running"."""

from __future__ import annotations

import pytest
from _helpers import wait_task

from calcium_forge.progress import Progress


def _widget(viewer, gen_factory, summary=None):
    from calcium_forge._napari._task import Task, TaskWidget

    class W(TaskWidget):
        def start(self):
            return Task(gen_factory(), lambda r: None, title="job", summary=summary)

    return W(viewer)


def _raises(exc):
    def gen():
        yield Progress(1, 3, "stage one")
        raise exc

    return gen


@pytest.mark.parametrize(
    "exc", [RuntimeError("torch said no"), KeyError("ops"), ValueError("bad value")]
)
def test_worker_failure_ends_failed_and_reenables(make_napari_viewer, qtbot, notes, exc):
    # superqt drops a RuntimeError escaping a worker (no errored/finished signal)
    w = _widget(make_napari_viewer(), _raises(exc))
    qtbot.addWidget(w)
    w.run()
    wait_task(qtbot, w, 20_000)
    assert w.status.text().startswith("failed: ")
    assert str(exc.args[0]) in w.last_error
    assert any(sev == "error" and str(exc.args[0]) in m for sev, m in notes)
    assert w.run_button.enabled and w.params.enabled and not w.cancel_button.enabled


def test_done_status_is_final(make_napari_viewer, qtbot):
    def gen():
        for i in range(5):
            yield Progress(i + 1, 5, "OASIS deconvolution")
        return 23

    w = _widget(make_napari_viewer(), gen, summary=lambda n: f"{n} ROIs")
    qtbot.addWidget(w)
    w.run()
    wait_task(qtbot, w, 20_000)
    qtbot.wait(50)  # let any queued progress signal arrive: it must not overwrite the end
    text = w.status.text()
    assert text.startswith("done: 23 ROIs in ") and text.endswith(" s"), text
    assert w.last_error is None


def test_qt6_binding():
    """The napari extra installs PyQt6; qtpy (napari, magicgui) runs on Qt 6."""
    import qtpy

    assert qtpy.QT6, f"napari runs on {qtpy.API_NAME} {qtpy.QT_VERSION}; install PyQt6"


def test_cancel_ends_cancelled(make_napari_viewer, qtbot):
    import time

    def gen():
        for i in range(1000):
            time.sleep(0.01)
            yield Progress(i + 1, 1000, "slow stage")
        return 1

    w = _widget(make_napari_viewer(), gen)
    qtbot.addWidget(w)
    w.run()
    qtbot.waitUntil(lambda: w.last_progress is not None, timeout=10_000)
    w.cancel()
    wait_task(qtbot, w, 20_000)
    qtbot.wait(50)
    assert w.status.text() == "cancelled"
    assert w.last_error is None and w.last_progress.step < 1000
    assert w.run_button.enabled and w.params.enabled and not w.cancel_button.enabled
