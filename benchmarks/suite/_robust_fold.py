"""One fold of the robust spike-inference benchmark: its models and its scores.

:func:`fold_rows` trains or loads the fold's models (the rows of the tables);
:func:`score_cell` runs every row on the same degraded recordings of one cell
and :func:`score_noise` on the same noise-only traces. Models live in
``<workdir>/<fold>/<row folder>/`` (``matched``, ``ens2``, ``s2s``,
``ens2-noise-augmented``); a model file that is already there is reused, and
the matched model resumes from its ``checkpoint.pt``.
"""

from __future__ import annotations

import argparse
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from _robust_metrics import degrade_to_cell, false_event_rate, noise_only_traces, score_trace
from _robust_metrics import trace_seed as _trace_seed

from calcium_forge.errors import InvalidInputError, ModelError
from calcium_forge.inference.training.data import INHIBITORY_DATASETS, dataset_folders

__all__ = [
    "BUILTIN_METHODS",
    "MATCHED_NU_RANGE",
    "MATCHED_RATES_HZ",
    "Row",
    "fold_folders",
    "fold_rows",
    "matched_config",
    "parse_model_spec",
    "run_method",
    "score_cell",
    "score_noise",
]

#: Built-in rows, in table order.
BUILTIN_METHODS = (
    "matched", "cascade", "family", "ens2-raw", "s2s-raw", "ens2-noise-augmented", "oasis",
)  # fmt: skip
#: Rate (Hz) of the single-rate rows: the Cascade recipe and the model family (design (a)),
#: each trained at this rate only and scored in its cells (and its noise-only cells).
SINGLE_RATE_HZ = 30.0
#: The family's ν bands (% / √Hz): one unconditioned ENS² per band, chosen per trace by
#: its measured ν (Cascade's design: a model per rate and noise level).
FAMILY_NU_BANDS = ((0.5, 3.0), (3.0, 6.0), (6.0, 15.0))
#: The conditioned recipe: training rates (Hz) and target ν range (% / √Hz).
MATCHED_RATES_HZ = (7.5, 15.0, 30.0, 60.0)
MATCHED_NU_RANGE = (0.5, 15.0)
#: Share of white noise in the added variance (training and degraded test traces alike).
WHITE_FRACTION = 0.5
#: Recordings with fewer finite frames at the cell's rate are not scored.
MIN_FINITE_FRAMES = 100
#: Today's recipes: row → (method, folder under the fold, white-noise augmentation).
RAW_RECIPES = {
    "ens2-raw": ("ens2", "ens2", False),
    "s2s-raw": ("s2s", "s2s", False),
    "ens2-noise-augmented": ("ens2", "ens2-noise-augmented", True),
}


@dataclass
class Row:
    """One method of the tables.

    Attributes
    ----------
    name : str
        Row name (``"matched"``, ``"oasis"``, a ``--models`` name).
    method : str
        ``method`` argument of :func:`calcium_forge.inference.infer_spikes`.
    model : LoadedModel, str or None
        ``model`` argument (None for OASIS).
    """

    name: str
    method: str
    model: Any = None
    rates_hz: tuple[float, ...] | None = None

    def scores_at(self, fs_hz: float) -> bool:
        """Whether the row is scored at ``fs_hz`` (single-rate rows only at their rate)."""
        return self.rates_hz is None or any(abs(fs_hz - r) < 1e-6 for r in self.rates_hz)


def parse_model_spec(text: str) -> tuple[str, tuple[str | None, str]]:
    """Read a ``--models`` entry ``NAME=METHOD:PATH`` or ``NAME=PATH``.

    Parameters
    ----------
    text : str
        The entry.

    Returns
    -------
    (str, (str or None, str))
        Row name, and (method, or None to take the model card's; model path).
    """
    name, sep, rest = text.partition("=")
    if not sep or not name or not rest:
        raise InvalidInputError(f"--models: {text!r} is not NAME=METHOD:PATH or NAME=PATH")
    method, colon, path = rest.partition(":")
    if not colon or os.sep in method or Path(rest).exists():
        method, path = None, rest
    return name, (method, path)


