"""How the inference engine runs: torch threads, the device, and glibc allocator settings.

:func:`torch_threads` sets torch's thread count for a block of work,
:func:`resolve_device` checks a device name, :func:`network_on` gives a
network on that device without moving a shared (cached) one in place.

glibc allocator settings (Linux only; a no-op elsewhere):

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
from contextlib import contextmanager

from ..errors import InvalidInputError

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


@contextmanager
def torch_threads(num_threads: int | None):
    """Temporarily set ``torch.set_num_threads`` for the ``with`` block.

    Parameters
    ----------
    num_threads : int or None
        Threads for torch's intra-op pool (>= 1); ``None`` leaves the setting unchanged.

    Yields
    ------
    None
        The previous thread count is restored when the block ends.

    Raises
    ------
    InvalidInputError
        When ``num_threads < 1``.
    """
    import torch

    if num_threads is None:
        yield
        return
    if num_threads < 1:
        raise InvalidInputError(f"num_threads must be >= 1; got {num_threads}.")
    old = torch.get_num_threads()
    torch.set_num_threads(int(num_threads))
    try:
        yield
    finally:
        torch.set_num_threads(old)


def resolve_device(device: str | None):
    """The torch device for inference, checked (``None`` = CPU).

    Parameters
    ----------
    device : str, optional
        ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"`` ... (anything ``torch.device`` takes).

    Returns
    -------
    torch.device

    Raises
    ------
    InvalidInputError
        When the name is not a device or that device is not available here.
    """
    import torch

    if device is None:
        return torch.device("cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise InvalidInputError(
            f"device={device!r} is not a torch device; use 'cpu', 'cuda', 'cuda:N' or 'mps'."
        ) from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise InvalidInputError(
            f"device={device!r}: this torch ({torch.__version__}) sees no CUDA GPU; "
            "use device='cpu' or run on a GPU node with a CUDA build of torch."
        )
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise InvalidInputError(
            f"device={device!r}: only {torch.cuda.device_count()} CUDA device(s) are visible."
        )
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise InvalidInputError(f"device={device!r}: MPS is not available on this machine.")
    if dev.type not in ("cpu", "cuda", "mps"):
        raise InvalidInputError(f"device={device!r}: only cpu, cuda and mps are supported.")
    return dev


def network_on(network, dev):
    """``network`` on device ``dev``: itself when already there, else a moved copy.

    The shipped models are cached and shared, so they are never moved in place.

    Parameters
    ----------
    network : torch.nn.Module
        The network.
    dev : torch.device
        Target device (see :func:`resolve_device`).

    Returns
    -------
    torch.nn.Module
        ``network`` itself or a deep copy on ``dev``.
    """
    import copy

    if device_of(network) == dev:
        return network
    return copy.deepcopy(network).to(dev)


def device_of(network):
    """Device of a module's first parameter (CPU for parameter-free modules).

    Parameters
    ----------
    network : torch.nn.Module
        The module.

    Returns
    -------
    torch.device
    """
    import torch

    for p in network.parameters():
        return p.device
    return torch.device("cpu")
