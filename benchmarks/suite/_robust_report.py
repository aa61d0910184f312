"""Tables and the target summary of the robust spike-inference benchmark.

Reads the per-fold results that :mod:`robust_inference` writes and prints
Markdown: one table per frame rate (rows = methods; Corr, ER and Bias at each
ν), the native 60 Hz table with each fold's ER beside the ENS² authors', the
noise-only false-event table, each fold's CPU and wall time, and the targets
(:func:`_robust_targets.check_targets`) marked met / MISSED.

Medians are over all test neurons of the folds given (every neuron belongs to
one fold); false events per second are the worst fold's.
"""

from __future__ import annotations

import numpy as np
from _robust_targets import ENS2_LOO_ER, TargetCheck, check_targets

__all__ = [
    "cell_order",
    "native_er_by_fold",
    "pooled_medians",
    "print_report",
    "worst_false_events",
]

METRICS = ("corr", "er", "bias")


def cell_order(key: str, entry: dict) -> tuple:
    """Sort key of a cell: by rate, then ν, the native cell last.

    Parameters
    ----------
    key : str
        Cell key.
    entry : dict
        The cell's results (``fs_hz`` in Hz, ``nu`` in % / √Hz or None).

    Returns
    -------
    tuple
    """
    nu = entry.get("nu")
    return (nu is None, entry.get("fs_hz", 0.0), nu or 0.0, key)


def pooled_medians(folds: dict[str, dict]) -> dict[str, dict[str, dict[str, float]]]:
    """Median over all neurons of all folds, per cell and method.

    Parameters
    ----------
    folds : dict
        fold id → fold results (as written by :mod:`robust_inference`).

    Returns
    -------
    dict
        cell key → method → ``{"corr", "er", "bias"}`` medians and ``"n"`` neurons.
    """
    values: dict[str, dict[str, list]] = {}
    for fold in folds.values():
        for key, entry in fold.get("cells", {}).items():
            for method, by_neuron in entry.get("methods", {}).items():
                values.setdefault(key, {}).setdefault(method, []).extend(by_neuron.values())
    out: dict[str, dict[str, dict[str, float]]] = {}
    for key, by_method in values.items():
        for method, rows in by_method.items():
            med = {
                m: _nanmedian([np.nan if r.get(m) is None else r[m] for r in rows]) for m in METRICS
            }
            med["n"] = len(rows)
            out.setdefault(key, {})[method] = med
    return out


def _nanmedian(values: list) -> float:
    a = np.asarray(values, dtype=np.float64)
    return float(np.nanmedian(a)) if np.isfinite(a).any() else float("nan")


def native_er_by_fold(folds: dict[str, dict], native_key: str) -> dict[str, dict[str, float]]:
    """Median ER of each method in the native cell, per fold.

    Parameters
    ----------
    folds : dict
        fold id → fold results.
    native_key : str
        Key of the native cell (``"native-60Hz"``).

    Returns
    -------
    dict
        fold id → method → median ER over the fold's neurons.
    """
    out = {}
    for ds, fold in folds.items():
        entry = fold.get("cells", {}).get(native_key)
        if entry:
            out[ds] = pooled_medians({ds: {"cells": {native_key: entry}}})[native_key]
            out[ds] = {m: v["er"] for m, v in out[ds].items()}
    return out


def worst_false_events(folds: dict[str, dict]) -> dict[str, dict[str, float]]:
    """The highest false-event rate over folds, per noise-only cell and method (events/s).

    Parameters
    ----------
    folds : dict
        fold id → fold results.

    Returns
    -------
    dict
        noise-only key → method → events/s (maximum over folds).
    """
    out: dict[str, dict[str, float]] = {}
    for fold in folds.values():
        for key, entry in fold.get("noise_only", {}).items():
            for method, rate in entry.get("methods", {}).items():
                prev = out.setdefault(key, {}).get(method, -np.inf)
                out[key][method] = max(prev, float(rate))
    return out


def _fmt(value: float | None, signed: bool = False) -> str:
    if value is None or not np.isfinite(value):
        return "–"
    return f"{value:+.3f}" if signed else f"{value:.3f}"


def _all_cells(folds: dict[str, dict]) -> dict[str, dict]:
    cells: dict[str, dict] = {}
    for fold in folds.values():
        for key, entry in fold.get("cells", {}).items():
            cells.setdefault(key, entry)
    return dict(sorted(cells.items(), key=lambda kv: cell_order(*kv)))


def _skips(folds: dict[str, dict], key: str) -> tuple[int, int]:
    """(traces scored, traces skipped as already noisier) of a cell over folds."""
    n = sum(f.get("cells", {}).get(key, {}).get("n_traces", 0) for f in folds.values())
    s = sum(f.get("cells", {}).get(key, {}).get("n_skipped_noisier", 0) for f in folds.values())
    return n, s


def print_rate_tables(folds: dict[str, dict], methods: list[str], med: dict) -> None:
    """One table per frame rate: rows = methods, Corr / ER / Bias at each ν.

    Parameters
    ----------
    folds : dict
        fold id → fold results.
    methods : list of str
        Rows, in order.
    med : dict
        :func:`pooled_medians` of ``folds``.
    """
    cells = {k: e for k, e in _all_cells(folds).items() if e.get("nu") is not None}
    for fs in sorted({e["fs_hz"] for e in cells.values()}):
        keys = [k for k, e in cells.items() if e["fs_hz"] == fs]
        nus = [cells[k]["nu"] for k in keys]
        print(f"\n### {fs:g} Hz (medians over test neurons; Corr at σ 50 ms, ER 50 ms window)\n")
        head = " | ".join(f"ν{nu:g} Corr | ν{nu:g} ER | ν{nu:g} Bias" for nu in nus)
        print(f"| method | {head} |")
        print("|---|" + "---|" * (3 * len(keys)))
        for m in methods:
            vals = []
            for k in keys:
                v = med.get(k, {}).get(m, {})
                vals += [_fmt(v.get("corr")), _fmt(v.get("er")), _fmt(v.get("bias"), True)]
            print(f"| {m} | " + " | ".join(vals) + " |")
        counts = []
        for k, nu in zip(keys, nus, strict=True):
            n, s = _skips(folds, k)
            n_neurons = max((v.get("n", 0) for v in med.get(k, {}).values()), default=0)
            counts.append(f"ν{nu:g}: {n_neurons} neurons, {n} traces, {s} skipped (noisier)")
        print("\n" + "; ".join(counts))


