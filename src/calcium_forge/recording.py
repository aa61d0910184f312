"""The :class:`Recording`: the one data object everything passes around."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ._blocks import count_nonfinite, take_rows
from .errors import InvalidInputError

Kind = Literal["dff", "raw", "rate"]
KINDS: tuple[str, ...] = ("dff", "raw", "rate")


def check_fs(fs_hz: Any, where: str = "", *, name: str = "fs_hz", fix: str = "") -> float:
    """Validate a frame rate in Hz: a number, finite and > 0 (the package's one check).

    Parameters
    ----------
    fs_hz : Any
        The frame rate to check, Hz.
    where : str
        File, object or function that starts the message (``"<where>: ..."``).
    name : str
        Argument named in the message (``"fs_hz"``, ``"fs_out_hz"``...).
    fix : str
        Extra advice appended to the message.

    Returns
    -------
    float
        ``fs_hz`` as a float, Hz.

    Raises
    ------
    InvalidInputError
        When ``fs_hz`` is not a number, not finite or not > 0.
    """
    head = f"{where}: {name}" if where else name
    try:
        fs = float(fs_hz)
    except (TypeError, ValueError):
        raise InvalidInputError(
            f"{head} must be a number in Hz; got {fs_hz!r}. {fix}".rstrip()
        ) from None
    if not np.isfinite(fs) or fs <= 0:
        raise InvalidInputError(
            f"{head} must be a finite frame rate > 0 Hz; got {fs_hz!r}. "
            f"Pass the acquisition frame rate, e.g. {name}=30.0. {fix}".rstrip()
        )
    return fs


def _short(value: Any) -> str:
    """``repr(value)`` cut to 60 characters, for messages."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


@dataclass
class Recording:
    """Fluorescence (or rate) traces of a set of ROIs, with their context.

    Parameters
    ----------
    traces : numpy.ndarray
        float32 array (n_rois, n_frames). dF/F as a fraction unless ``kind``
        says otherwise. NaN marks frames without a measurement (e.g. gaps in
        Cascade ground-truth recordings); ±inf is never allowed.
    fs_hz : float
        Frame rate in Hz, > 0 and finite.
    kind : {"dff", "raw", "rate"}
        ``"dff"`` dF/F (fraction), ``"raw"`` raw fluorescence (a.u.),
        ``"rate"`` spike rate (spikes/s).
    neuropil : numpy.ndarray, optional
        Neuropil fluorescence, same shape as ``traces`` (raw recordings).
    labels : numpy.ndarray, optional
        int32 image (Y, X); 0 = background, ``i + 1`` = ROI ``i``.
    mean_image : numpy.ndarray, optional
        float32 image (Y, X), the mean of the movie.
    iscell : numpy.ndarray, optional
        bool (n_rois,), the cell classifier's decision. Defaults to all True.
    spike_times : list of numpy.ndarray, optional
        Ground-truth spike times per ROI, float64 seconds from the first frame.
    source : str, optional
        Path the recording was read from.
    meta : dict
        Free-form metadata (reader name, NaN stretches, suite2p ops...).
    """

    traces: np.ndarray
    fs_hz: float
    kind: Kind = "dff"
    neuropil: np.ndarray | None = None
    labels: np.ndarray | None = None
    mean_image: np.ndarray | None = None
    iscell: np.ndarray | None = None
    spike_times: list[np.ndarray] | None = None
    source: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        where = f" (recording from {self.source})" if self.source else ""
        traces = np.asarray(self.traces)
        if traces.ndim == 1:
            traces = traces[None, :]
        if traces.ndim != 2:
            raise InvalidInputError(
                f"Recording.traces must be 2-D (n_rois, n_frames){where}; got shape "
                f"{traces.shape}. Pass one row per ROI."
            )
        if not np.issubdtype(traces.dtype, np.number) or np.iscomplexobj(traces):
            raise InvalidInputError(
                f"Recording.traces must be real numbers{where}; got dtype {traces.dtype}."
            )
        # a C-contiguous float32 array (or read-only memory map) is kept as is, not copied
        self.traces = np.ascontiguousarray(traces, dtype=np.float32)
        n = count_nonfinite(self.traces)[0]
        if n:
            raise InvalidInputError(
                f"Recording.traces contains {n} infinite value(s){where}. Replace them with "
                "NaN (gap) or finite values."
            )
        self.fs_hz = check_fs(self.fs_hz, f"recording from {self.source}" if self.source else "")
        if self.kind not in KINDS:
            raise InvalidInputError(
                f"Recording.kind must be one of {KINDS}{where}; got {self.kind!r}."
            )
        n_rois = self.traces.shape[0]
        if self.neuropil is not None:
            neu = np.asarray(self.neuropil, dtype=np.float32)
            if neu.ndim == 1:
                neu = neu[None, :]
            if neu.shape != self.traces.shape:
                raise InvalidInputError(
                    f"Recording.neuropil has shape {neu.shape} but traces have "
                    f"{self.traces.shape}{where}; they must match."
                )
            if count_nonfinite(neu)[0]:
                raise InvalidInputError(f"Recording.neuropil contains infinite values{where}.")
            self.neuropil = np.ascontiguousarray(neu)
        if self.iscell is None:
            self.iscell = np.ones(n_rois, dtype=bool)
        else:
            iscell = np.asarray(self.iscell)
            if iscell.ndim == 2:  # suite2p (n, 2): decision, probability
                iscell = iscell[:, 0]
            if iscell.shape != (n_rois,):
                raise InvalidInputError(
                    f"Recording.iscell has shape {np.asarray(self.iscell).shape}; expected "
                    f"({n_rois},), one flag per ROI{where}."
                )
            self.iscell = iscell.astype(bool)
        if self.labels is not None:
            labels = np.asarray(self.labels)
            if labels.ndim != 2:
                raise InvalidInputError(
                    f"Recording.labels must be a 2-D (Y, X) image{where}; got shape {labels.shape}."
                )
            if labels.size and (labels.min() < 0 or labels.max() > n_rois):
                raise InvalidInputError(
                    f"Recording.labels values must lie in 0..{n_rois} (0 = background, i+1 = "
                    f"ROI i){where}; got {labels.min()}..{labels.max()}."
                )
            self.labels = labels.astype(np.int32, copy=False)
        if self.mean_image is not None:
            img = np.asarray(self.mean_image, dtype=np.float32)
            if img.ndim != 2:
                raise InvalidInputError(
                    f"Recording.mean_image must be 2-D (Y, X){where}; got {img.shape}."
                )
            if self.labels is not None and img.shape != self.labels.shape:
                raise InvalidInputError(
                    f"Recording.mean_image {img.shape} and labels {self.labels.shape} "
                    f"differ in size{where}."
                )
            self.mean_image = img
        if self.spike_times is not None:
            if len(self.spike_times) != n_rois:
                raise InvalidInputError(
                    f"Recording.spike_times has {len(self.spike_times)} entries but there are "
                    f"{n_rois} ROIs{where}; give one array of times (s) per ROI."
                )
            st = [np.sort(np.asarray(s, dtype=np.float64).ravel()) for s in self.spike_times]
            for i, s in enumerate(st):
                if not np.isfinite(s).all():
                    raise InvalidInputError(f"Recording.spike_times[{i}] contains NaN/inf{where}.")
            self.spike_times = st
        if self.source is not None:
            self.source = str(self.source)

    # ------------------------------------------------------------------ helpers
    @property
    def n_rois(self) -> int:
        """Number of ROIs (rows of ``traces``)."""
        return int(self.traces.shape[0])

    @property
    def n_frames(self) -> int:
        """Number of frames (columns of ``traces``)."""
        return int(self.traces.shape[1])

    @property
    def duration_s(self) -> float:
        """Duration in seconds (n_frames / fs_hz)."""
        return self.n_frames / self.fs_hz

    @property
    def time_s(self) -> np.ndarray:
        """Frame times in seconds, float64 (n_frames,), first frame at 0."""
        return np.arange(self.n_frames, dtype=np.float64) / self.fs_hz

    @property
    def name(self) -> str:
        """A short display name: the source's file or folder name, or ``meta['name']``."""
        if "name" in self.meta:
            return str(self.meta["name"])
        if self.source:
            return Path(self.source).name
        return "recording"

    def select(self, rois: np.ndarray | list[int]) -> Recording:
        """Return a new Recording with a subset of ROIs (labels renumbered).

        Parameters
        ----------
        rois : array-like of int or bool
            ROI indices (or a boolean mask of length n_rois) to keep, in order.

        Returns
        -------
        Recording
            The selected rows of traces, neuropil, iscell and spike times; the
            same frame rate, mean image and a copy of ``meta``.
        """
        sel = np.asarray(rois)
        try:
            idx = np.arange(self.n_rois)[sel]
        except IndexError as exc:
            raise InvalidInputError(
                f"Recording.select({_short(rois)}): {exc}; ROI indices must lie in 0..."
                f"{self.n_rois - 1} (or -{self.n_rois}...-1), or give a boolean mask of length "
                f"{self.n_rois}."
            ) from None
        if idx.ndim != 1:
            raise InvalidInputError(
                f"Recording.select({_short(rois)}): give a 1-D list of ROI indices or a boolean "
                f"mask of length {self.n_rois}; got shape {sel.shape}."
            )
        labels = None
        if self.labels is not None:
            lut = np.zeros(self.n_rois + 1, dtype=np.int32)
            lut[idx + 1] = np.arange(1, len(idx) + 1, dtype=np.int32)
            labels = lut[self.labels]
        return Recording(
            traces=take_rows(self.traces, idx),  # memory maps: block by block
            fs_hz=self.fs_hz,
            kind=self.kind,
            neuropil=None if self.neuropil is None else take_rows(self.neuropil, idx),
            labels=labels,
            mean_image=self.mean_image,
            iscell=self.iscell[idx],
            spike_times=None if self.spike_times is None else [self.spike_times[i] for i in idx],
            source=self.source,
            meta=dict(self.meta),
        )

    def crop(self, start_frame: int = 0, stop_frame: int | None = None) -> Recording:
        """Return the frames ``[start_frame, stop_frame)`` as a new Recording.

        Ground-truth spike times are kept when inside the span and shifted so
        that they stay relative to the new first frame (s).

        Parameters
        ----------
        start_frame, stop_frame : int
            Frame span (Python slice semantics, no step).

        Returns
        -------
        Recording
            ``stop - start`` frames; ``meta["crop_frames"] = [start, stop]``.

        Raises
        ------
        InvalidInputError
            When the span selects no frame.
        """
        start, stop, _ = slice(start_frame, stop_frame).indices(self.n_frames)
        if stop <= start:
            raise InvalidInputError(
                f"crop({start_frame}, {stop_frame}) selects no frame of a recording with "
                f"{self.n_frames} frames; pass 0 <= start < stop <= n_frames."
            )
        t0, t1 = start / self.fs_hz, stop / self.fs_hz
        spikes = None
        if self.spike_times is not None:
            spikes = [s[(s >= t0) & (s < t1)] - t0 for s in self.spike_times]
        return Recording(
            traces=self.traces[:, start:stop],
            fs_hz=self.fs_hz,
            kind=self.kind,
            neuropil=None if self.neuropil is None else self.neuropil[:, start:stop],
            labels=self.labels,
            mean_image=self.mean_image,
            iscell=self.iscell,
            spike_times=spikes,
            source=self.source,
            meta={**self.meta, "crop_frames": [start, stop]},
        )

    def __repr__(self) -> str:
        extras = [
            n
            for n in ("neuropil", "labels", "mean_image", "spike_times")
            if getattr(self, n) is not None
        ]
        return (
            f"Recording({self.name!r}, kind={self.kind!r}, n_rois={self.n_rois}, "
            f"n_frames={self.n_frames}, fs_hz={self.fs_hz:g}"
            + (f", with {', '.join(extras)}" if extras else "")
            + ")"
        )
