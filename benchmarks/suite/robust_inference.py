"""Spike inference on the recordings users have: slower frame rates, noisier traces.

Leave-one-dataset-out over excitatory folds. For every fold the methods'
fold models are trained on the other excitatory datasets (or reused when
present in ``<workdir>/<fold>/``), then every recording of the test dataset
is degraded to every cell of frame rate × noise level ν (default
{7.5, 15, 30 Hz} × {ν 2, 4, 8}): resampled with
:func:`calcium_forge.inference.training.data.load_ground_truth` and given
calibrated Cascade-style noise (signal-dependent + white,
:func:`calcium_forge.inference.training.matched.degrade`) with a fixed seed
per trace; a trace already noisier than the cell's ν is skipped (and
counted). The "native" cell is the recording resampled to 60 Hz with no
added noise. Every method is scored on exactly the same traces:

* Corr — Pearson of predicted rate and true counts, both smoothed with a
  Gaussian of σ = 50 ms at the cell's rate;
* ER — 1 − F1 of the events (``infer_spikes(..., events=True)``, each
  model's calibrated event gain), 50 ms window;
* Bias — ∫(PD − GT) / ∫GT;
* false events per second in white-noise traces of ν 2, 4, 8, 15 at every
  cell rate and 60 Hz (10 traces × 120 s, fixed seeds).

Rows: ``matched`` (one ENS² U-Net trained on noise- and rate-matched windows,
conditioned on ν and rate: the issue's recipe, ``<workdir>/<fold>/matched/``,
resumable), ``cascade`` (the Cascade recipe: its published network, an
ensemble of 5, on the same matched windows at 30 Hz) and ``family`` (design
(a): one unconditioned ENS² per ν band at 30 Hz, each trace run through the
member of its measured ν) — both single-rate rows are trained at 30 Hz only
(``--single-rate-iterations`` each) and scored in the 30 Hz cells —
``ens2-raw`` and ``s2s-raw`` (today's recipes, the fold models of
``spike_inference.py``: same ``<workdir>/<fold>/ens2|s2s`` layout, so pointing
``--workdir`` at its folder reuses them), ``ens2-noise-augmented`` (ENS² with
white-noise augmentation up to ν 15), ``oasis``, and any model file given with
``--models name=method:path``. Results go to
``<workdir>/<fold>/robust_inference.json``; a rerun skips finished cells.
Tables pool the neurons of all folds given; the targets of the issue are
computed and printed as met / MISSED.

Run from the repository root; a smoke run on a tiny budget::

    python benchmarks/suite/robust_inference.py --folds DS10 --matched-iterations 50 \\
        --ens2-iterations 50 --s2s-iterations 50 --cells 30:4 native --noise-seconds 20 \\
        --max-neurons 4 --workdir benchmarks/out/robust_smoke

``--report-only`` prints the tables of the saved results again.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from _harness import GROUND_TRUTH, out_dir
from _robust_fold import (
    BUILTIN_METHODS,
    fold_folders,
    fold_rows,
    parse_model_spec,
    score_cell,
    score_noise,
)
from _robust_metrics import (
    NATIVE_HZ,
    Cell,
    TraceScores,
    degrade_to_cell,
    event_error_rate,
    false_event_rate,
    noise_only_traces,
    rate_bias,
    score_trace,
    smoothed_corr,
    trace_seed,
)
from _robust_report import print_report
from _robust_targets import TargetCheck, check_targets

__all__ = [
    "DEFAULT_CELLS",
    "DEFAULT_FOLDS",
    "Cell",
    "TargetCheck",
    "TraceScores",
    "build_parser",
    "check_targets",
    "degrade_to_cell",
    "event_error_rate",
    "false_event_rate",
    "main",
    "noise_only_traces",
    "rate_bias",
    "score_trace",
    "smoothed_corr",
    "trace_seed",
]

#: Excitatory test datasets: Cal-520, GCaMP6f (DS10, DS11), GCaMP6s (DS12, DS13), jGECO1a.
DEFAULT_FOLDS = ["DS03", "DS10", "DS11", "DS12", "DS13", "DS21"]
#: Frame rates (Hz) and noise levels (% / √Hz) of the degraded cells.
CELL_RATES_HZ = (7.5, 15.0, 30.0)
CELL_NUS = (2.0, 4.0, 8.0)
DEFAULT_CELLS = [f"{r:g}:{nu:g}" for r in CELL_RATES_HZ for nu in CELL_NUS] + ["native"]
#: Noise levels of the noise-only traces, % / √Hz.
NOISE_NUS = (2.0, 4.0, 8.0, 15.0)
RESULTS_NAME = "robust_inference.json"


def build_parser() -> argparse.ArgumentParser:
    """The benchmark's command-line options.

    Returns
    -------
    argparse.ArgumentParser
    """
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=GROUND_TRUTH, help="Cascade ground-truth root")
    ap.add_argument("--folds", nargs="+", default=DEFAULT_FOLDS, help="test dataset ids")
    ap.add_argument(
        "--methods", nargs="+", default=list(BUILTIN_METHODS), choices=BUILTIN_METHODS,
        help="built-in rows to run",
    )  # fmt: skip
    ap.add_argument(
        "--models", nargs="+", default=[], metavar="NAME=[METHOD:]PATH",
        help="extra rows from model files, e.g. cascade=cascade:models/cascade.pt "
        "(METHOD is passed to infer_spikes; default: the model card's)",
    )  # fmt: skip
    ap.add_argument(
        "--cells", nargs="+", default=DEFAULT_CELLS, metavar="RATE:NU",
        help="cells to score: RATE:NU (Hz, %% / √Hz) or 'native' (60 Hz, no noise added)",
    )  # fmt: skip
    ap.add_argument(
        "--noise-nus", nargs="+", type=float, default=list(NOISE_NUS),
        help="ν of the noise-only traces (%% / √Hz), at every cell rate and 60 Hz",
    )  # fmt: skip
    ap.add_argument("--noise-traces", type=int, default=10, help="noise-only traces per cell")
    ap.add_argument("--noise-seconds", type=float, default=120.0, help="length of each, s")
    ap.add_argument("--matched-iterations", type=int, default=12000)
    ap.add_argument("--matched-batch", type=int, default=512)
    ap.add_argument(
        "--matched-patience",
        type=int,
        default=2000,
        help="early stopping, iterations without a better validation loss (checked every 100)",
    )
    ap.add_argument("--checkpoint-every", type=int, default=500, help="matched model, iterations")
    ap.add_argument(
        "--single-rate-iterations", type=int, default=3000,
        help="iteration budget of each single-rate model (cascade row, each family member)",
    )  # fmt: skip
    ap.add_argument("--ens2-iterations", type=int, default=5000)
    ap.add_argument("--s2s-iterations", type=int, default=5000)
    ap.add_argument(
        "--train-include", nargs="+", default=None, metavar="DSxx",
        help="restrict every fold's training pool to these datasets (smoke runs)",
    )  # fmt: skip
    ap.add_argument("--max-neurons", type=int, default=None, help="test neurons per fold (smoke)")
    ap.add_argument("--mode", choices=["exact", "fast"], default="exact", help="ENS² windows")
    ap.add_argument("--threads", type=int, default=1, help="torch threads")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--candidate", default="matched", help="row the targets are checked for")
    ap.add_argument("--workdir", type=Path, default=out_dir("loo"), help="fold models, results")
    ap.add_argument(
        "--report-only", action="store_true", help="print the tables of the saved results"
    )
    return ap


def _scoring_settings(args: argparse.Namespace) -> dict:
    """Settings that change the scores; saved results with other settings are recomputed."""
    return {
        "seed": args.seed,
        "mode": args.mode,
        "max_neurons": args.max_neurons,
        "noise_traces": args.noise_traces,
        "noise_seconds": args.noise_seconds,
    }


def _load_fold(path: Path, ds: str, settings: dict) -> dict:
    """Saved results of a fold, or a new record; scores made with other settings are dropped."""
    fold = json.loads(path.read_text()) if path.is_file() else {"fold": ds}
    if fold.get("scoring", settings) != settings:
        print(f"[{ds}] scoring settings changed: previous scores dropped", flush=True)
        fold["cells"], fold["noise_only"] = {}, {}
    fold["scoring"] = settings
    fold.setdefault("cells", {})
    fold.setdefault("noise_only", {})
    fold.setdefault("models", {})
    return fold


def _drop_stale_methods(fold: dict, facts: dict[str, dict]) -> None:
    """Forget a method's scores when its model is not the one that made them."""
    for name, now in facts.items():
        before = fold["models"].get(name)
        if before is not None and before.get("identity") != now.get("identity"):
            print(f"[{fold['fold']}] {name}: model changed, its scores are recomputed", flush=True)
            for group in ("cells", "noise_only"):
                for entry in fold[group].values():
                    entry.get("methods", {}).pop(name, None)
        fold["models"][name] = now


