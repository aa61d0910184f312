"""Batch spike inference over many recordings on ``dask.distributed``.

One input (Suite2P plane folder, ``.npz``, ``.mat``, NWB...) gives one output
``<out_dir>/<name>.npz`` (a :class:`~calcium_forge.results.SpikeInference`
written by :func:`calcium_forge.io.write`). ``<out_dir>/manifest.json``
records every input with its checksum, the options, the package versions of
the worker that computed it, per-stage timings and a status; re-running the
same command skips what is finished.

Exactly-once outputs: a worker writes its result to a private attempt file
in ``<out_dir>/.calcium-forge-partial/``; only the driver renames an attempt
onto the final name, once per input, when it receives the task's result. A
task that ran twice (its worker died after writing, so the scheduler ran it
again elsewhere) leaves an orphan attempt that is deleted, never a second
output. The output folder must therefore be visible under the same path to
the driver and to every worker (a shared file system on a cluster).

>>> from calcium_forge.distributed import batch_infer
>>> report = batch_infer(["s1/plane0", "s2/plane0"], "spikes/", method="oasis",
...                      fs_hz=30.0, client="local", n_workers=2)  # doctest: +SKIP
>>> print(report.summary())                                        # doctest: +SKIP
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from collections.abc import Generator, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ..errors import InvalidInputError
from ..inference.streamed import StreamedInference, iter_infer_spikes_streamed
from ..progress import Progress, drain
from .cluster import open_client
from .inputs import expand_inputs, fingerprint, output_names, sha256_of
from .manifest import MANIFEST_NAME, Manifest
from .task import (
    DEFAULT_OPTIONS,
    PARTIAL_DIR,
    STAGES,
    TaskResult,
    environment_versions,
    run_one,
)

__all__ = [
    "STAGES",
    "BatchItem",
    "BatchReport",
    "StreamedInference",
    "batch_infer",
    "infer_spikes_streamed",
    "iter_batch_infer",
    "iter_infer_spikes_streamed",
]

Status = Literal["done", "skipped", "failed"]
_METHODS = ("ens2", "s2s", "oasis")


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
        """Seconds spent per stage, summed over the items computed in this run."""
        totals = dict.fromkeys(STAGES, 0.0)
        for item in self.done:
            for k, v in item.timings_s.items():
                totals[k] = totals.get(k, 0.0) + float(v)
        return totals

    def summary(self) -> str:
        """A few lines for humans: counts, throughput, failures."""
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


def _canonical_options(options: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(options) - set(DEFAULT_OPTIONS))
    if unknown:
        raise InvalidInputError(
            f"batch_infer got unknown option(s) {unknown}; valid options are "
            f"{sorted(DEFAULT_OPTIONS)}."
        )
    opts = {**DEFAULT_OPTIONS, **options}
    if opts["method"] not in _METHODS:
        raise InvalidInputError(f"method must be one of {_METHODS}; got {opts['method']!r}.")
    if opts["mode"] not in ("exact", "fast"):
        raise InvalidInputError(f"mode must be 'exact' or 'fast'; got {opts['mode']!r}.")
    if opts["fs_hz"] is not None:
        opts["fs_hz"] = float(opts["fs_hz"])
    if opts["model"] is not None:
        opts["model"] = os.fspath(opts["model"])
    opts["events"] = bool(opts["events"])
    opts["neuropil_coeff"] = float(opts["neuropil_coeff"])
    return opts


def _is_finished(entry: dict[str, Any] | None, output: Path, options: dict, verify: bool) -> bool:
    """Whether the manifest entry proves this input's output is complete and current."""
    if not entry or entry.get("status") != "done" or entry.get("options") != options:
        return False
    if entry.get("output") != str(output) or not output.is_file():
        return False
    path = Path(entry["input"])
    if fingerprint(path) != entry.get("input_fingerprint"):
        # touched or copied: trust the content, not the timestamps
        if sha256_of(path) != entry.get("input_sha256"):
            return False
    return not (verify and sha256_of(output) != entry.get("output_sha256"))


