"""Where the spike-event error rate comes from: precision vs sensitivity per neuron.

For one Cascade ground-truth dataset and an ENS² model (e.g. a leave-one-dataset-out
fold model written by ``benchmarks/suite/spike_inference.py --workdir W``:
``W/DSxx/ens2/loo-ens2.pt``, ``W`` = ``benchmarks/out/loo`` by default), prints per
recording the number of predicted and ground-truth spikes, precision, sensitivity
and ER (±50 ms, one-to-one) for several greedy fragment thresholds ε (spikes per
60 Hz bin).

With ``--sta`` it instead prints the spike-triggered average dF/F of isolated
ground-truth spikes (no other spike within 1 s before or 0.5 s after), frame by
frame around the spike: how visible one spike is in that dataset.

Run (from the repository root)::

    python benchmarks/experiments/event_diagnostics.py DS11 \\
        benchmarks/out/loo/DS11/ens2/loo-ens2.pt --files 6
    python benchmarks/experiments/event_diagnostics.py DS16 --sta
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "suite"))
from _harness import GROUND_TRUTH


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dataset", help="dataset id, e.g. DS11")
    ap.add_argument("model", nargs="?", default=None, help="ENS² model file or shipped name")
    ap.add_argument("--data", default=str(GROUND_TRUTH), help="ground-truth root folder")
    ap.add_argument("--files", type=int, default=None, help="first N .mat files only")
    ap.add_argument("--epsilons", type=float, nargs="+", default=[0.01, 0.05, 0.1, 0.2])
    ap.add_argument("--sta", action="store_true", help="isolated-spike triggered average")
    args = ap.parse_args(argv)
    if args.sta:
        return isolated_spike_sta(args)
    if args.model is None:
        ap.error("give a model (or --sta)")

    import torch

    torch.set_num_threads(1)
    from calcium_forge.evaluation.spikes import match_events
    from calcium_forge.inference import infer_spikes, load_model
    from calcium_forge.inference.training.data import _read_cascade_mat

    (folder,) = sorted(Path(args.data).glob(args.dataset + "*"))
    model = load_model(args.model)
    print("file | eps | predicted | ground truth | precision | sensitivity | ER")
    for f in sorted(folder.glob("*.mat"))[: args.files]:
        for rec in _read_cascade_mat(f)[:1]:
            if np.isfinite(rec.dff).sum() < 200 or rec.spike_times_s.size == 0:
                continue
            for eps in args.epsilons:
                r = infer_spikes(rec.dff, fs_hz=rec.fs_hz, method="ens2", model=model, epsilon=eps)
                m = match_events(rec.spike_times_s, r.events[0])
                row = [f.name, f"{eps:g}", r.events[0].size, rec.spike_times_s.size]
                row += [f"{m.precision:.3f}", f"{m.sensitivity:.3f}", f"{m.error_rate:.3f}"]
                print(" | ".join(str(v) for v in row), flush=True)
    return 0


def isolated_spike_sta(args) -> int:
    """Print the mean dF/F around isolated GT spikes (baseline: frames -10 to -3)."""
    from calcium_forge.inference.training.data import _read_cascade_mat
    from calcium_forge.signal import noise_level

    (folder,) = sorted(Path(args.data).glob(args.dataset + "*"))
    snippets, noise, fs_all = [], [], []
    for f in sorted(folder.glob("*.mat"))[: args.files]:
        for rec in _read_cascade_mat(f):
            y, fs, st = rec.dff, rec.fs_hz, np.sort(rec.spike_times_s)
            if st.size == 0 or np.isfinite(y).sum() < 200:
                continue
            fs_all.append(fs)
            noise.append(noise_level(y, fs))
            gap_before = np.diff(np.r_[-np.inf, st])
            gap_after = np.diff(np.r_[st, np.inf])
            for t in st[(gap_before > 1.0) & (gap_after > 0.5)]:
                k = int(np.round(t * fs))
                w = y[k - 10 : k + 11] if k >= 10 else np.zeros(0)
                if w.size == 21 and np.isfinite(w).all():
                    snippets.append(w - w[:8].mean())
    if not snippets:
        print(f"{args.dataset}: no isolated spikes")
        return 1
    sta = np.mean(snippets, axis=0)
    sem = np.std(snippets, axis=0) / np.sqrt(len(snippets))
    print(
        f"{folder.name}: {len(snippets)} isolated spikes, frame rate {np.median(fs_all):.1f} Hz, "
        f"median noise level nu {np.median(noise):.2f}"
    )
    print("frame | mean dF/F | s.e.m.")
    for lag, m, e in zip(range(-10, 11), sta, sem, strict=True):
        print(f"{lag:+d} | {m:+.4f} | {e:.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