class _FoldClock:
    """Adds the CPU (``time.process_time``) and wall time since the last save to a fold."""

    def __init__(self, fold: dict, path: Path) -> None:
        self.fold, self.path = fold, path
        self.cpu, self.wall = time.process_time(), time.perf_counter()
        fold.setdefault("cpu_s", 0.0)
        fold.setdefault("wall_s", 0.0)

    def save(self) -> None:
        """Book the elapsed time and write the fold's results atomically."""
        cpu, wall = time.process_time(), time.perf_counter()
        self.fold["cpu_s"] += cpu - self.cpu
        self.fold["wall_s"] += wall - self.wall
        self.cpu, self.wall = cpu, wall
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(self.fold, indent=1))
        tmp.replace(self.path)


def run_fold(ds: str, args: argparse.Namespace, cells: list[Cell], extra: dict) -> dict:
    """Train or load the fold's models, score every cell and noise-only cell; return the fold.

    Parameters
    ----------
    ds : str
        Test dataset id.
    args : argparse.Namespace
        Options of :func:`build_parser`.
    cells : list of Cell
        Cells to score.
    extra : dict
        Extra rows: name → (method, path).

    Returns
    -------
    dict
        The fold's results (also written to ``<workdir>/<ds>/robust_inference.json``).
    """
    from calcium_forge.inference.training.data import load_ground_truth

    path = args.workdir / ds / RESULTS_NAME
    fold = _load_fold(path, ds, _scoring_settings(args))
    clock = _FoldClock(fold, path)
    test_folder, train_folders = fold_folders(args.data, ds, args.train_include)
    fold["test"], fold["train"] = test_folder.name, [p.name for p in train_folders]
    rows, facts = fold_rows(ds, train_folders, args, extra)
    _drop_stale_methods(fold, facts)
    clock.save()
    test_files = sorted(test_folder.glob("*.mat"))[: args.max_neurons]
    by_rate: dict[float, object] = {}
    for cell in cells:
        if cell.fs_hz not in by_rate:
            by_rate[cell.fs_hz] = load_ground_truth(test_files, fs_hz=cell.fs_hz)
        entry = fold["cells"].setdefault(cell.key, {"fs_hz": cell.fs_hz, "nu": cell.nu})
        todo = [r for r in rows if r.name not in entry.setdefault("methods", {})]
        todo = [r for r in todo if r.scores_at(cell.fs_hz)]
        if not todo:
            print(f"[{ds}] {cell.key}: done before, skipped", flush=True)
            continue
        score_cell(entry, cell, by_rate[cell.fs_hz], todo, args)
        clock.save()
        print(f"[{ds}] {cell.key}: " + _cell_line(entry, todo), flush=True)
    for fs in sorted({c.fs_hz for c in cells} | {NATIVE_HZ}):
        for nu in args.noise_nus:
            key = Cell(fs, nu).key
            entry = fold["noise_only"].setdefault(key, {"fs_hz": fs, "nu": nu})
            todo = [r for r in rows if r.name not in entry.setdefault("methods", {})]
            todo = [r for r in todo if r.scores_at(fs)]
            if todo:
                score_noise(entry, fs, nu, todo, args)
                clock.save()
    print(f"[{ds}] CPU {fold['cpu_s']:.0f} s, wall {fold['wall_s']:.0f} s", flush=True)
    return fold


