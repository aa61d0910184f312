"""The metadata convention of calcium-forge layers, and reading it back.

Every layer calcium-forge makes carries ``metadata["calcium_forge"] =
{"kind": ..., "recording": ...}`` (:func:`cf_metadata`); widgets find their
inputs through it (:func:`layer_info`, :func:`recording_from_layer_data`,
:func:`result_from_layer_data`). Also the labels and contrast limits shared by
the layer builders of :mod:`.trace_layers` and :mod:`.movie_layers`. Nothing
here imports napari or Qt.
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

    Returns
    -------
    dict
        ``{"calcium_forge": {"kind": kind, "recording": recording, **extra}}``.

    Raises
    ------
    InvalidInputError
        When ``kind`` is not one of :data:`LAYER_KINDS`.
    """
    if kind not in LAYER_KINDS:
        raise InvalidInputError(f"layer kind must be one of {LAYER_KINDS}; got {kind!r}.")
    return {"calcium_forge": {"kind": kind, "recording": recording, **extra}}


def off_canvas(extent: tuple[float, ...]) -> dict[str, Any]:
    """Layer kwargs that keep a data-carrying layer hidden and inside one pixel of the canvas.

    Traces, rates and rasters are drawn in the docked plots (the Traces
    widget), not on the canvas: their layers exist so that widgets can pick them
    and writers can save them. Hidden and scaled to less than one world unit,
    they neither show as images stretched over the field of view nor widen
    the view's extent or the sliders. Their time axis is in their metadata
    (``fs_hz``), not in their scale.

    Parameters
    ----------
    extent : tuple of float
        Data extent along each axis (e.g. ``(n_rois, n_frames)``).

    Returns
    -------
    dict
        ``{"visible": False, "scale": (1/extent_0, 1/extent_1, ...)}``.
    """
    return {"visible": False, "scale": tuple(1.0 / max(float(n), 1.0) for n in extent)}


def layer_info(metadata: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The ``calcium_forge`` entry of a layer's metadata, or None.

    Parameters
    ----------
    metadata : Mapping or None
        ``layer.metadata``.

    Returns
    -------
    dict or None
        The entry made by :func:`cf_metadata`; None for other layers.
    """
    if not metadata:
        return None
    info = metadata.get("calcium_forge")
    return info if isinstance(info, dict) else None


def robust_limits(a: np.ndarray, lo: float = 1.0, hi: float = 99.5) -> tuple[float, float]:
    """Percentile contrast limits ignoring NaN; never equal.

    Parameters
    ----------
    a : numpy.ndarray
        Image values (any shape; more than 2e6 finite values are subsampled).
    lo, hi : float
        Percentiles (0-100) of the lower and upper limit.

    Returns
    -------
    (float, float)
        ``(vmin, vmax)`` in the units of ``a``, ``vmax > vmin``; ``(0, 1)``
        without finite values. A pair because it is napari's
        ``contrast_limits`` argument.
    """
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


def base_name(obj: Recording | SpikeInference | None, name: str | None = None) -> str:
    """Display name of a recording/result source, e.g. ``plane0``.

    Parameters
    ----------
    obj : Recording, SpikeInference or None
        The object shown.
    name : str, optional
        An explicit name, returned as is.

    Returns
    -------
    str
        ``name``, else the recording's name (``"traces"`` for a result without
        its input, ``"recording"`` for None).
    """
    if name:
        return name
    if isinstance(obj, SpikeInference):
        return obj.recording.name if obj.recording is not None else "traces"
    if isinstance(obj, Recording):
        return obj.name
    return "recording"


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

    Parameters
    ----------
    data : array-like or None
        The layer's data.
    metadata : Mapping or None
        The layer's metadata.
    scale : sequence of float, optional
        The layer's scale; its last entry is seconds per frame (default 1 s).
    layer_name : str
        Name used in the error message and as the Recording's name.

    Returns
    -------
    Recording
        The recording behind the layer (the rates, ``kind="rate"``, for a rate
        layer).

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
    """The SpikeInference behind a rate/raster/overlay layer, or an error naming the layer.

    Parameters
    ----------
    metadata : Mapping or None
        The layer's metadata.
    layer_name : str
        Name used in the error message.

    Returns
    -------
    SpikeInference
        The result stored by :func:`cf_metadata`.

    Raises
    ------
    InvalidInputError
        When the layer holds no spike inference result.
    """
    info = layer_info(metadata)
    obj = None if info is None else info.get("recording")
    if not isinstance(obj, SpikeInference):
        raise InvalidInputError(
            f"layer {layer_name!r} holds no spike inference result; pick a layer made by "
            "'Infer spikes' (e.g. '<name> rate (ENS²)')."
        )
    return obj
