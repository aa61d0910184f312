"""Leave-one-dataset-out benchmark of ENS², S2S and OASIS on the Cascade ground truth.

For every fold the test dataset is removed from the training data, ENS² and
S2S are trained on the rest (excitatory folds: the other excitatory datasets;
inhibitory folds: the other inhibitory datasets, as for the shipped models),
and all three methods infer spikes from the test dataset's dF/F at its native
frame rate through :func:`calcium_forge.inference.infer_spikes`. Metrics
(:func:`calcium_forge.evaluation.spikes.evaluate_spikes`) are computed at 60 Hz
with a 25 ms Gaussian ground truth: Corr, vRD, Error, Bias, VPD, ER (and S2S's
Corr at 25 Hz). Per neuron the metrics are averaged over its recordings; the
table shows medians over the test dataset's neurons.

Run it from the repository root, e.g. with a reduced budget::

    python benchmarks/suite/spike_inference.py --ens2-iterations 400 \
        --s2s-iterations 600 --out loo.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from _harness import GROUND_TRUTH, out_dir

from calcium_forge.inference.training.data import (
    INHIBITORY_DATASETS,
    _read_cascade_mat,
    dataset_folders,
    indicator_of,
)

__all__ = ["DEFAULT_FOLDS", "METRICS", "build_parser", "main", "print_table"]

#: Ground truth beside the repository (../shared/data/ground_truth), when run from a checkout.
DEFAULT_DATA = GROUND_TRUTH

#: Default folds: OGB-1, Cal-520, GCaMP6f (mouse V1: DS10, DS11), GCaMP6s (mouse V1: DS12,
#: DS13, DS15, DS16), GCaMP5k, R-CaMP, jGECO1a and an inhibitory GCaMP6f dataset. Every mouse
#: V1 GCaMP6 dataset present is a fold of its own, since users image mostly that.
DEFAULT_FOLDS = [
    "DS01",
    "DS03",
    "DS10",
    "DS11",
    "DS12",
    "DS13",
    "DS15",
    "DS16",
    "DS17",
    "DS19",
    "DS21",
    "DS25",
]
METRICS = ["corr", "vrd", "error", "bias", "vpd", "er", "corr_25hz"]


def _train_fold(
    method,
    train_folders,
    iterations,
    workdir,
    seed,
    threads,
    val_fraction=0.2,
    noise=False,
    network_kwargs=None,
):
    from calcium_forge.inference.registry import load_model
    from calcium_forge.inference.training import default_config, iter_train, load_training_data
    from calcium_forge.progress import drain

    cfg = default_config(
        method,
        iterations=iterations,
        seed=seed,
        checkpoint_every=0,
        val_fraction=val_fraction,
        noise_augment=noise,
        network_kwargs=dict(network_kwargs or {}),
    )
    data = load_training_data(train_folders, cfg)
    res = drain(
        iter_train(
            data,
            cfg,
            out_dir=workdir,
            name=f"loo-{method}",
            num_threads=threads,
            score_validation=False,
        )
    )
    return load_model(res.model_path), res


def _evaluate(folder, methods, threads):
    """Per-neuron mean metrics for each method on one dataset folder."""
    from calcium_forge.evaluation.spikes import evaluate_spikes
    from calcium_forge.inference.api import infer_spikes

    per_method = {m: [] for m in methods}
    for f in sorted(folder.glob("*.mat")):
        recs = _read_cascade_mat(f)
        neuron_rows = {m: [] for m in methods}
        for rec in recs:
            if np.isfinite(rec.dff).sum() < 200 or rec.spike_times_s.size == 0:
                continue
            for m, (method, model) in methods.items():
                res = infer_spikes(
                    rec.dff,
                    fs_hz=rec.fs_hz,
                    method=method,
                    model=model,
                    events=True,
                    num_threads=threads,
                    # the raw estimator; calibrated gains: benchmarks/event_gain.py
                    **({} if method == "oasis" else {"event_gain": 1.0}),
                )
                met = evaluate_spikes(rec.spike_times_s, res, eval_fs_hz=60.0)
                neuron_rows[m].append(
                    [getattr(met, k) if getattr(met, k) is not None else np.nan for k in METRICS]
                )
        for m, rows in neuron_rows.items():
            if rows:
                per_method[m].append(np.nanmean(np.asarray(rows, dtype=float), axis=0))
    return {m: np.asarray(v) for m, v in per_method.items()}


def build_parser(ap: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    """Add the benchmark's options to ``ap`` (a new parser by default)."""
    ap = ap or argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--folds", nargs="+", default=DEFAULT_FOLDS, help="test dataset ids")
    ap.add_argument("--ens2-iterations", type=int, default=5000)
    ap.add_argument("--s2s-iterations", type=int, default=5000)
    ap.add_argument("--no-s2s", action="store_true", help="skip S2S")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--noise-augment",
        action="store_true",
        help="train the ENS² fold models with white-noise augmentation (nu 0-15)",
    )
    ap.add_argument(
        "--val-fraction",
        type=float,
        default=0.2,
        help="share of each training dataset's neurons held out for early stopping "
        "(0: train on all, stop on the training loss as the ENS² authors' code)",
    )
    ap.add_argument(
        "--ens2-channels",
        type=int,
        nargs=4,
        default=None,
        metavar="C",
        help="ENS² U-Net channels of the three levels and the bottleneck "
        "(default: the shipped architecture's)",
    )
    ap.add_argument(
        "--train-pool",
        choices=["all", "same-indicator"],
        default="all",
        help="training datasets of a fold: all other datasets of the same cell class (default), "
        "or only those with the test dataset's indicator (the ENS² authors' 'cluster' setting; "
        "falls back to all when no other dataset has that indicator)",
    )
    ap.add_argument("--workdir", type=Path, default=out_dir("loo"))
    ap.add_argument("--out", type=Path, default=None, help="JSON file for all results")
    ap.add_argument(
        "--rescore",
        type=Path,
        default=None,
        metavar="JSON",
        help="re-evaluate the fold models saved in --workdir (no training) with the current "
        "inference and event code; training facts are taken from this earlier results JSON",
    )
    return ap