def _clean_partial(out_dir: Path) -> int:
    partial = out_dir / PARTIAL_DIR
    if not partial.is_dir():
        return 0
    n = sum(1 for p in partial.iterdir() if p.is_file())
    shutil.rmtree(partial, ignore_errors=True)
    return n


def _commit(res: TaskResult, output: Path) -> None:
    """Rename the worker's attempt file onto the final output (the one commit)."""
    attempt = Path(res.attempt_path or "")
    if not attempt.is_file():
        raise FileNotFoundError(
            f"the worker wrote {attempt} but the driver cannot see it; the output folder "
            "must be on a file system shared by the driver and all workers, under the same path"
        )
    os.replace(attempt, output)


def iter_batch_infer(
    inputs: Iterable[str | os.PathLike] | str | os.PathLike,
    out_dir: str | os.PathLike,
    client: Any = None,
    *,
    n_workers: int | None = None,
    threads_per_worker: int = 1,
    resume: bool = True,
    verify: bool = True,
    resources: dict[str, float] | None = None,
    device: str | None = None,
    **options: Any,
) -> Generator[Progress, None, BatchReport]:
    """Generator version of :func:`batch_infer`: yields one Progress per finished input."""
    opts = _canonical_options(options)
    out = Path(out_dir).expanduser().absolute()
    out.mkdir(parents=True, exist_ok=True)
    manifest = Manifest.load(out)
    specs = expand_inputs(inputs)
    if not specs:
        raise InvalidInputError("batch_infer got no inputs; give files, folders or globs.")

    good = [s for s in specs if s.error is None]
    names = dict(zip([s.path for s in good], output_names([s.path for s in good]), strict=True))
    items: dict[str, BatchItem] = {}
    todo: list[tuple[str, Path, str]] = []
    for spec in specs:
        key = str(spec.path)
        if spec.error is not None:
            items[key] = BatchItem(key, None, "failed", error=spec.error, stage="find")
            manifest.record(key, status="failed", stage="find", error=spec.error, output=None)
            continue
        name = names[spec.path]
        output = out / f"{name}.npz"
        if output.resolve() == spec.path.resolve():
            msg = (
                f"the output {output} would overwrite the input; choose an --out folder other "
                "than the input's folder"
            )
            items[key] = BatchItem(key, None, "failed", error=msg, stage="find")
            manifest.record(key, status="failed", stage="find", error=msg, output=None)
            continue
        entry = manifest.items.get(key)
        if resume and _is_finished(entry, output, opts, verify):
            items[key] = BatchItem(
                key,
                str(output),
                "skipped",
                timings_s=dict(entry.get("timings_s", {})),
                n_rois=int(entry.get("n_rois", 0)),
                n_frames=int(entry.get("n_frames", 0)),
                worker=entry.get("worker"),
            )
            continue
        todo.append((key, output, name))

    # nothing to compute (all finished or unusable): do not start or contact a cluster
    with open_client(
        client if todo else "serial",
        n_workers=n_workers,
        threads_per_worker=threads_per_worker,
        resources=resources,
    ) as handle:
        n_conn = handle.n_workers
        _clean_partial(out)
        manifest.runs.append(
            {
                "run_id": uuid.uuid4().hex[:12],
                "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "scheduler": handle.description,
                "n_workers": n_conn,
                "options": opts,
                "device": device or "cpu",
                "driver_versions": environment_versions(),
                "n_inputs": len(specs),
                "n_to_run": len(todo),
            }
        )
        for key, output, _ in todo:
            manifest.record(key, status="pending", output=str(output), options=opts)
        manifest.save()

        total = len(todo)
        finished = 0
        by_key = {key: (output, name) for key, output, name in todo}

        def accept(key: str, res: TaskResult | None, exc: BaseException | None) -> BatchItem:
            output, _ = by_key[key]
            worker = None
            if res is not None and res.worker:
                worker = f"{res.worker.get('host')}:{res.worker.get('pid')}"
            if res is not None and res.ok:
                try:
                    _commit(res, output)
                except OSError as err:
                    res.ok, res.stage, res.error = False, "commit", f"{type(err).__name__}: {err}"
            if res is not None and res.ok:
                item = BatchItem(
                    key,
                    str(output),
                    "done",
                    timings_s=res.timings_s,
                    n_rois=res.n_rois,
                    n_frames=res.n_frames,
                    worker=worker,
                )
                manifest.record(
                    key,
                    status="done",
                    output=str(output),
                    options=opts,
                    input_sha256=res.input_sha256,
                    input_fingerprint=res.input_fingerprint,
                    output_sha256=res.output_sha256,
                    n_rois=res.n_rois,
                    n_frames=res.n_frames,
                    fs_hz=res.fs_hz,
                    model=res.model,
                    timings_s=res.timings_s,
                    worker=worker,
                    versions=res.worker.get("versions"),
                )
            else:
                if res is not None:
                    stage, error, tb = res.stage, res.error, res.traceback
                else:
                    stage, error, tb = "worker", f"{type(exc).__name__}: {exc}", None
                item = BatchItem(
                    key,
                    None,
                    "failed",
                    error=error,
                    stage=stage,
                    timings_s={} if res is None else res.timings_s,
                    worker=worker,
                )
                manifest.record(
                    key,
                    status="failed",
                    stage=stage,
                    error=error,
                    traceback=tb,
                    output=None,
                    options=opts,
                    worker=worker,
                    input_sha256=None if res is None else res.input_sha256,
                )
            manifest.save()
            return item

        task_opts = {**opts, "device": device}
        t_start = time.perf_counter()
        futures: list[Any] = []
        try:
            if handle.client is None:
                for key, _output, name in todo:
                    res = run_one(key, str(out), name, task_opts)
                    items[key] = accept(key, res, None)
                    finished += 1
                    yield _progress(finished, total, items[key])
            else:
                from distributed import as_completed

                fut_key: dict[str, str] = {}
                for key, _output, name in todo:
                    fut = handle.client.submit(
                        run_one,
                        key,
                        str(out),
                        name,
                        task_opts,
                        key=f"calcium-forge-batch-{name}-{uuid.uuid4().hex[:8]}",
                        pure=False,
                        resources=resources,
                    )
                    futures.append(fut)
                    fut_key[fut.key] = key
                for fut in as_completed(futures):
                    key = fut_key[fut.key]
                    try:
                        res, exc = fut.result(), None
                    except Exception as err:  # KilledWorker, CancelledError, comm errors
                        res, exc = None, err
                    items[key] = accept(key, res, exc)
                    fut.release()
                    finished += 1
                    yield _progress(finished, total, items[key])
        finally:
            for fut in futures:
                if not fut.done():
                    fut.cancel()
            wall_s = time.perf_counter() - t_start
            discarded = _clean_partial(out)
            manifest.runs[-1].update(
                finished=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                wall_s=round(wall_s, 3),
                discarded_attempts=discarded,
                n_finished=finished,
            )
            manifest.save()

    return BatchReport(
        out_dir=out,
        manifest_path=out / MANIFEST_NAME,
        items=[items[str(s.path)] for s in specs],
        options=opts,
        scheduler=handle.description if todo else "no scheduler (nothing to run)",
        n_workers=n_conn,
        wall_s=wall_s,
        discarded_attempts=discarded,
    )


