"""Pure conversions between calcium-forge objects and napari layer data.

Nothing here imports napari or Qt: every function returns napari
*layer-data tuples* ``(data, kwargs, layer_type)`` built from plain numpy
arrays, so the conversion can be tested (and used by scripts) without a
viewer. Axes and units:

* movies: Image ``(n_frames, Y, X)`` with ``scale = (1/fs_hz, 1, 1)`` and the
  axis labels ``("time (s)", "y", "x")``: the time slider starts at 0 s;
* spike overlays: a lazy Labels movie ``(n_frames, Y, X)`` on the same time
  axis, in which the ROIs with an event in a frame light up on that frame;
* traces / rates: Image ``(n_rois, n_frames)``; rasters: Points at
  ``(roi, time_s)``, size ∝ spike count. They carry the data that widgets pick
  and writers save, and are drawn in the docked plots (Traces widget): hidden
  and scaled inside one pixel (:func:`off_canvas`), so that they never stretch
  the field of view. Their frame rate is in the metadata (``fs_hz``).

Every layer carries ``metadata["calcium_forge"] = {"kind": ..., "recording": ...}``.

The builders live in three modules, one job each, re-exported here (the
widgets use ``from . import layers as L``):

* :mod:`.layer_meta` -- the metadata convention and its inverses
  (layer -> Recording / SpikeInference), shared labels and contrast limits;
* :mod:`.trace_layers` -- traces, rates, mean image, ROIs, rasters, and the
  layer sets of a recording, an inference and synthetic traces;
* :mod:`.movie_layers` -- stacks and spike overlays on movie frames.
"""

from __future__ import annotations

from .layer_meta import (
    KIND_LABELS,
    LAYER_KINDS,
    METHOD_LABELS,
    LayerDataTuple,
    base_name,
    cf_metadata,
    layer_info,
    off_canvas,
    recording_from_layer_data,
    result_from_layer_data,
    robust_limits,
)
from .movie_layers import (
    EventFrames,
    event_table,
    roi_centroids,
    roi_radii,
    spike_overlay_layer,
    stack_layer,
)
from .trace_layers import (
    RASTER_SIZE_PER_SPIKE,
    inference_layers,
    mean_image_layer,
    raster_layer,
    recording_layers,
    roi_colors,
    roi_models,
    rois_layer,
    synthetic_layers,
    traces_layer,
)

__all__ = [
    "KIND_LABELS",
    "LAYER_KINDS",
    "METHOD_LABELS",
    "RASTER_SIZE_PER_SPIKE",
    "EventFrames",
    "LayerDataTuple",
    "base_name",
    "cf_metadata",
    "event_table",
    "inference_layers",
    "layer_info",
    "mean_image_layer",
    "off_canvas",
    "raster_layer",
    "recording_from_layer_data",
    "recording_layers",
    "result_from_layer_data",
    "robust_limits",
    "roi_centroids",
    "roi_colors",
    "roi_models",
    "roi_radii",
    "rois_layer",
    "spike_overlay_layer",
    "stack_layer",
    "synthetic_layers",
    "traces_layer",
]
