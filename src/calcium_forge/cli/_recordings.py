"""Sub-commands on recordings: ``info``, ``convert``, ``infer`` and ``batch-infer``."""

from __future__ import annotations

import argparse

from ._common import (
    add_fs_option,
    add_inference_options,
    add_progress_option,
    add_rois_option,
    check_rate,
    declare_output,
    numbered_output,
    output_file,
    positive_float,
    positive_int,
    read_recordings,
)

_TRACE_OUTPUTS = (".npz", ".csv", ".nwb")


def _register_info(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "info",
        help="describe a recording file or folder (reader, shapes, fs, ROIs, NaNs, spikes)",
        description="Describe what a file or folder holds: the reader chosen from its content, "
        "shapes, frame rate, ROIs, NaN stretches and ground-truth spikes.",
    )
    p.add_argument("path", help="Suite2P folder, Cascade .mat, .npz/.npy/.csv, .nwb or TIFF")
    add_fs_option(p)

    def run(args: argparse.Namespace) -> int:
        from ..io.summary import describe

        print(describe(args.path, fs_hz=args.fs))
        return 0

    p.set_defaults(func=run)


def _register_convert(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "convert",
        help="convert a recording to .npz, .csv or .nwb",
        description="Read IN (any supported recording) and write it to OUT; the format follows "
        "OUT's extension (.npz lossless, .csv traces only, .nwb). Files holding several "
        "recordings write OUT_<k> for each.",
    )
    p.add_argument("input", metavar="IN")
    p.add_argument("output", metavar="OUT", type=output_file(*_TRACE_OUTPUTS))
    declare_output(p, "output", "recording", "OUT")
    add_fs_option(p)
    add_rois_option(p)

    def run(args: argparse.Namespace) -> int:
        from pathlib import Path

        from ..io import write

        recs = read_recordings(args.input, args.fs, args.all_rois)
        for k, rec in enumerate(recs):
            target = numbered_output(Path(args.output), k, len(recs))
            write(rec, target)
            print(
                f"wrote {target} ({rec.n_rois} ROI(s) x {rec.n_frames} frames, "
                f"{rec.fs_hz:.6g} Hz, {rec.kind})"
            )
        return 0

    p.set_defaults(func=run)


def _register_infer(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "infer",
        help="infer spike rates and events from a recording (ENS², S2S or OASIS)",
        description="Read INPUT (Suite2P folder, Cascade .mat, .npz/.npy/.csv, .nwb), infer "
        "spikes and write a SpikeInference to OUT (.npz, .csv or .nwb). Raw fluorescence is "
        "converted to dF/F first (neuropil 0.7, maximin baseline; ROIs whose corrected "
        "baseline is not positive are divided by the baseline of their raw F, with a "
        "warning naming them). Suite2P input: the cells iscell.npy marks, unless --all-rois. "
        "Fluorescence over 256 MB written to .npz is processed in blocks of ROIs with the "
        "rates streamed to OUT (which then holds rates, events and the model card, not the "
        "input recording). Inputs holding several recordings write OUT_<k> for each.",
    )
    p.add_argument("input", metavar="INPUT")
    p.add_argument(
        "--out",
        required=True,
        metavar="OUT",
        type=output_file(*_TRACE_OUTPUTS),
        help="output file (.npz, .csv, .nwb)",
    )
    declare_output(p, "out", "recording")
    add_inference_options(p)
    add_fs_option(p)
    add_rois_option(p)
    p.add_argument(
        "--event-gain",
        type=positive_float,
        default=None,
        metavar="G",
        help="ENS²/S2S: multiply the rate by G before estimating spike events (default: the "
        "gain the model was calibrated with on its validation neurons, 1 if none)",
    )
    p.add_argument(
        "--threads", type=positive_int, default=None, help="torch threads (default: torch's)"
    )
    p.add_argument(
        "--device", default=None, help="torch device for ENS²/S2S, e.g. cuda (default: cpu)"
    )
    p.add_argument(
        "--force-rate",
        action="store_true",
        help="accept a frame rate outside 2-1000 Hz (refused otherwise)",
    )
    add_progress_option(p)

    def run(args: argparse.Namespace) -> int:
        from pathlib import Path

        from ..inference import infer_spikes
        from ..inference._runtime import tune_for_inference
        from ..io import write

        tune_for_inference()  # heap reuse for the engine's buffers (~20 % less CPU)
        recs = read_recordings(args.input, args.fs, args.all_rois)
        for rec in recs:
            check_rate(rec, args.input, force=args.force_rate)
        for k in range(len(recs)):
            target = numbered_output(Path(args.out), k, len(recs))
            if _streams(recs[k], target):
                _infer_streamed(recs, k, target, args)
                continue
            rec, recs[k] = recs[k], None  # the list does not keep a plane alive after its turn
            res = infer_spikes(rec, **_infer_options(args))
            write(res, target)
            n_ev = "" if res.events is None else f", {sum(e.size for e in res.events)} events"
            print(
                f"wrote {target} ({res.n_rois} ROI(s) x {res.n_frames} frames at "
                f"{res.fs_hz:.6g} Hz, {args.method}{n_ev})"
            )
            del rec, res
        return 0

    p.set_defaults(func=run)


