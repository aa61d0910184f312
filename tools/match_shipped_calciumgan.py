"""Build the shipped calciumgan-hippocampus: correlation-match the adversarial model and score it.

The adversarial generator (6,000 WGAN-GP steps on the first half of the
hippocampus recording; see docs/benchmarks.md, "CalciumGAN") is fine-tuned by
:func:`calcium_forge.synthesis.correlation_matching.match_correlations` on the
same first-half windows, then scored against the held-out second half at the
model's window and at 30-s windows of ``sample_long`` (each score beside its
real-vs-real floor, ``benchmarks/suite/_gan_table.py``). The card gets the
scores; the model file is written atomically.

Usage::

    python tools/match_shipped_calciumgan.py ADVERSARIAL.pt --out MODEL.pt \
        [--steps 400] [--weight 1000] [--grid-weight 0]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks" / "suite"))


def main() -> None:
    import torch

    torch.set_num_threads(1)
    from _gan_table import Generator, score

    from calcium_forge.datasets import hippocampus_dff
    from calcium_forge.synthesis.calciumgan import CalciumGAN
    from calcium_forge.synthesis.correlation_matching import match_correlations
    from calcium_forge.synthesis.windows import make_windows

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("adversarial", help="the adversarially trained model (.pt)")
    ap.add_argument("--out", required=True, help="target .pt (card beside it)")
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--weight", type=float, default=1000.0)
    ap.add_argument("--spectrum-weight", type=float, default=0.0)
    ap.add_argument("--grid-weight", type=float, default=0.0)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    rec = hippocampus_dff()
    half = rec.n_frames // 2
    first = np.asarray(rec.traces[:, :half], np.float32)
    second = np.asarray(rec.traces[:, half:], np.float32)
    base = CalciumGAN.load(args.adversarial)
    c0 = time.process_time()
    res = match_correlations(
        base,
        make_windows(first, base.config.window, 4),
        steps=args.steps,
        weight=args.weight,
        spectrum_weight=args.spectrum_weight,
        grid_weight=args.grid_weight,
        seed=args.seed,
    )
    model = res.model
    gen = Generator(
        "CalciumGAN",
        model.config.window,
        lambda n, t, seed: model.sample_windows(n, seed=seed),
        lambda frames, seed: np.asarray(model.sample_long(frames, seed=seed).traces),
    )
    model.card["correlation_matching"]["cpu_seconds"] = round(res.cpu_seconds, 1)
    c0 = time.process_time()
    scored = score(gen, first, second, rec.fs_hz, args.seed)
    model.card["scoring_cpu_seconds"] = round(time.process_time() - c0, 1)
    model.card["scores_vs_held_out_half"] = {
        label: {"scores": rep.scores, "floor": rep.floor_scores, **rep.summary()}
        for label, (rep, _) in scored.items()
    }
    model.card["flags_over_1.5x_floor"] = {label: rep.flags() for label, (rep, _) in scored.items()}
    model.card["real_vs_real_floor"] = "see scores_vs_held_out_half[...]['floor']"
    model.card["benchmark"] = "python " + " ".join(sys.argv)
    model.save(args.out)
    for label, (rep, _) in scored.items():
        print(label, "flags:", rep.flags())
    print("saved", args.out)


if __name__ == "__main__":
    main()
