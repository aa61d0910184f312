"""Shared helpers of the distributed and batch-infer CLI tests: inputs, loopback clusters.

Imported by module name (``from _distributed_helpers import ...``) from
tests/distributed and tests/cli: tests/ has no ``__init__.py``, so pytest's
default ``prepend`` import mode puts the folder of tests/conftest.py (this one)
on ``sys.path``. The name is unique across tests/ (like ``_io_helpers``), so it
cannot shadow ``tests/napari/_helpers.py`` when several folders run together.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

#: Inputs of the loopback runs (fixture ``inputs_and_reference`` in tests/conftest.py).
LOOPBACK_INPUTS = 8


def make_inputs(folder: Path, n: int, n_rois: int = 6, n_frames: int = 3000, seed: int = 0):
    """Write ``n`` dF/F recordings (.npz, 30 Hz) with spikes; return their paths."""
    from calcium_forge import Recording
    from calcium_forge.io import write

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    fs = 30.0
    kernel = np.exp(-np.arange(int(2 * fs)) / (0.6 * fs)).astype(np.float32)
    paths = []
    for k in range(n):
        spikes = rng.poisson(0.5 / fs, size=(n_rois, n_frames)).astype(np.float32)
        calcium = np.stack([np.convolve(s, kernel)[:n_frames] for s in spikes])
        dff = 0.4 * calcium + rng.normal(0, 0.05, size=calcium.shape).astype(np.float32)
        paths.append(write(Recording(dff, fs_hz=fs, kind="dff"), folder / f"rec{k:02d}.npz"))
    return [Path(p) for p in paths]


def output_names(folder: Path) -> list[str]:
    """Sorted names of the files in a batch output folder."""
    return sorted(p.name for p in folder.iterdir())


def read_rates(path: Path):
    """(rate_hz, events) of a batch output."""
    from calcium_forge.io import read_result

    res = read_result(path)
    return res.rate_hz, res.events


def assert_same_results(dir_a: Path, dir_b: Path, names) -> None:
    """Outputs of two batch runs hold identical rates and events."""
    for name in names:
        ra, ea = read_rates(dir_a / f"{name}.npz")
        rb, eb = read_rates(dir_b / f"{name}.npz")
        np.testing.assert_array_equal(ra, rb, err_msg=name)
        assert len(ea) == len(eb)
        for x, y in zip(ea, eb, strict=True):
            np.testing.assert_array_equal(x, y, err_msg=name)


class LoopbackCluster:
    """A dask scheduler and worker PROCESSES on 127.0.0.1, started and stopped by a test."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.scheduler_file = tmp / "scheduler.json"
        env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONUNBUFFERED="1")
        self.env = env
        self.scheduler = subprocess.Popen(
            [
                sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                "--port", "0", "--no-dashboard", "--scheduler-file", str(self.scheduler_file),
            ],
            stdout=subprocess.DEVNULL, stderr=open(tmp / "scheduler.log", "w"), env=env,
        )  # fmt: skip
        self.workers: list[subprocess.Popen] = []
        deadline = time.monotonic() + 30
        while not self.scheduler_file.exists():
            if time.monotonic() > deadline or self.scheduler.poll() is not None:
                raise RuntimeError("the dask scheduler did not start")
            time.sleep(0.05)
        import json

        self.address = json.loads(self.scheduler_file.read_text())["address"]

    def start_worker(self) -> subprocess.Popen:
        """Start one single-threaded worker process without a nanny (killing it kills it)."""
        i = len(self.workers)
        w = subprocess.Popen(
            [
                sys.executable, "-m", "distributed.cli.dask_worker", self.address,
                "--nthreads", "1", "--no-nanny", "--no-dashboard", "--host", "127.0.0.1",
                "--name", f"w{i}", "--memory-limit", "0",
            ],
            stdout=subprocess.DEVNULL, stderr=open(self.tmp / f"worker{i}.log", "w"), env=self.env,
        )  # fmt: skip
        self.workers.append(w)
        return w

    def client(self, n_workers: int):
        from distributed import Client

        c = Client(self.address, timeout="30s")
        c.wait_for_workers(n_workers, timeout=60)
        # import the package on the workers before timing-sensitive work starts
        c.run(lambda: __import__("calcium_forge.distributed") and None)
        return c

    def close(self) -> None:
        """Stop every process this cluster started (SIGKILL: they hold no state we need)."""
        for p in [*self.workers, self.scheduler]:
            if p.poll() is None:
                p.kill()
        for p in [*self.workers, self.scheduler]:
            p.wait(timeout=30)