def _infer_options(args: argparse.Namespace) -> dict:
    """The ``infer_spikes`` keyword arguments of ``infer``'s options (in memory or streamed)."""
    opts = {
        "method": args.method,
        "model": args.model,
        "events": not args.no_events,
        "mode": args.mode,
        "progress_bar": not args.no_progress,
        "num_threads": args.threads,
        "device": args.device,
        "force_rate": args.force_rate,
    }
    if args.event_gain is not None:
        opts["event_gain"] = args.event_gain
    return opts


def _streams(rec, target) -> bool:
    """Whether ``infer`` streams this recording: fluorescence over the batch streaming
    threshold (:data:`calcium_forge.distributed.task.STREAM_ABOVE_MB`) written to ``.npz``."""
    from ..distributed.task import STREAM_ABOVE_MB

    return (
        target.suffix.lower() == ".npz"
        and rec.kind in ("raw", "dff")
        and rec.traces.nbytes > STREAM_ABOVE_MB * 1e6
    )


def _infer_streamed(recs: list, k: int, target, args: argparse.Namespace) -> None:
    """Recording ``recs[k]``, a block of ROIs at a time, with the rates streamed into
    ``target``; the output holds rates, events and model card, not the input.

    A memory-mapped raw plane goes through dF/F block by block too (nothing of it is
    held in memory whole); raw traces already in memory (a cell selection) are turned
    into dF/F at once and dropped, which needs less than keeping them for the blocks."""
    from .._blocks import is_memory_mapped
    from ..distributed.task import STREAM_ROI_BLOCK
    from ..inference.streamed import DffRows, infer_spikes_streamed
    from ..signal import to_dff

    rec, recs[k] = recs[k], None
    fs_hz = rec.fs_hz
    if rec.kind == "raw" and is_memory_mapped(rec.traces):
        traces = DffRows.from_recording(rec)
    else:
        traces = to_dff(rec).traces
    del rec  # a copy in memory is not needed any more; DffRows keeps what it reads from
    summary = infer_spikes_streamed(
        traces,
        target,
        fs_hz,
        roi_block=STREAM_ROI_BLOCK,
        **_infer_options(args),
    )
    n_ev = f", {summary.n_events} events" if not args.no_events else ""
    print(
        f"wrote {target} ({summary.n_rois} ROI(s) x {summary.n_frames} frames at "
        f"{fs_hz:.6g} Hz, {args.method}{n_ev}; streamed in blocks of {summary.roi_block} ROIs, "
        "input recording not stored)"
    )


def _register_batch_infer(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "batch-infer",
        help="infer spikes for many recordings on dask.distributed (resumable)",
        description="One output DIR/<name>.npz per input and DIR/manifest.json (inputs, "
        "checksums, versions, status). Re-running skips finished inputs; a failing input "
        "is reported and does not stop the others. Exit code 1 when an input failed.",
    )
    p.add_argument(
        "inputs",
        nargs="+",
        metavar="INPUT",
        help="Suite2P plane folders, .npz/.mat/.nwb/.csv files or quoted globs",
    )
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    declare_output(p, "out", "folder")
    add_inference_options(p)
    add_fs_option(p, "--fs-hz")
    p.add_argument(
        "--scheduler",
        default="local",
        metavar="local|serial|tcp://HOST:PORT",
        help="LocalCluster (default), in-process, an existing dask scheduler "
        "address or a scheduler file (.json)",
    )
    p.add_argument(
        "--workers",
        type=positive_int,
        default=None,
        help="worker processes of the local cluster (default: CPU count)",
    )
    p.add_argument("--threads-per-worker", type=positive_int, default=1)
    p.add_argument(
        "--resources",
        default=None,
        metavar="NAME=N[,NAME=N]",
        help="dask worker resources per task, e.g. GPU=1 (workers started with --resources)",
    )
    p.add_argument(
        "--device",
        default=None,
        help="torch device on the workers for ENS²/S2S, e.g. cuda (default: cpu)",
    )
    p.add_argument("--no-resume", action="store_true", help="recompute finished inputs too")
    add_progress_option(p)

    def run(args: argparse.Namespace) -> int:
        from ..distributed import batch_infer
        from ..errors import InvalidInputError

        resources = None
        if args.resources:
            try:
                resources = {
                    k.strip(): float(v)
                    for k, v in (i.split("=") for i in args.resources.split(","))
                }
            except ValueError:
                raise InvalidInputError(
                    f"--resources must look like GPU=1 or GPU=1,MEM=4; got {args.resources!r}."
                ) from None
        report = batch_infer(
            args.inputs,
            args.out,
            client=args.scheduler,
            n_workers=args.workers,
            threads_per_worker=args.threads_per_worker,
            resume=not args.no_resume,
            resources=resources,
            device=args.device,
            progress_bar=not args.no_progress,
            method=args.method,
            model=args.model,
            mode=args.mode,
            events=not args.no_events,
            fs_hz=args.fs_hz,
        )
        print(report.summary())
        print(f"manifest: {report.manifest_path}")
        return 0 if report.ok else 1

    p.set_defaults(func=run)
