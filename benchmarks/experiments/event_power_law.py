"""A power law before the greedy event estimator: nested test across held-out folds.

The estimator under-counts bursts and over-counts slow neurons on data a model
never saw. This script tests whether expanding large rates more than small
ones helps: the estimator sees ``g * r * (r / r_peak) ** (gamma - 1)`` instead of
``g * r``, with ``r_peak`` the smoothing kernel's single-spike peak (spikes per
bin). For every fold of ``benchmarks/experiments/event_gain.py``'s cache (fold rates on the
fold's unseen test dataset) it scores a (g, gamma) grid, then chooses (g, gamma)
on the *other* folds and scores it on the fold (nested), against the gain alone.

Run (from the repository root, after ``benchmarks/experiments/event_gain.py`` filled its
cache, ``benchmarks/out/event_gain`` by default)::

    python benchmarks/experiments/event_power_law.py --cache benchmarks/out/event_gain \\
        --method ens2 \\
        --folds DS01 DS03 DS10 DS11 DS12 DS13 DS15 DS16 DS17 DS19 DS21 DS25
"""

from __future__ import annotations

import argparse
import pickle
from collections import defaultdict
from multiprocessing import Pool
from pathlib import Path

import numpy as np

GAINS = [0.8, 0.9, 1.0, 1.1, 1.2, 1.3, 1.4, 1.5, 1.7]
GAMMAS = [1.0, 1.15, 1.3, 1.5, 1.75, 2.0]


def fold_grid(job: tuple[Path, str, str]) -> tuple[str, dict]:
    """Median (over neurons) ER and VPD per GT spike for every (gain, gamma) on one fold."""
    from calcium_forge.evaluation.spikes import match_events, victor_purpura_distance
    from calcium_forge.inference.events import event_kernel as _event_kernel
    from calcium_forge.inference.events import greedy_spike_counts

    cache, method, ds = job
    c = pickle.loads((cache / f"loo-{method}_{ds}.pkl").read_bytes())
    fs = c["fs_hz"]
    kernel = _event_kernel(c["card"], method, fs)
    r_peak = float(kernel.max())
    er: dict = defaultdict(lambda: defaultdict(list))
    vp: dict = defaultdict(lambda: defaultdict(list))
    for r in c["recordings"]:
        rate = np.clip(r["rate"].astype(np.float64), 0.0, None)
        for gm in GAMMAS:
            base = rate * (rate / r_peak) ** (gm - 1.0)
            for g in GAINS:
                ev = greedy_spike_counts(base * g, kernel).spike_times(fs)[0]
                er[(g, gm)][r["neuron"]].append(match_events(r["gt"], ev).error_rate)
                vp[(g, gm)][r["neuron"]].append(victor_purpura_distance(r["gt"], ev) / r["gt"].size)

    def med(d: dict) -> float:
        return float(np.median([np.mean(v) for v in d.values()]))

    return ds, {k: (med(er[k]), med(vp[k])) for k in er}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", type=Path, required=True, help="event_gain.py's --cache folder")
    ap.add_argument("--method", choices=["ens2", "s2s"], default="ens2")
    ap.add_argument("--folds", nargs="+", required=True)
    ap.add_argument("--processes", type=int, default=2)
    args = ap.parse_args(argv)
    with Pool(args.processes) as pool:
        res = dict(pool.map(fold_grid, [(args.cache, args.method, d) for d in args.folds]))
    keys = list(res[args.folds[0]])

    def obj(k, folds):
        return float(np.mean([sum(res[f][k]) for f in folds]))

    print("| gamma | best gain (all folds) | mean ER | mean VPD | mean ER + VPD |")
    print("|---|---|---|---|---|")
    for gm in GAMMAS:
        k = min((k for k in keys if k[1] == gm), key=lambda k: obj(k, args.folds))
        e = np.mean([res[f][k][0] for f in args.folds])
        v = np.mean([res[f][k][1] for f in args.folds])
        print(f"| {gm:g} | {k[0]:g} | {e:.3f} | {v:.3f} | {e + v:.3f} |")
    print("\nnested (chosen on the other folds)")
    print("| fold | (gain, gamma) | ER / VPD | gain only | ER / VPD |")
    print("|---|---|---|---|---|")
    both, gain_only = [], []
    for f in args.folds:
        others = [o for o in args.folds if o != f]
        kb = min(keys, key=lambda k: obj(k, others))
        kg = min((k for k in keys if k[1] == 1.0), key=lambda k: obj(k, others))
        both.append(res[f][kb])
        gain_only.append(res[f][kg])
        print(
            f"| {f} | {kb[0]:g}, {kb[1]:g} | {res[f][kb][0]:.3f} / {res[f][kb][1]:.3f} "
            f"| {kg[0]:g} | {res[f][kg][0]:.3f} / {res[f][kg][1]:.3f} |"
        )
    b, g = np.mean(both, axis=0), np.mean(gain_only, axis=0)
    print(f"| mean | | {b[0]:.3f} / {b[1]:.3f} | | {g[0]:.3f} / {g[1]:.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
