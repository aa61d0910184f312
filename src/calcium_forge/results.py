"""Result types shared by several layers (kept free of torch, napari and Qt).

``io`` writes these, ``inference`` produces them, ``_napari`` turns them into
layers; keeping them here lets data flow one way (io -> ... -> inference)
without import cycles.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import InvalidInputError
from .recording import Recording, check_fs


@dataclass(repr=False)
class SpikeInference:
    """Spike rates and events inferred from the traces of one recording.

    Parameters
    ----------
    rate_hz : numpy.ndarray
        float32 (n_rois, n_frames) spike rate in spikes/s, aligned with the
        frames of the INPUT traces (same ``fs_hz``). NaN where the input was NaN.
    events : list of numpy.ndarray or None
        Estimated spike times per ROI, float64 seconds from the first frame;
        ``None`` when events were not requested.
    method : str
        ``"ens2"``, ``"s2s"`` or ``"oasis"``.
    fs_hz : float
        Frame rate of ``rate_hz`` (the input's frame rate), Hz.
    model_card : dict
        Name, architecture, rate, training data and scores of the model used
        (OASIS: its parameters).
    recording : Recording, optional
        The input recording (its traces, labels, ground truth), if known.
    meta : dict
        Anything else (timings, engine mode, ...).
    """

    rate_hz: np.ndarray
    events: list[np.ndarray] | None
    method: str
    fs_hz: float
    model_card: dict[str, Any] = field(default_factory=dict)
    recording: Recording | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        rate = np.asarray(self.rate_hz, dtype=np.float32)
        if rate.ndim == 1:
            rate = rate[None, :]
        if rate.ndim != 2:
            raise InvalidInputError(
                f"SpikeInference.rate_hz must be (n_rois, n_frames); got shape {rate.shape}."
            )
        self.rate_hz = rate
        if self.events is not None:
            if len(self.events) != rate.shape[0]:
                raise InvalidInputError(
                    f"SpikeInference.events has {len(self.events)} entries for "
                    f"{rate.shape[0]} ROIs; give one array of spike times per ROI."
                )
            self.events = [np.asarray(e, dtype=np.float64).ravel() for e in self.events]
        self.fs_hz = check_fs(self.fs_hz, "SpikeInference")

    def __repr__(self) -> str:
        n_ev = "no events" if self.events is None else f"{sum(len(e) for e in self.events)} events"
        return (
            f"SpikeInference({self.name!r}, method={self.method!r}, "
            f"model={self.model_card.get('name', '-')!r}, n_rois={self.n_rois}, "
            f"n_frames={self.n_frames}, fs_hz={self.fs_hz:g}, {n_ev})"
        )

    @property
    def n_rois(self) -> int:
        """Number of ROIs."""
        return int(self.rate_hz.shape[0])

    @property
    def n_frames(self) -> int:
        """Number of frames (input frame rate)."""
        return int(self.rate_hz.shape[1])

    @property
    def name(self) -> str:
        """Display name: source name and method, e.g. ``plane0 rate (ENS²)``."""
        label = {"ens2": "ENS²", "s2s": "S2S", "oasis": "OASIS"}.get(self.method, self.method)
        base = self.recording.name if self.recording is not None else "traces"
        return f"{base} rate ({label})"

    def spike_counts(self) -> np.ndarray:
        """Events binned at the input frame rate, int32 (n_rois, n_frames).

        Frame ``j`` stands for the bin centred on ``j / fs_hz`` (the convention
        of the rates and of the event times), so an event at ``t`` s counts in
        frame ``round(t * fs_hz)``.

        Returns
        -------
        numpy.ndarray
            int32 (n_rois, n_frames) spike counts per frame (zeros without events).
        """
        counts = np.zeros(self.rate_hz.shape, dtype=np.int32)
        if self.events is None:
            return counts
        for i, ev in enumerate(self.events):
            idx = np.clip(np.rint(ev * self.fs_hz).astype(np.int64), 0, self.n_frames - 1)
            np.add.at(counts[i], idx, 1)
        return counts

    def as_recording(self) -> Recording:
        """The rates as a ``kind="rate"`` Recording (labels etc. from the input).

        Returns
        -------
        Recording
            ``traces`` = ``rate_hz`` (spikes/s) with the input's labels, mean
            image, iscell, ground-truth spikes and source.
        """
        rec = self.recording
        return Recording(
            traces=self.rate_hz,
            fs_hz=self.fs_hz,
            kind="rate",
            labels=None if rec is None else rec.labels,
            mean_image=None if rec is None else rec.mean_image,
            iscell=None if rec is None else rec.iscell,
            spike_times=None if rec is None else rec.spike_times,
            source=None if rec is None else rec.source,
            meta={"method": self.method, "model_card": self.model_card},
        )
