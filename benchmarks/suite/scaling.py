"""Batch-inference throughput with 1 and 2 dask workers, and where the time goes.

Inputs: ``--n-recordings`` copies of the shipped hippocampus Suite2P sample
(20 ROIs x 18,000 frames at 30 Hz, raw F + neuropil, so the preprocess stage
does neuropil correction + maximin baseline + dF/F), each written to its own
``.npz`` with a different ROI order (so the files differ). Every
configuration runs :func:`calcium_forge.distributed.batch_infer` into a fresh
output folder on a LocalCluster of single-threaded worker processes on
127.0.0.1 that was warmed up first (imports done), so the wall time is the
batch itself.

Run (from the repository root)::

    python benchmarks/suite/scaling.py --method oasis --workers 1,2 --n-recordings 8
    python benchmarks/suite/scaling.py --method ens2 --mode fast

Prints a table: workers, wall time, recordings per minute, and the mean
per-recording cost of each stage (checksum, load, preprocess, inference,
write, as measured inside the worker), plus the 1-minute load average
(this machine's 2 cores are shared, so read the figures with it).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def make_inputs(folder: Path, n: int, seed: int = 0) -> list[Path]:
    """``n`` raw recordings (.npz) from the shipped hippocampus sample, ROIs permuted."""
    from calcium_forge.datasets import load_hippocampus
    from calcium_forge.io import write

    rec = load_hippocampus()
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for k in range(n):
        order = rng.permutation(rec.n_rois)
        sub = rec.select(order)
        sub.meta = {"name": f"hippocampus_{k:03d}"}
        paths.append(Path(write(sub, folder / f"hippocampus_{k:03d}.npz")))
    return paths


def run(inputs: list[Path], n_workers: int | str, args: argparse.Namespace, work: Path) -> dict:
    from calcium_forge.distributed import batch_infer

    out = work / f"out_{n_workers}"
    opts = dict(method=args.method, mode=args.mode, events=not args.no_events)
    if n_workers == "serial":
        report = batch_infer(inputs, out, client="serial", **opts)
    else:
        from distributed import Client, LocalCluster

        with LocalCluster(
            n_workers=int(n_workers),
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster, Client(cluster) as client:  # fmt: skip
            client.run(lambda: __import__("calcium_forge.inference") and None)
            report = batch_infer(inputs, out, client=client, **opts)
    if not report.ok:
        raise SystemExit(report.summary())
    n = len(report.done)
    per = {k: v / n for k, v in report.stage_totals_s().items()}
    return {
        "workers": n_workers,
        "n": n,
        "wall_s": report.wall_s,
        "per_min": report.recordings_per_minute,
        "per": per,
        "load1": os.getloadavg()[0],
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--method", default="oasis", choices=["ens2", "s2s", "oasis"])
    p.add_argument("--mode", default="fast", choices=["exact", "fast"])
    p.add_argument("--no-events", action="store_true")
    p.add_argument("--n-recordings", type=int, default=8)
    p.add_argument("--workers", default="1,2", help="comma list; 'serial' = no dask")
    args = p.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    rows = []
    with tempfile.TemporaryDirectory(prefix="cf-scaling-") as tmp:
        work = Path(tmp)
        inputs = make_inputs(work / "in", args.n_recordings)
        for w in args.workers.split(","):
            t0 = time.perf_counter()
            row = run(inputs, w if w == "serial" else int(w), args, work)
            row["total_s"] = time.perf_counter() - t0
            rows.append(row)
            print(row, flush=True)
    stages = ["checksum", "load", "preprocess", "inference", "write"]
    label = args.method + (f" ({args.mode})" if args.method == "ens2" else "")
    print(
        f"\nbatch-infer, {args.n_recordings} recordings of 20 ROIs x 18,000 frames (30 Hz, "
        f"10 min, raw + neuropil), method {label}, cores: {os.cpu_count()}"
    )
    head = f"{'workers':>8} {'wall s':>7} {'rec/min':>8} " + " ".join(f"{s:>10}" for s in stages)
    print(head + f" {'load avg':>9}")
    for r in rows:
        cells = " ".join(f"{r['per'][s]:>10.3f}" for s in stages)
        print(
            f"{r['workers']!s:>8} {r['wall_s']:>7.1f} {r['per_min']:>8.1f} {cells} "
            f"{r['load1']:>9.2f}"
        )
    print("(stage columns: mean seconds per recording, measured inside the worker)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
