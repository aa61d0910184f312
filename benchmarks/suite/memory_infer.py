"""Peak memory of reading, dF/F and ``calcium-forge infer`` on a raw Suite2P plane, against F.npy.

The parent writes a synthetic raw Suite2P plane (``F.npy``, ``Fneu.npy``,
``spks.npy``, ``iscell.npy``, ``ops.npy``; float32, written block by block,
never whole in RAM) into a temporary folder outside the repository, then runs
each stage in a fresh child process:

* ``read``: :func:`calcium_forge.read` of the plane folder;
* ``dff``: ``read`` then :func:`calcium_forge.signal.to_dff`;
* ``infer``: the ``calcium-forge infer PLANE --out OUT.npz`` command itself
  (its ``main``), with ``--method``/``--mode``.

Each child reports its peak resident set size (``VmHWM`` of
``/proc/self/status``, which, unlike ``ru_maxrss``, does not inherit the
parent's high-water mark) and the peaks of its anonymous and file-backed
parts (``RssAnon``/``RssFile``, sampled every 50 ms), in MiB. The target of
the memory issue is peak RSS <= 2 x size(F.npy) + 300 MB (taken as 300 MiB).

F = 100 (1 + dF/F) + 0.7 Fneu with Fneu ~ 50 and synthetic dF/F (Poisson
spikes through an exponential kernel plus noise, seeded), so every ROI has a
positive corrected baseline. ``--cell-fraction`` marks that share of ROIs as
cells in ``iscell.npy`` (the reader's default selection); 1 means all.

Run (from the repository root)::

    python benchmarks/suite/memory_infer.py --stages read,dff                 # 2000 x 108,000
    python benchmarks/suite/memory_infer.py --stages infer --method oasis
    python benchmarks/suite/memory_infer.py --stages infer --method ens2 --mode fast
    python benchmarks/suite/memory_infer.py --stages infer --method ens2 --mode exact --n-rois 20

Prints one JSON line per stage, then a table.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

STAGES = ("read", "dff", "infer")
TARGET_CONSTANT_MB = 300.0


def _status_kb() -> dict[str, int]:
    out: dict[str, int] = {}
    with open("/proc/self/status") as fh:
        for line in fh:
            key, _, rest = line.partition(":")
            if key in ("VmHWM", "VmRSS", "RssAnon", "RssFile", "RssShmem"):
                out[key] = int(rest.split()[0])
    return out


def write_plane(plane: Path, n_rois: int, n_frames: int, fs_hz: float, cell_fraction: float,
                seed: int) -> None:  # fmt: skip
    """The synthetic raw plane, 100 ROIs at a time through ``open_memmap``."""
    from memory import synthetic_dff  # the sibling benchmark's dF/F generator

    plane.mkdir(parents=True)
    shape = (n_rois, n_frames)
    mm = {
        name: np.lib.format.open_memmap(
            plane / f"{name}.npy", mode="w+", dtype=np.float32, shape=shape
        )
        for name in ("F", "Fneu", "spks")
    }
    rng = np.random.default_rng(seed + 1)
    for r0 in range(0, n_rois, 100):
        r1 = min(n_rois, r0 + 100)
        dff = synthetic_dff(r1 - r0, n_frames, fs_hz, seed + r0)
        neu = 50.0 + rng.normal(0, 2.0, size=dff.shape).astype(np.float32)
        mm["Fneu"][r0:r1] = neu
        mm["F"][r0:r1] = 100.0 * (1.0 + dff) + 0.7 * neu
        mm["spks"][r0:r1] = np.maximum(np.diff(dff, axis=1, prepend=dff[:, :1]), 0.0)
        for a in mm.values():
            a.flush()
    del mm
    cells = rng.uniform(size=n_rois) < cell_fraction
    iscell = np.stack([cells, rng.uniform(size=n_rois)], axis=1).astype(np.float64)
    np.save(plane / "iscell.npy", iscell)
    np.save(plane / "ops.npy", np.array({"fs": fs_hz}, dtype=object), allow_pickle=True)


def child(args: argparse.Namespace) -> None:
    """Run one stage in this process; print a JSON line with its memory figures."""
    peaks = {"RssAnon": 0, "RssFile": 0}
    stop = threading.Event()

    def sample() -> None:
        t_report = time.perf_counter()
        while not stop.is_set():
            st = _status_kb()
            for k in peaks:
                peaks[k] = max(peaks[k], st.get(k, 0))
            if time.perf_counter() - t_report > 60:  # progress for long runs, on stderr
                t_report = time.perf_counter()
                print(f"[{args.child}] {t_report - t_start:.0f} s: peak RSS "
                      f"{st['VmHWM'] / 1024:.0f} MiB (anon {peaks['RssAnon'] / 1024:.0f}, file "
                      f"{peaks['RssFile'] / 1024:.0f}), RSS now {st['VmRSS'] / 1024:.0f} MiB",
                      file=sys.stderr, flush=True)  # fmt: skip
            stop.wait(0.05)

    t_start = time.perf_counter()

    threading.Thread(target=sample, daemon=True).start()
    import calcium_forge  # noqa: F401  (imports counted in the baseline)

    plane = Path(args.plane)
    baseline_mb = _status_kb()["VmRSS"] / 1024
    t0 = time.perf_counter()
    rc = 0
    n_rois = -1
    if args.child == "infer":
        from calcium_forge.cli import main as cli_main

        argv = ["infer", str(plane), "--out", str(plane.parent / "out.npz"),
                "--method", args.method, "--mode", args.mode, "--threads", str(args.threads),
                "--no-progress"]  # fmt: skip
        if args.all_rois:
            argv.append("--all-rois")
        if args.stream_above_mb is not None:  # where infer switches to the streamed path
            import calcium_forge.distributed.task as task

            task.STREAM_ABOVE_MB = args.stream_above_mb
        rc = cli_main(argv)
    else:
        from calcium_forge import read
        from calcium_forge.signal import to_dff

        rec = read(plane, rois="all" if args.all_rois else "cells")
        n_rois = rec.n_rois
        if args.child == "dff":
            rec = to_dff(rec)
            assert rec.traces.dtype == np.float32
    wall = time.perf_counter() - t0
    stop.set()
    st = _status_kb()
    for k in peaks:
        peaks[k] = max(peaks[k], st.get(k, 0))
    print(json.dumps({
        "stage": args.child, "rc": rc, "n_rois_read": n_rois,
        "peak_rss_mb": round(st["VmHWM"] / 1024, 1),
        "peak_rss_anon_mb": round(peaks["RssAnon"] / 1024, 1),
        "peak_rss_file_mb": round(peaks["RssFile"] / 1024, 1),
        "baseline_rss_mb": round(baseline_mb, 1),
        "wall_s": round(wall, 1),
    }))  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n-rois", type=int, default=2000)
    p.add_argument("--frames", type=int, default=108_000, help="frames (1 h at 30 Hz)")
    p.add_argument("--fs-hz", type=float, default=30.0)
    p.add_argument("--stages", default="read,dff", help=f"comma-separated, of {STAGES}")
    p.add_argument("--method", default="oasis", choices=["ens2", "s2s", "oasis"])
    p.add_argument("--mode", default="fast", choices=["exact", "fast"])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--cell-fraction", type=float, default=1.0)
    p.add_argument("--all-rois", action="store_true", help="read every ROI, not the cells")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--stream-above-mb",
        type=float,
        default=None,
        help="infer: stream planes whose F is over this many MB (default: the CLI's 256)",
    )
    p.add_argument("--workdir", default=None, help="parent of the temporary plane folder")
    p.add_argument("--keep", action="store_true", help="keep the plane folder (path printed)")
    p.add_argument("--plane-dir", default=None, help="reuse a plane folder written with --keep")
    p.add_argument("--child", default=None, choices=STAGES, help=argparse.SUPPRESS)
    p.add_argument("--plane", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        child(args)
        return 0
    stages = [s for s in args.stages.split(",") if s]
    if not set(stages) <= set(STAGES):
        p.error(f"--stages must be a comma-separated subset of {STAGES}; got {args.stages!r}")
    rows = []
    if args.plane_dir:
        plane = Path(args.plane_dir)
        work = plane.parent.parent
        args.keep = True
        args.n_rois, args.frames = np.load(plane / "F.npy", mmap_mode="r").shape
    else:
        work = Path(tempfile.mkdtemp(prefix="cf-memory-infer-", dir=args.workdir))
        plane = work / "suite2p" / "plane0"
    try:
        if not args.plane_dir:
            t0 = time.perf_counter()
            write_plane(plane, args.n_rois, args.frames, args.fs_hz, args.cell_fraction, args.seed)
            print(f"wrote a {args.n_rois} x {args.frames} plane in "
                  f"{time.perf_counter() - t0:.0f} s: {plane}", flush=True)  # fmt: skip
        f_mb = (plane / "F.npy").stat().st_size / 2**20
        for stage in stages:
            cmd = [sys.executable, __file__, "--child", stage, "--plane", str(plane),
                   "--method", args.method, "--mode", args.mode,
                   "--threads", str(args.threads)]  # fmt: skip
            if args.all_rois:
                cmd.append("--all-rois")
            if args.stream_above_mb is not None:
                cmd += ["--stream-above-mb", str(args.stream_above_mb)]
            env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
            proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, env=env)
            if proc.returncode != 0:
                print(f"{stage}: FAILED (exit code {proc.returncode})", file=sys.stderr)
                continue
            row = json.loads(proc.stdout.strip().splitlines()[-1])
            row.update(f_npy_mb=round(f_mb, 1), target_mb=round(2 * f_mb + TARGET_CONSTANT_MB))
            rows.append(row)
            print(json.dumps(row), flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    what = f"method={args.method}" + (f" mode={args.mode}" if args.method == "ens2" else "")
    rois = ", all ROIs" if args.all_rois else ""
    print(f"\n{args.n_rois} ROIs x {args.frames} frames at {args.fs_hz:g} Hz, cell fraction "
          f"{args.cell_fraction:g}{rois}; infer: {what}")  # fmt: skip
    print(f"{'stage':<6} {'F.npy MiB':>9} {'peak RSS MiB':>12} {'anon MiB':>8} "
          f"{'file MiB':>8} {'target MiB':>10} {'met':>4} {'wall s':>7}")  # fmt: skip
    for r in rows:
        print(f"{r['stage']:<6} {r['f_npy_mb']:>9.0f} {r['peak_rss_mb']:>12.0f} "
              f"{r['peak_rss_anon_mb']:>8.0f} {r['peak_rss_file_mb']:>8.0f} "
              f"{r['target_mb']:>10.0f} {'yes' if r['peak_rss_mb'] <= r['target_mb'] else 'NO':>4} "
              f"{r['wall_s']:>7.1f}")  # fmt: skip
    return 0 if len(rows) == len(stages) else 1


if __name__ == "__main__":
    sys.exit(main())
