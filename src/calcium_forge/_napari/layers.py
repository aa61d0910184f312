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
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..errors import InvalidInputError
from ..recording import Recording
from ..results import SpikeInference

LayerDataTuple = tuple[Any, dict[str, Any], str]

#: Values of ``metadata["calcium_forge"]["kind"]``.
LAYER_KINDS: tuple[str, ...] = (
    "stack",
    "mean_image",
    "rois",
    "traces",
    "rate",
    "raster",
    "spike_overlay",
    "synthetic_traces",
    "synthetic_movie",
)

METHOD_LABELS: dict[str, str] = {"ens2": "ENS²", "s2s": "S2S", "oasis": "OASIS"}
KIND_LABELS: dict[str, str] = {"dff": "dF/F", "raw": "F", "rate": "rate"}

#: Points size (world units) of a raster tick holding one spike.
RASTER_SIZE_PER_SPIKE = 0.6


def cf_metadata(kind: str, recording: Any, **extra: Any) -> dict[str, Any]:
    """The ``layer.metadata`` dict of a calcium-forge layer.

    Parameters
    ----------
    kind : str
        One of :data:`LAYER_KINDS`.
    recording : Recording, SpikeInference, Stack or None
        The object the layer shows; widgets find their inputs through it.
    **extra
        More keys (``fs_hz``, ``method``, ``ground_truth``...).
    """
    if kind not in LAYER_KINDS:
        raise InvalidInputError(f"layer kind must be one of {LAYER_KINDS}; got {kind!r}.")
    return {"calcium_forge": {"kind": kind, "recording": recording, **extra}}


