"""Spike-inference speed and memory: seconds per neuron-hour and peak RSS.

For every (method, number of ROIs) configuration a fresh child process
synthesises 1 h of realistic dF/F per ROI at 30 Hz (Poisson spikes through a
GCaMP-like kernel plus noise), runs :func:`calcium_forge.infer_spikes` and
reports wall time, CPU time, the time spent in the network and in the greedy
event estimator, and the peak resident memory (``ru_maxrss``) of the child,
next to its RSS before inference (input data + libraries). The shipped models
are used when present, otherwise randomly initialised networks of the same
architecture (the cost does not depend on the weights).

The ``default`` row is ``infer_spikes(x, fs_hz=30)`` exactly as a user calls
it (default model, mode and noise floor); the last lines give its CPU time
per neuron-hour over OASIS's.

Usage::

    python benchmarks/suite/inference_speed.py                   # everything
    python benchmarks/suite/inference_speed.py --methods exact fast --rois 10 100
    python benchmarks/suite/inference_speed.py --accuracy         # fast-vs-exact Corr

``--accuracy`` runs the shipped ``ens2-excitatory`` model in exact and fast
mode on the Cascade ground truth (../shared/data/ground_truth) and prints the
median Corr of both and their difference.

Results are appended as JSON lines to ``--json`` (default
``benchmarks/out/inference_speed.jsonl``) so a long run can be tabulated while it runs
(``--table-only``).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from _harness import GROUND_TRUTH, out_dir

FS_IN_HZ = 30.0
METHODS = ("default", "exact", "fast", "s2s", "oasis")


def synthetic_dff(n_rois: int, duration_s: float, fs_hz: float, seed: int) -> np.ndarray:
    """GCaMP6-like dF/F (fraction): Poisson spikes (0.2-2 Hz), rise 50 ms, decay 0.7 s, noise."""
    rng = np.random.default_rng(seed)
    n = round(duration_s * fs_hz)
    t = np.arange(int(5 * fs_hz)) / fs_hz
    kernel = 0.2 * (np.exp(-t / 0.7) - np.exp(-t / 0.05))
    out = np.empty((n_rois, n), dtype=np.float32)
    for i in range(n_rois):
        rate = rng.uniform(0.2, 2.0)
        spikes = rng.poisson(rate / fs_hz, n).astype(np.float64)
        trace = np.convolve(spikes, kernel)[:n] + rng.normal(0.0, 0.03, n)
        out[i] = trace
    return out


def _rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return float(line.split()[1]) / 1024.0
    return float("nan")


def child(
    method: str, n_rois: int, duration_s: float, threads: int, ens2_model: str | None = None
) -> dict:
    """Run one configuration in this process and return its measurements."""
    import torch

    torch.set_num_threads(threads)
    from calcium_forge.inference import iter_infer_spikes
    from calcium_forge.inference.api import DEFAULT_MODELS
    from calcium_forge.inference.registry import LoadedModel, list_models, load_model

    x = synthetic_dff(n_rois, duration_s, FS_IN_HZ, seed=0)
    shipped = set(list_models())
    model = None
    model_name = "oasis"
    default = DEFAULT_MODELS["ens2"]
    if method == "default":  # infer_spikes(x, fs_hz=...) as a user calls it
        model_name = f"{default} (default call)"
    elif method in ("exact", "fast"):
        if ens2_model:
            model, model_name = load_model(ens2_model), f"ENS² {Path(ens2_model).name}"
        elif default in shipped:
            model, model_name = load_model(default), f"{default} (shipped)"
        else:
            from calcium_forge.inference.networks import ENS2UNet

            model = LoadedModel(ENS2UNet().eval(), {"name": "random"}, "ens2", 60.0, 96)
            model_name = "ENS2UNet (random init)"
    elif method == "s2s":
        if "s2s" in shipped:
            model, model_name = load_model("s2s"), "s2s (shipped)"
        else:
            from calcium_forge.inference.networks import S2SNet

            model = LoadedModel(S2SNet().eval(), {"name": "random"}, "s2s", 100.0, 100)
            model_name = "S2SNet (random init)"
    rss_before = _rss_mb()
    t0, c0 = time.perf_counter(), time.process_time()
    opts = {} if method == "default" else {"mode": "fast" if method == "fast" else "exact"}
    gen = iter_infer_spikes(
        x,
        fs_hz=FS_IN_HZ,
        method="ens2" if method in ("default", "exact", "fast") else method,
        model=model,
        events=True,
        num_threads=threads,
        **opts,
    )
    while True:
        try:
            p = next(gen)
        except StopIteration as stop:
            res = stop.value
            break
        # Live progress on stderr (the parent passes it through).
        print(
            f"  {method} x {n_rois}: {p.step}/{p.total} {p.message} "
            f"({time.perf_counter() - t0:.0f} s)",
            file=sys.stderr,
            flush=True,
        )
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    neuron_h = n_rois * duration_s / 3600.0
    timing = res.meta.get("timing", {})
    return {
        "method": method,
        "model": model_name,
        "n_rois": n_rois,
        "duration_s": duration_s,
        "threads": threads,
        "wall_s_per_neuron_h": wall / neuron_h,
        "cpu_s_per_neuron_h": cpu / neuron_h,
        "network_s_per_neuron_h": timing.get("network_s", float("nan")) / neuron_h,
        "events_s_per_neuron_h": timing.get("events_s", float("nan")) / neuron_h,
        "rss_before_mb": rss_before,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "n_events": int(sum(e.size for e in res.events)),
        "load_avg_1min": os.getloadavg()[0],
    }


def table(rows: list[dict]) -> str:
    """Markdown table of the measurements."""
    head = (
        "| method | ROIs × 1 h | model | wall s / neuron-h | CPU s / neuron-h | "
        "network s / neuron-h | greedy events s / neuron-h | RSS before (MB) | peak RSS (MB) |\n"
        "|---|---|---|---|---|---|---|---|---|\n"
    )
    lines = []
    for r in rows:
        lines.append(
            f"| {r['method']} | {r['n_rois']} × {r['duration_s'] / 3600:g} h | {r['model']} | "
            f"{r['wall_s_per_neuron_h']:.2f} | {r['cpu_s_per_neuron_h']:.2f} | "
            f"{r['network_s_per_neuron_h']:.2f} | {r['events_s_per_neuron_h']:.3f} | "
            f"{r['rss_before_mb']:.0f} | {r['peak_rss_mb']:.0f} |"
        )
    return head + "\n".join(lines)


def default_vs_oasis(rows: list[dict]) -> str:
    """Lines giving the default call's CPU time per neuron-hour over OASIS's, per ROI count."""
    out = []
    for n in sorted({r["n_rois"] for r in rows}):
        last = {r["method"]: r for r in rows if r["n_rois"] == n}  # the latest run of each
        if "default" in last and "oasis" in last:
            d, o = last["default"]["cpu_s_per_neuron_h"], last["oasis"]["cpu_s_per_neuron_h"]
            out.append(
                f"{n} ROIs: default call {d:.2f} CPU s / neuron-h, OASIS {o:.2f}: "
                f"ratio {d / o:.2f} (target <= 2)"
            )
    return "\n".join(out)


def accuracy(threads: int, max_neurons: int, model_name: str = "ens2-excitatory") -> None:
    """Median Corr of exact vs fast ENS² on the Cascade ground truth (shipped model)."""
    import torch

    torch.set_num_threads(threads)
    from calcium_forge.evaluation.spikes import evaluate_spikes
    from calcium_forge.inference import infer_spikes
    from calcium_forge.inference.registry import list_models, load_model
    from calcium_forge.io import read

    if model_name == "ens2-excitatory" and model_name not in list_models():
        print("no shipped ens2-excitatory model yet; pass --model PATH (e.g. a checkpoint)")
        return
    model = load_model(model_name)
    print(f"model: {model_name} ({model.card.get('iterations', '?')} iterations)")
    root = GROUND_TRUTH
    root = Path(os.environ.get("CALCIUM_FORGE_SHARED_DATA", root.parent)) / "ground_truth"
    rows = []
    for folder in sorted(root.iterdir()):
        mats = sorted(folder.glob("*.mat"))[:max_neurons]
        for mat in mats:
            recs = read(mat)
            for rec in recs if isinstance(recs, list) else [recs]:
                r = rec.select([0])
                out = {}
                for mode in ("exact", "fast"):
                    res = infer_spikes(r, model=model, mode=mode, events=False)
                    out[mode] = evaluate_spikes(r.spike_times[0], res, eval_fs_hz=60.0).corr
                rows.append((folder.name, out["exact"], out["fast"]))
                break
    ex = np.array([r[1] for r in rows])
    fa = np.array([r[2] for r in rows])
    ok = np.isfinite(ex) & np.isfinite(fa)
    print(f"neurons: {ok.sum()} from {len({r[0] for r in rows})} datasets")
    print(
        f"median Corr exact {np.median(ex[ok]):.4f}, fast {np.median(fa[ok]):.4f}, "
        f"loss {np.median(ex[ok]) - np.median(fa[ok]):.4f}; "
        f"median per-neuron loss {np.median(ex[ok] - fa[ok]):.4f}, "
        f"max per-neuron loss {np.max(ex[ok] - fa[ok]):.4f}"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    ap.add_argument("--rois", nargs="+", type=int, default=[10, 100, 1000])
    ap.add_argument("--duration-s", type=float, default=3600.0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", default=str(out_dir("inference_speed.jsonl")))
    ap.add_argument("--table-only", action="store_true", help="print the table of --json")
    ap.add_argument("--accuracy", action="store_true", help="fast-vs-exact Corr on ground truth")
    ap.add_argument("--max-neurons", type=int, default=2, help="--accuracy: neurons per dataset")
    ap.add_argument("--model", default="ens2-excitatory", help="--accuracy: model name or path")
    ap.add_argument(
        "--ens2-model", default=None, help="ENS² model name or path (default: shipped/random)"
    )
    ap.add_argument("--child", nargs=2, metavar=("METHOD", "N_ROIS"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        r = child(args.child[0], int(args.child[1]), args.duration_s, args.threads, args.ens2_model)
        print(json.dumps(r))
        return 0
    if args.accuracy:
        accuracy(args.threads, args.max_neurons, args.model)
        return 0
    path = Path(args.json)
    if not args.table_only:
        path.parent.mkdir(parents=True, exist_ok=True)
        for n in args.rois:
            for method in args.methods:
                cmd = [
                    sys.executable,
                    __file__,
                    "--child",
                    method,
                    str(n),
                    "--duration-s",
                    str(args.duration_s),
                    "--threads",
                    str(args.threads),
                ]
                if args.ens2_model:
                    cmd += ["--ens2-model", args.ens2_model]
                # stderr (live progress, tracebacks) goes straight to the terminal.
                proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
                if proc.returncode != 0:
                    print(f"{method} x {n}: failed (see stderr above)", file=sys.stderr)
                    continue
                row = json.loads(proc.stdout.strip().splitlines()[-1])
                with open(path, "a") as fh:
                    fh.write(json.dumps(row) + "\n")
                print(
                    f"{method:6s} {n:5d} ROIs: {row['wall_s_per_neuron_h']:.2f} s/neuron-h wall, "
                    f"{row['cpu_s_per_neuron_h']:.2f} CPU, events "
                    f"{row['events_s_per_neuron_h']:.3f}, peak RSS {row['peak_rss_mb']:.0f} MB",
                    flush=True,
                )
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    print(table(rows))
    print(default_vs_oasis(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
