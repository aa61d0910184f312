"""Started by tests/synthesis/test_ddp.py under torchrun: tiny DDP trainings, one JSON per rank.

``python -m torch.distributed.run --nproc_per_node 2 ddp_worker.py OUT`` trains through
``train_gan(..., ddp=init_distributed())`` and writes ``OUT/rank<r>.json`` with, per run, the
history, the card, the steps done and the sampled generator's parameters.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np


def recording():
    """The test recording (3 neurons, 800 frames at 30 Hz)."""
    from calcium_forge.recording import Recording

    rng = np.random.default_rng(0)
    return Recording(np.cumsum(rng.normal(0, 0.1, (3, 800)), axis=1).astype(np.float32), 30.0)


def gan_config():
    """A tiny CalciumGAN (T = 32, two layers, Phase Shuffle 1)."""
    from calcium_forge.synthesis.calciumgan import GANConfig

    return GANConfig(
        window=32, n_neurons=3, latent_dim=8, channels=(16, 8), kernel_size=4, stride=2,
        phase_shuffle=1,
    )  # fmt: skip


#: name -> (GANTrainConfig keyword arguments, resume from this run's folder)
RUNS = {
    "full": (dict(steps=4, pretrain_steps=2, ema_decay=0.5, checkpoint_every=1), None),
    "part": (dict(steps=2, pretrain_steps=2, ema_decay=0.5, checkpoint_every=1), None),
    "resumed": (dict(steps=4, pretrain_steps=2, ema_decay=0.5, checkpoint_every=1), "part"),
    "ema": (dict(steps=4, ema_decay=0.5), None),
    "budget": (dict(steps=50, ema_decay=0.9, time_budget_s=0.0), None),
    "bf16": (dict(steps=2, pretrain_steps=1, mixed_precision=True), None),
}
COMMON = dict(batch_size=8, seed=2, num_threads=1)


def summary(result) -> dict:
    """JSON-friendly outcome of one run."""
    gen = result.model.generator
    return {
        "history": result.history,
        "steps_done": result.steps_done,
        "stopped_early": result.stopped_early,
        "card": result.model.card,
        "world_size": result.world_size,
        "generator": [float(x) for p in gen.parameters() for x in p.detach().flatten()],
    }


def main(out: Path) -> None:
    from calcium_forge.synthesis._ddp import init_distributed
    from calcium_forge.synthesis.train import GANTrainConfig, train_gan

    ddp = init_distributed()
    try:
        results = {}
        for name, (kw, resume_from) in RUNS.items():
            folder = out / (resume_from or name)
            res = train_gan(
                recording(),
                gan_config(),
                GANTrainConfig(**COMMON, **kw),
                ddp=ddp,
                out_dir=folder,
                resume=folder if resume_from else None,
            )
            results[name] = summary(res)
        (out / f"rank{ddp.rank}.json").write_text(json.dumps(results, default=float))
    finally:
        ddp.close()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
