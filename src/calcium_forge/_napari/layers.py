"""Pure conversions between calcium-forge objects and napari layer data.

Nothing here imports napari or Qt: every function returns napari
*layer-data tuples* ``(data, kwargs, layer_type)`` built from plain numpy
arrays, so the conversion can be tested (and used by scripts) without a
viewer. Axes and units:

* traces / rates: Image ``(n_rois, n_frames)`` with ``scale = (1, 1/fs_hz)``,
  so the horizontal world axis is time in seconds;
* movies: Image ``(n_frames, Y, X)`` with ``scale = (1/fs_hz, 1, 1)``;
* rasters: Points at ``(roi, time_s)`` (``scale = (1, 1)``), size ∝ spike count;
* spike overlays: Points at ``(frame, y, x)`` of the ROI centroid with
  ``scale = (1/fs_hz, 1, 1)``, so they appear on the movie frame of the spike.

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
    recording_from_layer_data,
    result_from_layer_data,
    robust_limits,
)
from .movie_layers import roi_centroids, roi_radii, spike_overlay_layer, stack_layer
from .trace_layers import (
    RASTER_SIZE_PER_SPIKE,
    inference_layers,
    mean_image_layer,
    raster_layer,
    recording_layers,
    roi_colors,
    rois_layer,
    synthetic_layers,
    traces_layer,
)

__all__ = [
    "KIND_LABELS",
    "LAYER_KINDS",
    "METHOD_LABELS",
    "RASTER_SIZE_PER_SPIKE",
    "LayerDataTuple",
    "base_name",
    "cf_metadata",
    "inference_layers",
    "layer_info",
    "mean_image_layer",
    "raster_layer",
    "recording_from_layer_data",
    "recording_layers",
    "result_from_layer_data",
    "robust_limits",
    "roi_centroids",
    "roi_colors",
    "roi_radii",
    "rois_layer",
    "spike_overlay_layer",
    "stack_layer",
    "synthetic_layers",
    "traces_layer",
]