def main(argv=None, args: argparse.Namespace | None = None) -> int:
    """Run the leave-one-dataset-out benchmark (command-line options as in :func:`build_parser`)."""
    if args is None:
        args = build_parser().parse_args(argv)

    results = {
        "ens2_iterations": args.ens2_iterations,
        "s2s_iterations": args.s2s_iterations,
        "ens2_val_fraction": args.val_fraction,
        "ens2_noise_augment": args.noise_augment,
        "train_pool": args.train_pool,
        "folds": {},
    }
    if args.rescore is not None:
        return _rescore(args)
    if args.out is not None and args.out.is_file():
        results = json.loads(args.out.read_text())
    t_all = time.perf_counter()
    for ds in args.folds:
        if ds in results["folds"]:
            print(f"[{ds}] already done, skipping", flush=True)
            continue
        t0 = time.perf_counter()
        (test_folder,) = dataset_folders(args.data, include=[ds])
        inhib = ds in INHIBITORY_DATASETS
        pool = (
            dataset_folders(args.data, include=INHIBITORY_DATASETS)
            if inhib
            else dataset_folders(args.data, exclude=INHIBITORY_DATASETS)
        )
        train_folders = [p for p in pool if p != test_folder]
        pool_used = "all"
        if args.train_pool == "same-indicator":
            same = [p for p in train_folders if indicator_of(p) == indicator_of(test_folder)]
            if same:
                train_folders, pool_used = same, "same-indicator"
            else:
                print(
                    f"[{ds}] no other {indicator_of(test_folder)} dataset: training on all "
                    f"{len(train_folders)} datasets of the cell class",
                    flush=True,
                )
        work = args.workdir / ds
        ens2, r_e = _train_fold(
            "ens2",
            train_folders,
            args.ens2_iterations,
            work / "ens2",
            args.seed,
            args.threads,
            args.val_fraction,
            args.noise_augment,
            {"channels": list(args.ens2_channels)} if args.ens2_channels else None,
        )
        methods = {"ENS²": ("ens2", ens2)}
        fold = {
            "test": test_folder.name,
            "train": [p.name for p in train_folders],
            "train_pool": pool_used,
            "ens2_iterations_run": r_e.iterations_run,
            "ens2_best_iteration": r_e.best_iteration,
        }
        if not args.no_s2s:
            s2s, r_s = _train_fold(
                "s2s", train_folders, args.s2s_iterations, work / "s2s", args.seed, args.threads
            )
            methods["S2S"] = ("s2s", s2s)
            fold["s2s_iterations_run"] = r_s.iterations_run
        methods["OASIS"] = ("oasis", None)
        t_train = time.perf_counter() - t0
        scores = _evaluate(test_folder, methods, args.threads)
        fold["n_neurons"] = int(max(len(v) for v in scores.values()))
        fold["median"] = {
            m: dict(zip(METRICS, np.nanmedian(v, axis=0).tolist(), strict=True))
            for m, v in scores.items()
            if len(v)
        }
        fold["train_s"] = round(t_train, 1)
        fold["total_s"] = round(time.perf_counter() - t0, 1)
        results["folds"][ds] = fold
        print(
            f"[{ds}] {test_folder.name}: "
            + "; ".join(
                f"{m} Corr {v['corr']:.3f} ER {v['er']:.3f}" for m, v in fold["median"].items()
            )
            + f" ({fold['total_s']:.0f} s)",
            flush=True,
        )
        if args.out is not None:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(results, indent=1))
    print_table(results)
    print(f"\ntotal {time.perf_counter() - t_all:.0f} s", flush=True)
    return 0


