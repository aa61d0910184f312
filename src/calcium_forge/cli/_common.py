"""Helpers that several sub-commands share: option groups and reading recordings."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from pathlib import Path

from ..inference.api import DEFAULT_MODE


def _number(kind: type, low: float, high: float = math.inf, *, low_open: bool = False):
    """An argparse ``type`` accepting ``kind`` values in [low, high] (or (low, high])."""

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not {'a whole number' if kind is int else 'a number'}"
            ) from None
        bad = not math.isfinite(value) or value > high or value < low or (low_open and value == low)
        if bad:
            rng = f"> {low:g}" if low_open else f">= {low:g}"
            if math.isfinite(high):
                rng += f" and <= {high:g}"
            raise argparse.ArgumentTypeError(f"{text!r} is out of range: give a value {rng}")
        return value

    parse.__name__ = f"{kind.__name__} {'>' if low_open else '>='} {low:g}"
    return parse


#: argparse types: whole numbers >= 1 / >= 0, numbers > 0, fractions in [0, 1).
positive_int = _number(int, 1)
nonneg_int = _number(int, 0)
positive_float = _number(float, 0.0, low_open=True)
fraction = _number(float, 0.0, 0.999999)


def output_file(*suffixes: str) -> Callable[[str], str]:
    """An argparse ``type`` for an output path ending in one of ``suffixes`` (any case).

    Parameters
    ----------
    *suffixes : str
        Accepted extensions with the dot, e.g. ``".npz", ".csv", ".nwb"``.

    Returns
    -------
    callable
        The parser: returns the path unchanged or raises ``ArgumentTypeError``.
    """

    def parse(text: str) -> str:
        if Path(text).suffix.lower() not in suffixes:
            raise argparse.ArgumentTypeError(
                f"{text!r} must end in {', '.join(suffixes)} (the format follows the extension)"
            )
        return text

    parse.__name__ = "output file"
    return parse


def add_fs_option(p: argparse.ArgumentParser, *flags: str) -> None:
    """Add ``--fs HZ`` (default None: the file's own rate), after any other ``flags``.

    Parameters
    ----------
    p : argparse.ArgumentParser
        The sub-command's parser.
    *flags : str
        More option strings placed before ``--fs``; the first names the
        attribute (``"--fs-hz"`` gives ``args.fs_hz``; without it ``args.fs``).
    """
    p.add_argument(
        *flags,
        "--fs",
        type=positive_float,
        default=None,
        metavar="HZ",
        help="frame rate in Hz, for formats that do not store it",
    )


def add_inference_options(p: argparse.ArgumentParser) -> None:
    """Add the spike-inference options ``--method``, ``--model``, ``--mode`` and ``--no-events``.

    Parameters
    ----------
    p : argparse.ArgumentParser
        The sub-command's parser (``infer``, ``batch-infer``).
    """
    p.add_argument("--method", default="ens2", choices=["ens2", "s2s", "cascade", "oasis"])
    p.add_argument(
        "--model",
        default=None,
        metavar="NAME|PATH",
        help="shipped model name or model file (default: the method's shipped model)",
    )
    p.add_argument(
        "--mode",
        default=DEFAULT_MODE,
        choices=["exact", "fast"],
        help="ENS²: stride-1 windows as in the paper (exact) or strided (fast)",
    )
    p.add_argument("--no-events", action="store_true", help="rates only, no spike events")


def add_progress_option(p: argparse.ArgumentParser) -> None:
    """Add ``--no-progress`` (``args.no_progress``: no progress bar).

    Parameters
    ----------
    p : argparse.ArgumentParser
        The sub-command's parser.
    """
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def add_rois_option(p: argparse.ArgumentParser) -> None:
    """Add ``--all-rois`` (``args.all_rois``): every Suite2P ROI, not only the cells.

    Parameters
    ----------
    p : argparse.ArgumentParser
        The sub-command's parser.
    """
    p.add_argument(
        "--all-rois",
        action="store_true",
        help="Suite2P input: every ROI of F.npy (default: the cells iscell.npy marks)",
    )


def read_recordings(path: str, fs_hz: float | None, all_rois: bool = False) -> list:
    """Every Recording a file or folder holds (``fs_hz`` in Hz only when given).

    Parameters
    ----------
    path : str
        Any input :func:`calcium_forge.io.read` accepts.
    fs_hz : float or None
        Frame rate in Hz for formats that do not store it; None: the file's.
    all_rois : bool
        Suite2P input: every ROI instead of the cells (``rois="all"``).

    Returns
    -------
    list of Recording
        One per recording in the input (most inputs hold one).
    """
    from ..io import detect_format, read

    options = {} if fs_hz is None else {"fs_hz": fs_hz}
    if all_rois and detect_format(path) == "suite2p":
        options["rois"] = "all"
    result = read(path, **options)
    return result if isinstance(result, list) else [result]


def numbered_output(out: Path, k: int, n: int) -> Path:
    """Where output ``k`` of ``n`` goes: ``out`` itself when ``n == 1``, else ``OUT_<k>``.

    Parameters
    ----------
    out : pathlib.Path
        The output path the user gave.
    k, n : int
        Index of this output and number of outputs.

    Returns
    -------
    pathlib.Path
        ``out``, or ``out`` with ``_<k>`` before its suffix.
    """
    return out if n == 1 else out.with_name(f"{out.stem}_{k}{out.suffix}")


def read_one_recording(path: str, fs_hz: float | None, what: str):
    """Read a single Recording for the synthesis commands (raw -> dF/F).

    Parameters
    ----------
    path : str
        Any input :func:`calcium_forge.io.read` accepts, holding one recording.
    fs_hz : float or None
        Frame rate in Hz for formats that do not store it; None: the file's.
    what : str
        The argument's name in the error message (``"DATA"``, ``"--traces"``...).

    Returns
    -------
    Recording
        dF/F (raw fluorescence is converted with :func:`calcium_forge.signal.to_dff`).

    Raises
    ------
    InvalidInputError
        When the input holds several recordings.
    """
    from ..errors import InvalidInputError

    recs = read_recordings(path, fs_hz)
    if len(recs) != 1:
        raise InvalidInputError(
            f"{what} {path} holds {len(recs)} recordings; convert the one you want to a "
            ".npz first (calcium-forge convert)."
        )
    result = recs[0]
    if result.kind == "raw":
        from ..signal import to_dff

        result = to_dff(result)
    return result


#: What :func:`check_outputs` checks for each kind of output.
OUTPUT_KINDS = ("recording", "folder", "tiff", "suite2p")


def declare_output(p: argparse.ArgumentParser, attr: str, kind: str, name: str = "") -> None:
    """Declare that ``args.<attr>`` is written, so :func:`check_outputs` checks it first.

    Parameters
    ----------
    p : argparse.ArgumentParser
        The sub-command's parser.
    attr : str
        The attribute of the parsed arguments holding the path (``"out"``).
    kind : {"recording", "folder", "tiff", "suite2p"}
        A file :func:`calcium_forge.io.write` writes (.npz/.csv/.nwb), a folder,
        a TIFF stack, or a folder that takes a new Suite2P run.
    name : str
        The argument as the user typed it, for messages (default ``--<attr>``).
    """
    if kind not in OUTPUT_KINDS:
        raise ValueError(f"declare_output: kind {kind!r} is not one of {OUTPUT_KINDS}")
    p.set_defaults(output_checks={attr: (kind, name or f"--{attr.replace('_', '-')}")})


def check_outputs(args: argparse.Namespace) -> None:
    """Check every declared output path before the command does any work.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed arguments; ``args.output_checks`` (from :func:`declare_output`)
        maps attributes to (kind, name).

    Raises
    ------
    CalciumForgeError
        The first output that cannot be written (format, missing or read-only
        folder, a file where a folder is expected, an existing Suite2P output).
    """
    from ..io import check_write_path
    from ..io.atomic import check_output_dir, check_output_file

    for attr, (kind, name) in getattr(args, "output_checks", {}).items():
        value = getattr(args, attr, None)
        if value is None:
            continue
        if kind == "recording":
            check_write_path(value, name)
        elif kind == "folder":
            check_output_dir(value, name)
        elif kind == "tiff":
            check_output_file(value, (".tif", ".tiff"), name, create_parent=True)
        else:
            from ..pipeline import check_suite2p_output

            check_suite2p_output(value, name)


def check_rate(rec, path: str, force: bool = False) -> None:
    """One line asking for ``--fs`` when a recording's frame rate is implausible.

    Parameters
    ----------
    rec : Recording
        A recording just read (``meta["fs_hz_source"]`` says where its rate comes from).
    path : str
        The input as the user gave it.
    force : bool
        ``--force-rate``: accept any positive rate.

    Raises
    ------
    InvalidInputError
        When the rate is outside 2–1000 Hz and not forced.
    """
    from ..errors import InvalidInputError
    from ..inference.matching import MAX_FS_HZ, MIN_FS_HZ, check_frame_rate

    try:
        check_frame_rate(rec.fs_hz, force=force)
    except InvalidInputError:
        source = rec.meta.get("fs_hz_source") or "the file"
        raise InvalidInputError(
            f"{path}: frame rate {rec.fs_hz:g} Hz (from {source}) is outside "
            f"{MIN_FS_HZ:g}–{MAX_FS_HZ:g} Hz; give the right rate with --fs HZ "
            "(or --force-rate if it is right)."
        ) from None
