"""Movie-space layers: a (T, Y, X) stack, and spikes drawn on its frames.

* movies: Image ``(n_frames, Y, X)`` with ``scale = (1/fs_hz, 1, 1)``;
* spike overlays: Points at ``(frame, y, x)`` of the ROI centroid with
  ``scale = (1/fs_hz, 1, 1)``, so they appear on the movie frame of the spike.

Nothing here imports napari or Qt; see :mod:`.layers` for the conventions.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import InvalidInputError
from .layer_meta import LayerDataTuple, cf_metadata, robust_limits


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
    yy, xx = np.indices(labels.shape)
    count = _per_roi_sum(labels, n_rois)
    sy = _per_roi_sum(labels, n_rois, yy)
    sx = _per_roi_sum(labels, n_rois, xx)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.stack([sy / count, sx / count], axis=1)
    out[count == 0] = np.nan
    return out


def roi_radii(labels: np.ndarray, n_rois: int) -> np.ndarray:
    """Equivalent-disc radius of each ROI in pixels (float64, n_rois); 0 when empty.

    Parameters
    ----------
    labels : numpy.ndarray
        int image (Y, X), 0 = background, ``i + 1`` = ROI ``i``.
    n_rois : int
        Number of ROIs.

    Returns
    -------
    numpy.ndarray
        float64 (n_rois,) ``sqrt(area / pi)`` in pixels.
    """
    return np.sqrt(_per_roi_sum(labels, n_rois) / np.pi)


def _per_roi_sum(labels: np.ndarray, n_rois: int, weights: np.ndarray | None = None) -> np.ndarray:
    """float64 (n_rois,) sum of ``weights`` (default 1: the area in pixels) over each ROI."""
    flat = np.asarray(labels).ravel().astype(np.int64)
    w = None if weights is None else np.asarray(weights).ravel()
    return np.bincount(flat, weights=w, minlength=n_rois + 1)[1 : n_rois + 1].astype(np.float64)


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

    Parameters
    ----------
    events : list of numpy.ndarray
        Spike times per ROI, seconds.
    fs_hz : float
        Frame rate of the movie, Hz.
    labels : numpy.ndarray
        int image (Y, X) locating the ROIs.
    name : str
        Layer name.
    recording : object
        Stored in the metadata.
    n_frames : int, optional
        Frames of the movie; events outside are dropped.
    color : str
        Border colour of the circles (sized by the ROI's radius, pixels).

    Returns
    -------
    (data, kwargs, layer_type)
        A napari layer-data tuple (napari's own format, hence a tuple).
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

    Parameters
    ----------
    data : array-like
        The movie ``(n_frames, Y, X)`` (a 2-D image is shown unscaled).
    fs_hz : float or None
        Frame rate, Hz; unknown (None) draws one frame per unit, on an axis "frame".
    name : str
        Layer name.
    recording : object, optional
        Stored in the metadata (e.g. the Stack).
    kind : str
        Metadata kind (``"stack"`` or ``"synthetic_movie"``).
    **extra
        More metadata keys.

    Returns
    -------
    (data, kwargs, layer_type)
        A napari layer-data tuple (napari's own format, hence a tuple).

    Raises
    ------
    InvalidInputError
        When ``data`` has fewer than two dimensions.
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
        "contrast_limits": robust_limits(sample, 0.5, 99.8),
        "metadata": cf_metadata(kind, recording, fs_hz=fs_hz, **extra),
    }
    if scale is not None:
        kwargs["scale"] = scale
        if len(shape) == 3:  # seconds when the rate is known, else frames
            kwargs["axis_labels"] = ("time (s)" if fs_hz else "frame", "y", "x")
    return data, kwargs, "image"
