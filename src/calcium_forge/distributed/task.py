"""The unit of work of a batch: one input file -> one spike-inference ``.npz``.

Runs on a dask worker (or in-process for ``scheduler="serial"``). The output
is written to a private *attempt* file; the driver renames it onto the final
name when it accepts the result, so an output is committed exactly once even
when the scheduler runs a task twice (e.g. after a worker died).
"""

from __future__ import annotations

import os
import platform
import socket
import sys
import time
import traceback
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..inference.api import DEFAULT_MODE
from .inputs import fingerprint, sha256_of

STAGES: tuple[str, ...] = ("checksum", "load", "preprocess", "inference", "write")

#: Options of :func:`calcium_forge.distributed.batch_infer` and their defaults.
DEFAULT_OPTIONS: dict[str, Any] = {
    "method": "ens2",
    "model": None,
    "mode": DEFAULT_MODE,
    "events": True,
    "fs_hz": None,
    "neuropil_coeff": 0.7,
    "baseline": "maximin",
}

PARTIAL_DIR = ".calcium-forge-partial"

#: Suite2P planes whose ``F.npy`` is larger than this (MB) are streamed in ROI blocks
#: (:func:`calcium_forge.distributed.infer_spikes_streamed`) instead of being loaded whole.
STREAM_ABOVE_MB = 256.0
#: ROIs per block of a streamed plane.
STREAM_ROI_BLOCK = 100


@dataclass
class TaskResult:
    """What a worker reports back for one input.

    Parameters
    ----------
    input : str
        Absolute input path.
    attempt_path : str or None
        The attempt file holding the output (to be renamed by the driver).
    ok : bool
        True when every stage succeeded.
    stage : str or None
        The stage that failed (one of :data:`STAGES`), or None.
    error : str or None
        ``"<ExceptionType>: <message>"`` of the failure.
    traceback : str or None
        Formatted traceback of the failure.
    timings_s : dict
        Wall time per stage, seconds.
    n_rois, n_frames : int
        Size of the recording (0 when it could not be read).
    fs_hz : float or None
        Frame rate of the recording, Hz.
    input_sha256 : str or None
        Checksum of the input file(s).
    input_fingerprint : dict
        Size and mtime of the input file(s).
    output_sha256 : str or None
        Checksum of the written output.
    model : str or None
        Name of the model used (from the model card).
    worker : dict
        Host, pid and versions of the process that ran the task.
    """

    input: str
    attempt_path: str | None = None
    ok: bool = False
    stage: str | None = None
    error: str | None = None
    traceback: str | None = None
    timings_s: dict[str, float] = field(default_factory=dict)
    n_rois: int = 0
    n_frames: int = 0
    fs_hz: float | None = None
    input_sha256: str | None = None
    input_fingerprint: dict[str, int] = field(default_factory=dict)
    output_sha256: str | None = None
    model: str | None = None
    worker: dict[str, Any] = field(default_factory=dict)


