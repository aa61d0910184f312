"""Shared harness of the benchmark scripts: where data and outputs live, how a run is named.

Scripts run from the repository root (``python benchmarks/suite/<name>.py``);
experiments in ``benchmarks/experiments/`` import this module too. Outputs go
to ``benchmarks/out/<name>/`` (ignored by git) unless a script is told
otherwise, and the real data is read from ``../shared/data`` beside the
repository or from ``$CALCIUM_FORGE_SHARED_DATA``.
"""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

#: Repository root.
REPO = Path(__file__).resolve().parents[2]

#: The shared real data (Cascade ground truth, a Suite2P output).
SHARED_DATA = Path(os.environ.get("CALCIUM_FORGE_SHARED_DATA", REPO.parent / "shared" / "data"))

#: Cascade ground truth: one folder per dataset.
GROUND_TRUTH = SHARED_DATA / "ground_truth"

#: Default output folder of the benchmarks.
OUT = REPO / "benchmarks" / "out"


def out_dir(name: str) -> Path:
    """Default output folder of one benchmark (``benchmarks/out/<name>``)."""
    return OUT / name


def command_line(argv: list[str] | None = None) -> str:
    """The command that ran this script, as typed from the repository root (for model cards)."""
    argv = list(sys.argv if argv is None else argv)
    script = Path(argv[0]).resolve()
    try:
        script = script.relative_to(REPO)
    except ValueError:
        pass
    return " ".join(["python", shlex.quote(str(script)), *map(shlex.quote, argv[1:])])
