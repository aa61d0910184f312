"""The ``calcium-forge`` command line: argparse sub-commands that call the core.

Each sub-command is a ``_register_<name>(subparsers)`` function that adds its
parser and sets ``func``; :data:`COMMANDS` lists them. Nothing here computes:
it parses arguments, calls the library and prints. Output paths declared
with :func:`._common.declare_output` are checked before any command runs. The sub-commands live by
subject: :mod:`._recordings` (info, convert, infer, batch-infer),
:mod:`._pipeline` (suite2p, run: from a movie to ROIs and spikes),
:mod:`._training` (train-spikes) and :mod:`._synthesis` (train-gan, sample-gan,
evaluate-synthetic, synth-movie); ``version`` and ``demo`` are here.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from .._version import __version__
from ..errors import CalciumForgeError
from ._common import check_outputs, declare_output, positive_int
from ._pipeline import _register_run, _register_suite2p
from ._recordings import _register_batch_infer, _register_convert, _register_infer, _register_info
from ._synthesis import (
    _register_evaluate_synthetic,
    _register_sample_gan,
    _register_synth_movie,
    _register_train_gan,
)
from ._training import _register_train_spikes

__all__ = ["COMMANDS", "build_parser", "main"]


def _register_version(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("version", help="print the version and exit")
    p.set_defaults(func=lambda args: print(__version__) or 0)


def _register_demo(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help="run the main job on the bundled sample data (headless): dF/F, ENS² + OASIS "
        "spike inference, a ground-truth check, CalciumGAN sampling and evaluation, a "
        "synthetic movie; writes outputs and figures",
    )
    p.add_argument("--out", default="demo_output", help="output folder (default: demo_output)")
    declare_output(p, "out", "folder")
    p.add_argument("--quick", action="store_true", help="smaller ground-truth set and movie")
    p.add_argument(
        "--mode",
        choices=["fast", "exact"],
        default="fast",
        help="ENS² engine mode: fast (stride 8, default) or exact (stride 1, ~8x slower)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of every random step")
    p.add_argument(
        "--threads",
        type=positive_int,
        default=1,
        help="torch threads (default 1: when other jobs keep the cores busy, more threads "
        "can make the ENS² stages several times slower; try 2 on a quiet machine)",
    )

    def run(args: argparse.Namespace) -> int:
        from ..demo import run_demo
        from ..inference.engine import torch_threads

        with torch_threads(args.threads):
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
    _register_suite2p,
    _register_run,
    _register_train_gan,
    _register_sample_gan,
    _register_evaluate_synthetic,
    _register_synth_movie,
    _register_train_spikes,
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
        check_outputs(args)  # before any work: a bad --out fails in a second, not an hour
        return int(args.func(args) or 0)
    except CalciumForgeError as exc:
        print(f"calcium-forge {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:  # folders the command creates itself: permission, full disk
        print(f"calcium-forge {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"calcium-forge {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
