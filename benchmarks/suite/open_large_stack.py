"""Benchmark: open a ~4 GB TIFF stack lazily and read a few frames.

Usage::

    python benchmarks/suite/open_large_stack.py [--gb 4] [--flavor shaped|scanimage] [--keep]

Writes a BigTIFF of 512 x 512 uint16 frames (frames are generated and
written one chunk at a time, never the whole movie in RAM), then, in a fresh
subprocess (peak RSS = VmHWM of that process image), times
``calcium_forge.io.read_stack`` and reports the peak resident memory (RSS) of
that process, plus the time to read 10 frames. Targets (issue 2): open < 2 s,
peak RSS < 300 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from _harness import out_dir

FRAME_SHAPE = (512, 512)
CHUNK_FRAMES = 256

_PROBE = r"""
import json, sys, time


def vm_hwm_mb():
    # peak RSS of THIS process image (ru_maxrss would include the parent's peak before exec)
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024


t0 = time.perf_counter()
from calcium_forge.io import read_stack
t_import = time.perf_counter() - t0
rss_before = vm_hwm_mb()
t0 = time.perf_counter()
stack = read_stack(sys.argv[1])
t_open = time.perf_counter() - t0
t0 = time.perf_counter()
n = stack.n_frames
idx = [i % n for i in [0, n // 3, n // 2, -1, *range(100, 106)]]
frames = [stack.frame(i) for i in idx]
t_read = time.perf_counter() - t0
t0 = time.perf_counter()
stack2 = read_stack(sys.argv[1])
t_open_warm = time.perf_counter() - t0
peak = vm_hwm_mb()
print(json.dumps({"kind": stack.meta["kind"], "shape": stack.shape, "dtype": str(stack.dtype),
                  "fs_hz": stack.fs_hz,
                  "open_s": t_open, "open_again_s": t_open_warm, "read_10_frames_s": t_read,
                  "import_s": t_import,
                  "rss_after_import_mb": rss_before, "peak_rss_mb": peak,
                  "checksum": int(sum(int(f[:8, :8].sum()) for f in frames))}))
"""


def write_stack(path: Path, n_frames: int, flavor: str = "shaped", seed: int = 0) -> None:
    """Write ``n_frames`` 512 x 512 uint16 frames as a BigTIFF, chunk by chunk.

    ``flavor`` "shaped": tifffile's own shape metadata (the reader parses one IFD);
    "scanimage": ScanImage-style Software tag and no shape metadata.
    """
    import tifffile

    rng = np.random.default_rng(seed)
    base = rng.integers(100, 400, size=FRAME_SHAPE, dtype=np.uint16)

    def frames():
        for start in range(0, n_frames, CHUNK_FRAMES):
            n = min(CHUNK_FRAMES, n_frames - start)
            noise = rng.integers(0, 50, size=(n, *FRAME_SHAPE), dtype=np.uint16)
            yield from base + noise

    if flavor == "scanimage":
        # like ScanImage >= 5: frame data as "SI.key = value" lines in the Software tag,
        # no tifffile shape metadata, so every page's IFD has to be walked
        kwargs = {"metadata": None, "software": "SI.hRoiManager.scanFrameRate = 30.0\n"}
    else:
        kwargs = {"metadata": {"axes": "TYX"}, "description": "SI.hRoiManager.scanFrameRate = 30"}
    tifffile.imwrite(
        path, frames(), shape=(n_frames, *FRAME_SHAPE), dtype=np.uint16, bigtiff=True, **kwargs
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gb", type=float, default=4.0, help="stack size in GB (1e9 bytes)")
    parser.add_argument(
        "--path", default=None, help="default: benchmarks/out/large_stack_<flavor>.tif"
    )
    parser.add_argument("--keep", action="store_true", help="keep the TIFF afterwards")
    parser.add_argument("--flavor", choices=["shaped", "scanimage"], default="shaped")
    args = parser.parse_args()
    path = Path(args.path or out_dir(f"large_stack_{args.flavor}.tif"))
    n_frames = int(args.gb * 1e9 / (FRAME_SHAPE[0] * FRAME_SHAPE[1] * 2))
    if (
        not path.exists()
        or path.stat().st_size < 0.99 * n_frames * FRAME_SHAPE[0] * FRAME_SHAPE[1] * 2
    ):
        t0 = time.perf_counter()
        write_stack(path, n_frames, args.flavor)
        print(
            f"wrote {path}: {n_frames} frames of {FRAME_SHAPE}, "
            f"{path.stat().st_size / 1e9:.2f} GB in {time.perf_counter() - t0:.1f} s"
        )
    # drop the page cache effect as far as we can without root: report both runs
    results = []
    for run in range(2):
        out = subprocess.run(
            [sys.executable, "-c", _PROBE, str(path)], capture_output=True, text=True, check=True
        )
        res = json.loads(out.stdout.strip().splitlines()[-1])
        results.append(res)
        print(
            f"run {run + 1}: {res['kind']} series, shape {tuple(res['shape'])} {res['dtype']}, "
            f"fs {res['fs_hz']} Hz | "
            f"open {res['open_s']:.3f} s (incl. first-time imports of tifffile/zarr; "
            f"2nd open {res['open_again_s']:.3f} s) | "
            f"read 10 frames {res['read_10_frames_s']:.3f} s | "
            f"peak RSS {res['peak_rss_mb']:.0f} MB (after imports {res['rss_after_import_mb']:.0f}"
            f" MB; import {res['import_s']:.2f} s)"
        )
    ok = all(r["open_s"] < 2.0 and r["peak_rss_mb"] < 300 for r in results)
    print(
        f"file size {path.stat().st_size / 1e9:.2f} GB; targets open < 2 s and peak RSS < "
        f"300 MB: {'met' if ok else 'NOT met'}"
    )
    if not args.keep:
        os.unlink(path)


if __name__ == "__main__":
    main()
