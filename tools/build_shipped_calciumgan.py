"""Build the shipped calciumgan-hippocampus from an adversarially trained model, and score it.

The recipe is :func:`calcium_forge.synthesis.post_training.post_train`
(docs/benchmarks.md, "CalciumGAN"), every stage on the FIRST half of the
hippocampus recording only:

1. **Distil** the adversarial generator (the paper's layout, transposed
   convolutions) into the sampling architecture (``GANConfig.linear()``: linear
   up-sampling), which cannot draw the transposed-convolution grid pattern
   (``synthesis.distill``; ``--distill-steps 0`` skips it).
2. **Top up the observation noise**: independent white noise per neuron, up to
   the data's noise level (``synthesis.observation_noise``; ``--top-up 0`` skips it).
3. **Match correlations**: fine-tune so that the within-window pairwise
   statistics match the training windows (``synthesis.correlation_matching``;
   ``--steps 0`` skips it).

Then the model is scored against the held-out second half at its window and at
30-s windows of ``sample_long`` (each score beside its real-vs-real floor,
``benchmarks/suite/_gan_table.py``); the card gets the scores, the CPU time of
each stage and this command line, and the model file is written atomically.

Usage::

    python tools/build_shipped_calciumgan.py ADVERSARIAL.pt --out calciumgan_hippocampus.pt
    python tools/build_shipped_calciumgan.py MODEL.pt --out M.pt --distill-steps 0 --top-up 0 \
        --steps 0  # score only
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks" / "suite"))


def _args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("adversarial", help="the adversarially trained model (.pt or checkpoint)")
    ap.add_argument("--out", required=True, help="target .pt (card beside it)")
    ap.add_argument("--distill-steps", type=int, default=6000, help="0 = keep the architecture")
    ap.add_argument(
        "--transient-weight",
        type=float,
        default=0.0,
        help="weight of the teacher's transients in the distillation loss",
    )
    ap.add_argument("--top-up", type=float, default=1.0, help="share of missing noise variance")
    ap.add_argument("--steps", type=int, default=400, help="matching steps (0 = none)")
    ap.add_argument("--weight", type=float, default=1000.0, help="matching weight")
    ap.add_argument(
        "--card-from",
        default=None,
        help="with a checkpoint as input: a JSON card (e.g. the run's model.json) to start from",
    )
    ap.add_argument("--seed", type=int, default=0)
    return ap.parse_args()


def _load(path: str, card_from: str | None):
    from calcium_forge.errors import ModelError
    from calcium_forge.synthesis.calciumgan import CalciumGAN
    from calcium_forge.synthesis.train import model_from_checkpoint

    try:
        return CalciumGAN.load(path)
    except ModelError:  # a training checkpoint
        model = model_from_checkpoint(path)
        model.card.update(json.loads(Path(card_from).read_text()) if card_from else {})
        return model


def main() -> None:
    import torch

    torch.set_num_threads(1)
    from _gan_table import Generator, score

    from calcium_forge.datasets import hippocampus_dff
    from calcium_forge.synthesis.post_training import post_train
    from calcium_forge.synthesis.windows import make_windows

    args = _args()
    rec = hippocampus_dff()
    half = rec.n_frames // 2
    first = np.asarray(rec.traces[:, :half], np.float32)
    second = np.asarray(rec.traces[:, half:], np.float32)
    base = _load(args.adversarial, args.card_from)
    res = post_train(
        base,
        make_windows(first, base.config.window, 4),
        distill_steps=args.distill_steps,
        transient_weight=args.transient_weight,
        top_up=args.top_up,
        match_steps=args.steps,
        match_weight=args.weight,
        seed=args.seed,
        progress_bar=True,
    )
    model, cpu = res.model, dict(res.cpu_seconds)
    gen = Generator(
        "CalciumGAN",
        model.config.window,
        lambda n, t, seed: model.sample_windows(n, seed=seed),
        lambda frames, seed: np.asarray(model.sample_long(frames, seed=seed).traces),
    )
    c0 = time.process_time()
    scored = score(gen, first, second, rec.fs_hz, args.seed)
    cpu["scoring"] = round(time.process_time() - c0, 1)
    model.card["build_cpu_seconds"] = cpu
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
    print("CPU s:", model.card["build_cpu_seconds"])
    print("saved", args.out)


if __name__ == "__main__":
    main()