def fold_folders(data: Path, ds: str, include: list[str] | None = None) -> tuple[Path, list[Path]]:
    """Test folder of a fold and its training folders (the other excitatory datasets).

    Parameters
    ----------
    data : pathlib.Path
        Ground-truth root.
    ds : str
        Test dataset id.
    include : list of str, optional
        Restrict the training pool to these dataset ids.

    Returns
    -------
    (pathlib.Path, list of pathlib.Path)
    """
    found = dataset_folders(data, include=[ds])
    if len(found) != 1:
        raise InvalidInputError(f"--folds: dataset {ds!r} not found (once) under {data}")
    if ds in INHIBITORY_DATASETS:
        raise InvalidInputError(f"--folds: {ds} is inhibitory; this benchmark is excitatory only")
    pool = dataset_folders(data, include=include, exclude=INHIBITORY_DATASETS)
    return found[0], [p for p in pool if p != found[0]]


def matched_config(args: argparse.Namespace):
    """The issue's recipe: one conditioned ENS² on noise- and rate-matched windows.

    Parameters
    ----------
    args : argparse.Namespace
        Gives ``matched_iterations``, ``matched_batch``, ``matched_patience``, ``seed``,
        ``checkpoint_every``.

    Returns
    -------
    SpikeTrainConfig
    """
    from calcium_forge.inference.training import default_config

    return default_config(
        "ens2", iterations=args.matched_iterations, batch_size=args.matched_batch,
        seed=args.seed, noise_matched=True, conditioned=True, train_rates_hz=MATCHED_RATES_HZ,
        nu_range=MATCHED_NU_RANGE, white_fraction=WHITE_FRACTION, fs_hz=30.0,
        checkpoint_every=args.checkpoint_every, patience=args.matched_patience, val_every=100,
    )  # fmt: skip


def single_rate_config(method: str, args: argparse.Namespace, nu_range: tuple[float, float]):
    """A single-rate noise-matched recipe at :data:`SINGLE_RATE_HZ` (Cascade or a family member).

    Parameters
    ----------
    method : {"cascade", "ens2"}
        The Cascade recipe, or an unconditioned ENS² member of the family.
    args : argparse.Namespace
        Gives ``single_rate_iterations``, ``matched_patience``, ``seed``, ``checkpoint_every``.
    nu_range : (float, float)
        Target ν range, % / √Hz.

    Returns
    -------
    SpikeTrainConfig
    """
    from calcium_forge.inference.training import default_config

    # family members get the matched model's batch; Cascade keeps its own recipe's
    batch = {"batch_size": args.matched_batch} if method == "ens2" else {}
    return default_config(
        method, iterations=args.single_rate_iterations, seed=args.seed, noise_matched=True, **batch,
        train_rates_hz=(SINGLE_RATE_HZ,), nu_range=tuple(nu_range), white_fraction=WHITE_FRACTION,
        fs_hz=SINGLE_RATE_HZ, checkpoint_every=args.checkpoint_every,
        patience=args.matched_patience, val_every=100,
    )  # fmt: skip


def _train_single(config, train_folders: list[Path], folder: Path, name: str, args):
    """Train (or reuse, or resume) one single-rate model in ``folder``; return it and reuse."""
    from calcium_forge.inference.registry import load_model
    from calcium_forge.inference.training import iter_train
    from calcium_forge.progress import drain

    path, checkpoint = folder / f"{name}.pt", folder / "checkpoint.pt"
    if path.is_file():
        model = load_model(path)
        t = model.card["training"]
        if t.get("stopped_early") or t.get("iterations_run", 0) >= config.iterations:
            return model, True
    resume = checkpoint if checkpoint.is_file() else None
    print(f"  {name}: {'resuming' if resume else 'training'} ({config.iterations} it.)", flush=True)
    gen = iter_train(
        [str(p) for p in train_folders], config, out_dir=folder, name=name, resume=resume,
        num_threads=args.threads, score_validation=False,
    )  # fmt: skip
    res = drain(gen, callback=_reporter(name))
    return load_model(res.model_path), False


