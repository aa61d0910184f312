"""Layers of recordings and results: traces and rates, ROIs, spike rasters.

* mean image and ROIs: Image and Labels ``(Y, X)`` (drawn on the canvas);
* traces / rates: Image ``(n_rois, n_frames)``; rasters: Points at
  ``(roi, time_s)``, size ∝ spike count. These carry data for the widgets and
  writers and are drawn in the docked plots (Traces widget): they are hidden
  and kept inside one pixel of the canvas (:func:`.layer_meta.off_canvas`);
  the frame rate is ``metadata["calcium_forge"]["fs_hz"]``.

:func:`recording_layers`, :func:`inference_layers` and :func:`synthetic_layers`
assemble them (the inference adds a spike overlay from :mod:`.movie_layers`
when the input has labels). Nothing here imports napari or Qt.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import InvalidInputError
from ..recording import Recording
from ..results import SpikeInference
from .layer_meta import (
    KIND_LABELS,
    METHOD_LABELS,
    LayerDataTuple,
    base_name,
    cf_metadata,
    off_canvas,
    robust_limits,
)
from .movie_layers import spike_overlay_layer

#: Points size (world units) of a raster tick holding one spike.
RASTER_SIZE_PER_SPIKE = 0.6


def roi_colors(n_rois: int, iscell: np.ndarray | None = None) -> dict[int | None, Any]:
    """A direct label colormap: cells in distinct colours, non-cells grey.

    Parameters
    ----------
    n_rois : int
        Number of ROIs.
    iscell : numpy.ndarray, optional
        bool (n_rois,); False ROIs are grey (all cells when None).

    Returns
    -------
    dict
        Usable as the ``colormap`` of a napari Labels layer (label ``i + 1`` ->
        RGBA of ROI ``i``, components in [0, 1]; ``None`` -> transparent default).
    """
    import matplotlib

    cmap = matplotlib.colormaps["tab20"]
    colors: dict[int | None, Any] = {None: (0.0, 0.0, 0.0, 0.0), 0: (0.0, 0.0, 0.0, 0.0)}
    for i in range(n_rois):
        if iscell is not None and not bool(iscell[i]):
            colors[i + 1] = (0.55, 0.55, 0.55, 0.6)
        else:
            colors[i + 1] = tuple(float(c) for c in cmap(i % 20))
    return colors


def traces_layer(
    rec: Recording,
    *,
    name: str | None = None,
    kind: str = "traces",
    raw: Recording | None = None,
) -> LayerDataTuple:
    """Traces of a recording as a hidden Image ``(n_rois, n_frames)`` (drawn in the plot dock).

    Parameters
    ----------
    rec : Recording
        The traces (dF/F, raw F or rate).
    name : str, optional
        Source name; the layer is called ``"<name> dF/F"`` (or ``F``/``rate``).
    kind : {"traces", "synthetic_traces", "rate"}
        Metadata kind.
    raw : Recording, optional
        The raw recording the dF/F was computed from (kept for widgets that
        redo neuropil correction).

    Returns
    -------
    (data, kwargs, layer_type)
        A napari layer-data tuple (napari's own format, hence a tuple).
    """
    label = KIND_LABELS.get(rec.kind, rec.kind)
    base = base_name(rec, name)
    layer_name = f"{base} synthetic {label}" if kind == "synthetic_traces" else f"{base} {label}"
    extra: dict[str, Any] = {
        "fs_hz": rec.fs_hz,
        "units": {"dff": "dF/F", "raw": "a.u.", "rate": "spikes/s"}[rec.kind],
    }
    if raw is not None:
        extra["raw"] = raw
    kwargs = {
        "name": layer_name,
        **off_canvas(rec.traces.shape),
        "colormap": "viridis" if kind != "rate" else "magma",
        "contrast_limits": robust_limits(rec.traces),
        "interpolation2d": "nearest",
        "metadata": cf_metadata(kind, rec, **extra),
    }
    return rec.traces, kwargs, "image"


def mean_image_layer(rec: Recording, *, name: str | None = None) -> LayerDataTuple:
    """The recording's mean image as an Image ``(Y, X)``.

    Parameters
    ----------
    rec : Recording
        A recording with a ``mean_image``.
    name : str, optional
        Source name; the layer is called ``"<name> mean image"``.

    Returns
    -------
    (data, kwargs, layer_type)
        A napari layer-data tuple (napari's own format, hence a tuple).

    Raises
    ------
    InvalidInputError
        When the recording has no mean image.
    """
    image = _required(
        rec, "mean_image", "mean_image; read a Suite2P folder with ops.npy or a stack to get one."
    )
    kwargs = {
        "name": f"{base_name(rec, name)} mean image",
        "colormap": "gray",
        "contrast_limits": robust_limits(image, 0.5, 99.8),
        "metadata": cf_metadata("mean_image", rec),
    }
    return image, kwargs, "image"


def rois_layer(rec: Recording, *, name: str | None = None) -> LayerDataTuple:
    """The ROIs as a Labels layer (label ``i + 1`` = ROI ``i``; non-cells grey).

    Parameters
    ----------
    rec : Recording
        A recording with ``labels``.
    name : str, optional
        Source name; the layer is called ``"<name> ROIs"``.

    Returns
    -------
    (data, kwargs, layer_type)
        A napari layer-data tuple (napari's own format, hence a tuple).

    Raises
    ------
    InvalidInputError
        When the recording has no labels image.
    """
    labels = _required(rec, "labels", "labels image; it cannot be shown as ROIs.")
    kwargs = {
        "name": f"{base_name(rec, name)} ROIs",
        "colormap": roi_colors(rec.n_rois, rec.iscell),
        "opacity": 0.6,
        "features": {
            "roi": np.arange(rec.n_rois, dtype=np.int64),
            "iscell": np.asarray(rec.iscell, dtype=bool),
        },
        "metadata": cf_metadata("rois", rec, iscell=np.asarray(rec.iscell, dtype=bool)),
    }
    return labels, kwargs, "labels"


def _required(rec: Recording, attr: str, missing: str) -> Any:
    """``rec.<attr>``, or an InvalidInputError "recording <name> has no <missing>"."""
    value = getattr(rec, attr)
    if value is None:
        raise InvalidInputError(f"recording {rec.name!r} has no {missing}")
    return value


def raster_layer(
    events: list[np.ndarray],
    fs_hz: float,
    *,
    name: str,
    recording: Any,
    color: str = "white",
    **extra: Any,
) -> LayerDataTuple:
    """Spike events as hidden Points at ``(roi, time_s)``, one point per (ROI, frame).

    Events falling in the same frame bin (1/fs_hz) are merged into one point
    whose size is proportional to the spike count.

    Parameters
    ----------
    events : list of numpy.ndarray
        Spike times per ROI, seconds.
    fs_hz : float
        Frame rate used to bin the events, Hz.
    name : str
        Layer name.
    recording : object
        Stored in the metadata.
    color : str
        Face colour.
    **extra
        More metadata keys (``method``, ``ground_truth``...).

    Returns
    -------
    (data, kwargs, layer_type)
        A napari layer-data tuple (napari's own format, hence a tuple).
    """
    rows, times, counts = [], [], []
    for i, ev in enumerate(events):
        ev = np.asarray(ev, dtype=np.float64)
        if ev.size == 0:
            continue
        # frame j is the bin centred on j / fs_hz (as the traces image is drawn)
        frames, n = np.unique(np.rint(ev * fs_hz).astype(np.int64), return_counts=True)
        rows.append(np.full(frames.size, i, dtype=np.float64))
        times.append(frames / fs_hz)
        counts.append(n)
    if rows:
        data = np.stack([np.concatenate(rows), np.concatenate(times)], axis=1)
        count = np.concatenate(counts).astype(np.int64)
    else:
        data = np.zeros((0, 2), dtype=np.float64)
        count = np.zeros(0, dtype=np.int64)
    kwargs = {
        "name": name,
        **off_canvas((max(len(events), 1), float(data[:, 1].max(initial=0.0)) + 1.0 / fs_hz)),
        "size": RASTER_SIZE_PER_SPIKE * count if count.size else RASTER_SIZE_PER_SPIKE,
        "face_color": color,
        "border_width": 0,
        "symbol": "square",
        "features": {"roi": data[:, 0].astype(np.int64), "time_s": data[:, 1], "count": count},
        "metadata": cf_metadata("raster", recording, fs_hz=float(fs_hz), **extra),
    }
    return data, kwargs, "points"


def recording_layers(
    rec: Recording,
    *,
    name: str | None = None,
    raw: Recording | None = None,
) -> list[LayerDataTuple]:
    """All layers of a recording: mean image, ROIs, traces, ground-truth raster.

    Parameters
    ----------
    rec : Recording
        The recording (usually dF/F).
    name : str, optional
        Source name used in the layer names (default: ``rec.name``).
    raw : Recording, optional
        Raw F + neuropil the dF/F was computed from.

    Returns
    -------
    list of (data, kwargs, layer_type)
        napari layer-data tuples, in the order above.
    """
    out: list[LayerDataTuple] = []
    if rec.mean_image is not None:
        out.append(mean_image_layer(rec, name=name))
    if rec.labels is not None:
        out.append(rois_layer(rec, name=name))
    out.append(traces_layer(rec, name=name, raw=raw))
    if rec.spike_times is not None:
        out.append(
            raster_layer(
                rec.spike_times,
                rec.fs_hz,
                name=f"{base_name(rec, name)} ground-truth spikes",
                recording=rec,
                color="cyan",
                ground_truth=True,
            )
        )
    return out


def roi_models(result: SpikeInference) -> dict[str, list]:
    """Each ROI's noise level ν and the model it got, from ``result.meta``.

    Parameters
    ----------
    result : SpikeInference
        A result of :func:`calcium_forge.inference.infer_spikes`, whose
        ``meta["noise_level"]`` holds ν per ROI (% / √Hz) and ``meta["model"]``
        the model (one name, or one per ROI).

    Returns
    -------
    dict
        ``{"roi": [...], "noise_level": [...], "model": [...]}``, one entry per
        row of the result; ``roi`` is the index in the input recording (the
        inference may have run on a subset), ν is NaN and the model ``""`` when
        the result does not record them.
    """
    n = result.n_rois
    rec = result.recording
    roi = list(rec.meta.get("roi_indices", range(n))) if rec is not None else list(range(n))
    nu = result.meta.get("noise_level")
    nu = [float(v) for v in nu] if nu is not None and len(nu) == n else [float("nan")] * n
    model = result.meta.get("model", "")
    models = [str(m) for m in model] if isinstance(model, list | tuple) else [str(model)] * n
    return {"roi": [int(i) for i in roi], "noise_level": nu, "model": models}


def inference_layers(result: SpikeInference, *, name: str | None = None) -> list[LayerDataTuple]:
    """Layers of a spike inference: rate Image, raster Points, spike overlay Points.

    The rate layer is named like ``plane0 rate (ENS²)``; the raster
    ``plane0 spikes (ENS²)``; the overlay (only when the input has labels)
    ``plane0 spike overlay (ENS²)``.

    Parameters
    ----------
    result : SpikeInference
        Rates (spikes/s) and events (s).
    name : str, optional
        Source name used in the layer names (default: the input's name).

    Returns
    -------
    list of (data, kwargs, layer_type)
        napari layer-data tuples: rate, then raster and overlay when there are
        events.
    """
    method = METHOD_LABELS.get(result.method, result.method)
    base = base_name(result, name)
    per_roi = roi_models(result)
    rate_kwargs = {
        "name": f"{base} rate ({method})",
        **off_canvas(result.rate_hz.shape),
        "colormap": "magma",
        "contrast_limits": robust_limits(result.rate_hz, 0.0, 99.8),
        "interpolation2d": "nearest",
        "metadata": cf_metadata(
            "rate", result, fs_hz=result.fs_hz, method=result.method, units="spikes/s", **per_roi
        ),
    }
    out: list[LayerDataTuple] = [(result.rate_hz, rate_kwargs, "image")]
    if result.events is not None:
        out.append(
            raster_layer(
                result.events,
                result.fs_hz,
                name=f"{base} spikes ({method})",
                recording=result,
                method=result.method,
                **per_roi,
            )
        )
        rec = result.recording
        if rec is not None and rec.labels is not None:
            out.append(
                spike_overlay_layer(
                    result.events,
                    result.fs_hz,
                    rec.labels,
                    name=f"{base} spike overlay ({method})",
                    recording=result,
                    n_frames=result.n_frames,
                    **per_roi,
                )
            )
    return out


def synthetic_layers(
    rec: Recording,
    *,
    name: str | None = None,
    inference: SpikeInference | None = None,
) -> list[LayerDataTuple]:
    """Layers of synthetic traces: traces Image and raster Points.

    The raster comes from ``rec.spike_times`` (generated spikes) or, when
    given, from ``inference.events`` (spikes deconvolved from the traces).

    Parameters
    ----------
    rec : Recording
        Synthetic traces (spike times in s, when generated).
    name : str, optional
        Source name used in the layer names.
    inference : SpikeInference, optional
        Inference run on the traces, whose events replace the generated spikes.

    Returns
    -------
    list of (data, kwargs, layer_type)
        napari layer-data tuples: traces, then the raster when there are spikes.
    """
    out = [traces_layer(rec, name=name, kind="synthetic_traces")]
    events = rec.spike_times
    how = "ground truth"
    if inference is not None and inference.events is not None:
        events, how = inference.events, inference.method
    if events is not None:
        out.append(
            raster_layer(
                events,
                rec.fs_hz,
                name=f"{base_name(rec, name)} synthetic spikes",
                recording=rec,
                color="orange",
                synthetic=True,
                events_from=how,
            )
        )
    return out
