"""Helpers that several sub-commands share: option groups and reading recordings."""

from __future__ import annotations

import argparse
from pathlib import Path


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
        type=float,
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
        default="exact",
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