def _progress(step: int, total: int, item: BatchItem) -> Progress:
    return Progress(
        step=step,
        total=total,
        message=f"{Path(item.input).name}: {item.status}",
        values={"last": Path(item.input).name, "status": item.status},
    )


def batch_infer(
    inputs: Iterable[str | os.PathLike] | str | os.PathLike,
    out_dir: str | os.PathLike,
    client: Any = None,
    *,
    n_workers: int | None = None,
    threads_per_worker: int = 1,
    resume: bool = True,
    verify: bool = True,
    resources: dict[str, float] | None = None,
    device: str | None = None,
    progress_bar: bool = False,
    **options: Any,
) -> BatchReport:
    """Infer spikes for many recordings, one task per input, on dask.distributed.

    Parameters
    ----------
    inputs : path, glob, or iterable of them
        Suite2P plane folders (or folders holding ``plane*/``), ``.npz``,
        ``.mat``, ``.nwb``, ``.csv`` trace files, glob patterns (``**`` ok).
    out_dir : path
        Output folder: ``<name>.npz`` per input and ``manifest.json``. Must be
        on a file system the workers see under the same path.
    client : None, "local", "serial", "tcp://HOST:PORT", scheduler file or Client
        Where to run. ``None``/``"local"`` starts a ``LocalCluster`` of
        ``n_workers`` processes on 127.0.0.1 (and stops it at the end);
        ``"serial"`` runs in this process without dask.
    n_workers : int, optional
        Worker processes of the LocalCluster (default: CPU count).
    threads_per_worker : int
        Threads per LocalCluster worker (default 1).
    resume : bool
        Skip inputs the manifest lists as done with the same options, an
        unchanged input and an intact output (default True).
    verify : bool
        On resume, re-hash outputs and redo those whose checksum changed.
    resources : dict, optional
        dask worker resources each task needs, e.g. ``{"GPU": 1}`` so that a
        worker started with ``--resources GPU=1`` runs one task at a time.
    device : str, optional
        torch device the workers run ENS²/S2S on (``"cuda"`` on GPU workers;
        default CPU). Checked on the worker, not here: a worker without that
        device fails its tasks with a message naming it. It does not enter the
        manifest's option identity, so moving a batch to GPUs does not redo
        finished inputs.
    progress_bar : bool
        Show a tqdm bar (one step per input).
    **options
        ``method`` ("ens2", "s2s", "oasis"; default "ens2"), ``model`` (name or
        path), ``mode`` ("exact" or "fast"), ``events`` (bool), ``fs_hz``
        (frame rate in Hz for inputs that do not store it, e.g. Suite2P folders
        without ops), ``neuropil_coeff`` (0.7), ``baseline`` ("maximin").

    Returns
    -------
    BatchReport
        Per-input status, timings and throughput. A failing input is reported
        there (and in the manifest) and does not stop the others.
    """
    gen = iter_batch_infer(
        inputs,
        out_dir,
        client,
        n_workers=n_workers,
        threads_per_worker=threads_per_worker,
        resume=resume,
        verify=verify,
        resources=resources,
        device=device,
        **options,
    )
    return drain(gen, progress_bar=progress_bar, desc="batch-infer")


