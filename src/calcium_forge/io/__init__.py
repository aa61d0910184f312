"""Readers and writers: one entry point that picks the reader by content.

>>> from calcium_forge.io import read, write, read_stack
>>> rec = read("suite2p/plane0", fs_hz=30.0)          # doctest: +SKIP
>>> write(rec, "plane0.npz")                           # doctest: +SKIP
>>> stack = read_stack("movie.tif")                    # doctest: +SKIP
>>> write_stack("movie.tif", movie, fs_hz=30.0)        # doctest: +SKIP

Formats (detected from magic bytes / folder structure, not only the extension):

========================  =========  ==========================================
content                   reader     returns
========================  =========  ==========================================
Suite2P plane folder      suite2p    Recording (raw F + neuropil, labels)
folder of plane*/         suite2p    list of Recording (one per plane)
MATLAB ``CAttached``      cascade    Recording, or a list for several recordings
calcium-forge / any .npz  npz        Recording
.npy array                npy        Recording (needs ``fs_hz``)
.csv text                 csv        Recording (``fs_hz`` from header or option)
NWB (HDF5)                nwb        Recording (needs the ``nwb`` extra)
TIFF                      tiff       use :func:`read_stack` (image stack)
========================  =========  ==========================================

Image stacks are written with :func:`write_stack` (ImageJ TIFF, float32).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..errors import CalciumForgeError, FileFormatError, InvalidInputError, MissingFileError
from ..recording import Recording
from ..results import SpikeInference
from .atomic import atomic_path
from .tiff import write_stack

__all__ = [
    "Stack",
    "atomic_path",
    "check_write_path",
    "detect_format",
    "read",
    "read_result",
    "read_stack",
    "write",
    "write_stack",
]

_TIFF_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
_TEXT_SUFFIXES = {".csv", ".tsv", ".txt"}
_WRITERS = {".npz": "npz", ".csv": "csv", ".nwb": "nwb"}


def __getattr__(name: str) -> Any:
    if name == "Stack":
        from .tiff import Stack

        return Stack
    raise AttributeError(f"module 'calcium_forge.io' has no attribute {name!r}")


def detect_format(path: str | os.PathLike[str]) -> str:
    """Name the reader for ``path`` from its content.

    Parameters
    ----------
    path : str or os.PathLike
        File or folder.

    Returns
    -------
    str
        One of ``"suite2p"``, ``"cascade"``, ``"npz"``, ``"npy"``, ``"csv"``,
        ``"nwb"``, ``"tiff"``.

    Raises
    ------
    MissingFileError
        If ``path`` does not exist.
    FileFormatError
        If the content is not recognised (the message lists what is supported).
    """
    from .suite2p import is_suite2p_folder

    p = Path(path)
    if not p.exists():
        raise MissingFileError(f"{p}: no such file or folder. Check the path.")
    if p.is_dir():
        if is_suite2p_folder(p):
            return "suite2p"
        raise FileFormatError(
            f"{p}: this directory is not a Suite2P output (no F.npy/stat.npy/ops.npy and no "
            "plane*/ or suite2p/ sub-folder). Point to suite2p/plane0, to a suite2p folder, or "
            "to a file."
        )
    from .limits import require_regular_file

    require_regular_file(p)
    with open(p, "rb") as fh:
        head = fh.read(4096)
    if not head:
        raise FileFormatError(f"{p}: the file is empty (0 bytes).")
    if head[:4] in _TIFF_MAGIC:
        return "tiff"
    if head.startswith(b"\x93NUMPY"):
        return "npy"
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return "npz"
    if head.startswith(b"MATLAB"):
        return "cascade"
    if head.startswith(_HDF5_MAGIC):
        return "nwb"
    suffix = p.suffix.lower()
    if suffix in _TEXT_SUFFIXES:
        try:
            head.decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:
            return "csv"
    raise FileFormatError(
        f"{p}: unknown file type (extension {suffix or 'none'!r}, content not recognised). "
        "Supported: Suite2P folders, Cascade .mat, .npy, .npz, .csv, .nwb and TIFF stacks."
    )


def _with_reader(reader: str, exc: CalciumForgeError) -> CalciumForgeError:
    msg = str(exc)
    if msg.startswith(f"[{reader} reader]"):
        return exc
    new = type(exc)(f"[{reader} reader] {msg}")
    new.__cause__ = exc
    return new


def read(path: str | os.PathLike[str], **options: Any) -> Recording | list[Recording]:
    """Read a recording; the reader is chosen from the content of ``path``.

    Parameters
    ----------
    path : str or os.PathLike
        File or folder (see the module table).
    **options
        ``fs_hz`` (frame rate in Hz): required for formats that do not store it
        (.npy, CSV without header, Suite2P without ops); overrides the rate of
        Suite2P ops, CSV headers and plain .npz; must agree with the rate of
        files that tie it to spike/frame times (Cascade, calcium-forge .npz,
        NWB); ``events_outside`` (Cascade: ``"drop"`` or ``"error"``);
        ``kind`` (``.npy``).

    Returns
    -------
    Recording or list of Recording
        A list when the source holds several recordings (Suite2P folder of
        planes, Cascade file with several recordings), else one Recording.

    Raises
    ------
    CalciumForgeError
        Subclasses (MissingFileError, FileFormatError, InvalidInputError,
        UnsafePickleError, MissingDependencyError); messages start with the
        reader's name, e.g. ``[suite2p reader] ...``.
    """
    fmt = detect_format(path)
    fs_hz = options.pop("fs_hz", None)
    try:
        if fmt == "suite2p":
            from .suite2p import read_suite2p

            return read_suite2p(path, fs_hz=fs_hz, **options)
        if fmt == "cascade":
            from ._common import check_fs_matches
            from .cascade import read_cascade

            recs = read_cascade(path, **options)
            for rec in recs:
                check_fs_matches(rec.fs_hz, fs_hz, f"{path} (fs_hz option)")
            return recs[0] if len(recs) == 1 else recs
        if fmt == "npz":
            from .traces import read_npz

            return read_npz(path, fs_hz=fs_hz, **options)
        if fmt == "npy":
            from .traces import read_npy

            return read_npy(path, fs_hz=fs_hz, **options)
        if fmt == "csv":
            from .traces import read_csv

            return read_csv(path, fs_hz=fs_hz, **options)
        if fmt == "nwb":
            from .nwb import read_nwb

            return read_nwb(path, fs_hz=fs_hz, **options)
        raise FileFormatError(
            f"{path}: this is a TIFF image stack, not a set of traces. Open it with "
            "calcium_forge.io.read_stack(path) (or run suite2p on it to extract ROI traces)."
        )
    except TypeError as exc:
        if "unexpected keyword" in str(exc):
            raise _with_reader(
                fmt, InvalidInputError(f"{path}: option not understood by this reader: {exc}.")
            ) from exc
        raise
    except CalciumForgeError as exc:
        raise _with_reader(fmt, exc) from exc.__cause__


def read_result(path: str | os.PathLike[str]) -> SpikeInference:
    """Read a SpikeInference written by :func:`write` to ``.npz``."""
    from .traces import read_result_npz

    return read_result_npz(path)


def read_stack(path: str | os.PathLike[str], fs_hz: float | None = None) -> Any:
    """Open an image stack (TIFF) lazily.

    Parameters
    ----------
    path : str or os.PathLike
        Multi-page, ImageJ hyperstack, OME or ScanImage TIFF.
    fs_hz : float, optional
        Frame rate in Hz; overrides the metadata. ``Stack.fs_hz`` is None when
        neither gives one.

    Returns
    -------
    Stack
        ``data`` (T, Y, X) lazy array, ``fs_hz``, ``meta``, ``source``.
    """
    fmt = detect_format(path)
    if fmt != "tiff":
        raise _with_reader(
            fmt,
            FileFormatError(
                f"{path}: read_stack needs a TIFF image stack; this is a {fmt} file. Use "
                "calcium_forge.io.read(path) for traces."
            ),
        )
    from .tiff import read_tiff_stack

    try:
        return read_tiff_stack(path, fs_hz=fs_hz)
    except CalciumForgeError as exc:
        raise _with_reader("tiff", exc) from exc.__cause__


def check_write_path(path: str | os.PathLike[str], what: str = "output") -> Path:
    """Check, before any work starts, that :func:`write` can write ``path``.

    Parameters
    ----------
    path : str or os.PathLike
        ``.npz``, ``.csv`` or ``.nwb`` file whose folder exists and is writable.
    what : str
        The argument's name in messages (``"--out"``).

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    FileFormatError, InvalidInputError, MissingFileError
        Unknown extension, a folder, a missing or read-only folder.
    MissingDependencyError
        ``.nwb`` without the ``nwb`` extra (pynwb).
    """
    from .atomic import check_output_file

    p = check_output_file(path, tuple(_WRITERS), what)
    if p.suffix.lower() == ".nwb":
        import importlib.util

        from ..errors import MissingDependencyError

        if importlib.util.find_spec("pynwb") is None:
            raise MissingDependencyError(
                f"{what} {str(p)!r}: writing .nwb needs pynwb; install the extra with "
                "pip install 'calcium-forge[nwb]', or choose .npz or .csv."
            )
    return p


def write(obj: Recording | SpikeInference, path: str | os.PathLike[str], **options: Any) -> Path:
    """Write a Recording or SpikeInference; the format follows the extension.

    Parameters
    ----------
    obj : Recording or SpikeInference
        What to write.
    path : str or os.PathLike
        ``.npz`` (calcium-forge format, lossless), ``.csv`` (traces/rates only,
        rows = ROIs) or ``.nwb`` (needs the ``nwb`` extra).
    **options
        Passed to the writer (``.nwb``: ``session_description``, ``identifier``).

    Returns
    -------
    pathlib.Path
        The written path. Writing is atomic: on failure no file is left behind.
    """
    p = Path(path)
    fmt = _WRITERS.get(p.suffix.lower())
    if fmt is None:
        raise FileFormatError(
            f"{p}: cannot write {p.suffix or 'files without extension'!r}; choose .npz "
            "(lossless calcium-forge format), .csv or .nwb."
        )
    if not isinstance(obj, (Recording, SpikeInference)):
        raise InvalidInputError(
            f"write({str(p)!r}): expected a Recording or SpikeInference; got {type(obj).__name__}."
        )
    try:
        if fmt == "npz":
            from .traces import write_npz

            return write_npz(obj, p, **options)
        if fmt == "csv":
            from .traces import write_csv

            return write_csv(obj, p, **options)
        from .nwb import write_nwb

        return write_nwb(obj, p, **options)
    except TypeError as exc:
        if "unexpected keyword" in str(exc):
            raise InvalidInputError(
                f"write({str(p)!r}): option not understood by the {fmt} writer: {exc}."
            ) from exc
        raise
