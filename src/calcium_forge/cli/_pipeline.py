"""Sub-commands from a movie: ``suite2p`` (ROIs and traces) and ``run`` (movie to spikes)."""

from __future__ import annotations

import argparse
import sys

from ._common import add_progress_option, declare_output


def _add_suite2p_options(p: argparse.ArgumentParser) -> None:
    """MOVIE, --fs, --out and the Suite2P options shared by ``suite2p`` and ``run``."""
    p.add_argument("movie", metavar="MOVIE", help="TIFF movie (frames x Y x X)")
    p.add_argument(
        "--fs",
        type=float,
        default=None,
        metavar="HZ",
        help="frame rate in Hz (default: the TIFF's metadata; required when it has none)",
    )
    p.add_argument(
        "--out",
        required=True,
        metavar="DIR",
        help="output folder (Suite2P writes DIR/suite2p/plane0; must not hold one already)",
    )
    declare_output(p, "out", "suite2p")
    p.add_argument("--tau", type=float, default=1.0, metavar="S", help="indicator decay, s")
    p.add_argument(
        "--diameter",
        type=float,
        default=0.0,
        metavar="PX",
        help="cell diameter in pixels (default: 12, less on fields under 96 px)",
    )
    p.add_argument(
        "--no-registration",
        action="store_true",
        help="skip motion registration (non-rigid blocks otherwise follow the field of view)",
    )


def _register_suite2p(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "suite2p",
        help="run Suite2P on a TIFF movie: registration, ROI detection, F/Fneu, iscell",
        description="Run Suite2P (CPU, one plane, one channel) on MOVIE and write its output "
        "folder DIR/suite2p/plane0, readable by every other command. The non-rigid "
        "registration block size and the cell diameter follow the field of view, so small "
        "fields (128 x 128) register. Needs the suite2p extra.",
    )
    _add_suite2p_options(p)

    def run(args: argparse.Namespace) -> int:
        from ..io.suite2p_run import run_suite2p
        from ..pipeline import check_pipeline_inputs

        info = check_pipeline_inputs(args.movie, args.out, args.fs)
        print(f"Suite2P on {info.describe()}", file=sys.stderr, flush=True)
        plane = run_suite2p(
            info.path,
            args.out,
            info.fs_hz,
            tau_s=args.tau,
            diameter_px=args.diameter,
            registration=not args.no_registration,
        )
        print(f"wrote {plane} (read it with calcium-forge info/infer {plane})")
        return 0

    p.set_defaults(func=run)


def _register_run(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "run",
        help="from a TIFF movie to ROIs, dF/F, spikes and figures in one command",
        description="Suite2P on MOVIE (DIR/suite2p/plane0), dF/F of the cells (all ROIs with "
        "--all-rois; DIR/dff.npz), spike inference (DIR/spikes.npz), figures (DIR/rois.png, "
        "raster.png, traces.png) and a summary (DIR/summary.md, summary.json): ROIs, cells, "
        "events/s and the time of each stage. Every output is checked before work starts.",
    )
    _add_suite2p_options(p)
    p.add_argument("--method", default="ens2", choices=["ens2", "s2s", "cascade", "oasis"])
    p.add_argument(
        "--model", default=None, metavar="NAME|PATH", help="model (default: the method's shipped)"
    )
    p.add_argument(
        "--mode", default="exact", choices=["exact", "fast"], help="ENS²: stride-1 or strided"
    )
    p.add_argument(
        "--all-rois", action="store_true", help="analyse every ROI, not only the cells (iscell)"
    )
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    p.add_argument("--device", default=None, help="torch device for ENS²/S2S (default: cpu)")
    add_progress_option(p)

    def run(args: argparse.Namespace) -> int:
        from ..inference._runtime import tune_for_inference
        from ..pipeline import iter_run_pipeline
        from ..progress import drain

        tune_for_inference()
        options = {"mode": args.mode, "num_threads": args.threads, "device": args.device}
        if args.model is not None:
            options["model"] = args.model
        stage = {"last": ""}

        def announce(p) -> None:
            head = p.message.split(":")[0]
            if head != stage["last"] and p.total and p.step < p.total:
                stage["last"] = head
                print(f"[{p.step + 1}/{p.total}] {head}", file=sys.stderr, flush=True)

        res = drain(
            iter_run_pipeline(
                args.movie,
                args.out,
                args.fs,
                method=args.method,
                rois="all" if args.all_rois else None,
                tau_s=args.tau,
                diameter_px=args.diameter,
                registration=not args.no_registration,
                **options,
            ),
            progress_bar=False,
            callback=None if args.no_progress else announce,
        )
        print(res.summary())
        print(f"  summary: {res.out_dir / 'summary.md'}")
        return 0

    p.set_defaults(func=run)