def print_native_table(folds: dict[str, dict], methods: list[str], med: dict, key: str) -> None:
    """The native 60 Hz cell: pooled Corr / ER / Bias and each fold's ER.

    Parameters
    ----------
    folds, methods, med
        As in :func:`print_rate_tables`.
    key : str
        Key of the native cell.
    """
    if not any(key in f.get("cells", {}) for f in folds.values()):
        return
    by_fold = native_er_by_fold(folds, key)
    ds = list(by_fold)
    print(f"\n### native ({key}: recordings resampled, no noise added)\n")
    print("| method | Corr | ER | Bias | " + " | ".join(f"ER {d}" for d in ds) + " |")
    print("|---|---|---|---|" + "---|" * len(ds))
    for m in methods:
        v = med.get(key, {}).get(m, {})
        per = [_fmt(by_fold[d].get(m)) for d in ds]
        cols = [_fmt(v.get("corr")), _fmt(v.get("er")), _fmt(v.get("bias"), True), *per]
        print(f"| {m} | " + " | ".join(cols) + " |")
    authors = [_fmt(ENS2_LOO_ER.get(d)) for d in ds]
    print("| ENS² authors (LOO) | – | – | – | " + " | ".join(authors) + " |")


def print_noise_table(folds: dict[str, dict], methods: list[str]) -> None:
    """False events per second in noise-only traces (worst fold), rows = method × rate.

    Parameters
    ----------
    folds : dict
        fold id → fold results.
    methods : list of str
        Rows, in order.
    """
    worst = worst_false_events(folds)
    entries = {}
    for fold in folds.values():
        entries.update(fold.get("noise_only", {}))
    if not entries:
        return
    rates = sorted({e["fs_hz"] for e in entries.values()})
    nus = sorted({e["nu"] for e in entries.values()})
    print("\n### noise-only: false events per second (white noise of ν; worst fold)\n")
    print("| method | rate | " + " | ".join(f"ν{nu:g}" for nu in nus) + " |")
    print("|---|---|" + "---|" * len(nus))
    for m in methods:
        for fs in rates:
            keys = [k for k, e in entries.items() if e["fs_hz"] == fs]
            by_nu = {entries[k]["nu"]: worst.get(k, {}).get(m) for k in keys}
            print(f"| {m} | {fs:g} Hz | " + " | ".join(_fmt(by_nu.get(nu)) for nu in nus) + " |")


def print_times(folds: dict[str, dict]) -> None:
    """Each fold's CPU seconds (``time.process_time``) and wall time, summed over runs.

    Parameters
    ----------
    folds : dict
        fold id → fold results (``cpu_s``, ``wall_s`` in s).
    """
    print("\n### time per fold (training and scoring, summed over resumed runs)\n")
    print("| fold | test dataset | CPU s | wall s |")
    print("|---|---|---|---|")
    for ds, fold in folds.items():
        print(
            f"| {ds} | {fold.get('test', '?')} | {fold.get('cpu_s', 0.0):.0f} | "
            f"{fold.get('wall_s', 0.0):.0f} |"
        )


def print_targets(checks: list[TargetCheck], candidate: str) -> None:
    """The targets, each with its measured value and met / MISSED / n/a.

    Parameters
    ----------
    checks : list of TargetCheck
        From :func:`_robust_targets.check_targets`.
    candidate : str
        The row they are for.
    """
    print(f"\n### targets for `{candidate}`\n")
    print("| target | value | threshold | result |")
    print("|---|---|---|---|")
    for c in checks:
        print(f"| {c.name} | {_fmt(c.value)} | {_fmt(c.threshold)} | {c.status} |")
    status = [c.status for c in checks]
    print(
        f"\n{status.count('met')} met, {status.count('MISSED')} MISSED, "
        f"{status.count('n/a')} not measured"
    )


def print_report(
    folds: dict[str, dict],
    methods: list[str],
    native_key: str,
    candidate: str = "matched",
    cascade_rows: tuple[str, ...] = (),
) -> list[TargetCheck]:
    """Print every table and the target summary of the folds given.

    Parameters
    ----------
    folds : dict
        fold id → fold results.
    methods : list of str
        Rows, in order.
    native_key : str
        Key of the native cell.
    candidate : str
        Row the targets are checked for.
    cascade_rows : tuple of str
        Rows of the Cascade recipe (the candidate's Corr must reach theirs).

    Returns
    -------
    list of TargetCheck
    """
    med = pooled_medians(folds)
    print(f"\n## Robust spike inference: {len(folds)} fold(s): {', '.join(folds)}")
    print_rate_tables(folds, methods, med)
    print_native_table(folds, methods, med, native_key)
    print_noise_table(folds, methods)
    print_times(folds)
    checks = check_targets(
        med,
        native_er_by_fold(folds, native_key),
        worst_false_events(folds),
        candidate=candidate,
        cascade_rows=cascade_rows,
    )
    print_targets(checks, candidate)
    return checks
