"""A shipped model on datasets it was trained on, split by its own train and validation neurons.

The comparison point for the leave-one-dataset-out folds: how much does leaving a
dataset out cost? The split is rebuilt from the model card (``val_fraction``,
``seed``, training datasets) with ``calcium_forge.inference.training.data.split_by_neuron``,
the same call training used. Rates come from exact (stride-1) inference at the
model rate (``benchmarks/experiments/event_gain.py``'s ``fold_rates``, cached); Corr is against
the ground truth smoothed with the model's kernel at the model rate; events use
the greedy estimator at ``--gain``.

Run (from the repository root)::

    python benchmarks/experiments/shipped_insample.py --model ens2-excitatory \\
        --datasets DS10 DS11 DS12 DS13 DS15 DS16

Rates are cached in ``--cache`` (default ``benchmarks/out/shipped_insample``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "suite"))
from _harness import GROUND_TRUTH, out_dir
from event_gain import fold_rates


def main(argv=None) -> int:
    from calcium_forge.evaluation.spikes import match_events
    from calcium_forge.inference.events import event_kernel as _event_kernel
    from calcium_forge.inference.events import greedy_spike_counts
    from calcium_forge.inference.registry import MODELS_DIR
    from calcium_forge.inference.training.data import load_ground_truth
    from calcium_forge.inference.training.sampling import split_by_neuron
    from calcium_forge.spiketrains import bin_spikes, smooth_spike_counts

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="ens2-excitatory", help="shipped model name")
    ap.add_argument("--datasets", nargs="+", required=True, help="dataset ids, e.g. DS10")
    ap.add_argument("--data", type=Path, default=GROUND_TRUTH)
    ap.add_argument("--cache", type=Path, default=out_dir("shipped_insample"))
    ap.add_argument("--gain", type=float, default=1.0)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    args.cache.mkdir(parents=True, exist_ok=True)
    card = json.loads((MODELS_DIR / f"{args.model}.json").read_text())
    cfg = card["training"]["config"]
    paired = load_ground_truth([args.data / d for d in card["training"]["datasets"]], fs_hz=60.0)
    _, val = split_by_neuron(paired, cfg["val_fraction"], seed=cfg["seed"])
    val = set(val)
    print(f"{args.model}: events at gain {args.gain:g}; medians over neurons")
    print("| dataset | train neurons: n, Corr / ER | validation neurons: n, Corr / ER |")
    print("|---|---|---|")
    for ds in args.datasets:
        c = fold_rates(ds, MODELS_DIR / f"{args.model}.pt", args.data, args.cache, args.threads)
        fs = c["fs_hz"]
        kernel = _event_kernel(c["card"], c["card"].get("method", "ens2"), fs)
        (folder,) = sorted(args.data.glob(ds + "*"))
        if folder.name not in card["training"]["datasets"]:
            print(f"| {ds} | not in {args.model}'s training data | |")
            continue
        per: dict[str, list] = {}
        for r in c["recordings"]:
            rate, gt = r["rate"].astype(np.float64), r["gt"]
            ev = greedy_spike_counts(rate * args.gain, kernel).spike_times(fs)[0]
            target = smooth_spike_counts(bin_spikes(gt, rate.size, fs), kernel)
            corr = float(np.corrcoef(rate, target)[0, 1])
            nid = f"{folder.name}/{Path(r['neuron']).stem}"
            per.setdefault(nid, []).append((corr, match_events(gt, ev).error_rate))
        cells = []
        for in_val in (False, True):
            v = [np.mean(x, axis=0) for n, x in per.items() if (n in val) == in_val]
            if v:
                m = np.median(v, axis=0)
                cells.append(f"{len(v)}, {m[0]:.3f} / {m[1]:.3f}")
            else:
                cells.append("none")
        print(f"| {ds} | {cells[0]} | {cells[1]} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
