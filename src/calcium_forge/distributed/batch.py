"""The driver of a batch run: plan it, run its tasks, commit their outputs, report.

:func:`iter_batch_infer` plans the run (:mod:`.plan`), opens a client
(:mod:`.cluster`), runs one :func:`~.task.run_one` per input to compute --
in this process or on dask -- and, as each task finishes, renames its attempt
file onto the final output and records it in ``manifest.json`` (the one
commit: see the package docstring for the exactly-once rule).
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from collections.abc import Generator, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InvalidInputError
from ..progress import Progress, drain
from .cluster import open_client
from .inputs import expand_inputs
from .manifest import MANIFEST_NAME, Manifest
from .plan import Todo, canonical_options, plan_run
from .report import BatchItem, BatchReport
from .task import PARTIAL_DIR, TaskResult, environment_versions, run_one

__all__ = ["batch_infer", "iter_batch_infer"]


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


def _now_utc() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _start_run(
    manifest: Manifest,
    handle: Any,
    n_workers: int,
    opts: dict[str, Any],
    device: str | None,
    n_inputs: int,
    todo: list[Todo],
) -> None:
    """Append this run to the manifest and mark its inputs pending (saved)."""
    manifest.runs.append(
        {
            "run_id": uuid.uuid4().hex[:12],
            "started": _now_utc(),
            "scheduler": handle.description,
            "n_workers": n_workers,
            "options": opts,
            "device": device or "cpu",
            "driver_versions": environment_versions(),
            "n_inputs": n_inputs,
            "n_to_run": len(todo),
        }
    )
    for t in todo:
        manifest.record(t.key, status="pending", output=str(t.output), options=opts)
    manifest.save()


def _accept(
    todo: Todo,
    res: TaskResult | None,
    exc: BaseException | None,
    manifest: Manifest,
    opts: dict[str, Any],
) -> BatchItem:
    """Commit a task's output (or record its failure) in the output folder and the manifest."""
    key, output = todo.key, todo.output
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
        item = _reject(key, res, exc, manifest, opts, worker)
    manifest.save()
    return item


def _reject(
    key: str,
    res: TaskResult | None,
    exc: BaseException | None,
    manifest: Manifest,
    opts: dict[str, Any],
    worker: str | None,
) -> BatchItem:
    """The failed BatchItem of a task that failed (``res``) or never returned (``exc``)."""
    if res is not None:
        stage, error, tb = res.stage, res.error, res.traceback
    else:
        stage, error, tb = "worker", f"{type(exc).__name__}: {exc}", None
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
    return BatchItem(
        key,
        None,
        "failed",
        error=error,
        stage=stage,
        timings_s={} if res is None else res.timings_s,
        worker=worker,
    )


@dataclass
class _Outcome:
    """What a runner yields per finished task.

    Parameters
    ----------
    todo : Todo
        The input.
    result : TaskResult or None
        What the task returned (None when it never returned).
    error : BaseException or None
        Why the task never returned (its worker died, it was cancelled...).
    """

    todo: Todo
    result: TaskResult | None
    error: BaseException | None = None


def _run_serial(
    todo: list[Todo], out: Path, task_opts: dict[str, Any]
) -> Generator[_Outcome, None, None]:
    """Run the tasks one after the other in this process."""
    for t in todo:
        yield _Outcome(t, run_one(t.key, str(out), t.name, task_opts))


def _run_on_client(
    client: Any,
    todo: list[Todo],
    out: Path,
    task_opts: dict[str, Any],
    resources: dict[str, float] | None,
) -> Generator[_Outcome, None, None]:
    """Submit every task to dask; yield them as they finish; cancel the rest when closed."""
    from distributed import as_completed

    futures: list[Any] = []
    try:
        by_future: dict[str, Todo] = {}
        for t in todo:
            fut = client.submit(
                run_one,
                t.key,
                str(out),
                t.name,
                task_opts,
                key=f"calcium-forge-batch-{t.name}-{uuid.uuid4().hex[:8]}",
                pure=False,
                resources=resources,
            )
            futures.append(fut)
            by_future[fut.key] = t
        for fut in as_completed(futures):
            try:
                res, exc = fut.result(), None
            except Exception as err:  # KilledWorker, CancelledError, comm errors
                res, exc = None, err
            fut.release()
            yield _Outcome(by_future[fut.key], res, exc)
    finally:
        for fut in futures:
            if not fut.done():
                fut.cancel()


def _progress(step: int, total: int, item: BatchItem) -> Progress:
    return Progress(
        step=step,
        total=total,
        message=f"{Path(item.input).name}: {item.status}",
        values={"last": Path(item.input).name, "status": item.status},
    )


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
    """Generator version of :func:`batch_infer`: yields one Progress per finished input.

    Parameters
    ----------
    inputs, out_dir, client, n_workers, threads_per_worker, resume, verify, resources, device
        As in :func:`batch_infer`.
    **options
        Inference options, as in :func:`batch_infer`.

    Yields
    ------
    Progress
        One per computed input (``step`` of ``total`` inputs to compute;
        ``values`` holds the input's name and status).

    Returns
    -------
    BatchReport
        The generator's return value (``StopIteration.value``; :func:`batch_infer`
        returns it).
    """
    opts = canonical_options(options)
    out = Path(out_dir).expanduser().absolute()
    out.mkdir(parents=True, exist_ok=True)
    manifest = Manifest.load(out)
    specs = expand_inputs(inputs)
    if not specs:
        raise InvalidInputError("batch_infer got no inputs; give files, folders or globs.")
    plan = plan_run(specs, out, manifest, opts, resume, verify)
    items, todo = plan.items, plan.todo

    # nothing to compute (all finished or unusable): do not start or contact a cluster
    with open_client(
        client if todo else "serial",
        n_workers=n_workers,
        threads_per_worker=threads_per_worker,
        resources=resources,
    ) as handle:
        n_conn = handle.n_workers
        _clean_partial(out)
        _start_run(manifest, handle, n_conn, opts, device, len(specs), todo)
        task_opts = {**opts, "device": device}
        finished = 0
        t_start = time.perf_counter()
        if handle.client is None:
            outcomes = _run_serial(todo, out, task_opts)
        else:
            outcomes = _run_on_client(handle.client, todo, out, task_opts, resources)
        try:
            for o in outcomes:
                items[o.todo.key] = _accept(o.todo, o.result, o.error, manifest, opts)
                finished += 1
                yield _progress(finished, len(todo), items[o.todo.key])
        finally:
            outcomes.close()  # cancels the tasks not finished (the consumer stopped early)
            wall_s = time.perf_counter() - t_start
            discarded = _clean_partial(out)
            manifest.runs[-1].update(
                finished=_now_utc(),
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
