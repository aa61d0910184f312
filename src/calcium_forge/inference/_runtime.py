"""glibc allocator settings for the inference engine (Linux only; a no-op elsewhere).

dask.distributed starts its workers with ``MALLOC_TRIM_THRESHOLD_=65536``. Setting
that variable also switches off glibc's dynamic mmap threshold, so every
activation buffer of the networks (a few MB each, allocated and freed for every
batch of windows) becomes a fresh ``mmap`` whose pages are faulted in and zeroed
again: ENS² exact mode then costs about twice the CPU time (25 vs 13 s per
neuron-hour on one thread, measured on this project's 2-core machine).
:func:`tune_for_inference` lets such buffers be reused from the heap again
(mmap threshold 32 MB, trim threshold 128 MB: at most that much freed memory
is kept by the process instead of being returned to the OS at once).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

#: mallopt parameter numbers (glibc malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3

MMAP_THRESHOLD_BYTES = 32 * 2**20
TRIM_THRESHOLD_BYTES = 128 * 2**20

_done = False


def tune_for_inference() -> bool:
    """Raise glibc's mmap and trim thresholds for this process (once).

    Returns
    -------
    bool
        True when the settings were applied (Linux with glibc), False otherwise.
    """
    global _done
    if _done:
        return True
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl or no libc: nothing to tune
        return False
    ok = bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)) and bool(
        mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES)
    )
    _done = ok
    return ok
