"""Row blocks over large (possibly memory-mapped) arrays.

Large Suite2P planes are read as read-only memory maps (``np.load(mmap_mode="r")``)
and processed a block of ROIs (rows) at a time. Pages of a file mapping that
have been read stay counted in the process's resident memory until they are
unmapped, so :func:`release_pages` hands them back after each block: the data
stay in the operating system's file cache and are read again on demand.
"""

from __future__ import annotations

import mmap
from collections.abc import Iterator

import numpy as np

__all__ = [
    "BLOCK_BUDGET_BYTES",
    "count_nonfinite",
    "is_memory_mapped",
    "release_pages",
    "row_blocks",
    "rows_per_block",
    "take_rows",
]

#: Working memory (bytes) a block of rows may use for its temporaries.
BLOCK_BUDGET_BYTES = 64 * 2**20


def _backing_mmap(array: np.ndarray) -> mmap.mmap | None:
    """The ``mmap.mmap`` an array (or a view of it) reads from, or None."""
    base = array
    while base is not None:
        if isinstance(base, mmap.mmap):
            return base
        base = getattr(base, "base", None)
    return None


def is_memory_mapped(array: np.ndarray) -> bool:
    """True if ``array`` (or what it views) reads from a file mapping.

    Parameters
    ----------
    array : numpy.ndarray
        Any array.

    Returns
    -------
    bool
        Whether a ``mmap.mmap`` backs it (e.g. ``np.load(..., mmap_mode="r")``).
    """
    return _backing_mmap(array) is not None


def release_pages(array: np.ndarray) -> None:
    """Drop the resident pages of a read-only file-backed array from this process.

    Parameters
    ----------
    array : numpy.ndarray
        Any array; when it views a read-only memory map (``np.load(...,
        mmap_mode="r")``) the pages read so far are unmapped (the file cache
        keeps them; the next access reads them again). Other arrays, and
        writable or copy-on-write maps, are left alone.
    """
    mm = _backing_mmap(array)
    if mm is None or mm.closed or not hasattr(mm, "madvise"):
        return
    if not isinstance(array, np.ndarray) or array.flags.writeable:
        return  # a writable map may hold changes that exist nowhere else
    try:
        mm.madvise(mmap.MADV_DONTNEED)
    except (OSError, ValueError, AttributeError):  # pragma: no cover - platform without it
        pass


def take_rows(array: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``array[rows]`` (a copy); from a memory map, a block of rows at a time.

    Parameters
    ----------
    array : numpy.ndarray
        Array (n_rows, ...), possibly memory-mapped.
    rows : numpy.ndarray
        Integer indices of the rows to take, in order.

    Returns
    -------
    numpy.ndarray
        The rows, in memory. From a read-only memory map the pages read are
        released after each block, so only the copy stays resident.
    """
    a = np.asarray(array)
    idx = np.asarray(rows, dtype=np.intp).ravel()
    if not is_memory_mapped(a):
        return a[idx]
    out = np.empty((idx.size, *a.shape[1:]), dtype=a.dtype)
    per_row = a[0].nbytes if a.shape[0] else 1
    for r0, r1 in row_blocks(idx.size, rows_per_block(idx.size, per_row)):
        out[r0:r1] = a[idx[r0:r1]]
        release_pages(a)
    return out


def rows_per_block(n_rows: int, bytes_per_row: float, budget: float | None = None) -> int:
    """How many rows fit in ``budget`` bytes of temporaries (at least 1, at most ``n_rows``).

    Parameters
    ----------
    n_rows : int
        Rows in the array.
    bytes_per_row : float
        Bytes of temporaries one row needs.
    budget : float, optional
        Bytes available for a block (default :data:`BLOCK_BUDGET_BYTES`).

    Returns
    -------
    int
        Rows per block.
    """
    budget = BLOCK_BUDGET_BYTES if budget is None else budget
    return int(max(1, min(max(n_rows, 1), budget // max(bytes_per_row, 1.0))))


def row_blocks(n_rows: int, rows: int) -> Iterator[tuple[int, int]]:
    """``(start, stop)`` of consecutive blocks of ``rows`` rows covering ``n_rows``.

    Parameters
    ----------
    n_rows : int
        Rows in the array.
    rows : int
        Rows per block (>= 1).

    Yields
    ------
    tuple of int
        Start (inclusive) and stop (exclusive) row of each block.
    """
    step = max(1, int(rows))
    for r0 in range(0, n_rows, step):
        yield r0, min(n_rows, r0 + step)


def count_nonfinite(array: np.ndarray) -> tuple[int, int]:
    """Numbers of infinite and of NaN values, counted a block of rows at a time.

    Parameters
    ----------
    array : numpy.ndarray
        Array of any shape; its first axis is cut into blocks so that the
        boolean temporaries stay small, and the pages of a memory-mapped
        array are released after each block (:func:`release_pages`).

    Returns
    -------
    n_inf, n_nan : int
        Counts of ``+-inf`` and of NaN (0, 0 for integer arrays).
    """
    a = np.asarray(array)
    if not np.issubdtype(a.dtype, np.inexact):
        return 0, 0
    if a.ndim < 2:
        return int(np.isinf(a).sum()), int(np.isnan(a).sum())
    per_row = a[0].size * a.itemsize if a.shape[0] else 1
    n_inf = n_nan = 0
    for r0, r1 in row_blocks(a.shape[0], rows_per_block(a.shape[0], 2 * per_row)):
        block = a[r0:r1]
        n_inf += int(np.isinf(block).sum())
        n_nan += int(np.isnan(block).sum())
        release_pages(a)
    return n_inf, n_nan
