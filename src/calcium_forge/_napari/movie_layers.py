"""Movie-space layers: a (T, Y, X) stack, and spikes drawn on its frames.

* movies: Image ``(n_frames, Y, X)`` with ``scale = (1/fs_hz, 1, 1)``;
* spike overlays: a lazy Labels movie ``(n_frames, Y, X)`` with
  ``scale = (1/fs_hz, 1, 1)`` in which the ROIs with an event in a frame light
  up on that frame.

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


class EventFrames:
    """A lazy (n_frames, Y, X) label movie: frame ``t`` shows the ROIs with an event in ``t``.

    Behaves as a read-only array (``shape``, ``dtype``, ``ndim``, slicing)
    for a napari Labels layer: each frame is computed from the ROI label image
    and a boolean (n_frames, n_rois) table when napari asks for it, so the
    overlay costs one byte per ROI and frame, not a movie.

    Parameters
    ----------
    labels : numpy.ndarray
        int (Y, X); 0 = background, ``i + 1`` = ROI ``i``.
    active : numpy.ndarray
        bool (n_frames, n_rois); True where ROI ``i`` has an event in frame ``t``.
    """

    def __init__(self, labels: np.ndarray, active: np.ndarray) -> None:
        self.labels = np.asarray(labels).astype(np.int32, copy=False)
        self.active = np.asarray(active, dtype=bool)
        # lookup[t, label]: label if ROI label-1 fires in frame t, else 0
        self._ids = np.arange(1, self.active.shape[1] + 1, dtype=np.int32)
        self._lab = np.clip(self.labels, 0, self.active.shape[1])
        self.shape = (int(self.active.shape[0]), *self.labels.shape)
        self.dtype = np.dtype(np.int32)
        self.ndim = 3
        self.size = int(np.prod(self.shape))

    def __len__(self) -> int:
        return self.shape[0]

    def frames(self, t: Any) -> np.ndarray:
        """The label frames of time index ``t`` (int, slice or index array)."""
        act = self.active[t]
        lut = np.zeros((*np.shape(act)[:-1], self.active.shape[1] + 1), dtype=np.int32)
        lut[..., 1:] = np.where(act, self._ids, 0)
        return lut[..., self._lab]

    def __getitem__(self, key: Any) -> np.ndarray:
        key = key if isinstance(key, tuple) else (key,)
        if not key or any(k is Ellipsis or k is None for k in key):
            return np.asarray(self)[key]
        out = self.frames(key[0])
        return out[(*(slice(None),) * (out.ndim - 2), *key[1:])] if key[1:] else out

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        out = self.frames(slice(None))
        return out if dtype is None else out.astype(dtype)


def event_table(
    events: list[np.ndarray], fs_hz: float, n_rois: int, n_frames: int | None = None
) -> np.ndarray:
    """bool (n_frames, n_rois): which ROI has an event in which frame.

    Parameters
    ----------
    events : list of numpy.ndarray
        Spike times per ROI, seconds.
    fs_hz : float
        Frame rate, Hz; the event at ``t`` s falls in frame ``round(t * fs_hz)``.
    n_rois : int
        Number of ROIs (rows of ``events`` beyond it are ignored).
    n_frames : int, optional
        Frames of the movie; events outside are dropped (default: up to the last event).

    Returns
    -------
    numpy.ndarray
        bool (n_frames, n_rois).
    """
    frames = [np.rint(np.asarray(ev, dtype=np.float64) * fs_hz).astype(np.int64) for ev in events]
    if n_frames is None:
        n_frames = 1 + max((int(f.max()) for f in frames if f.size), default=0)
    out = np.zeros((int(n_frames), int(n_rois)), dtype=bool)
    for i, f in enumerate(frames[:n_rois]):
        f = f[(f >= 0) & (f < n_frames)]
        out[f, i] = True
    return out


def spike_overlay_layer(
    events: list[np.ndarray],
    fs_hz: float,
    labels: np.ndarray,
    *,
    name: str,
    recording: Any,
    n_frames: int | None = None,
    color: str = "white",
    **extra: Any,
) -> LayerDataTuple:
    """Spike events as a Labels movie: on each frame, the ROIs with an event light up.

    With ``scale = (1/fs_hz, 1, 1)`` the layer shares the time axis of the
    movie (``"time (s)"``, starting at 0 s), so scrubbing the movie shows which
    ROIs fire on each frame. The frames are computed lazily (:class:`EventFrames`).

    Parameters
    ----------
    events : list of numpy.ndarray
        Spike times per ROI, seconds.
    fs_hz : float
        Frame rate of the movie, Hz.
    labels : numpy.ndarray
        int image (Y, X) locating the ROIs (label ``i + 1`` = ROI ``i``).
    name : str
        Layer name.
    recording : object
        Stored in the metadata.
    n_frames : int, optional
        Frames of the movie; events outside are dropped (default: up to the last event).
    color : str
        Colour of a firing ROI (any matplotlib colour).
    **extra
        More metadata keys (``noise_level``, ``model``...).

    Returns
    -------
    (data, kwargs, layer_type)
        A napari layer-data tuple (napari's own format, hence a tuple).
    """
    from matplotlib.colors import to_rgba

    labels = np.asarray(labels)
    n_rois = len(events)
    active = event_table(events, fs_hz, n_rois, n_frames)
    rgba = tuple(float(c) for c in to_rgba(color))
    colormap: dict[int | None, Any] = {None: (0.0, 0.0, 0.0, 0.0), 0: (0.0, 0.0, 0.0, 0.0)}
    colormap.update({i + 1: rgba for i in range(n_rois)})
    kwargs = {
        "name": name,
        "scale": (1.0 / fs_hz, 1.0, 1.0),
        "axis_labels": ("time (s)", "y", "x"),
        "colormap": colormap,
        "opacity": 0.9,
        "features": {"roi": np.arange(n_rois, dtype=np.int64)},
        "metadata": cf_metadata(
            "spike_overlay", recording, fs_hz=float(fs_hz), n_events=int(active.sum()), **extra
        ),
    }
    return EventFrames(labels, active), kwargs, "labels"


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
