"""CalciumGAN benchmark: KL divergences, Fréchet distance and memorisation on CPU.

For (a) DG artificial data with known ground truth (20 neurons, 600 s, 30 Hz,
AR(1) calcium with the paper's decay and noise) and (b) the real Suite2P
hippocampus recording (20 ROIs x 18,000 frames at 30 Hz, dF/F with the
maximin baseline), each recording is split in halves: models train on windows
(T = 256 frames, stride 4) of the FIRST half only and are compared with
windows of the SECOND half (stride 64). The real-vs-real floor is the first
half against the second half through the same pipeline. Models:
CalciumGAN (Phase Shuffle n = 2), CalciumGAN without Phase Shuffle, and the
DG baseline fitted to the first half; each GAN gets the same wall-clock CPU
budget on one thread (autoencoder pretraining included).

Usage::

    python benchmarks/suite/calciumgan.py --dataset hippocampus --budget-min 35 \
        --out benchmarks/out/gan_hippo
    python benchmarks/suite/calciumgan.py --dataset dg --budget-min 35 --out benchmarks/out/gan_dg
    python benchmarks/suite/calciumgan.py --report benchmarks/out/gan_dg benchmarks/out/gan_hippo
    python benchmarks/suite/calciumgan.py --reevaluate --out benchmarks/out/gan_hippo  # rescore
    python benchmarks/suite/calciumgan.py --table "CalciumGAN=calciumgan-hippocampus" \
        --out benchmarks/out/gan_table  # the co-firing table (see _gan_table.py)
    python benchmarks/suite/calciumgan.py --dataset dg --budget-min 60 --snapshot-every 500 \
        --skip-no-ps --out benchmarks/out/gan_dg
    python benchmarks/suite/calciumgan.py --curve benchmarks/out/gan_dg  # learning curve

Each run writes ``results.json`` (+ models, figures) into ``--out``; ``--report``
prints the combined Markdown table.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

import numpy as np
from _harness import SHARED_DATA, command_line, out_dir

WINDOW = 256
STRIDE_TRAIN = 4
STRIDE_EVAL = 64
SHARED = SHARED_DATA


def load_dataset(name: str, seed: int = 0):
    """The benchmark recording (a Recording of dF/F-like traces)."""
    from calcium_forge.recording import Recording

    if name == "dg":
        from calcium_forge.synthesis.calcium import CalciumModel, make_dg_dataset

        return make_dg_dataset(
            20, 600.0, 30.0, calcium=CalciumModel(), rates_hz=(0.2, 2.0), seed=seed
        )
    try:
        from calcium_forge.datasets import hippocampus_dff

        return hippocampus_dff()
    except ImportError:
        from calcium_forge.signal import to_dff

        plane = SHARED / "suite2p_hippocampus" / "plane0"
        f = np.load(plane / "F.npy")
        fneu = np.load(plane / "Fneu.npy")
        return to_dff(Recording(f, 30.0, kind="raw", neuropil=fneu, source=str(plane)))


def windows(traces: np.ndarray, stride: int) -> np.ndarray:
    from calcium_forge.synthesis.windows import make_windows

    return make_windows(traces, WINDOW, stride)


def run(args) -> None:
    import torch

    torch.set_num_threads(1)
    from calcium_forge.evaluation.synthetic import evaluate_synthetic
    from calcium_forge.synthesis.baseline import DGBaseline
    from calcium_forge.synthesis.calciumgan import GANConfig
    from calcium_forge.synthesis.train import GANTrainConfig, iter_train_gan
    from calcium_forge.synthesis.windows import split_windows

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results_prev = (
        json.loads((out / "results.json").read_text()) if (out / "results.json").exists() else {}
    )
    rec = load_dataset(args.dataset, args.seed)
    half = rec.n_frames // 2
    first, second = rec.traces[:, :half], rec.traces[:, half:]
    ref = windows(second, STRIDE_EVAL)  # held-out reference
    first_w = windows(first, STRIDE_EVAL)
    train_w = windows(first, STRIDE_TRAIN)
    n_syn = len(ref)
    print(
        f"{rec!r}: train frames 0-{half}, reference frames {half}-{rec.n_frames}; "
        f"{len(train_w)} training windows, {n_syn} reference windows",
        flush=True,
    )
    common = dict(fs_hz=rec.fs_hz, window_frames=WINDOW, max_windows=None, seed=args.seed)
    results: dict = {
        "dataset": args.dataset,
        "recording": repr(rec),
        "window": WINDOW,
        "budget_min": args.budget_min,
        "models": {},
    }
    t0 = time.perf_counter()
    floor = evaluate_synthetic(
        ref, first_w, training=train_w, held_out=ref, names=("second half", "first half"), **common
    )
    results["floor"] = floor.summary()
    results["floor"]["seconds"] = round(time.perf_counter() - t0, 1)
    floor.save_figures(out / "fig_floor")
    print("floor", json.dumps(results["floor"]), flush=True)

    split = split_windows(
        rec,
        WINDOW,
        stride=STRIDE_TRAIN,
        held_out_fraction=0.5,
        per_neuron_scaling=args.per_neuron_scaling,
    )

    def evaluate(name: str, syn: np.ndarray, extra: dict) -> None:
        rep = evaluate_synthetic(
            ref,
            syn,
            training=train_w,
            held_out=ref,
            names=("real (held-out half)", name),
            **common,
        )
        s = rep.summary()
        s.update(extra)
        results["models"][name] = s
        rep.save_figures(out / f"fig_{name}")
        (out / f"report_{name}.md").write_text(rep.to_markdown())
        print(name, json.dumps(s), flush=True)
        (out / "results.json").write_text(json.dumps(results, indent=2, default=float))

    # DG baseline
    t = time.perf_counter()
    dg = DGBaseline.fit(first, fs_hz=rec.fs_hz)
    fit_s = time.perf_counter() - t
    evaluate(
        "DG baseline",
        dg.sample_windows(n_syn, WINDOW, seed=args.seed + 1),
        {"train_seconds": round(fit_s, 1), "steps": 0},
    )

    for name, ps in (("CalciumGAN", 2), ("CalciumGAN no PS", 0)):
        if (args.skip_no_ps and ps == 0) or (args.only_no_ps and ps > 0):
            continue
        gan_config = GANConfig.cpu(n_neurons=rec.n_rois, window=WINDOW)
        if args.linear_layout:
            gan_config = GANConfig.linear(n_neurons=rec.n_rois, window=WINDOW)
        gan_config.phase_shuffle = ps
        config = GANTrainConfig(
            steps=args.max_steps,
            batch_size=args.batch_size,
            pretrain_steps=args.pretrain_steps,
            time_budget_s=args.budget_min * 60.0,
            checkpoint_every=args.snapshot_every or 500,
            seed=args.seed,
            num_threads=1,
            # the split is made above; recorded here so that the model card says how
            window_stride=STRIDE_TRAIN,
            held_out_fraction=0.5,
            per_neuron_scaling=args.per_neuron_scaling,
            ema_decay=args.ema_decay,
            lr=args.lr,
            betas=tuple(args.betas),
        )
        model_dir = out / name.replace(" ", "_")
        resume = model_dir / "checkpoint.pt" if args.resume else None
        if resume is not None and not resume.exists():
            resume = None
        prior_s = 0.0
        if resume is not None:
            prior_s = float(results_prev.get("models", {}).get(name, {}).get("train_seconds", 0.0))
            print(f"  [{name}] resuming from {resume} ({prior_s:.0f} s before)", flush=True)
        gen = iter_train_gan(
            split,
            gan_config,
            config,
            out_dir=model_dir,
            progress_every=100,
            name=f"{args.dataset}",
            resume=resume,
        )
        while True:
            try:
                p = next(gen)
            except StopIteration as stop:
                res = stop.value
                break
            wgan = p.message.startswith("WGAN")
            if args.snapshot_every and wgan and p.step % args.snapshot_every == 0:
                snap = model_dir / "snapshots" / f"step_{p.step:06d}.pt"
                snap.parent.mkdir(exist_ok=True)
                shutil.copyfile(model_dir / "checkpoint.pt", snap)
            print(
                f"  [{name}] {p.message} {p.step}/{p.total} "
                + " ".join(f"{k}={v:.4g}" for k, v in p.values.items()),
                flush=True,
            )
        model = res.model
        extra = {
            "train_seconds": round(prior_s + res.seconds, 1),
            "steps": res.steps_done,
            "pretrain_steps": args.pretrain_steps,
        }
        if args.post_train:
            model = _post_train(model, train_w, extra, model_dir, args.seed)
        syn = model.sample_windows(n_syn, seed=args.seed + 2)
        evaluate(name, syn, extra)
        if args.save_model and ps > 0:
            model.card.update(
                {
                    "name": args.dataset,
                    "data": results["recording"],
                    "training_frames": [0, half],
                    "window_frames": WINDOW,
                    "window_stride": STRIDE_TRAIN,
                    "steps": res.steps_done,
                    "train_seconds": round(prior_s + res.seconds, 1),
                    "cpu_budget": f"{args.budget_min} min, 1 thread",
                    "scores_vs_held_out_half": results["models"][name],
                    "real_vs_real_floor": results["floor"],
                    "benchmark": command_line(),
                }
            )
            target = Path(args.save_model)
            model.save(target)
            print("saved", target, target.stat().st_size, "bytes", flush=True)
    results["total_seconds"] = round(time.perf_counter() - t0, 1)
    (out / "results.json").write_text(json.dumps(results, indent=2, default=float))


def _post_train(model, train_w: np.ndarray, extra: dict, model_dir: Path, seed: int):
    """Run the post-training recipe (defaults of ``post_train``) and record its CPU seconds."""
    from calcium_forge.synthesis.post_training import post_train

    model.save(model_dir / "model_adversarial.pt")
    post = post_train(model, train_w, seed=seed)
    extra["post_training_cpu_seconds"] = post.cpu_seconds
    post.model.save(model_dir / "model.pt")
    print("  post-training CPU s", json.dumps(post.cpu_seconds), flush=True)
    return post.model


SPREAD_KEYS = (
    "kl_rate",
    "kl_rate_per_neuron_mean",
    "kl_corr",
    "kl_vrd",
    "kl_vrd_per_neuron_mean",
    "frechet",
    "log_spectral_distance_db",
    "mean_corr_synthetic",
)


def _seed_spread(model, n_seeds, n_syn, ref, train_w, common, seed) -> dict:
    """Mean, s.d., min and max of the scores over ``n_seeds`` sampling seeds."""
    from calcium_forge.evaluation.synthetic import evaluate_synthetic

    rows = []
    for k in range(n_seeds):
        syn = model.sample_windows(n_syn, seed=seed + 2 + 1000 * k)
        rep = evaluate_synthetic(ref, syn, training=train_w, held_out=ref, **common)
        rows.append([float(rep.summary()[key]) for key in SPREAD_KEYS])
    a = np.asarray(rows)
    return {
        key: {
            "mean": float(a[:, i].mean()),
            "sd": float(a[:, i].std(ddof=1)),
            "min": float(a[:, i].min()),
            "max": float(a[:, i].max()),
        }
        for i, key in enumerate(SPREAD_KEYS)
    } | {"n_seeds": n_seeds}


def reevaluate(args) -> None:
    """Recompute every score of an earlier run (its saved models) with the current code."""
    import torch

    torch.set_num_threads(1)
    from calcium_forge.evaluation.synthetic import evaluate_synthetic
    from calcium_forge.synthesis.baseline import DGBaseline
    from calcium_forge.synthesis.calciumgan import CalciumGAN

    out = Path(args.out)
    old = json.loads((out / "results.json").read_text())
    rec = load_dataset(old["dataset"], args.seed)
    half = rec.n_frames // 2
    first, second = rec.traces[:, :half], rec.traces[:, half:]
    ref = windows(second, STRIDE_EVAL)
    first_w = windows(first, STRIDE_EVAL)
    train_w = windows(first, STRIDE_TRAIN)
    n_syn = len(ref)
    common = dict(fs_hz=rec.fs_hz, window_frames=WINDOW, max_windows=None, seed=args.seed)
    results = dict(old)
    results["models"] = {}
    results["reevaluated"] = True
    floor = evaluate_synthetic(
        ref, first_w, training=train_w, held_out=ref, names=("second half", "first half"), **common
    )
    results["floor"] = floor.summary()
    floor.save_figures(out / "fig_floor")
    print("floor", json.dumps(results["floor"]), flush=True)
    for name, extra in old["models"].items():
        if name == "DG baseline":
            syn = DGBaseline.fit(first, fs_hz=rec.fs_hz).sample_windows(
                n_syn, WINDOW, seed=args.seed + 1
            )
        else:
            model = CalciumGAN.load(out / name.replace(" ", "_") / "model.pt")
            syn = model.sample_windows(n_syn, seed=args.seed + 2)
        rep = evaluate_synthetic(
            ref,
            syn,
            training=train_w,
            held_out=ref,
            names=("real (held-out half)", name),
            **common,
        )
        s = rep.summary()
        s.update({k: extra[k] for k in ("train_seconds", "steps", "pretrain_steps") if k in extra})
        if args.sample_seeds > 1 and name != "DG baseline":
            s["sample_seed_spread"] = _seed_spread(
                model, args.sample_seeds, n_syn, ref, train_w, common, args.seed
            )
            print(name, "spread", json.dumps(s["sample_seed_spread"]), flush=True)
        results["models"][name] = s
        rep.save_figures(out / f"fig_{name}")
        (out / f"report_{name}.md").write_text(rep.to_markdown())
        print(name, json.dumps(s), flush=True)
        if args.save_model and name == "CalciumGAN":
            model.card.update(
                {
                    "name": old["dataset"],
                    "data": old["recording"],
                    "training_frames": [0, half],
                    "window_frames": WINDOW,
                    "window_stride": STRIDE_TRAIN,
                    "steps": extra.get("steps"),
                    "train_seconds": extra.get("train_seconds"),
                    "cpu_budget": f"{old['budget_min']} min, 1 thread",
                    "scores_vs_held_out_half": s,
                    "real_vs_real_floor": results["floor"],
                    "benchmark": command_line(),
                }
            )
            target = Path(args.save_model)
            model.save(target)
            print("saved", target, target.stat().st_size, "bytes", flush=True)
    (out / "results.json").write_text(json.dumps(results, indent=2, default=float))


def report(dirs: list[str]) -> str:
    rows = [
        "| data | model | CPU budget (steps) | KL rate pooled (floor) | KL rate per-neuron "
        "mean / max (floor) | KL corr (floor) | KL vRD pooled (floor) | KL vRD per-neuron "
        "(floor) | Fréchet (floor) | memorisation (copy frac.) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for d in dirs:
        r = json.loads((Path(d) / "results.json").read_text())
        f = r["floor"]
        for name, s in r["models"].items():
            budget = (
                f"fit {s['train_seconds']:.0f} s"
                if s.get("steps", 0) == 0
                else f"{s['train_seconds'] / 60:.0f} min ({s['steps']} steps)"
            )
            rows.append(
                f"| {r['dataset']} | {name} | {budget} "
                f"| {s['kl_rate']:.3f} ({f['kl_rate']:.3f}) "
                f"| {s['kl_rate_per_neuron_mean']:.3f} / {s['kl_rate_per_neuron_max']:.2f} "
                f"({f['kl_rate_per_neuron_mean']:.3f} / {f['kl_rate_per_neuron_max']:.2f}) "
                f"| {s['kl_corr']:.3f} ({f['kl_corr']:.3f}) "
                f"| {s['kl_vrd']:.3f} ({f['kl_vrd']:.3f}) "
                f"| {s['kl_vrd_per_neuron_mean']:.3f} ({f['kl_vrd_per_neuron_mean']:.3f}) "
                f"| {s['frechet']:.2f} ({f['frechet']:.2f}) "
                f"| {s['memorisation_score']:.2f} ({s['copy_fraction']:.2f}) |"
            )
    return "\n".join(rows)


def table_run(args) -> None:
    """Score saved GANs and the two DG baselines at both window lengths; print one table."""
    import torch

    torch.set_num_threads(1)
    from _gan_table import dg_generators, gan_generator, score, table

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rec = load_dataset(args.dataset, args.seed)
    half = rec.n_frames // 2
    first, second = rec.traces[:, :half], rec.traces[:, half:]
    gens = [gan_generator(*spec.split("=", 1)) for spec in args.table]
    if not args.skip_dg:
        gens += dg_generators(first, rec.fs_hz, gens[0].window)
    scored, dump = {}, {}
    for gen in gens:
        scored[gen.name] = score(gen, first, second, rec.fs_hz, args.seed)
        for label, (rep, cpu_s) in scored[gen.name].items():
            dump[f"{gen.name} @ {label}"] = {
                **rep.summary(),
                "scores": rep.scores,
                "floor": rep.floor_scores,
                "flags": rep.flags(),
                "eval_cpu_s": cpu_s,
            }
            slug = f"{gen.name}_{label}".replace(" ", "_").replace("/", "-")
            rep.save_figures(out / f"fig_{slug}")
            (out / f"report_{slug}.md").write_text(rep.to_markdown())
        print(gen.name, "done", flush=True)
    md = table(scored)
    (out / "table.md").write_text(md)
    (out / "table.json").write_text(json.dumps(dump, indent=2, default=float))
    print(md)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dataset", choices=["dg", "hippocampus"], default="hippocampus")
    ap.add_argument("--budget-min", type=float, default=30.0, help="wall minutes per GAN")
    ap.add_argument("--max-steps", type=int, default=100000)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--pretrain-steps", type=int, default=300)
    ap.add_argument("--per-neuron-scaling", action="store_true")
    ap.add_argument("--skip-no-ps", action="store_true")
    ap.add_argument("--only-no-ps", action="store_true", help="train only the no-PS GAN")
    ap.add_argument(
        "--linear-layout",
        action="store_true",
        help="train GANConfig.linear() (linear up-sampling, pairwise critic features, "
        "observation noise) from scratch instead of GANConfig.cpu()",
    )
    ap.add_argument("--lr", type=float, default=1e-4, help="Adam learning rate of both nets")
    ap.add_argument(
        "--betas",
        type=float,
        nargs=2,
        default=(0.9, 0.9999),
        help="Adam betas of both nets (paper: 0.9 0.9999)",
    )
    ap.add_argument(
        "--post-train",
        action="store_true",
        help="after training, run synthesis.post_training.post_train (as train-gan does) "
        "and score the result",
    )
    ap.add_argument(
        "--snapshot-every",
        type=int,
        default=0,
        help="keep a copy of the checkpoint every this many steps (the learning curve: "
        "--curve scores them)",
    )
    ap.add_argument(
        "--ema-decay",
        type=float,
        default=None,
        help="sample from a moving average of the generator (e.g. 0.999); with --resume it "
        "starts at the checkpoint",
    )
    ap.add_argument(
        "--sample-seeds",
        type=int,
        default=1,
        help="--reevaluate: also score each GAN on this many sampling seeds (mean, sd, range)",
    )
    ap.add_argument(
        "--resume",
        action="store_true",
        help="continue each GAN from its checkpoint in --out (to a larger --max-steps)",
    )
    ap.add_argument("--save-model", default=None, help="write the CalciumGAN (PS on) here")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(out_dir("gan_bench")))
    ap.add_argument("--report", nargs="+", default=None, help="print the table of these runs")
    ap.add_argument(
        "--reevaluate", action="store_true", help="rescore the models saved in --out (no training)"
    )
    ap.add_argument(
        "--table",
        nargs="+",
        default=None,
        metavar="NAME=MODEL",
        help="score these saved GANs (name=path or shipped name) and the DG baselines at the "
        "model's window and at 30-s windows of one long sample; print one table",
    )
    ap.add_argument("--skip-dg", action="store_true", help="--table without the DG rows")
    ap.add_argument(
        "--curve",
        default=None,
        metavar="OUT",
        help="score every snapshot of the run in OUT (the learning curve; see _gan_curve.py)",
    )
    ap.add_argument(
        "--curve-post-train",
        action="store_true",
        help="--curve: also score each snapshot after the post-training recipe",
    )
    ap.add_argument(
        "--curve-start",
        type=float,
        default=None,
        help="--curve: Unix time the training started (default: extrapolated from the snapshots)",
    )
    args = ap.parse_args()
    if args.curve:
        from _gan_curve import curve_run

        curve_run(args, load_dataset, windows, STRIDE_TRAIN, STRIDE_EVAL, WINDOW)
        return
    if args.table:
        table_run(args)
        return
    if args.report:
        print(report(args.report))
        return
    if args.reevaluate:
        reevaluate(args)
        return
    run(args)


if __name__ == "__main__":
    main()
