"""The targets of the issue "Spike inference that holds on the recordings users have".

:func:`check_targets` computes each target from the benchmark's medians and
marks it met / MISSED (or n/a when the cell was not run); nothing is
hard-coded but the thresholds themselves:

* in every cell the candidate's median Corr ≥ OASIS + 0.15, and ≥ the
  Cascade-recipe row's when there is one;
* at 30 Hz: Corr ≥ 0.70 at ν 4 and ≥ 0.58 at ν 8; ER ≤ 0.45 at ν 2 and ≤ 0.60 at ν 4;
* native 60 Hz: ER of each fold ≤ the ENS² authors' leave-one-out ER;
* noise-only traces: ≤ 0.05 false events per second.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from _robust_metrics import Cell

__all__ = [
    "ABSOLUTE_TARGETS_30HZ",
    "ENS2_LOO_ER",
    "MAX_FALSE_EVENTS_PER_S",
    "TargetCheck",
    "check_targets",
]

#: Highest acceptable rate of false events in noise-only traces, events/s.
MAX_FALSE_EVENTS_PER_S = 0.05
#: The ENS² authors' leave-one-dataset-out ER at 60 Hz (Zhou et al. 2023), per dataset id.
ENS2_LOO_ER = {"DS10": 0.231, "DS11": 0.442, "DS12": 0.194, "DS13": 0.288}


@dataclass
class TargetCheck:
    """One of the issue's targets, computed from the results.

    Attributes
    ----------
    name : str
        What is checked (cell, metric, comparison).
    value : float or None
        The measured value (None when the cell was not run).
    threshold : float or None
        What it is compared with.
    higher_is_better : bool
        ``value >= threshold`` is met (else ``value <= threshold``).
    """

    name: str
    value: float | None
    threshold: float | None
    higher_is_better: bool

    @property
    def status(self) -> str:
        """``"met"``, ``"MISSED"`` or ``"n/a"`` (value or threshold missing / NaN)."""
        if self.value is None or self.threshold is None:
            return "n/a"
        if not (np.isfinite(self.value) and np.isfinite(self.threshold)):
            return "n/a"
        ok = self.value >= self.threshold if self.higher_is_better else self.value <= self.threshold
        return "met" if ok else "MISSED"


#: Absolute targets at 30 Hz: (ν, metric, threshold, higher is better).
ABSOLUTE_TARGETS_30HZ = (
    (4.0, "corr", 0.70, True),
    (8.0, "corr", 0.58, True),
    (2.0, "er", 0.45, False),
    (4.0, "er", 0.60, False),
)


def _get(table: dict, cell: str, method: str, metric: str) -> float | None:
    value = table.get(cell, {}).get(method, {}).get(metric)
    return None if value is None else float(value)


def check_targets(
    cells: dict[str, dict[str, dict[str, float]]],
    native_er_by_fold: dict[str, dict[str, float]],
    false_events: dict[str, dict[str, float]],
    candidate: str = "matched",
    baseline: str = "oasis",
    cascade_rows: tuple[str, ...] = (),
    corr_margin: float = 0.15,
) -> list[TargetCheck]:
    """The issue's targets for the ``candidate`` row, each computed from the results.

    Parameters
    ----------
    cells : dict
        cell key → method → ``{"corr", "er", "bias"}`` medians over neurons.
    native_er_by_fold : dict
        fold id (``"DS10"``) → method → median ER in the native 60 Hz cell.
    false_events : dict
        noise-only key → method → events/s (the worst fold).
    candidate : str
        The row the targets are for.
    baseline : str
        The row the Corr margin is measured against (OASIS).
    cascade_rows : tuple of str
        Rows of the Cascade recipe; the candidate's Corr must reach theirs.
    corr_margin : float
        Required Corr lead over ``baseline``.

    Returns
    -------
    list of TargetCheck
        In order: per cell Corr vs baseline (+ margin) and vs each Cascade row;
        the 30 Hz absolute targets; native ER per fold vs the ENS² authors';
        false events per noise-only cell.
    """
    checks = []
    for key in cells:
        base = _get(cells, key, baseline, "corr")
        checks.append(
            TargetCheck(
                f"{key}: Corr >= {baseline} + {corr_margin:g}",
                _get(cells, key, candidate, "corr"),
                None if base is None else base + corr_margin,
                True,
            )
        )
        for row in cascade_rows:
            checks.append(
                TargetCheck(
                    f"{key}: Corr >= {row}",
                    _get(cells, key, candidate, "corr"),
                    _get(cells, key, row, "corr"),
                    True,
                )
            )
    for nu, metric, threshold, higher in ABSOLUTE_TARGETS_30HZ:
        key = Cell(30.0, nu).key
        sign = ">=" if higher else "<="
        checks.append(
            TargetCheck(
                f"{key}: {metric.upper() if metric == 'er' else 'Corr'} {sign} {threshold:g}",
                _get(cells, key, candidate, metric),
                threshold,
                higher,
            )
        )
    for fold, er in sorted(ENS2_LOO_ER.items()):
        value = native_er_by_fold.get(fold, {}).get(candidate)
        checks.append(TargetCheck(f"native {fold}: ER <= ENS² authors' LOO ER", value, er, False))
    for key, by_method in false_events.items():
        checks.append(
            TargetCheck(
                f"noise-only {key}: false events/s <= {MAX_FALSE_EVENTS_PER_S:g}",
                by_method.get(candidate),
                MAX_FALSE_EVENTS_PER_S,
                False,
            )
        )
    return checks