@dataclass
class Family:
    """Design (a): single-rate ENS² models by ν band, one chosen per trace by its measured ν.

    Attributes
    ----------
    bands : tuple of (float, float)
        ν bands, % / √Hz, in the order of ``models``.
    models : list of LoadedModel
        One model per band.
    """

    bands: tuple
    models: list

    def pick(self, nu: float):
        """The member whose band holds ``nu`` (the nearest band outside them all)."""
        centres = [0.5 * (lo + hi) for lo, hi in self.bands]
        for (lo, hi), m in zip(self.bands, self.models, strict=True):
            if lo <= nu < hi:
                return m
        return self.models[int(np.argmin([abs(np.log(nu / c)) for c in centres]))]


def _train_family(train_folders: list[Path], work: Path, args) -> tuple[Family, bool]:
    """The fold's family: one ENS² per ν band of :data:`FAMILY_NU_BANDS`."""
    models, reused = [], True
    for lo, hi in FAMILY_NU_BANDS:
        name = f"loo-family-nu{lo:g}-{hi:g}"
        config = single_rate_config("ens2", args, (lo, hi))
        m, r = _train_single(config, train_folders, work / "family" / name, name, args)
        models.append(m)
        reused = reused and r
    return Family(FAMILY_NU_BANDS, models), reused


def _reporter(label: str, every: int = 500):
    """A ``drain`` callback printing a training run's iteration every ``every`` steps."""
    last = [0]

    def report(p) -> None:
        """Print ``p.step`` when ``every`` steps have passed since the last print."""
        if p.step - last[0] >= every:
            last[0] = p.step
            print(f"  {label}: iteration {p.step}/{p.total}", flush=True)

    return report


def _train_matched(train_folders: list[Path], folder: Path, args: argparse.Namespace):
    """The fold's matched model: reused when trained to the budget, else resumed or trained."""
    from calcium_forge.inference.registry import load_model
    from calcium_forge.inference.training import iter_train
    from calcium_forge.progress import drain

    config = matched_config(args)
    path, checkpoint = folder / "loo-matched.pt", folder / "checkpoint.pt"
    if path.is_file():
        model = load_model(path)
        t = model.card["training"]
        if t.get("stopped_early") or t.get("iterations_run", 0) >= config.iterations:
            return model, True
    resume = checkpoint if checkpoint.is_file() else None
    print(
        f"  matched: {'resuming' if resume else 'training'} ({config.iterations} iterations)",
        flush=True,
    )
    gen = iter_train(
        [str(p) for p in train_folders], config, out_dir=folder, name="loo-matched",
        resume=resume, num_threads=args.threads, score_validation=False,
    )  # fmt: skip
    res = drain(gen, callback=_reporter("matched"))
    return load_model(res.model_path), False


def _train_raw(row: str, train_folders: list[Path], work: Path, args: argparse.Namespace):
    """Today's recipes as in ``spike_inference.py`` (its ``_train_fold``), reused when present."""
    from spike_inference import _train_fold

    from calcium_forge.inference.registry import load_model

    method, sub, noise = RAW_RECIPES[row]
    path = work / sub / f"loo-{method}.pt"
    if path.is_file():
        model, reused = load_model(path), True
    else:
        iterations = args.ens2_iterations if method == "ens2" else args.s2s_iterations
        print(f"  {row}: training ({iterations} iterations)", flush=True)
        model, _ = _train_fold(
            method, train_folders, iterations, work / sub, args.seed, args.threads, noise=noise
        )
        reused = False
    t = model.card.get("training", {})
    augmented = bool(t.get("noise_augmentation", {}).get("enabled"))
    if augmented != noise or t.get("noise_matching", {}).get("enabled"):
        raise ModelError(
            f"{path} was not trained with the {row} recipe (noise augmentation {augmented}); "
            "point --workdir at a folder without it, or move it away"
        )
    return model, reused


def _facts(model, reused: bool) -> dict:
    """What identifies a fold model and how it was trained (stored with the scores)."""
    t = model.card.get("training", {})
    return {
        "identity": [
            str(Path(model.path).resolve()),
            model.card.get("date"),
            t.get("iterations_run"),
        ],
        "reused": reused,
        "datasets": t.get("datasets"),
        "iteration_budget": t.get("iteration_budget"),
        "iterations_run": t.get("iterations_run"),
        "best_iteration": t.get("best_iteration"),
        "event_gain": (model.card.get("events") or {}).get("gain"),
    }


