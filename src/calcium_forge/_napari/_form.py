"""Small magicgui helpers shared by the widgets (layer pickers, ROI lists)."""

from __future__ import annotations

from typing import Any

import numpy as np
from magicgui.widgets import ComboBox

from ..errors import InvalidInputError
from ..recording import Recording
from . import layers as L


def layer_combo(
    viewer: Any,
    name: str,
    label: str,
    kinds: tuple[str, ...] | None = None,
    layer_type: str | tuple[str, ...] | None = None,
    optional: bool = False,
    ndim: int | None = None,
) -> ComboBox:
    """A ComboBox listing the viewer's layers of given calcium-forge kinds / napari type.

    ``kinds=None`` accepts any layer of ``layer_type`` (so that images opened by
    other plugins can be used too); ``ndim`` keeps only layers with that many
    dimensions (3 for movies: a 2-D mean image is never offered as a stack).
    """

    def choices(_widget: Any = None) -> list[tuple[str, Any]]:
        out: list[tuple[str, Any]] = [("(none)", None)] if optional else []
        for layer in viewer.layers:
            types = (layer_type,) if isinstance(layer_type, str) else layer_type
            if types and type(layer).__name__.lower() not in types:
                continue
            if ndim is not None and getattr(layer, "ndim", None) != ndim:
                continue
            info = L.layer_info(getattr(layer, "metadata", None))
            if kinds is not None and (info is None or info.get("kind") not in kinds):
                continue
            out.append((layer.name, layer))
        return out

    return ComboBox(name=name, label=label, choices=choices, nullable=optional)


def layer_recording(layer: Any, what: str = "traces") -> Recording:
    """The Recording shown by a traces-like layer, or an error naming the layer."""
    if layer is None:
        raise InvalidInputError(
            f"no {what} layer chosen; open a recording (File > Open Sample > calcium-forge) "
            f"or pick a {what} layer."
        )
    return L.recording_from_layer_data(
        layer.data, layer.metadata, getattr(layer, "scale", None), layer_name=layer.name
    )


def parse_rois(text: str, n_rois: int) -> np.ndarray:
    """ROI indices from text like ``"0, 3, 5-7"``.

    Raises
    ------
    InvalidInputError
        On syntax errors or indices outside ``0..n_rois-1``.
    """
    out: list[int] = []
    for part in str(text).replace(";", ",").split(","):
        part = part.strip()
        if not part:
            continue
        try:
            if "-" in part[1:]:
                a, b = part.split("-", 1) if not part.startswith("-") else (part, "")
                out.extend(range(int(a), int(b) + 1))
            else:
                out.append(int(part))
        except ValueError:
            raise InvalidInputError(
                f"ROI list {text!r}: {part!r} is not an index or a range like 3-7."
            ) from None
    bad = [i for i in out if not 0 <= i < n_rois]
    if bad:
        raise InvalidInputError(
            f"ROI list {text!r}: indices {bad} are outside 0..{n_rois - 1} ({n_rois} ROIs)."
        )
    return np.asarray(sorted(set(out)), dtype=np.int64)
