"""The **Extract traces** widget: F and neuropil of painted ROIs from a movie, then dF/F.

Form fields: ``movie_layer`` (a 3-D Image, T x Y x X, possibly lazy: a TIFF
opened by calcium-forge, a dask or zarr array, a memmap), ``rois_layer`` (a
Labels layer the user painted or Suite2P's ROIs, or a Shapes layer of
polygons, rectangles or ellipses), ``fs_hz`` (frame rate, Hz; 0 = the
movie's), ``neuropil`` (also extract a neuropil annulus per ROI),
``inner_radius_px`` and ``outer_radius_px`` (annulus radii, pixels) and
``chunk_mb`` (frames read at a time, MiB as float32).

The work is :func:`calcium_forge.io.extraction.iter_extract_traces`, which
reads the movie chunk by chunk (memory: one chunk plus the traces), with a
progress bar and Cancel. The result opens as the mean image, the ROIs
(Labels) and the dF/F traces (:func:`calcium_forge.signal.to_dff`, raw F and
neuropil kept for Infer spikes' neuropil coefficient), ready for Infer spikes.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from magicgui.widgets import CheckBox, FloatSpinBox

from ..errors import InvalidInputError
from . import layers as L
from ._form import layer_combo
from ._task import Task, TaskWidget
from .readers import recording_to_layers


def painted_labels(layer: Any, frame_shape: tuple[int, int]) -> np.ndarray:
    """The ROI label image ``(Y, X)`` (ROIs numbered 1..n) of a Labels or Shapes layer.

    Parameters
    ----------
    layer : napari.layers.Labels or napari.layers.Shapes
        ROIs as painted labels (2-D, or 3-D painted on some frames of a movie:
        the ROIs of all frames are kept) or as shapes (their last two
        coordinates are y, x).
    frame_shape : (int, int)
        (Y, X) of the movie's frames, pixels.

    Returns
    -------
    numpy.ndarray
        int32 (Y, X); 0 = background, ``i + 1`` = ROI ``i`` (the painted label
        values in increasing order, renumbered without gaps).

    Raises
    ------
    InvalidInputError
        When no layer is chosen, it is of another type, its frames do not
        match the movie, or it holds no ROI.
    """
    if layer is None:
        raise InvalidInputError(
            "no ROI layer chosen; paint ROIs in a Labels layer (or draw Shapes), or open "
            "Suite2P's output, and pick it in 'ROIs'."
        )
    kind = type(layer).__name__
    if kind == "Shapes":
        from napari.layers import Shapes

        flat = Shapes(
            [np.asarray(v)[:, -2:] for v in layer.data], shape_type=list(layer.shape_type)
        )
        labels = np.asarray(flat.to_labels(labels_shape=frame_shape))
    elif kind == "Labels":
        labels = np.asarray(layer.data)
        if labels.ndim == 3:  # painted on frames of a movie-shaped Labels layer
            labels = labels.max(axis=0)
    else:
        raise InvalidInputError(f"layer {layer.name!r} is a {kind}; pick a Labels or Shapes layer.")
    if labels.shape != tuple(frame_shape):
        raise InvalidInputError(
            f"ROI layer {layer.name!r} has frames of {labels.shape} pixels but the movie's are "
            f"{tuple(frame_shape)}; paint the ROIs on this movie."
        )
    values = np.unique(labels[labels > 0])
    if values.size == 0:
        raise InvalidInputError(f"ROI layer {layer.name!r} holds no ROI; paint at least one.")
    lut = np.zeros(int(values.max()) + 1, dtype=np.int32)
    lut[values] = np.arange(1, values.size + 1, dtype=np.int32)
    return lut[np.clip(labels, 0, None).astype(np.int64)]


class ExtractTracesWidget(TaskWidget):
    """Extract F and neuropil of ROIs (Labels or Shapes) from a movie layer; open dF/F."""

    run_text = "Extract traces"

    def make_params(self) -> list:
        """The form's fields (magicgui widgets), kept as attributes."""
        self.movie_layer = layer_combo(self.viewer, "movie_layer", "movie", None, "image", ndim=3)
        self.rois_layer = layer_combo(self.viewer, "rois_layer", "ROIs", None, ("labels", "shapes"))
        self.fs_hz = FloatSpinBox(
            name="fs_hz", label="frame rate (Hz, 0 = movie)", value=0.0, min=0.0, max=10_000.0
        )
        self.neuropil = CheckBox(name="neuropil", text="neuropil annulus", value=True)
        self.inner_radius_px = FloatSpinBox(
            name="inner_radius_px", label="annulus inner (px)", value=2.0, min=0.0, max=100.0
        )
        self.outer_radius_px = FloatSpinBox(
            name="outer_radius_px", label="annulus outer (px)", value=8.0, min=0.5, max=200.0
        )
        self.chunk_mb = FloatSpinBox(
            name="chunk_mb", label="memory per chunk (MiB)", value=64.0, min=0.01, max=1e5
        )
        return [
            self.movie_layer,
            self.rois_layer,
            self.fs_hz,
            self.neuropil,
            self.inner_radius_px,
            self.outer_radius_px,
            self.chunk_mb,
        ]

    def start(self) -> Task:
        """Read the form and return the :class:`Task` running the chunked extraction.

        Raises
        ------
        InvalidInputError
            Without a movie or ROIs, or when the frame rate is unknown.
        """
        from ..io.extraction import iter_extract_traces

        movie = self.movie_layer.value
        if movie is None:
            raise InvalidInputError("no movie layer chosen; open a TIFF movie (T, Y, X).")
        labels = painted_labels(self.rois_layer.value, tuple(movie.data.shape[-2:]))
        info = L.layer_info(movie.metadata) or {}
        fs = float(self.fs_hz.value) or info.get("fs_hz")
        if not fs:
            raise InvalidInputError(
                f"the frame rate of {movie.name!r} is unknown; enter it in 'frame rate (Hz)'."
            )
        gen = iter_extract_traces(
            movie.data,
            labels,
            float(fs),
            neuropil=bool(self.neuropil.value),
            inner_radius_px=float(self.inner_radius_px.value),
            outer_radius_px=float(self.outer_radius_px.value),
            max_chunk_mb=float(self.chunk_mb.value),
        )
        self._name = movie.name
        return Task(
            gen, self._add_result, title="Extract traces", summary=lambda r: f"{r.n_rois} ROIs"
        )

    def _add_result(self, rec: Any) -> None:
        rec.meta["name"] = self._name
        self.add_layer_data(recording_to_layers(rec, name=self._name))
