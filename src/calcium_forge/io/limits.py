"""Resource bounds of the readers: file kinds they open and array sizes they allocate.

Two checks every reader shares:

* :func:`require_regular_file` refuses FIFOs, sockets and devices before a
  reader opens them (reading a FIFO blocks forever; a device never ends).
* :func:`check_allocation` refuses an array whose declared size (from a file
  header, a stored shape or a model card) exceeds the memory available now,
  *before* it is allocated, with an error that names the source, the size and
  the fix.
"""

from __future__ import annotations

import math
import os
import stat
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import FileFormatError, InvalidInputError, MissingFileError

__all__ = ["available_memory_bytes", "check_allocation", "format_bytes", "require_regular_file"]

#: Fallback when the available memory cannot be read (bytes).
_FALLBACK_AVAILABLE = 4 * 1024**3


def available_memory_bytes() -> int:
    """Memory the process can still allocate, in bytes.

    Returns
    -------
    int
        ``MemAvailable`` of ``/proc/meminfo`` (Linux), else the physical memory
        (``sysconf``), else 4 GiB; never more than a cgroup memory limit.
    """
    avail = None
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    avail = int(line.split()[1]) * 1024
                    break
    except (OSError, ValueError, IndexError):
        avail = None
    if avail is None:
        try:
            avail = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            avail = _FALLBACK_AVAILABLE
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if limit.isdigit():
            avail = min(avail, int(limit))
    except OSError:
        pass
    return int(avail)


def format_bytes(n: float) -> str:
    """``n`` bytes as a short human-readable string (``"149 GiB"``).

    Parameters
    ----------
    n : float
        Size in bytes.

    Returns
    -------
    str
        The size with a binary unit (B, KiB, MiB, GiB, TiB, PiB).
    """
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024:
            return f"{n:.3g} {unit}"
        n /= 1024
    return f"{n:.3g} PiB"


def check_allocation(
    shape: Any,
    dtype: Any,
    what: str,
    where: str,
    fix: str = "",
    *,
    from_file: bool = True,
    available: int | None = None,
    cap: int | None = None,
) -> int:
    """Refuse an array whose size would exceed the available memory, before allocating it.

    Parameters
    ----------
    shape : tuple of int or int
        Declared shape (or number of elements).
    dtype : numpy dtype-like
        Element type (its item size counts).
    what : str
        What the array is (``"F.npy"``, ``"the label image (Ly x Lx)"``...).
    where : str
        File or argument the size comes from, named first in the message.
    fix : str
        Advice appended to the message.
    from_file : bool
        True: the size was read from a file (:class:`FileFormatError`); False:
        it came from an argument (:class:`InvalidInputError`).
    available : int, optional
        Bytes available; default :func:`available_memory_bytes`.
    cap : int, optional
        A smaller limit for this kind of data (bytes), named in the message when it binds.

    Returns
    -------
    int
        The array's size in bytes.

    Raises
    ------
    FileFormatError or InvalidInputError
        When a dimension is negative or the size exceeds the available memory.
    """
    dims = (shape,) if np.isscalar(shape) else tuple(shape)
    err = FileFormatError if from_file else InvalidInputError
    try:
        dims = tuple(int(d) for d in dims)
        itemsize = np.dtype(dtype).itemsize
    except (TypeError, ValueError, OverflowError) as exc:
        raise err(
            f"{where}: {what} declares an unusable shape/dtype ({shape!r}, {dtype!r})."
        ) from exc
    if any(d < 0 for d in dims):
        raise err(f"{where}: {what} declares a negative size {dims}.")
    n_bytes = math.prod(dims) * itemsize
    limit = available_memory_bytes() if available is None else int(available)
    what_limit = f"only {format_bytes(limit)} of memory is available"
    if cap is not None and cap < limit:
        limit, what_limit = int(cap), f"the limit for {what} is {format_bytes(cap)}"
    fix = fix or "Check the file: the declared size is wrong, or process the data in parts."
    if n_bytes > limit:
        raise err(
            f"{where}: {what} would need {format_bytes(n_bytes)} (shape {dims}, "
            f"{np.dtype(dtype).name}) but {what_limit}; "
            f"it was refused before allocating. {fix}"
        )
    return n_bytes


def require_regular_file(path: str | os.PathLike[str], what: str = "") -> Path:
    """Refuse anything but a regular file (or a link to one) before a reader opens it.

    Parameters
    ----------
    path : str or os.PathLike
        The file to read.
    what : str
        Role of the file in the message (``"F.npy"``, ``"model card"``...).

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    MissingFileError
        When ``path`` does not exist.
    FileFormatError
        When ``path`` is a FIFO, socket, character or block device, or a folder.
    """
    p = Path(path)
    try:
        mode = os.stat(p).st_mode
    except FileNotFoundError:
        raise MissingFileError(f"{p}: no such file. Check the path.") from None
    except OSError as exc:
        raise FileFormatError(f"{p}: cannot be read ({exc.strerror or exc}).") from exc
    if stat.S_ISREG(mode):
        return p
    kind = (
        "a FIFO (named pipe)" if stat.S_ISFIFO(mode)
        else "a socket" if stat.S_ISSOCK(mode)
        else "a character device" if stat.S_ISCHR(mode)
        else "a block device" if stat.S_ISBLK(mode)
        else "a folder" if stat.S_ISDIR(mode)
        else "not a regular file"
    )  # fmt: skip
    label = f" ({what})" if what else ""
    raise FileFormatError(
        f"{p}{label} is {kind}; calcium-forge reads only regular files (a pipe or device could "
        "block or never end). Copy the data to a regular file and read that."
    )
