"""Wall time, CPU time and output size of ``calcium-forge demo`` (target: <= 90 s, <= 50 MB).

Runs the demo in a fresh Python process (``python -m calcium_forge.cli demo``)
and prints its wall time, the CPU time it used (user + system, from the
child's resource usage), the 1-minute load average before and after (the
machine may be shared: a load above the core count means other jobs took CPU
time from the demo, and the CPU time is then the better estimate of the time
on free cores), the size of everything it wrote, and the stage timings from
``summary.md``.

Run (from the repository root)::

    python benchmarks/suite/demo_time.py                    # full demo, ENS² fast mode
    python benchmarks/suite/demo_time.py --quick --threads 2
    python benchmarks/suite/demo_time.py --out /path/to/dir --keep
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _folder_mb(path: Path) -> float:
    """Total size of the files under ``path``, MB (10^6 bytes)."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="pass --quick to the demo")
    ap.add_argument("--mode", default="fast", choices=["fast", "exact"], help="ENS² mode")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (demo --threads)")
    ap.add_argument("--out", default=None, help="output folder (default: a temporary one)")
    ap.add_argument("--keep", action="store_true", help="keep the output folder")
    args = ap.parse_args(argv)

    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="cf_demo_"))
    cmd = [sys.executable, "-m", "calcium_forge.cli", "demo", "--out", str(out)]
    cmd += ["--mode", args.mode, "--threads", str(args.threads)]
    cmd += ["--quick"] if args.quick else []
    load_before = os.getloadavg()[0]
    t0 = time.perf_counter()
    done = subprocess.run(cmd, check=False, stderr=subprocess.DEVNULL)
    wall_s = time.perf_counter() - t0
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    load_after = os.getloadavg()[0]
    print(f"command: {' '.join(cmd[1:])}")
    print(f"exit code: {done.returncode}")
    print(f"wall time: {wall_s:.1f} s")
    print(
        f"CPU time: {usage.ru_utime + usage.ru_stime:.1f} s "
        f"(user {usage.ru_utime:.1f} s, system {usage.ru_stime:.1f} s)"
    )
    print(
        f"load average (1 min) before / after: {load_before:.2f} / {load_after:.2f} "
        f"on {os.cpu_count()} cores"
    )
    print(f"output: {_folder_mb(out):.1f} MB in {out}")
    summary = out / "summary.md"
    if summary.is_file():
        text = summary.read_text()
        if "## Timings (s)" in text:
            timings = text.split("## Timings (s)")[1].split("##")[0].strip()
            print("stage timings (s):\n" + timings)
    if not args.keep and not args.out:
        shutil.rmtree(out, ignore_errors=True)
    return done.returncode


if __name__ == "__main__":
    raise SystemExit(main())
