"""What a batch run reports: one :class:`BatchItem` per input, a :class:`BatchReport` per run."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from .task import STAGES

__all__ = ["BatchItem", "BatchReport", "Status"]

Status = Literal["done", "skipped", "failed"]


@dataclass
class BatchItem:
    """The outcome for one input.

    Parameters
    ----------
    input : str
        Absolute input path (or the pattern that matched nothing).
    output : str or None
        Absolute path of the ``.npz`` written (or found, when skipped).
    status : {"done", "skipped", "failed"}
        ``done`` computed in this run, ``skipped`` finished by an earlier run
        (resume), ``failed`` see ``error``.
    error : str or None
        ``"<ExceptionType>: <message>"`` when failed.
    stage : str or None
        Stage that failed: ``find``, one of :data:`STAGES`, ``worker`` (the
        worker process died repeatedly) or ``commit``.
    timings_s : dict
        Seconds per stage (checksum, load, preprocess, inference, write).
    n_rois, n_frames : int
        Size of the recording.
    worker : str or None
        ``host:pid`` of the process that computed it.
    """

    input: str
    output: str | None
    status: Status
    error: str | None = None
    stage: str | None = None
    timings_s: dict[str, float] = field(default_factory=dict)
    n_rois: int = 0
    n_frames: int = 0
    worker: str | None = None


@dataclass
class BatchReport:
    """Result of :func:`batch_infer`.

    Parameters
    ----------
    out_dir : pathlib.Path
        Output folder.
    manifest_path : pathlib.Path
        ``out_dir/manifest.json``.
    items : list of BatchItem
        One per input, in input order.
    options : dict
        Inference options used.
    scheduler : str
        Where it ran (``serial``, ``local (N worker processes)``, an address).
    n_workers : int
        Workers connected when the batch started.
    wall_s : float
        Wall time of the computing part (submission to last result), seconds.
    discarded_attempts : int
        Attempt files of tasks that ran more than once or were cut short
        (deleted; never committed as outputs).
    """

    out_dir: Path
    manifest_path: Path
    items: list[BatchItem]
    options: dict[str, Any]
    scheduler: str
    n_workers: int
    wall_s: float
    discarded_attempts: int = 0

    def _with(self, status: str) -> list[BatchItem]:
        return [i for i in self.items if i.status == status]

    @property
    def done(self) -> list[BatchItem]:
        """Items computed in this run."""
        return self._with("done")

    @property
    def skipped(self) -> list[BatchItem]:
        """Items finished by an earlier run."""
        return self._with("skipped")

    @property
    def failed(self) -> list[BatchItem]:
        """Items that failed (see their ``error``)."""
        return self._with("failed")

    @property
    def ok(self) -> bool:
        """True when no input failed."""
        return not self.failed

    @property
    def recordings_per_minute(self) -> float:
        """Throughput of this run: computed recordings per minute of wall time."""
        return 60.0 * len(self.done) / self.wall_s if self.wall_s > 0 else float("nan")

    def stage_totals_s(self) -> dict[str, float]:
        """Seconds spent per stage, summed over the items computed in this run.

        Returns
        -------
        dict
            Stage name -> seconds (every stage of :data:`STAGES`, 0 when unused).
        """
        totals = dict.fromkeys(STAGES, 0.0)
        for item in self.done:
            for k, v in item.timings_s.items():
                totals[k] = totals.get(k, 0.0) + float(v)
        return totals

    def summary(self) -> str:
        """A few lines for humans: counts, throughput, failures.

        Returns
        -------
        str
            Counts and wall time (s), recordings per minute and seconds per
            stage, then one line per failed input.
        """
        lines = [
            f"batch-infer on {self.scheduler}: {len(self.done)} done, {len(self.skipped)} "
            f"skipped (already finished), {len(self.failed)} failed; {self.wall_s:.1f} s "
            f"wall -> {self.out_dir}",
        ]
        if self.done:
            per = {k: v / len(self.done) for k, v in self.stage_totals_s().items()}
            lines.append(
                f"  {self.recordings_per_minute:.1f} recordings/min; per recording: "
                + ", ".join(f"{k} {v:.2f} s" for k, v in per.items())
            )
        for item in self.failed:
            lines.append(f"  FAILED {item.input} [{item.stage}]: {item.error}")
        return "\n".join(lines)
