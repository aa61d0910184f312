"""Learning curve of a CalciumGAN run: every kept checkpoint scored against the held-out half.

``calciumgan.py --snapshot-every K`` keeps a copy of the checkpoint every K
generator steps (``<out>/CalciumGAN/snapshots/step_*.pt``); ``calciumgan.py
--curve <out>`` scores each copy exactly as the run scores its final model
(same windows, same floor) and prints, per snapshot, each KL as a multiple of
its real-vs-real floor. Training minutes are the snapshot's age since the
run's first checkpoint file, plus the pretraining and first steps' share
(estimated from the mean step time), so they are wall minutes of one thread.

With ``--curve-post-train`` each snapshot is also put through the post-training
recipe (:func:`calcium_forge.synthesis.post_training.post_train`, as
``train-gan`` runs it) and scored again; the table then gives the worst ratio
after post-training and its CPU seconds (to add to the training minutes).

It also writes ``curve.json`` and ``curve.png`` (KL / floor against training
minutes, log scale, with the 2x line the DG check asks for).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

CURVE_KEYS = (
    "kl_rate",
    "kl_rate_per_neuron_mean",
    "kl_corr",
    "kl_vrd",
    "kl_vrd_per_neuron_mean",
)


def _snapshots(model_dir: Path) -> list[Path]:
    snaps = sorted((model_dir / "snapshots").glob("step_*.pt"))
    if not snaps:
        raise SystemExit(
            f"no snapshots in {model_dir / 'snapshots'}: train with --snapshot-every K first."
        )
    return snaps


def _minutes(snaps: list[Path], steps: list[int], start_s: float | None) -> list[float]:
    """Wall minutes of training at each snapshot (file times; see the module docstring)."""
    t = np.array([p.stat().st_mtime for p in snaps])
    if start_s is None:  # extrapolate back to step 0 from the mean step time
        per_step = (t[-1] - t[0]) / max(steps[-1] - steps[0], 1) if len(t) > 1 else 0.0
        start_s = t[0] - per_step * steps[0]
    return [float((x - start_s) / 60.0) for x in t]


def curve_run(args, load_dataset, windows, stride_train: int, stride_eval: int, window: int):
    """Score every snapshot of ``args.curve``; print the table, write curve.json/png."""
    import torch

    torch.set_num_threads(1)
    from calcium_forge.evaluation.synthetic import evaluate_synthetic
    from calcium_forge.synthesis.post_training import post_train
    from calcium_forge.synthesis.train import model_from_checkpoint

    out = Path(args.curve)
    results = json.loads((out / "results.json").read_text())
    rec = load_dataset(results["dataset"], args.seed)
    half = rec.n_frames // 2
    first, second = rec.traces[:, :half], rec.traces[:, half:]
    ref, train_w = windows(second, stride_eval), windows(first, stride_train)
    common = dict(fs_hz=rec.fs_hz, window_frames=window, max_windows=None, seed=args.seed)
    floor = results["floor"]
    snaps = _snapshots(out / "CalciumGAN")
    rows = []

    def scores(model) -> dict:
        syn = model.sample_windows(len(ref), seed=args.seed + 2)
        s = evaluate_synthetic(ref, syn, training=train_w, held_out=ref, **common).summary()
        return {k: float(s[k]) for k in CURVE_KEYS}

    for snap in snaps:
        model = model_from_checkpoint(snap)
        rows.append({"step": model.card["steps"], **scores(model)})
        if args.curve_post_train:
            post = post_train(model, train_w, seed=args.seed)
            rows[-1]["post"] = scores(post.model)
            rows[-1]["post_cpu_s"] = float(sum(post.cpu_seconds.values()))
            rows[-1]["post_worst_ratio"] = max(rows[-1]["post"][k] / floor[k] for k in CURVE_KEYS)
        ratios = " ".join(f"{k}={rows[-1][k] / floor[k]:.1f}x" for k in CURVE_KEYS)
        if "post" in rows[-1]:
            ratios += "; post-trained: " + " ".join(
                f"{k}={rows[-1]['post'][k] / floor[k]:.1f}x" for k in CURVE_KEYS
            )
        print(f"step {rows[-1]['step']}: {ratios}", flush=True)
    minutes = _minutes(snaps, [r["step"] for r in rows], args.curve_start)
    for r, m in zip(rows, minutes, strict=True):
        r["minutes"] = m
        r["worst_ratio"] = max(r[k] / floor[k] for k in CURVE_KEYS)
    (out / "curve.json").write_text(json.dumps({"floor": floor, "rows": rows}, indent=1))
    _plot(rows, floor, out / "curve.png", results["dataset"])
    print(curve_table(rows, floor))


def curve_table(rows: list[dict], floor: dict) -> str:
    """Markdown: one row per snapshot, each KL with its ratio to the floor."""
    post = any("post" in r for r in rows)
    head = "| steps | minutes | " + " | ".join(CURVE_KEYS) + " | worst / floor |"
    head += " worst after post-training (CPU s) |" if post else ""
    lines = [head, "|" + "---|" * (len(CURVE_KEYS) + 3 + post)]
    lines.append(
        "| floor | | "
        + " | ".join(f"{floor[k]:.4f}" for k in CURVE_KEYS)
        + " | 1.0 |"
        + (" |" if post else "")
    )
    for r in rows:
        cells = " | ".join(f"{r[k]:.4f} ({r[k] / floor[k]:.1f}×)" for k in CURVE_KEYS)
        line = f"| {r['step']} | {r['minutes']:.0f} | {cells} | {r['worst_ratio']:.1f}× |"
        if "post" in r:
            line += f" {r['post_worst_ratio']:.1f}× ({r['post_cpu_s']:.0f}) |"
        lines.append(line)
    return "\n".join(lines)


def _plot(rows: list[dict], floor: dict, path: Path, dataset: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4))
    x = [r["minutes"] for r in rows]
    for k in CURVE_KEYS:
        ax.plot(x, [r[k] / floor[k] for r in rows], marker="o", ms=3, label=k)
    if any("post" in r for r in rows):
        post = [r for r in rows if "post" in r]
        xs, ys = [r["minutes"] for r in post], [r["post_worst_ratio"] for r in post]
        ax.plot(xs, ys, color="k", marker="s", ms=3, label="worst, after post-training")
    ax.axhline(2.0, color="k", ls="--", lw=1, label="2× floor (target)")
    ax.axhline(1.0, color="0.6", ls=":", lw=1)
    ax.set_yscale("log")
    ax.set_xlabel("training time (min, one CPU thread)")
    ax.set_ylabel("KL divergence / real-vs-real floor")
    ax.set_title(f"CalciumGAN learning curve on {dataset} (held-out half)")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
