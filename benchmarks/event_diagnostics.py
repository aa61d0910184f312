"""Where the spike-event error rate comes from: precision vs sensitivity per neuron.

For one Cascade ground-truth dataset and an ENS² model (e.g. a leave-one-dataset-out
fold model written by ``benchmarks/spike_inference.py --workdir W``: ``W/DSxx/ens2/
loo-ens2.pt``), prints per recording the number of predicted and ground-truth
spikes, precision, sensitivity and ER (±50 ms, one-to-one) for several greedy
fragment thresholds ε (spikes per 60 Hz bin).

Run (from the repository root)::

    python benchmarks/event_diagnostics.py DS11 /tmp/cf/loo_full/DS11/ens2/loo-ens2.pt --files 6
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dataset", help="dataset id, e.g. DS11")
    ap.add_argument("model", help="ENS² model file or shipped name")
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"
                                          / "ground_truth"))  # fmt: skip
    ap.add_argument("--files", type=int, default=None, help="first N .mat files only")
    ap.add_argument("--epsilons", type=float, nargs="+", default=[0.01, 0.05, 0.1, 0.2])
    args = ap.parse_args(argv)

    import torch

    torch.set_num_threads(1)
    from calcium_forge.evaluation.spikes import match_events
    from calcium_forge.inference import infer_spikes, load_model
    from calcium_forge.inference.data import _read_cascade_mat

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


if __name__ == "__main__":
    raise SystemExit(main())