def infer_spikes_streamed(
    traces: Any,
    out_path: str | os.PathLike,
    fs_hz: float,
    *,
    roi_block: int = 100,
    method: str = "ens2",
    model: Any = None,
    events: bool = True,
    mode: str = "exact",
    progress_bar: bool = False,
    **infer_options: Any,
) -> StreamedInference:
    """Infer spikes for a recording larger than RAM, ``roi_block`` ROIs at a time.

    Parameters
    ----------
    traces : path or array-like
        dF/F (fraction), (n_rois, n_frames): a ``.npy`` file (read block by
        block with plain reads) or an array-like supporting row slices (zarr,
        h5py dataset, memmap).
    out_path : path
        Output calcium-forge ``.npz`` (SpikeInference without the input
        recording), written as a stream through a temporary file.
    fs_hz : float
        Frame rate in Hz.
    roi_block : int
        ROIs per block; peak memory grows with it (one block of input, its
        rates, and the engine's working memory).
    method, model, events, mode, **infer_options
        As in :func:`calcium_forge.inference.infer_spikes`.
    progress_bar : bool
        Show a tqdm bar.

    Returns
    -------
    StreamedInference
        Where the result is and its size; the arrays are not returned.
    """
    gen = iter_infer_spikes_streamed(
        traces,
        out_path,
        fs_hz,
        roi_block=roi_block,
        method=method,
        model=model,
        events=events,
        mode=mode,
        **infer_options,
    )
    return drain(gen, progress_bar=progress_bar, desc=f"{method} streamed inference")
