"""Peak memory of spike inference on a large recording (default 2,000 ROIs x 1 h at 30 Hz).

Each configuration runs in a fresh Python process, which reports its own peak
resident set size (``VmHWM``) and an RSS trace sampled every 0.2 s:

* ``in-memory``: :func:`calcium_forge.infer_spikes` on a float32 array held in
  RAM (input 864 MB for the default size) -- what the engine does today;
* ``streamed``: :func:`calcium_forge.distributed.infer_spikes_streamed`, which
  reads ROI blocks from a ``.npy`` file (written beforehand by the parent
  process) and appends the rates to the output ``.npz`` as a stream, so
  neither the input nor the output is ever fully in RAM;
* ``batch``: :func:`calcium_forge.distributed.batch_infer` (serial) on a
  Suite2P plane folder (raw ``F.npy`` + ``Fneu.npy`` + ``ops.npy``, written by
  the parent): the whole batch pipeline -- checksum, neuropil correction,
  baseline, dF/F and inference per ROI block, rates streamed to the output,
  manifest. Uses the shipped model (``--untrained`` does not apply).

The recording is synthetic dF/F (Poisson spikes * exponential kernel + noise,
seeded). ENS² and S2S need a trained model; with ``--untrained`` a randomly
initialised network of the shipped architecture is used instead -- memory and
speed do not depend on the weights (the rates do, and are not looked at here).

With ``--extract-gb G`` it measures per-ROI trace extraction instead: a
BigTIFF of G GB (512 x 512 uint16 frames, written chunk by chunk, never in
RAM) is opened lazily with :func:`calcium_forge.io.read_stack` and
:func:`calcium_forge.io.extraction.extract_traces` averages ``--n-rois`` disk
ROIs and their neuropil annuli chunk by chunk, in a fresh process.

Run (from the repository root)::

    python benchmarks/suite/memory.py --method s2s --untrained                  # 2000 x 1 h
    python benchmarks/suite/memory.py --method ens2 --mode fast --n-rois 200 --minutes 10
    python benchmarks/suite/memory.py --method s2s --variants batch  # batch_infer, Suite2P
    python benchmarks/suite/memory.py --extract-gb 4 --n-rois 500

Prints one table row per variant: peak RSS (MB), RSS before inference, input
and output sizes, wall time.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np


def _rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def _peak_mb() -> float:
    """Peak RSS of this process (VmHWM), MB.

    Not ``ru_maxrss``: on Linux that survives ``exec`` and starts at the parent's
    RSS at ``fork``, so a child would inherit the parent's high-water mark.
    """
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0  # kB
    raise RuntimeError("VmHWM not found in /proc/self/status (Linux only)")


def synthetic_dff(n_rois: int, n_frames: int, fs_hz: float, seed: int, out=None) -> np.ndarray:
    """Poisson spikes (0.5 Hz) * exp. kernel (0.6 s) * 0.4 + N(0, 0.05) noise, float32.

    Filled block by block into ``out`` (an array or memmap of shape (n_rois, n_frames)).
    """
    rng = np.random.default_rng(seed)
    if out is None:
        out = np.empty((n_rois, n_frames), dtype=np.float32)
    kernel = np.exp(-np.arange(int(3 * fs_hz)) / (0.6 * fs_hz)).astype(np.float32)
    block = 50
    from scipy.signal import fftconvolve

    for r0 in range(0, n_rois, block):
        r1 = min(n_rois, r0 + block)
        spikes = rng.poisson(0.5 / fs_hz, size=(r1 - r0, n_frames)).astype(np.float32)
        calcium = fftconvolve(spikes, kernel[None, :], axes=1)[:, :n_frames]
        noise = rng.normal(0, 0.05, size=spikes.shape).astype(np.float32)
        out[r0:r1] = 0.4 * calcium + noise
    return out


def write_suite2p_plane(plane: Path, args: argparse.Namespace) -> None:
    """A Suite2P plane of the benchmark size: F = 100 (1 + dF/F) + 0.7 Fneu, Fneu ~ 50."""
    plane.mkdir(parents=True)
    n_frames = round(args.minutes * 60 * args.fs_hz)
    shape = (args.n_rois, n_frames)
    f = np.lib.format.open_memmap(plane / "F.npy", mode="w+", dtype=np.float32, shape=shape)
    neu = np.lib.format.open_memmap(plane / "Fneu.npy", mode="w+", dtype=np.float32, shape=shape)
    synthetic_dff(args.n_rois, n_frames, args.fs_hz, args.seed, out=f)
    rng = np.random.default_rng(args.seed + 1)
    for r0 in range(0, args.n_rois, 100):
        r1 = min(args.n_rois, r0 + 100)
        neu[r0:r1] = 50.0 + rng.normal(0, 2.0, size=(r1 - r0, n_frames)).astype(np.float32)
        f[r0:r1] = 100.0 * (1.0 + f[r0:r1]) + 0.7 * neu[r0:r1]
    f.flush()
    neu.flush()
    del f, neu
    np.save(plane / "ops.npy", np.array({"fs": args.fs_hz}, dtype=object), allow_pickle=True)


def _model(method: str, untrained: bool):
    if method == "oasis" or not untrained:
        return None
    import torch

    from calcium_forge.inference.networks import ENS2UNet, S2SNet
    from calcium_forge.inference.registry import LoadedModel

    torch.manual_seed(0)  # the same random network in every variant

    net, fs, window = (ENS2UNet(), 60.0, 96) if method == "ens2" else (S2SNet(), 100.0, 100)
    card = {"name": f"untrained-{method}", "method": method, "fs_hz": fs, "window": window}
    return LoadedModel(net.eval(), card, method, fs, window, name=card["name"])


def write_tiff(path: Path, n_frames: int, seed: int = 0) -> None:
    """A BigTIFF of ``n_frames`` 512 x 512 uint16 frames, written 256 frames at a time."""
    import tifffile

    rng = np.random.default_rng(seed)
    base = rng.integers(100, 400, size=(512, 512), dtype=np.uint16)

    def frames():
        for start in range(0, n_frames, 256):
            n = min(256, n_frames - start)
            yield from base + rng.integers(0, 50, size=(n, 512, 512), dtype=np.uint16)

    tifffile.imwrite(path, frames(), shape=(n_frames, 512, 512), dtype=np.uint16, bigtiff=True)


def disk_labels(n_rois: int, shape=(512, 512), radius_px: int = 4, seed: int = 0) -> np.ndarray:
    """int32 label image with ``n_rois`` non-overlapping disks on a jittered grid."""
    rng = np.random.default_rng(seed)
    labels = np.zeros(shape, np.int32)
    side = int(np.ceil(np.sqrt(n_rois)))
    step = min(shape) // (side + 1)
    yy, xx = np.mgrid[-radius_px : radius_px + 1, -radius_px : radius_px + 1]
    disk = yy**2 + xx**2 <= radius_px**2
    for i in range(n_rois):
        cy = step * (1 + i // side) + rng.integers(-2, 3)
        cx = step * (1 + i % side) + rng.integers(-2, 3)
        sub = labels[cy - radius_px : cy + radius_px + 1, cx - radius_px : cx + radius_px + 1]
        sub[disk & (sub == 0)] = i + 1
    return labels


def child_extract(args: argparse.Namespace) -> None:
    """Extract traces from the TIFF in this process and print a JSON line."""
    from calcium_forge.io import read_stack
    from calcium_forge.io.extraction import extract_traces

    labels = disk_labels(args.n_rois)
    baseline_mb = _rss_mb()
    t0 = time.perf_counter()
    stack = read_stack(Path(args.workdir) / "movie.tif", fs_hz=args.fs_hz)
    rec = extract_traces(stack, labels, neuropil=True)
    wall = time.perf_counter() - t0
    n_frames = rec.n_frames
    print(
        json.dumps(
            {
                "variant": "extract",
                "n_rois": rec.n_rois,
                "n_frames": n_frames,
                "stack_gb": round(n_frames * 512 * 512 * 2 / 1e9, 2),
                "peak_rss_mb": round(_peak_mb(), 1),
                "baseline_rss_mb": round(baseline_mb, 1),
                "output_mb": round((rec.traces.nbytes + rec.neuropil.nbytes) / 2**20, 1),
                "chunk_frames": rec.meta["extraction"]["chunk_frames"],
                "wall_s": round(wall, 1),
                "frames_per_s": round(n_frames / wall, 1),
            }
        )
    )


def child(args: argparse.Namespace) -> None:
    """Run one configuration in this process and print a JSON line."""
    import torch

    torch.set_num_threads(args.threads)
    samples: list[tuple[float, float]] = []
    stop = threading.Event()
    t_start = time.perf_counter()

    def sample() -> None:
        while not stop.is_set():
            samples.append((time.perf_counter() - t_start, _rss_mb()))
            stop.wait(0.2)

    threading.Thread(target=sample, daemon=True).start()
    n_frames = round(args.minutes * 60 * args.fs_hz)
    model = _model(args.method, args.untrained and args.variant != "batch")
    import calcium_forge.inference  # noqa: F401  (imports counted in the baseline)

    baseline_mb = _rss_mb()
    t0 = time.perf_counter()
    kw = dict(method=args.method, model=model, mode=args.mode, events=True)
    kw["max_memory_mb"] = args.max_memory_mb
    t_log = [0.0]

    def log(p) -> None:  # progress on stderr, at most every 30 s
        now = time.perf_counter()
        if now - t_log[0] > 30 or p.step == p.total:
            t_log[0] = now
            print(
                f"[{args.variant}] {p.step}/{p.total} ROIs, {now - t0:.0f} s, "
                f"RSS {_rss_mb():.0f} MB",
                file=sys.stderr,
                flush=True,
            )

    if args.variant == "batch":
        from calcium_forge.distributed import iter_batch_infer
        from calcium_forge.io import read_result  # noqa: F401  (imports in the baseline)
        from calcium_forge.progress import drain

        work = Path(args.workdir)
        before_mb = _rss_mb()
        t0 = time.perf_counter()
        gen = iter_batch_infer(
            [work / "suite2p" / "plane0"], work / "out", client="serial",
            method=args.method, mode=args.mode, events=True,
        )  # fmt: skip
        rep = drain(gen)
        if not rep.ok:
            raise SystemExit(rep.summary())
        out_bytes = Path(rep.items[0].output).stat().st_size
        man = json.loads((work / "out" / "manifest.json").read_text())
        n_events = -1  # not re-read: that would load the output
        entry = man["items"][str(work / "suite2p" / "plane0")]
        print(json.dumps({"timings_s": entry["timings_s"]}), file=sys.stderr)
    elif args.variant == "in-memory":
        traces = synthetic_dff(args.n_rois, n_frames, args.fs_hz, args.seed)
        before_mb = _rss_mb()
        t0 = time.perf_counter()
        from calcium_forge.inference import iter_infer_spikes
        from calcium_forge.progress import drain

        res = drain(iter_infer_spikes(traces, args.fs_hz, **kw), callback=log)
        out_bytes = res.rate_hz.nbytes
        n_events = sum(len(e) for e in res.events)
    else:
        from calcium_forge.distributed import iter_infer_spikes_streamed
        from calcium_forge.progress import drain

        work = Path(args.workdir)
        src = work / "dff.npy"  # written by the parent, so that its pages never count here
        before_mb = _rss_mb()
        t0 = time.perf_counter()
        gen = iter_infer_spikes_streamed(
            src, work / "rate.npz", fs_hz=args.fs_hz, roi_block=args.roi_block, **kw
        )
        res = drain(gen, callback=log)
        out_bytes = (work / "rate.npz").stat().st_size
        n_events = res.n_events
    wall = time.perf_counter() - t0
    stop.set()
    print(
        json.dumps(
            {
                "variant": args.variant,
                "method": args.method,
                "mode": args.mode,
                "n_rois": args.n_rois,
                "n_frames": n_frames,
                "peak_rss_mb": round(_peak_mb(), 1),
                "baseline_rss_mb": round(baseline_mb, 1),
                "rss_before_inference_mb": round(before_mb, 1),
                # batch: F.npy + Fneu.npy
                "input_mb": round(
                    args.n_rois * n_frames * 4 * (2 if args.variant == "batch" else 1) / 2**20, 1
                ),
                "output_mb": round(out_bytes / 2**20, 1),
                "wall_s": round(wall, 1),
                "n_events": int(n_events),
                "rss_trace_mb": [round(m) for _, m in samples[:: max(1, len(samples) // 40)]],
            }
        )
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--method", default="s2s", choices=["ens2", "s2s", "oasis"])
    p.add_argument("--mode", default="fast", choices=["exact", "fast"])
    p.add_argument(
        "--untrained",
        action="store_true",
        help="random network of the shipped architecture (no trained model needed)",
    )
    p.add_argument("--n-rois", type=int, default=2000)
    p.add_argument("--minutes", type=float, default=60.0)
    p.add_argument("--fs-hz", type=float, default=30.0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--max-memory-mb", type=float, default=512.0)
    p.add_argument("--roi-block", type=int, default=100, help="ROIs per block (streamed)")
    p.add_argument("--variants", default="in-memory,streamed")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--extract-gb",
        type=float,
        default=None,
        help="measure trace extraction from a lazy TIFF of this size (GB)",
    )
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--variant", default="in-memory", help=argparse.SUPPRESS)
    p.add_argument("--workdir", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        (child_extract if args.variant == "extract" else child)(args)
        return 0
    if args.extract_gb:
        with tempfile.TemporaryDirectory(prefix="cf-extract-") as work:
            n_frames = int(args.extract_gb * 1e9 / (512 * 512 * 2))
            t0 = time.perf_counter()
            write_tiff(Path(work) / "movie.tif", n_frames, args.seed)
            print(f"wrote {n_frames} frames ({args.extract_gb:g} GB) in "
                  f"{time.perf_counter() - t0:.0f} s", flush=True)  # fmt: skip
            cmd = [sys.executable, __file__, "--child", "--variant", "extract", "--workdir", work,
                   "--n-rois", str(args.n_rois), "--fs-hz", str(args.fs_hz)]  # fmt: skip
            proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
            if proc.returncode != 0:
                print("extract: FAILED", file=sys.stderr)
                return 1
            row = json.loads(proc.stdout.strip().splitlines()[-1])
            print(json.dumps(row))
            print(
                f"\nextract_traces from a lazily opened {row['stack_gb']} GB TIFF "
                f"({row['n_frames']} frames 512 x 512 uint16), {row['n_rois']} ROIs + neuropil: "
                f"peak RSS {row['peak_rss_mb']:.0f} MB (after imports {row['baseline_rss_mb']:.0f}"
                f" MB), {row['wall_s']:.1f} s ({row['frames_per_s']:.0f} frames/s), chunks of "
                f"{row['chunk_frames']} frames"
            )
        return 0
    rows = []
    for variant in args.variants.split(","):
        with tempfile.TemporaryDirectory(prefix="cf-memory-") as work:
            if variant == "streamed":
                n_frames = round(args.minutes * 60 * args.fs_hz)
                mm = np.lib.format.open_memmap(
                    Path(work) / "dff.npy", mode="w+", dtype=np.float32,
                    shape=(args.n_rois, n_frames),
                )  # fmt: skip
                synthetic_dff(args.n_rois, n_frames, args.fs_hz, args.seed, out=mm)
                mm.flush()
                del mm
            if variant == "batch":
                write_suite2p_plane(Path(work) / "suite2p" / "plane0", args)
            cmd = [sys.executable, __file__, "--child", "--variant", variant, "--workdir", work]
            for k in ("method", "mode", "n_rois", "minutes", "fs_hz", "threads",
                      "max_memory_mb", "roi_block", "seed"):  # fmt: skip
                cmd += [f"--{k.replace('_', '-')}", str(getattr(args, k))]
            if args.untrained and variant != "batch":
                cmd.append("--untrained")
            env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
            proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, env=env)
            if proc.returncode != 0:
                print(f"{variant}: FAILED (exit code {proc.returncode})", file=sys.stderr)
                continue
            row = json.loads(proc.stdout.strip().splitlines()[-1])
            rows.append(row)
            print(json.dumps(row), flush=True)
    if rows:
        r0 = rows[0]
        print(
            f"\n{r0['n_rois']} ROIs x {r0['n_frames']} frames ({args.minutes:g} min at "
            f"{args.fs_hz:g} Hz), method={args.method}"
            + (f" mode={args.mode}" if args.method == "ens2" else "")
            + (" (untrained network)" if args.untrained and args.method != "oasis" else "")
        )
        print(f"{'variant':<10} {'peak RSS MB':>12} {'before inf. MB':>15} {'input MB':>9} "
              f"{'output MB':>10} {'wall s':>8}")  # fmt: skip
        for r in rows:
            print(
                f"{r['variant']:<10} {r['peak_rss_mb']:>12.0f} "
                f"{r['rss_before_inference_mb']:>15.0f} {r['input_mb']:>9.0f} "
                f"{r['output_mb']:>10.0f} {r['wall_s']:>8.1f}"
            )
    return 0 if len(rows) == len(args.variants.split(",")) else 1


if __name__ == "__main__":
    sys.exit(main())