def fold_rows(
    ds: str, train_folders: list[Path], args: argparse.Namespace, extra: dict
) -> tuple[list[Row], dict[str, dict]]:
    """The rows of a fold: trained, reused or loaded models, in table order.

    Parameters
    ----------
    ds : str
        Test dataset id.
    train_folders : list of pathlib.Path
        Training datasets.
    args : argparse.Namespace
        Options of the script.
    extra : dict
        ``--models`` rows: name → (method or None, path).

    Returns
    -------
    (list of Row, dict)
        Rows, and per row the facts of its model (identity, training).
    """
    from calcium_forge.inference.registry import load_model

    work = args.workdir / ds
    rows, facts = [], {}
    for name in args.methods:
        if name == "oasis":
            rows.append(Row("oasis", "oasis"))
            facts[name] = {"identity": ["oasis"], "method": "oasis"}
            continue
        if name == "family":
            family, reused = _train_family(train_folders, work, args)
            rows.append(Row(name, "ens2", family, (SINGLE_RATE_HZ,)))
            facts[name] = {
                "identity": [_facts(m, True)["identity"] for m in family.models],
                "method": "ens2", "bands": [list(b) for b in family.bands], "reused": reused,
                "iterations_run": [m.card["training"].get("iterations_run") for m in family.models],
            }  # fmt: skip
            print(f"[{ds}] family: {'reused' if reused else 'trained'}", flush=True)
            continue
        if name == "matched":
            model, reused = _train_matched(train_folders, work / "matched", args)
        elif name == "cascade":
            config = single_rate_config("cascade", args, MATCHED_NU_RANGE)
            model, reused = _train_single(
                config, train_folders, work / "cascade", "loo-cascade", args
            )
        else:
            model, reused = _train_raw(name, train_folders, work, args)
        rates = (SINGLE_RATE_HZ,) if name == "cascade" else None
        rows.append(Row(name, model.method, model, rates))
        facts[name] = {**_facts(model, reused), "method": model.method}
        f = facts[name]
        print(
            f"[{ds}] {name}: {'reused' if reused else 'trained'} {model.path} "
            f"({f['iterations_run']} of {f['iteration_budget']} iterations)",
            flush=True,
        )
    for name, (method, path) in extra.items():
        if method is None or method in ("ens2", "s2s"):
            model = load_model(path)
            rows.append(Row(name, method or model.method, model))
        else:  # a method infer_spikes knows by name loads its own model file
            rows.append(Row(name, method, path))
        stat = Path(path).stat()
        facts[name] = {
            "identity": [str(Path(path).resolve()), stat.st_size, stat.st_mtime],
            "method": rows[-1].method,
        }
    return rows, facts


def run_method(row: Row, dff: np.ndarray, fs_hz: float, args: argparse.Namespace):
    """Rates (spikes/s, one row per trace) and event times (s, per trace) of one row.

    Parameters
    ----------
    row : Row
        The method and its model.
    dff : numpy.ndarray
        (n_frames,) or (n_traces, n_frames) dF/F at ``fs_hz``.
    fs_hz : float
        Frame rate, Hz.
    args : argparse.Namespace
        Gives ``threads`` and ``mode``.

    Returns
    -------
    (numpy.ndarray, list of numpy.ndarray)
    """
    from calcium_forge.inference.api import infer_spikes
    from calcium_forge.inference.matching import OutsideTrainedRangeWarning

    opts = {} if row.method == "oasis" else {"num_threads": args.threads, "mode": args.mode}
    if isinstance(row.model, Family):
        return _run_family(row.model, dff, fs_hz, opts)
    with warnings.catch_warnings():  # degraded cells lie outside the raw models' range on purpose
        warnings.simplefilter("ignore", OutsideTrainedRangeWarning)
        res = infer_spikes(dff, fs_hz=fs_hz, method=row.method, model=row.model, **opts)
    return res.rate_hz, res.events


