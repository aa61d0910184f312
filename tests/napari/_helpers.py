"""Helpers of the napari tests (screenshots for the docs, waiting for workers)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

#: Where widget screenshots go: docs/images when CALCIUM_FORGE_UPDATE_DOCS_IMAGES=1
#: (to refresh the documentation), else a temporary folder (the tree stays clean).
DOCS_IMAGES = (
    Path(__file__).resolve().parents[2] / "docs" / "images"
    if os.environ.get("CALCIUM_FORGE_UPDATE_DOCS_IMAGES") == "1"
    else Path(tempfile.gettempdir()) / "calcium_forge_docs_images"
)


def save_widget_shot(widget, name: str) -> Path:
    """Save a screenshot of a Qt widget as ``<DOCS_IMAGES>/<name>.png``; check it is not blank."""
    DOCS_IMAGES.mkdir(parents=True, exist_ok=True)
    out = DOCS_IMAGES / f"{name}.png"
    image = widget.grab()
    assert image.save(str(out)), f"could not save {out}"
    from PIL import Image

    pixels = np.asarray(Image.open(out))
    assert pixels.std() > 5, f"the screenshot of {name} is blank"
    return out


def wait_task(qtbot, widget, timeout_ms: int = 120_000) -> None:
    """Wait until a TaskWidget's worker has finished."""
    qtbot.waitUntil(lambda: not widget.running, timeout=timeout_ms)