def environment_versions() -> dict[str, str]:
    """Versions of Python and of the packages that shape the numbers.

    Returns
    -------
    dict
        Package name -> version string (calcium_forge, python, numpy, scipy and,
        when installed, torch, oasis-deconv, tifffile, dask, distributed).
    """
    from importlib import metadata

    import numpy
    import scipy

    from .._version import __version__

    versions = {
        "calcium_forge": __version__,
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
    }
    for dist in ("torch", "oasis-deconv", "tifffile", "dask", "distributed"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    return versions


def _single_recording(obj: Any, path: Path):
    """Turn what ``io.read`` returned into one Recording (several -> rows, NaN-padded)."""
    import numpy as np

    from ..errors import FileFormatError
    from ..recording import Recording

    if isinstance(obj, Recording):
        return obj
    recs = list(obj)
    if not recs:
        raise FileFormatError(f"{path} holds no recording; check that it is the right file.")
    if len(recs) == 1:
        return recs[0]
    rates = {r.fs_hz for r in recs}
    kinds = {r.kind for r in recs}
    if len(rates) > 1 or len(kinds) > 1:
        raise FileFormatError(
            f"{path} holds {len(recs)} recordings with different frame rates {sorted(rates)} "
            f"or kinds {sorted(kinds)}; batch inference writes one output per input, so split "
            "the file or run calcium-forge infer on each recording."
        )
    n = max(r.n_frames for r in recs)
    traces = np.full((sum(r.n_rois for r in recs), n), np.nan, dtype=np.float32)
    neu = None
    if all(r.neuropil is not None for r in recs):
        neu = np.full_like(traces, np.nan)
    row = 0
    spikes: list | None = [] if all(r.spike_times is not None for r in recs) else None
    for r in recs:
        traces[row : row + r.n_rois, : r.n_frames] = r.traces
        if neu is not None:
            neu[row : row + r.n_rois, : r.n_frames] = r.neuropil
        if spikes is not None:
            spikes.extend(r.spike_times)
        row += r.n_rois
    return Recording(
        traces=traces,
        fs_hz=recs[0].fs_hz,
        kind=recs[0].kind,
        neuropil=neu,
        spike_times=spikes,
        source=str(path),
        meta={"merged_recordings": [r.n_frames for r in recs], "name": path.stem},
    )


def _stream_plane(path: Path) -> bool:
    """Whether ``path`` is a Suite2P plane folder big enough to be streamed."""
    from ..io.suite2p import is_suite2p_plane

    f = path / "F.npy"
    return bool(
        path.is_dir()
        and is_suite2p_plane(path)
        and f.is_file()
        and f.stat().st_size > STREAM_ABOVE_MB * 1e6
    )


def _attempt_path(out_dir: str, name: str) -> Path:
    """A fresh private attempt file ``<out_dir>/.calcium-forge-partial/<name>.<id>.npz``."""
    partial = Path(out_dir) / PARTIAL_DIR
    partial.mkdir(parents=True, exist_ok=True)
    return partial / f"{name}.{uuid.uuid4().hex[:12]}.npz"


def _run_streamed(
    path: Path, out_dir: str, name: str, options: dict[str, Any], res: TaskResult, t0: float
) -> str:
    """A large Suite2P plane: dF/F and inference per ROI block, rates streamed to disk.

    Peak memory is one block plus the engine's working memory, whatever the
    size of the plane. The output holds the rates, events and model card (not a
    copy of the dF/F, which the in-memory path stores). Updates ``res``; returns
    the last stage.
    """
    from ..inference.streamed import Suite2PDffRows, iter_infer_spikes_streamed
    from ..io.suite2p import plane_frame_rate
    from ..progress import drain

    res.stage = "load"  # the stage a failure is reported in (cleared on success)
    fs = plane_frame_rate(path, options.get("fs_hz"))
    lazy = Suite2PDffRows(path, fs, options["neuropil_coeff"], options["baseline"])
    res.n_rois, res.n_frames = (int(v) for v in lazy.shape)
    res.fs_hz = fs
    open_s = time.perf_counter() - t0

    res.stage = "inference"
    t1 = time.perf_counter()
    attempt = _attempt_path(out_dir, name)
    summary = drain(
        iter_infer_spikes_streamed(
            lazy,
            attempt,
            fs,
            roi_block=STREAM_ROI_BLOCK,
            method=options["method"],
            model=options["model"],
            events=bool(options["events"]),
            mode=options["mode"],
            device=options.get("device"),
        )
    )
    total = time.perf_counter() - t1
    res.model = str(summary.meta.get("model_card", {}).get("name", options["method"]))
    res.timings_s["load"] = open_s + lazy.read_s
    res.timings_s["preprocess"] = lazy.preprocess_s
    res.timings_s["inference"] = max(0.0, total - lazy.read_s - lazy.preprocess_s)

    res.stage = "write"  # the rates were written while streaming; what is left is the checksum
    t2 = time.perf_counter()
    res.output_sha256 = sha256_of(attempt)
    res.attempt_path = str(attempt)
    res.timings_s["write"] = time.perf_counter() - t2
    res.stage = None
    return "write"


def _checksum(path: Path, res: TaskResult) -> None:
    """Stage ``checksum``: fingerprint and SHA-256 of the input."""
    t0 = time.perf_counter()
    res.input_fingerprint = fingerprint(path)
    res.input_sha256 = sha256_of(path)
    res.timings_s["checksum"] = time.perf_counter() - t0


def _load(path: Path, options: dict[str, Any], res: TaskResult, t0: float) -> Any:
    """Stage ``load``: read the input as one Recording (``fs_hz`` only as a fallback).

    Suite2P planes are read with every ROI (``rois="all"``), like the streamed path.
    """
    from .. import io as cf_io
    from ..errors import CalciumForgeError

    # every ROI of a Suite2P plane, as the streamed path for large planes reads them
    extra = {"rois": "all"} if cf_io.detect_format(path) == "suite2p" else {}
    try:  # files that store their frame rate keep it; fs_hz is the fallback
        obj = cf_io.read(path, **extra)
    except CalciumForgeError:
        if options.get("fs_hz") is None:
            raise
        obj = cf_io.read(path, fs_hz=float(options["fs_hz"]), **extra)
    rec = _single_recording(obj, path)
    res.n_rois, res.n_frames, res.fs_hz = rec.n_rois, rec.n_frames, rec.fs_hz
    res.timings_s["load"] = time.perf_counter() - t0
    return rec


def _preprocess(rec: Any, path: Path, options: dict[str, Any], res: TaskResult) -> Any:
    """Stage ``preprocess``: raw fluorescence -> dF/F; dF/F passes; other kinds fail."""
    t0 = time.perf_counter()
    if rec.kind == "raw":
        from ..signal import to_dff

        rec = to_dff(
            rec, neuropil_coeff=float(options["neuropil_coeff"]), baseline=options["baseline"]
        )
    elif rec.kind != "dff":
        from ..errors import InvalidInputError

        raise InvalidInputError(
            f"{path} holds kind={rec.kind!r} traces; spike inference needs fluorescence "
            "('raw' or 'dff'). Remove this input from the batch."
        )
    res.timings_s["preprocess"] = time.perf_counter() - t0
    return rec


def _infer(rec: Any, options: dict[str, Any], res: TaskResult) -> Any:
    """Stage ``inference``: :func:`calcium_forge.inference.infer_spikes` with the options."""
    t0 = time.perf_counter()
    from ..inference import infer_spikes  # timed: its first import is part of the stage

    result = infer_spikes(
        rec,
        method=options["method"],
        model=options["model"],
        events=bool(options["events"]),
        mode=options["mode"],
        device=options.get("device"),
    )
    res.model = str(result.model_card.get("name", options["method"]))
    res.timings_s["inference"] = time.perf_counter() - t0
    return result


def _write(result: Any, out_dir: str, name: str, res: TaskResult) -> None:
    """Stage ``write``: the result to a private attempt file, and its checksum."""
    from .. import io as cf_io

    t0 = time.perf_counter()
    attempt = _attempt_path(out_dir, name)
    cf_io.write(result, attempt)
    res.output_sha256 = sha256_of(attempt)
    res.attempt_path = str(attempt)
    res.timings_s["write"] = time.perf_counter() - t0


def run_one(input_path: str, out_dir: str, name: str, options: dict[str, Any]) -> TaskResult:
    """Read, preprocess, infer and write one input; never raises for a bad input.

    Parameters
    ----------
    input_path : str
        Absolute path of the input (file or Suite2P plane folder).
    out_dir : str
        Output folder (shared by the driver and the workers).
    name : str
        Output stem; the attempt file is ``<out_dir>/.calcium-forge-partial/<name>.<id>.npz``.
    options : dict
        Batch options (:data:`DEFAULT_OPTIONS` keys, plus ``device``).

    Returns
    -------
    TaskResult
        ``ok=False`` with the failing stage and message when something went
        wrong; per-stage wall times in seconds.
    """
    from ..inference._runtime import tune_for_inference

    tune_for_inference()  # undo the cost of dask's MALLOC_TRIM_THRESHOLD_ (see _malloc)
    path = Path(input_path)
    res = TaskResult(
        input=str(path),
        worker={
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "versions": environment_versions(),
        },
    )
    stage = STAGES[0]
    try:
        _checksum(path, res)
        stage = "load"
        t0 = time.perf_counter()
        if _stream_plane(path):
            stage = _run_streamed(path, out_dir, name, options, res, t0)
            res.ok = True
            return res
        rec = _load(path, options, res, t0)
        stage = "preprocess"
        rec = _preprocess(rec, path, options, res)
        stage = "inference"
        result = _infer(rec, options, res)
        stage = "write"
        _write(result, out_dir, name, res)
        res.ok = True
    except Exception as exc:
        res.ok = False
        res.stage = res.stage if res.stage is not None else stage
        res.error = f"{type(exc).__name__}: {exc}"
        res.traceback = traceback.format_exc()
    finally:
        sys.stdout.flush()
    return res
