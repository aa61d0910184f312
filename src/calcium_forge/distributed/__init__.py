"""Batch spike inference over many recordings on ``dask.distributed``.

One input (Suite2P plane folder, ``.npz``, ``.mat``, NWB...) gives one output
``<out_dir>/<name>.npz`` (a :class:`~calcium_forge.results.SpikeInference`
written by :func:`calcium_forge.io.write`). ``<out_dir>/manifest.json``
records every input with its checksum, the options, the package versions of
the worker that computed it, per-stage timings and a status; re-running the
same command skips what is finished.

Exactly-once outputs: a worker writes its result to a private attempt file
in ``<out_dir>/.calcium-forge-partial/``; only the driver renames an attempt
onto the final name, once per input, when it receives the task's result. A
task that ran twice (its worker died after writing, so the scheduler ran it
again elsewhere) leaves an orphan attempt that is deleted, never a second
output. The output folder must therefore be visible under the same path to
the driver and to every worker (a shared file system on a cluster).

>>> from calcium_forge.distributed import batch_infer
>>> report = batch_infer(["s1/plane0", "s2/plane0"], "spikes/", method="oasis",
...                      fs_hz=30.0, client="local", n_workers=2)  # doctest: +SKIP
>>> print(report.summary())                                        # doctest: +SKIP

The implementation lives in submodules, one job each; this package
re-exports the public names:

* :mod:`.batch` -- :func:`batch_infer` / :func:`iter_batch_infer` (the driver:
  plan, resume, submit, commit);
* :mod:`.report` -- :class:`BatchItem`, :class:`BatchReport`;
* :mod:`.task` -- the unit of work a worker runs (:data:`STAGES`);
* :mod:`.streamed` -- :func:`infer_spikes_streamed` for one recording larger
  than RAM;
* :mod:`.cluster`, :mod:`.inputs`, :mod:`.manifest` -- the client, the input
  list and ``manifest.json``.
"""

from __future__ import annotations

from .batch import batch_infer, iter_batch_infer
from .report import BatchItem, BatchReport
from .streamed import StreamedInference, infer_spikes_streamed, iter_infer_spikes_streamed
from .task import STAGES

__all__ = [
    "STAGES",
    "BatchItem",
    "BatchReport",
    "StreamedInference",
    "batch_infer",
    "infer_spikes_streamed",
    "iter_batch_infer",
    "iter_infer_spikes_streamed",
]