def _rescore(args: argparse.Namespace) -> int:
    """Score saved fold models again (``--rescore OLD.json``); writes ``--out``."""
    from calcium_forge.errors import MissingFileError
    from calcium_forge.inference.registry import load_model

    old = json.loads(Path(args.rescore).read_text())
    results = {k: v for k, v in old.items() if k != "folds"}
    results["rescored_from"] = str(args.rescore)
    results["folds"] = {}
    t_all = time.perf_counter()
    for ds in args.folds:
        if ds not in old.get("folds", {}):
            raise MissingFileError(
                f"--rescore {args.rescore}: no fold {ds} in that file; "
                f"it has {sorted(old.get('folds', {}))}."
            )
        t0 = time.perf_counter()
        (test_folder,) = dataset_folders(args.data, include=[ds])
        methods = {}
        for label, method in (("ENS²", "ens2"), ("S2S", "s2s")):
            path = args.workdir / ds / method / f"loo-{method}.pt"
            if path.is_file():
                methods[label] = (method, load_model(path))
            elif label == "ENS²":
                raise MissingFileError(
                    f"--rescore: fold model {path} is missing; point --workdir at the folder "
                    "the benchmark trained into."
                )
        methods["OASIS"] = ("oasis", None)
        scores = _evaluate(test_folder, methods, args.threads)
        fold = dict(old["folds"][ds])
        fold["n_neurons"] = int(max(len(v) for v in scores.values()))
        fold["median"] = {
            m: dict(zip(METRICS, np.nanmedian(v, axis=0).tolist(), strict=True))
            for m, v in scores.items()
            if len(v)
        }
        fold["rescore_s"] = round(time.perf_counter() - t0, 1)
        results["folds"][ds] = fold
        print(
            f"[{ds}] rescored: "
            + "; ".join(
                f"{m} Corr {v['corr']:.3f} ER {v['er']:.3f}" for m, v in fold["median"].items()
            ),
            flush=True,
        )
        if args.out is not None:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            tmp = args.out.with_suffix(args.out.suffix + ".tmp")
            tmp.write_text(json.dumps(results, indent=1))
            tmp.replace(args.out)
    print_table(results)
    print(f"\ntotal {time.perf_counter() - t_all:.0f} s", flush=True)
    return 0


def print_table(results: dict) -> None:
    """Print the per-dataset median metrics as one markdown table."""
    print(
        f"\nLeave-one-dataset-out, ENS² {results['ens2_iterations']} / S2S "
        f"{results['s2s_iterations']} iterations max; medians over test neurons; 60 Hz, "
        "GT smoothed with a 25 ms Gaussian; S2S Corr also at 25 Hz"
    )
    print("| test dataset | n | method | Corr | vRD | Error | Bias | VPD | ER | Corr@25Hz |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for fold in results["folds"].values():
        for m, v in fold["median"].items():
            print(
                f"| {fold['test']} | {fold['n_neurons']} | {m} | {v['corr']:.3f} | "
                f"{v['vrd']:.3f} | {v['error']:.3f} | {v['bias']:+.3f} | {v['vpd']:.3f} | "
                f"{v['er']:.3f} | {v['corr_25hz']:.3f} |"
            )


if __name__ == "__main__":
    sys.exit(main())
