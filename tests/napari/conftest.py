"""Fixtures of the napari tests: notification capture, screenshot folder."""

from __future__ import annotations

from pathlib import Path

import pytest

DOCS_IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"


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


def save_widget_shot(widget, name: str) -> Path:
    """Save a screenshot of a Qt widget under docs/images/<name>.png; returns the path."""
    DOCS_IMAGES.mkdir(parents=True, exist_ok=True)
    out = DOCS_IMAGES / f"{name}.png"
    widget.grab().save(str(out))
    return out


def wait_task(qtbot, widget, timeout_ms: int = 120_000) -> None:
    """Wait until a TaskWidget's worker has finished."""
    qtbot.waitUntil(lambda: not widget.running, timeout=timeout_ms)