def layer_info(metadata: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The ``calcium_forge`` entry of a layer's metadata, or None."""
    if not metadata:
        return None
    info = metadata.get("calcium_forge")
    return info if isinstance(info, dict) else None


def _robust_limits(a: np.ndarray, lo: float = 1.0, hi: float = 99.5) -> tuple[float, float]:
    """Percentile contrast limits ignoring NaN; never equal."""
    finite = np.asarray(a, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    if finite.size == 0:
        return 0.0, 1.0
    if finite.size > 2_000_000:
        finite = finite[:: finite.size // 2_000_000 + 1]
    vmin, vmax = (float(v) for v in np.percentile(finite, [lo, hi]))
    if not vmax > vmin:
        vmax = vmin + (abs(vmin) if vmin else 1.0)
    return vmin, vmax


def roi_centroids(labels: np.ndarray, n_rois: int) -> np.ndarray:
    """Centroids of the ROIs of a label image.

    Parameters
    ----------
    labels : numpy.ndarray
        int image (Y, X), 0 = background, ``i + 1`` = ROI ``i``.
    n_rois : int
        Number of ROIs.

    Returns
    -------
    numpy.ndarray
        float64 (n_rois, 2) ``(y, x)`` in pixels; NaN for ROIs without pixels.
    """
    labels = np.asarray(labels)
    flat = labels.ravel().astype(np.int64)
    yy, xx = np.indices(labels.shape)
    count = np.bincount(flat, minlength=n_rois + 1)[1 : n_rois + 1].astype(np.float64)
    sy = np.bincount(flat, weights=yy.ravel(), minlength=n_rois + 1)[1 : n_rois + 1]
    sx = np.bincount(flat, weights=xx.ravel(), minlength=n_rois + 1)[1 : n_rois + 1]
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.stack([sy / count, sx / count], axis=1)
    out[count == 0] = np.nan
    return out


def roi_radii(labels: np.ndarray, n_rois: int) -> np.ndarray:
    """Equivalent-disc radius of each ROI in pixels (float64, n_rois); 0 when empty."""
    flat = np.asarray(labels).ravel().astype(np.int64)
    area = np.bincount(flat, minlength=n_rois + 1)[1 : n_rois + 1].astype(np.float64)
    return np.sqrt(area / np.pi)


def roi_colors(n_rois: int, iscell: np.ndarray | None = None) -> dict[int | None, Any]:
    """A direct label colormap: cells in distinct colours, non-cells grey.

    Returns a dict usable as the ``colormap`` of a napari Labels layer
    (label ``i + 1`` -> RGBA of ROI ``i``; ``None`` -> transparent default).
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


def base_name(obj: Recording | SpikeInference | None, name: str | None = None) -> str:
    """Display name of a recording/result source, e.g. ``plane0``."""
    if name:
        return name
    if isinstance(obj, SpikeInference):
        return obj.recording.name if obj.recording is not None else "traces"
    if isinstance(obj, Recording):
        return obj.name
    return "recording"


# ----------------------------------------------------------------- recordings
def traces_layer(
    rec: Recording,
    *,
    name: str | None = None,
    kind: str = "traces",
    raw: Recording | None = None,
) -> LayerDataTuple:
    """Traces of a recording as an Image ``(n_rois, n_frames)`` in seconds.

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
        "scale": (1.0, 1.0 / rec.fs_hz),
        "colormap": "viridis" if kind != "rate" else "magma",
        "contrast_limits": _robust_limits(rec.traces),
        "interpolation2d": "nearest",
        "metadata": cf_metadata(kind, rec, **extra),
    }
    return rec.traces, kwargs, "image"


def mean_image_layer(rec: Recording, *, name: str | None = None) -> LayerDataTuple:
    """The recording's mean image as an Image ``(Y, X)``."""
    if rec.mean_image is None:
        raise InvalidInputError(
            f"recording {rec.name!r} has no mean_image; read a Suite2P folder with ops.npy "
            "or a stack to get one."
        )
    kwargs = {
        "name": f"{base_name(rec, name)} mean image",
        "colormap": "gray",
        "contrast_limits": _robust_limits(rec.mean_image, 0.5, 99.8),
        "metadata": cf_metadata("mean_image", rec),
    }
    return rec.mean_image, kwargs, "image"


def rois_layer(rec: Recording, *, name: str | None = None) -> LayerDataTuple:
    """The ROIs as a Labels layer (label ``i + 1`` = ROI ``i``; non-cells grey)."""
    if rec.labels is None:
        raise InvalidInputError(
            f"recording {rec.name!r} has no labels image; it cannot be shown as ROIs."
        )
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
    return rec.labels, kwargs, "labels"


def raster_layer(
    events: list[np.ndarray],
    fs_hz: float,
    *,
    name: str,
    recording: Any,
    color: str = "white",
    **extra: Any,
) -> LayerDataTuple:
    """Spike events as Points at ``(roi, time_s)``, one point per (ROI, frame).

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
        "size": RASTER_SIZE_PER_SPIKE * count if count.size else RASTER_SIZE_PER_SPIKE,
        "face_color": color,
        "border_width": 0,
        "symbol": "square",
        "features": {"roi": data[:, 0].astype(np.int64), "time_s": data[:, 1], "count": count},
        "metadata": cf_metadata("raster", recording, fs_hz=float(fs_hz), **extra),
    }
    return data, kwargs, "points"


def spike_overlay_layer(
    events: list[np.ndarray],
    fs_hz: float,
    labels: np.ndarray,
    *,
    name: str,
    recording: Any,
    n_frames: int | None = None,
    color: str = "yellow",
) -> LayerDataTuple:
    """Spike events as Points at ``(frame, y, x)`` of the ROI centroid.

    With ``scale = (1/fs_hz, 1, 1)`` the points share the time axis of the
    movie, so scrubbing the movie shows which ROIs fire on each frame.
    """
    n_rois = len(events)
    cent = roi_centroids(labels, n_rois)
    radius = roi_radii(labels, n_rois)
    pts, sizes, rois = [], [], []
    for i, ev in enumerate(events):
        ev = np.asarray(ev, dtype=np.float64)
        if ev.size == 0 or not np.isfinite(cent[i]).all():
            continue
        frames = np.unique(np.rint(ev * fs_hz).astype(np.int64))
        if n_frames is not None:
            frames = frames[(frames >= 0) & (frames < n_frames)]
        pts.append(np.column_stack([frames, np.repeat(cent[i][None], frames.size, axis=0)]))
        sizes.append(np.full(frames.size, max(2.0 * radius[i], 3.0)))
        rois.append(np.full(frames.size, i, dtype=np.int64))
    if pts:
        data = np.concatenate(pts).astype(np.float64)
        size: Any = np.concatenate(sizes)
        roi = np.concatenate(rois)
    else:
        data, size, roi = np.zeros((0, 3)), 5.0, np.zeros(0, dtype=np.int64)
    kwargs = {
        "name": name,
        "scale": (1.0 / fs_hz, 1.0, 1.0),
        "size": size,
        "face_color": "transparent",
        "border_color": color,
        "border_width": 0.15,
        "features": {"roi": roi},
        "metadata": cf_metadata("spike_overlay", recording, fs_hz=float(fs_hz)),
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


def inference_layers(result: SpikeInference, *, name: str | None = None) -> list[LayerDataTuple]:
    """Layers of a spike inference: rate Image, raster Points, spike overlay Points.

    The rate layer is named like ``plane0 rate (ENS²)``; the raster
    ``plane0 spikes (ENS²)``; the overlay (only when the input has labels)
    ``plane0 spike overlay (ENS²)``.
    """
    method = METHOD_LABELS.get(result.method, result.method)
    base = base_name(result, name)
    rate_kwargs = {
        "name": f"{base} rate ({method})",
        "scale": (1.0, 1.0 / result.fs_hz),
        "colormap": "magma",
        "contrast_limits": _robust_limits(result.rate_hz, 0.0, 99.8),
        "interpolation2d": "nearest",
        "metadata": cf_metadata(
            "rate", result, fs_hz=result.fs_hz, method=result.method, units="spikes/s"
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


def stack_layer(
    data: Any,
    fs_hz: float | None,
    *,
    name: str,
    recording: Any = None,
    kind: str = "stack",
    **extra: Any,
) -> LayerDataTuple:
    """A movie ``(n_frames, Y, X)`` as an Image with time scale ``1/fs_hz`` s.

    ``data`` may be lazy (dask/zarr/memmap); nothing is loaded here except a
    few frames to set the contrast limits.
    """
    shape = tuple(getattr(data, "shape", ()))
    if len(shape) < 2:
        raise InvalidInputError(f"a stack must be (n_frames, Y, X); got shape {shape}.")
    scale = None
    if len(shape) >= 3:
        step_s = 1.0 / fs_hz if fs_hz else 1.0
        scale = (step_s,) + (1.0,) * (len(shape) - 1)
    n = shape[0] if len(shape) >= 3 else 1
    idx = np.unique(np.linspace(0, n - 1, min(n, 5)).astype(int)) if len(shape) >= 3 else None
    sample = np.asarray(data[idx] if idx is not None else data, dtype=np.float32)
    kwargs: dict[str, Any] = {
        "name": name,
        "colormap": "gray",
        "contrast_limits": _robust_limits(sample, 0.5, 99.8),
        "metadata": cf_metadata(kind, recording, fs_hz=fs_hz, **extra),
    }
    if scale is not None:
        kwargs["scale"] = scale
        kwargs["axis_labels"] = ("time (s)", "y", "x")[-len(shape) :] if len(shape) == 3 else None
        if kwargs["axis_labels"] is None:
            del kwargs["axis_labels"]
    return data, kwargs, "image"


# ------------------------------------------------------------------ inverses
def recording_from_layer_data(
    data: Any,
    metadata: Mapping[str, Any] | None,
    scale: Any = None,
    *,
    layer_name: str = "layer",
) -> Recording:
    """The Recording a traces-like layer shows.

    Uses ``metadata["calcium_forge"]["recording"]`` when present (a
    Recording, or the input/rates of a SpikeInference); otherwise builds a
    dF/F Recording from a 2-D image ``(n_rois, n_frames)`` whose time scale
    (``scale[-1]``, seconds per frame) gives the frame rate.

    Raises
    ------
    InvalidInputError
        When the layer holds nothing that can be read as traces.
    """
    info = layer_info(metadata)
    if info is not None:
        obj = info.get("recording")
        if isinstance(obj, Recording):
            return obj
        if isinstance(obj, SpikeInference):
            return (
                obj.as_recording()
                if info.get("kind") == "rate"
                else (obj.recording if obj.recording is not None else obj.as_recording())
            )
    arr = np.asarray(data) if data is not None else None
    if arr is None or arr.ndim != 2 or not np.issubdtype(arr.dtype, np.number):
        shape = None if arr is None else arr.shape
        raise InvalidInputError(
            f"layer {layer_name!r} is not a traces layer: expected a 2-D image of shape "
            f"(n_rois, n_frames) or a layer opened by calcium-forge; got data of shape {shape}. "
            "Pick a dF/F traces layer."
        )
    step_s = float(np.asarray(scale)[-1]) if scale is not None else 1.0
    fs_hz = 1.0 / step_s if step_s > 0 else 1.0
    return Recording(traces=arr, fs_hz=fs_hz, kind="dff", meta={"name": layer_name})


def result_from_layer_data(
    metadata: Mapping[str, Any] | None, *, layer_name: str = "layer"
) -> SpikeInference:
    """The SpikeInference behind a rate/raster/overlay layer, or an error naming the layer."""
    info = layer_info(metadata)
    obj = None if info is None else info.get("recording")
    if not isinstance(obj, SpikeInference):
        raise InvalidInputError(
            f"layer {layer_name!r} holds no spike inference result; pick a layer made by "
            "'Infer spikes' (e.g. '<name> rate (ENS²)')."
        )
    return obj
