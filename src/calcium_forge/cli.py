"""The ``calcium-forge`` command line: argparse sub-commands that call the core.

Each sub-command is a ``_register_<name>(subparsers)`` function that adds its
parser and sets ``func``; :data:`COMMANDS` lists them. Nothing here computes:
it parses arguments, calls the library and prints.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from ._version import __version__
from .errors import CalciumForgeError


def _register_version(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("version", help="print the version and exit")
    p.set_defaults(func=lambda args: print(__version__) or 0)


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
    p.add_argument("--method", default="ens2", choices=["ens2", "s2s", "oasis"])
    p.add_argument("--model", default=None, help="model name or path (default: shipped)")
    p.add_argument(
        "--mode",
        default="exact",
        choices=["exact", "fast"],
        help="ENS² windows at stride 1 (exact) or the faster strided mode",
    )
    p.add_argument("--no-events", action="store_true", help="rates only, no spike events")
    p.add_argument(
        "--fs-hz", type=float, default=None, help="frame rate (Hz) for inputs that do not store it"
    )
    p.add_argument(
        "--scheduler",
        default="local",
        metavar="local|serial|tcp://HOST:PORT",
        help="LocalCluster (default), in-process, an existing dask scheduler "
        "address or a scheduler file (.json)",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        help="worker processes of the local cluster (default: CPU count)",
    )
    p.add_argument("--threads-per-worker", type=int, default=1)
    p.add_argument(
        "--resources",
        default=None,
        metavar="NAME=N[,NAME=N]",
        help="dask worker resources per task, e.g. GPU=1 (workers started with --resources)",
    )
    p.add_argument("--no-resume", action="store_true", help="recompute finished inputs too")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")

    def run(args: argparse.Namespace) -> int:
        from .distributed import batch_infer
        from .errors import InvalidInputError

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


def _register_info(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "info",
        help="describe a recording file or folder (reader, shapes, fs, ROIs, NaNs, spikes)",
        description="Describe what a file or folder holds: the reader chosen from its content, "
        "shapes, frame rate, ROIs, NaN stretches and ground-truth spikes.",
    )
    p.add_argument("path", help="Suite2P folder, Cascade .mat, .npz/.npy/.csv, .nwb or TIFF")
    p.add_argument(
        "--fs",
        type=float,
        default=None,
        metavar="HZ",
        help="frame rate in Hz, for formats that do not store it",
    )

    def run(args: argparse.Namespace) -> int:
        from .io.summary import describe

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
    p.add_argument("output", metavar="OUT")
    p.add_argument(
        "--fs",
        type=float,
        default=None,
        metavar="HZ",
        help="frame rate in Hz, for formats that do not store it",
    )

    def run(args: argparse.Namespace) -> int:
        from pathlib import Path

        from .io import read, write

        result = read(args.input, **({} if args.fs is None else {"fs_hz": args.fs}))
        recs = result if isinstance(result, list) else [result]
        out = Path(args.output)
        for k, rec in enumerate(recs):
            target = out if len(recs) == 1 else out.with_name(f"{out.stem}_{k}{out.suffix}")
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
        "converted to dF/F first (neuropil 0.7, maximin baseline). Inputs holding several "
        "recordings write OUT_<k> for each.",
    )
    p.add_argument("input", metavar="INPUT")
    p.add_argument("--out", required=True, metavar="OUT", help="output file (.npz, .csv, .nwb)")
    p.add_argument("--method", default="ens2", choices=["ens2", "s2s", "oasis"])
    p.add_argument("--fs", type=float, default=None, metavar="HZ", help="frame rate in Hz")
    p.add_argument(
        "--model", default=None, metavar="NAME|PATH", help="shipped model name or model file"
    )
    p.add_argument(
        "--mode",
        default="exact",
        choices=["exact", "fast"],
        help="ENS²: stride-1 windows as in the paper (exact) or strided (fast)",
    )
    p.add_argument("--no-events", action="store_true", help="rates only, no spike events")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")

    def run(args: argparse.Namespace) -> int:
        from pathlib import Path

        from .inference import infer_spikes
        from .io import read, write

        result = read(args.input, **({} if args.fs is None else {"fs_hz": args.fs}))
        recs = result if isinstance(result, list) else [result]
        out = Path(args.out)
        for k, rec in enumerate(recs):
            res = infer_spikes(
                rec,
                method=args.method,
                model=args.model,
                events=not args.no_events,
                mode=args.mode,
                progress_bar=not args.no_progress,
                num_threads=args.threads,
            )
            target = out if len(recs) == 1 else out.with_name(f"{out.stem}_{k}{out.suffix}")
            write(res, target)
            n_ev = "" if res.events is None else f", {sum(e.size for e in res.events)} events"
            print(
                f"wrote {target} ({res.n_rois} ROI(s) x {res.n_frames} frames at "
                f"{res.fs_hz:.6g} Hz, {args.method}{n_ev})"
            )
        return 0

    p.set_defaults(func=run)


def _register_demo(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help="run the main job on the bundled sample data (headless): dF/F, ENS² + OASIS "
        "spike inference, a ground-truth check, CalciumGAN sampling and evaluation, a "
        "synthetic movie; writes outputs and figures",
    )
    p.add_argument("--out", default="demo_output", help="output folder (default: demo_output)")
    p.add_argument("--quick", action="store_true", help="smaller ground-truth set and movie")
    p.add_argument("--mode", choices=["exact", "fast"], default="exact", help="ENS² engine mode")
    p.add_argument("--seed", type=int, default=0, help="seed of every random step")

    def run(args: argparse.Namespace) -> int:
        from .demo import run_demo

        res = run_demo(
            args.out, quick=args.quick, mode=args.mode, seed=args.seed, progress_bar=True
        )
        print(f"calcium-forge demo: {len(res.files)} files written to {res.out_dir}")
        for method, m in res.spike_metrics.items():
            print(f"  ground truth, {method}: median Corr {m['corr']:.3f}, ER {m['er']:.3f}")
        s = res.synthesis
        if s:
            print(
                f"  CalciumGAN vs real: KL rate {s['kl_rate']:.3f}, KL corr {s['kl_corr']:.3f}, "
                f"KL van Rossum {s['kl_vrd']:.3f}"
            )
        print(f"  summary: {res.out_dir / 'summary.md'}")
        return 0

    p.set_defaults(func=run)


COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [
    _register_version,
    _register_demo,
    _register_info,
    _register_convert,
    _register_batch_infer,
    _register_infer,
]


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with every registered sub-command."""
    parser = argparse.ArgumentParser(
        prog="calcium-forge",
        description="Between calcium imaging and spikes: read recordings, infer spikes "
        "(ENS², S2S, OASIS), train and sample CalciumGAN.",
    )
    parser.add_argument("--version", action="version", version=f"calcium-forge {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for register in COMMANDS:
        register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except CalciumForgeError as exc:
        print(f"calcium-forge {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"calcium-forge {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
