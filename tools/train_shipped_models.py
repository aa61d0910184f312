"""Train the models shipped in ``calcium_forge/inference/models`` and print their scores.

Models (Cascade ground truth in ../shared/data/ground_truth):

* ``ens2-matched-excitatory``  the default: ENS² conditioned on ν and frame rate, trained on
                               noise- and rate-matched windows (7.5/15/30/60 Hz, ν 0.5–15) of
                               every dataset except the inhibitory ones
* ``ens2-matched-inhibitory``  the same recipe on DS22, DS23, DS25–DS27
* ``ens2-excitatory``          ENS² on every dataset except the inhibitory ones
* ``ens2-inhibitory``          ENS² on DS22, DS23, DS25–DS27 (inhibitory datasets present)
* ``ens2-all-noise-augmented`` ENS² on all datasets, white-noise augmentation ν ∈ [0, 15]
* ``s2s``                      S2S on all datasets

Example (two processes in parallel, one thread each)::

    python tools/train_shipped_models.py --models ens2-matched-excitatory --iterations 12000 \
        --batch-size 512
    python tools/train_shipped_models.py --models ens2-matched-inhibitory --iterations 10000 \
        --batch-size 512
    python tools/train_shipped_models.py --models ens2-excitatory ens2-inhibitory
    python tools/train_shipped_models.py --models ens2-all-noise-augmented s2s

Checkpoints go to ``--workdir/<name>/checkpoint.pt`` (default ``benchmarks/out/
train_shipped_models``; pass ``--resume`` to continue).
The final ``<name>.pt`` + ``<name>.json`` are written to ``--out``. Training ends by
calibrating the spike-event gain on the validation neurons; models trained before
that existed are calibrated without retraining by::

    python tools/train_shipped_models.py --calibrate-events-only
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from calcium_forge.inference.registry import MODELS_DIR, save_model
from calcium_forge.inference.training import default_config, iter_train, load_training_data
from calcium_forge.inference.training.data import INHIBITORY_DATASETS, dataset_folders
from calcium_forge.progress import drain

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks" / "suite"))
from _harness import GROUND_TRUTH, command_line, out_dir

#: The noise- and rate-matched recipe of the default models (conditioned on ν and rate).
MATCHED = dict(
    noise_matched=True, conditioned=True, train_rates_hz=(7.5, 15.0, 30.0, 60.0), fs_hz=30.0,
    nu_range=(0.5, 15.0), white_fraction=0.5, patience=2000, val_every=100,
)  # fmt: skip

SHIPPED = {
    "ens2-matched-excitatory": dict(
        method="ens2", exclude=INHIBITORY_DATASETS, noise=False, recipe=MATCHED
    ),
    "ens2-matched-inhibitory": dict(
        method="ens2", include=INHIBITORY_DATASETS, noise=False, recipe=MATCHED
    ),
    "ens2-excitatory": dict(method="ens2", exclude=INHIBITORY_DATASETS, noise=False),
    "ens2-inhibitory": dict(method="ens2", include=INHIBITORY_DATASETS, noise=False),
    "ens2-all-noise-augmented": dict(method="ens2", noise=True),
    "s2s": dict(method="s2s", noise=False),
}


def _calibrate_only(args: argparse.Namespace) -> int:
    import torch

    from calcium_forge.inference.training.calibration import calibrate_saved_model

    torch.set_num_threads(args.threads)
    for name in args.models:
        t0 = time.perf_counter()
        cal = calibrate_saved_model(args.out / f"{name}.pt", args.data, out=args.out / name)
        print(
            json.dumps(
                {
                    "model": name,
                    "event_gain": cal.gain,
                    "calibrated_on": cal.calibrated_on,
                    "n_neurons": cal.n_neurons,
                    "median_er_at_gain_1": round(cal.error_rate_at_1, 4),
                    "median_er_at_gain": round(cal.error_rate_by_gain[cal.gain], 4),
                    "mean_er_by_gain": {
                        f"{g:g}": round(v, 4) for g, v in cal.mean_error_rate_by_gain.items()
                    },
                    "events_per_spike": round(cal.events_per_spike, 3),
                    "seconds": round(time.perf_counter() - t0, 1),
                }
            ),
            flush=True,
        )
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=GROUND_TRUTH, help="ground-truth root folder")
    ap.add_argument("--models", nargs="+", default=list(SHIPPED), choices=list(SHIPPED))
    ap.add_argument("--out", type=Path, default=MODELS_DIR, help="where the final models go")
    ap.add_argument(
        "--workdir", type=Path, default=out_dir("train_shipped_models"), help="checkpoint folder"
    )
    ap.add_argument("--iterations", type=int, default=3000, help="ENS² iteration budget")
    ap.add_argument("--s2s-iterations", type=int, default=5000, help="S2S iteration budget")
    ap.add_argument(
        "--batch-size", type=int, default=None, help="windows per batch (default: the method's)"
    )
    ap.add_argument("--threads", type=int, default=1, help="torch threads")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--resume", action="store_true", help="continue from workdir checkpoints")
    ap.add_argument(
        "--calibrate-events-only",
        action="store_true",
        help="do not train: calibrate the spike-event gain of the models already in --out on "
        "their validation neurons and rewrite their cards (models trained now get it anyway)",
    )
    args = ap.parse_args(argv)
    if args.calibrate_events_only:
        return _calibrate_only(args)

    rows = []
    for name in args.models:
        spec = SHIPPED[name]
        method = spec["method"]
        iters = args.iterations if method == "ens2" else args.s2s_iterations
        extra = dict(spec.get("recipe", {}))
        if args.batch_size is not None:
            extra["batch_size"] = args.batch_size
        config = default_config(
            method,
            iterations=iters,
            noise_augment=spec["noise"],
            seed=args.seed,
            checkpoint_every=250 if method == "ens2" else 270,
            **extra,
        )
        folders = dataset_folders(
            args.data, include=spec.get("include"), exclude=spec.get("exclude")
        )
        # the matched recipe resamples every recording to each training rate itself
        data = (
            [str(f) for f in folders] if spec.get("recipe") else load_training_data(folders, config)
        )
        work = args.workdir / name
        ck = work / "checkpoint.pt"
        t0 = time.perf_counter()
        last = [0.0]

        def log(p, name=name, t0=t0, last=last):
            now = time.perf_counter()
            if p.values and ("val_loss" in p.values or now - last[0] > 60):
                last[0] = now
                vals = " ".join(f"{k}={v:.5f}" for k, v in p.values.items())
                print(f"[{name}] it {p.step}/{p.total} {vals} ({now - t0:.0f} s)", flush=True)
            elif not p.values:
                print(f"[{name}] {p.message} ({now - t0:.0f} s)", flush=True)

        res = drain(
            iter_train(
                data,
                config,
                out_dir=work,
                name=name,
                resume=ck if args.resume and ck.is_file() else None,
                num_threads=args.threads,
            ),
            callback=log,
        )
        elapsed = time.perf_counter() - t0
        card = dict(res.card)
        card["training"]["wall_time_s"] = round(elapsed, 1)
        card["training"]["command"] = command_line(None if argv is None else [__file__, *argv])
        args.out.mkdir(parents=True, exist_ok=True)
        save_model(res.network, card, args.out / name)
        rows.append(
            (
                name,
                method,
                len(folders),
                res.iterations_run,
                res.best_iteration,
                res.stopped_early,
                res.val_scores.get("median_corr", float("nan")),
                elapsed,
            )
        )
        print(
            json.dumps(
                {
                    "model": name,
                    "iterations": res.iterations_run,
                    "best_iteration": res.best_iteration,
                    "stopped_early": res.stopped_early,
                    "val_median_corr": res.val_scores.get("median_corr"),
                    "val_per_dataset": res.val_scores.get("per_dataset_median_corr"),
                    "wall_time_s": round(elapsed, 1),
                }
            ),
            flush=True,
        )

    print(
        "\n| model | method | datasets | iterations | best it. | early stop | val median Corr "
        "| time (s) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r[0]} | {r[1]} | {r[2]} | {r[3]} | {r[4]} | {r[5]} | {r[6]:.3f} | {r[7]:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
