"""Per-ROI fluorescence traces from a (lazy) movie, read chunk by chunk.

The movie is never loaded whole: frames are read ``chunk_frames`` at a time
from any array-like with shape (T, Y, X) -- a TIFF opened lazily by
:func:`calcium_forge.io.read_stack` (tifffile's zarr store), a dask or zarr
array, a numpy memmap -- and projected onto sparse ROI and neuropil masks.
Peak memory is one chunk plus the output traces, independent of T.

>>> from calcium_forge.io.extraction import extract_traces
>>> rec = extract_traces("movie.tif", labels, fs_hz=30.0)   # doctest: +SKIP
>>> rec.traces.shape                                          # (n_rois, n_frames)
"""

from __future__ import annotations

import os
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import InvalidInputError
from ..progress import Progress, drain
from ..recording import Recording

__all__ = ["ExtractionMasks", "extract_traces", "iter_extract_traces", "make_masks"]


@dataclass
class ExtractionMasks:
    """Sparse averaging weights of the ROIs and their neuropil annuli.

    Parameters
    ----------
    roi : scipy.sparse.csr_matrix
        (n_rois, Y*X); row ``i`` is ``1/n_i`` on the ``n_i`` pixels of ROI ``i``.
    neuropil : scipy.sparse.csr_matrix or None
        (n_rois, Y*X); row ``i`` averages the annulus around ROI ``i``
        (pixels farther than ``inner_radius_px`` and at most ``outer_radius_px``
        from the ROI, belonging to no ROI).
    shape : tuple of int
        (Y, X) of the frames.
    """

    roi: Any
    neuropil: Any | None
    shape: tuple[int, int]

    @property
    def n_rois(self) -> int:
        """Number of ROIs."""
        return int(self.roi.shape[0])


def _averaging_matrix(rows: list[np.ndarray], n_pix: int):
    from scipy import sparse

    indptr = np.zeros(len(rows) + 1, dtype=np.int64)
    indptr[1:] = np.cumsum([len(r) for r in rows])
    indices = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
    data = np.concatenate([np.full(len(r), 1.0 / len(r), dtype=np.float32) for r in rows])
    return sparse.csr_matrix((data, indices, indptr), shape=(len(rows), n_pix))


def make_masks(
    labels: np.ndarray,
    neuropil: bool = True,
    inner_radius_px: float = 2.0,
    outer_radius_px: float = 8.0,
    min_neuropil_px: int = 20,
) -> ExtractionMasks:
    """Build the ROI (and neuropil annulus) averaging weights from a label image.

    Parameters
    ----------
    labels : numpy.ndarray
        int (Y, X); 0 = background, ``i + 1`` = ROI ``i``.
    neuropil : bool
        Also build a neuropil annulus per ROI.
    inner_radius_px, outer_radius_px : float
        Annulus radii in pixels (Euclidean distance from the ROI's pixels).
    min_neuropil_px : int
        If an annulus has fewer pixels (crowded field, image border), its outer
        radius is doubled until it has enough (or covers the image).

    Returns
    -------
    ExtractionMasks
    """
    from scipy import ndimage

    labels = np.asarray(labels)
    if labels.ndim != 2 or not np.issubdtype(labels.dtype, np.integer):
        raise InvalidInputError(
            f"labels must be an integer (Y, X) image (0 = background, i+1 = ROI i); got dtype "
            f"{labels.dtype} and shape {labels.shape}."
        )
    if labels.size and labels.min() < 0:
        raise InvalidInputError(f"labels must be >= 0; got minimum {labels.min()}.")
    n_rois = int(labels.max()) if labels.size else 0
    if n_rois == 0:
        raise InvalidInputError("labels holds no ROI (all zero); nothing to extract.")
    if not 0 <= inner_radius_px < outer_radius_px:
        raise InvalidInputError(
            f"need 0 <= inner_radius_px < outer_radius_px; got {inner_radius_px}, "
            f"{outer_radius_px}."
        )
    flat = labels.ravel()
    order = np.argsort(flat, kind="stable")
    bounds = np.searchsorted(flat[order], np.arange(1, n_rois + 2))
    roi_rows = [order[bounds[i] : bounds[i + 1]].astype(np.int64) for i in range(n_rois)]
    empty = [i for i, r in enumerate(roi_rows) if len(r) == 0]
    if empty:
        raise InvalidInputError(
            f"ROI(s) {empty[:10]} have no pixel in labels (labels must number ROIs 1..n "
            "without gaps); renumber the label image."
        )
    roi = _averaging_matrix(roi_rows, labels.size)
    npil = None
    if neuropil:
        ny, nx = labels.shape
        slices = ndimage.find_objects(labels, max_label=n_rois)
        np_rows = []
        for i, sl in enumerate(slices):
            outer = float(outer_radius_px)
            while True:
                pad = int(np.ceil(outer))
                y0, y1 = max(sl[0].start - pad, 0), min(sl[0].stop + pad, ny)
                x0, x1 = max(sl[1].start - pad, 0), min(sl[1].stop + pad, nx)
                crop = labels[y0:y1, x0:x1]
                dist = ndimage.distance_transform_edt(crop != i + 1)
                ring = (dist > inner_radius_px) & (dist <= outer) & (crop == 0)
                covers = y0 == 0 and x0 == 0 and y1 == ny and x1 == nx
                if ring.sum() >= min_neuropil_px or covers:
                    break
                outer *= 2.0
            yy, xx = np.nonzero(ring)
            if len(yy) == 0:
                raise InvalidInputError(
                    f"ROI {i} has no background pixel around it for a neuropil annulus; "
                    "use neuropil=False."
                )
            np_rows.append(((yy + y0) * nx + (xx + x0)).astype(np.int64))
        npil = _averaging_matrix(np_rows, labels.size)
    return ExtractionMasks(
        roi=roi, neuropil=npil, shape=(int(labels.shape[0]), int(labels.shape[1]))
    )


