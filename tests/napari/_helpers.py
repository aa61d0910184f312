"""Helpers of the napari tests (screenshots for the docs, waiting for workers)."""

from __future__ import annotations

from pathlib import Path

DOCS_IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"


def save_widget_shot(widget, name: str) -> Path:
    """Save a screenshot of a Qt widget under docs/images/<name>.png; returns the path."""
    DOCS_IMAGES.mkdir(parents=True, exist_ok=True)
    out = DOCS_IMAGES / f"{name}.png"
    widget.grab().save(str(out))
    return out


def wait_task(qtbot, widget, timeout_ms: int = 120_000) -> None:
    """Wait until a TaskWidget's worker has finished."""
    qtbot.waitUntil(lambda: not widget.running, timeout=timeout_ms)
