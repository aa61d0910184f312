"""Open the dask client a batch runs on: a LocalCluster, an existing scheduler, or none."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from ..errors import InvalidInputError, require


@dataclass
class ClientHandle:
    """The client a batch runs on and how it was obtained.

    Parameters
    ----------
    client : distributed.Client or None
        None for ``scheduler="serial"`` (in-process, no dask).
    description : str
        ``"serial"``, ``"local (N workers)"`` or the scheduler address.
    """

    client: Any
    description: str

    @property
    def n_workers(self) -> int:
        """Workers connected right now (1 for serial)."""
        if self.client is None:
            return 1
        return len(self.client.scheduler_info(n_workers=-1).get("workers", {}))


@contextmanager
def open_client(
    scheduler: Any = None,
    n_workers: int | None = None,
    threads_per_worker: int = 1,
    memory_limit: str | float | None = "auto",
    resources: dict[str, float] | None = None,
) -> Iterator[ClientHandle]:
    """Yield a :class:`ClientHandle`; close what this function created on exit.

    Parameters
    ----------
    scheduler : None, "local", "serial", str or distributed.Client
        ``None``/``"local"``: start a ``LocalCluster`` of worker processes on
        127.0.0.1; ``"serial"``: run in this process without dask;
        ``"tcp://host:port"`` (or ``tls://``, ``ucx://``): connect to a running
        scheduler; a path ending in ``.json``: a dask scheduler file; a
        ``distributed.Client``: use it as is (it is not closed).
    n_workers : int, optional
        Worker processes of the LocalCluster (default: CPU count).
    threads_per_worker : int
        Threads per LocalCluster worker. Inference is CPU-bound numpy/torch
        code, so one thread per process is the default.
    memory_limit : str or float or None
        Per-worker memory limit of the LocalCluster (dask syntax, e.g. ``"4GB"``).
    resources : dict, optional
        Resources each LocalCluster worker declares (so that tasks asking for
        them can run), e.g. ``{"GPU": 1}``.

    Yields
    ------
    ClientHandle
        The client (None for ``"serial"``) and a description of where it runs.
    """
    if scheduler == "serial":
        yield ClientHandle(None, "serial")
        return
    distributed = require("distributed", "distributed", "batch inference on dask.distributed")
    if isinstance(scheduler, distributed.Client):
        yield ClientHandle(scheduler, str(scheduler.scheduler.address))
        return
    if scheduler is None or scheduler == "local":
        n = int(n_workers) if n_workers else (os.cpu_count() or 1)
        if n < 1:
            raise InvalidInputError(f"n_workers must be >= 1; got {n_workers!r}.")
        cluster = distributed.LocalCluster(
            n_workers=n,
            threads_per_worker=int(threads_per_worker),
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            memory_limit=memory_limit,
            **({"resources": dict(resources)} if resources else {}),
        )
        client = distributed.Client(cluster)
        try:
            yield ClientHandle(client, f"local ({n} worker processes)")
        finally:
            client.close()
            cluster.close()
        return
    text = os.fspath(scheduler) if isinstance(scheduler, str | os.PathLike) else None
    if text is None:
        raise InvalidInputError(
            f"scheduler must be 'local', 'serial', 'tcp://HOST:PORT', a scheduler file or a "
            f"distributed.Client; got {scheduler!r}."
        )
    if text.endswith(".json"):
        if not os.path.exists(text):
            raise InvalidInputError(f"scheduler file {text!r} does not exist.")
        client = distributed.Client(scheduler_file=text, timeout="30s")
    elif "://" in text:
        try:
            client = distributed.Client(text, timeout="30s")
        except OSError as exc:
            raise InvalidInputError(
                f"cannot reach the dask scheduler at {text!r} ({exc}). Start one with "
                "`dask scheduler` or use --scheduler local."
            ) from exc
    else:
        raise InvalidInputError(
            f"scheduler must be 'local', 'serial', 'tcp://HOST:PORT' or a scheduler file "
            f"(.json); got {text!r}."
        )
    try:
        yield ClientHandle(client, text)
    finally:
        client.close()