def _open_movie(stack: Any, fs_hz: float | None) -> tuple[Any, float | None, str | None]:
    """(array-like (T, Y, X), fs_hz, source) from a path, a Stack or an array-like."""
    source = None
    if isinstance(stack, str | os.PathLike):
        from . import read_stack

        source = os.fspath(stack)
        stack = read_stack(stack, fs_hz=fs_hz)
    if hasattr(stack, "data") and hasattr(stack, "fs_hz") and not isinstance(stack, np.ndarray):
        fs_hz = fs_hz if fs_hz is not None else stack.fs_hz
        source = source or getattr(stack, "source", None)
        stack = stack.data
    if not (hasattr(stack, "shape") and hasattr(stack, "__getitem__")):
        raise InvalidInputError(
            f"stack must be a path, a Stack or an array-like (T, Y, X); got {type(stack)!r}."
        )
    if len(stack.shape) != 3:
        raise InvalidInputError(
            f"the movie must be 3-D (T, Y, X); got shape {tuple(stack.shape)}. Select one "
            "plane/channel first."
        )
    return stack, fs_hz, None if source is None else str(source)


def iter_extract_traces(
    stack: Any,
    labels: np.ndarray,
    fs_hz: float | None = None,
    *,
    neuropil: bool = True,
    inner_radius_px: float = 2.0,
    outer_radius_px: float = 8.0,
    chunk_frames: int | None = None,
    max_chunk_mb: float = 64.0,
) -> Generator[Progress, None, Recording]:
    """Generator version of :func:`extract_traces`; yields one Progress per chunk.

    Parameters
    ----------
    stack, labels, fs_hz, neuropil, inner_radius_px, outer_radius_px, chunk_frames, max_chunk_mb
        As in :func:`extract_traces` (``fs_hz`` in Hz, radii in pixels,
        ``max_chunk_mb`` in MiB).

    Yields
    ------
    Progress
        One per chunk of frames read.

    Returns
    -------
    Recording
        The generator's return value: what :func:`extract_traces` returns.
    """
    movie, fs, source = _open_movie(stack, fs_hz)
    if fs is None:
        raise InvalidInputError(
            "the frame rate is unknown: pass fs_hz (Hz), e.g. fs_hz=30.0; the stack does not "
            "store it."
        )
    n_frames, ny, nx = (int(s) for s in movie.shape)
    labels = np.asarray(labels)
    if labels.shape != (ny, nx):
        raise InvalidInputError(
            f"labels have shape {labels.shape} but the frames are {(ny, nx)}; they must match."
        )
    masks = make_masks(labels, neuropil, inner_radius_px, outer_radius_px)
    if chunk_frames is None:
        chunk_frames = max(1, int(max_chunk_mb * 2**20 // (ny * nx * 4)))
    chunk_frames = int(chunk_frames)
    if chunk_frames < 1:
        raise InvalidInputError(f"chunk_frames must be >= 1; got {chunk_frames}.")
    traces = np.empty((masks.n_rois, n_frames), dtype=np.float32)
    npil = None if masks.neuropil is None else np.empty_like(traces)
    total = np.zeros(ny * nx, dtype=np.float64)
    # only the pixels some ROI or annulus uses are converted to float32 and projected
    used = masks.roi.indices if npil is None else np.union1d(masks.roi.indices,
                                                             masks.neuropil.indices)  # fmt: skip
    used = np.unique(used)
    w_roi = masks.roi[:, used].tocsr()
    w_npil = None if npil is None else masks.neuropil[:, used].tocsr()
    n_chunks = -(-n_frames // chunk_frames)
    for k, t0 in enumerate(range(0, n_frames, chunk_frames)):
        t1 = min(t0 + chunk_frames, n_frames)
        flat = np.asarray(movie[t0:t1]).reshape(t1 - t0, ny * nx)  # native dtype
        total += flat.sum(axis=0, dtype=np.float64)
        sub = flat.T[used].astype(np.float32)  # (n_used, n) C-ordered
        del flat
        traces[:, t0:t1] = w_roi @ sub
        if w_npil is not None:
            npil[:, t0:t1] = w_npil @ sub
        del sub
        yield Progress(k + 1, n_chunks, f"frames {t1}/{n_frames}")
    return Recording(
        traces=traces,
        fs_hz=fs,
        kind="raw",
        neuropil=npil,
        labels=labels.astype(np.int32),
        mean_image=(total / max(n_frames, 1)).reshape(ny, nx).astype(np.float32),
        source=source,
        meta={
            "extraction": {
                "chunk_frames": chunk_frames,
                "neuropil": "annulus" if neuropil else None,
                "inner_radius_px": inner_radius_px,
                "outer_radius_px": outer_radius_px,
            }
        },
    )


def extract_traces(
    stack: Any,
    labels: np.ndarray,
    fs_hz: float | None = None,
    *,
    neuropil: bool = True,
    inner_radius_px: float = 2.0,
    outer_radius_px: float = 8.0,
    chunk_frames: int | None = None,
    max_chunk_mb: float = 64.0,
    progress_bar: bool = False,
) -> Recording:
    """Mean fluorescence of every ROI (and its neuropil annulus), chunk by chunk.

    Parameters
    ----------
    stack : path, Stack or array-like
        A TIFF path (opened lazily with :func:`calcium_forge.io.read_stack`), a
        ``Stack``, or any (T, Y, X) array-like supporting slicing along T
        (zarr, dask, numpy memmap).
    labels : numpy.ndarray
        int (Y, X); 0 = background, ``i + 1`` = ROI ``i``.
    fs_hz : float, optional
        Frame rate in Hz (required when the stack does not store it).
    neuropil : bool
        Also extract the neuropil annulus of every ROI (``Recording.neuropil``).
    inner_radius_px, outer_radius_px : float
        Neuropil annulus radii, pixels.
    chunk_frames : int, optional
        Frames read per chunk; by default as many as fit in ``max_chunk_mb``.
    max_chunk_mb : float
        Size of one chunk of frames as float32, in MiB, when ``chunk_frames`` is
        not given (the chunk is read in the movie's dtype; only the pixels of
        ROIs and annuli are converted to float32).
    progress_bar : bool
        Show a tqdm bar.

    Returns
    -------
    Recording
        ``kind="raw"`` traces (n_rois, T) float32, neuropil, labels, the mean
        image and the frame rate.
    """
    gen = iter_extract_traces(
        stack,
        labels,
        fs_hz,
        neuropil=neuropil,
        inner_radius_px=inner_radius_px,
        outer_radius_px=outer_radius_px,
        chunk_frames=chunk_frames,
        max_chunk_mb=max_chunk_mb,
    )
    return drain(gen, progress_bar=progress_bar, desc="extract traces")