def _run_family(family: Family, dff: np.ndarray, fs_hz: float, opts: dict):
    """Each trace through the family member of its measured ν (Cascade's per-ROI choice)."""
    from calcium_forge.inference.api import infer_spikes
    from calcium_forge.inference.matching import OutsideTrainedRangeWarning
    from calcium_forge.signal import noise_level

    x = np.atleast_2d(np.asarray(dff, dtype=np.float64))
    nus = noise_level(x, fs_hz)
    rates, events = np.full(x.shape, np.nan), [None] * x.shape[0]
    for i, nu in enumerate(nus):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", OutsideTrainedRangeWarning)
            res = infer_spikes(x[i : i + 1], fs_hz=fs_hz, model=family.pick(float(nu)), **opts)
        rates[i], events[i] = res.rate_hz[0], res.events[0]
    return rates, events


def _mean_scores(scores: list) -> dict:
    """Mean Corr / ER / Bias over a neuron's recordings (None where all are NaN)."""
    out = {}
    for key in ("corr", "er", "bias"):
        a = np.array([getattr(s, key) for s in scores], dtype=np.float64)
        out[key] = float(np.nanmean(a)) if np.isfinite(a).any() else None
    return out


def score_cell(entry: dict, cell, paired, rows: list[Row], args: argparse.Namespace) -> None:
    """Degrade every recording to ``cell`` once and score every row on it (fills ``entry``).

    Parameters
    ----------
    entry : dict
        The cell's results; gets ``methods[row][neuron] = {corr, er, bias}``
        (means over the neuron's recordings) and the trace counts.
    cell : Cell
        Rate and target ν.
    paired : PairedData
        The test recordings at the cell's rate.
    rows : list of Row
        Rows still to score in this cell.
    args : argparse.Namespace
        Gives ``seed``, ``threads``, ``mode``.
    """
    scores: dict[str, dict[str, list]] = {r.name: {} for r in rows}
    counts = {"n_traces": 0, "n_skipped_noisier": 0, "n_unusable": 0}
    reached, seen = [], {}
    for trace in paired.traces:
        k = seen[trace.neuron] = seen.get(trace.neuron, -1) + 1
        if np.isfinite(trace.dff).sum() < MIN_FINITE_FRAMES or trace.spike_times_s.size == 0:
            counts["n_unusable"] += 1
            continue
        seed = _trace_seed(args.seed, trace.neuron, k, cell)
        degraded = degrade_to_cell(trace, cell.nu, seed, WHITE_FRACTION)
        if degraded is None:
            counts["n_skipped_noisier"] += 1
            continue
        counts["n_traces"] += 1
        reached.append(degraded.nu)
        for r in rows:
            rate, events = run_method(r, degraded.dff, degraded.fs_hz, args)
            score = score_trace(degraded, rate[0], None if events is None else events[0])
            scores[r.name].setdefault(trace.neuron, []).append(score)
    for name, by_neuron in scores.items():
        entry["methods"][name] = {n: _mean_scores(s) for n, s in by_neuron.items()}
    entry.update(counts)
    entry["nu_reached_median"] = float(np.median(reached)) if reached else None


def score_noise(entry: dict, fs_hz: float, nu: float, rows: list[Row], args) -> None:
    """False events per second of every row in the same noise-only traces (fills ``entry``).

    Parameters
    ----------
    entry : dict
        The noise-only cell's results; gets ``methods[row] = events/s``.
    fs_hz : float
        Frame rate, Hz.
    nu : float
        Noise level, % / √Hz.
    rows : list of Row
        Rows still to score.
    args : argparse.Namespace
        Gives ``noise_traces``, ``noise_seconds``, ``seed``, ``threads``, ``mode``.
    """
    x = noise_only_traces(fs_hz, nu, args.noise_traces, args.noise_seconds, args.seed)
    duration = x.shape[1] / fs_hz
    for r in rows:
        _, events = run_method(r, x, fs_hz, args)
        entry["methods"][r.name] = false_event_rate(events, duration)
    entry.update(n_traces=int(x.shape[0]), seconds=duration)