def _cell_line(entry: dict, rows) -> str:
    """One progress line: each new row's median Corr and ER over the cell's neurons."""
    parts = []
    for r in rows:
        vals = list(entry["methods"][r.name].values())
        corr = np.nanmedian([np.nan if v["corr"] is None else v["corr"] for v in vals] or [np.nan])
        er = np.nanmedian([np.nan if v["er"] is None else v["er"] for v in vals] or [np.nan])
        parts.append(f"{r.name} Corr {corr:.3f} ER {er:.3f}")
    skipped = entry.get("n_skipped_noisier", 0)
    return "; ".join(parts) + f" ({entry.get('n_traces', 0)} traces, {skipped} skipped)"


def _rows_in(folds: dict[str, dict], first: list[str]) -> tuple[list[str], tuple[str, ...]]:
    """Rows to print (``first``, then any other row with saved scores) and the Cascade rows."""
    names, cascade = list(first), []
    for fold in folds.values():
        for name, facts in fold.get("models", {}).items():
            if name not in names:
                names.append(name)
            if (name == "cascade" or facts.get("method") == "cascade") and name not in cascade:
                cascade.append(name)
    return names, tuple(cascade)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print the tables and the targets.

    Parameters
    ----------
    argv : list of str, optional
        Command-line arguments (options of :func:`build_parser`; default ``sys.argv``).

    Returns
    -------
    int
        Exit status (0).
    """
    args = build_parser().parse_args(argv)
    cells = sorted({Cell.parse(c) for c in args.cells}, key=lambda c: (c.nu is None, c.fs_hz, c.nu))
    extra = dict(parse_model_spec(s) for s in args.models)
    if not args.report_only:
        import torch

        torch.set_num_threads(args.threads)
    folds = {}
    for ds in args.folds:
        path = args.workdir / ds / RESULTS_NAME
        if args.report_only:
            if path.is_file():
                folds[ds] = json.loads(path.read_text())
            continue
        folds[ds] = run_fold(ds, args, cells, extra)
    methods, cascade_rows = _rows_in(folds, [*args.methods, *extra])
    print_report(
        folds, methods, Cell(NATIVE_HZ, None).key, candidate=args.candidate,
        cascade_rows=cascade_rows,
    )  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
