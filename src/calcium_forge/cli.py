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


COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [
    _register_version,
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
