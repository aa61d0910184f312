"""Fixtures of the napari tests: notification capture, screenshot folder."""

from __future__ import annotations

import importlib.util
import os

import pytest

# napari's supported Qt binding is Qt6 (its PyQt5 backend is deprecated): where
# PyQt6 is installed, qtpy (napari, magicgui) uses it even if PyQt5 is too.
if importlib.util.find_spec("PyQt6") is not None:
    os.environ.setdefault("QT_API", "pyqt6")


@pytest.fixture
def notes():
    """Notifications (napari) dispatched during the test, as a list of (severity, message)."""
    from napari.utils.notifications import notification_manager

    seen: list[tuple[str, str]] = []

    def grab(event):
        n = event.value if hasattr(event, "value") else event
        seen.append((str(n.severity), str(n.message)))

    notification_manager.notification_ready.connect(grab)
    yield seen
    notification_manager.notification_ready.disconnect(grab)
