"""Shared fixtures: paths to the real data in ../shared/data (skipped when absent)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("CALCIUM_FORGE_SHARED_DATA", ROOT.parent / "shared" / "data"))


def _need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(
            f"real data not found at {path}: set CALCIUM_FORGE_SHARED_DATA or place the "
            "shared data folder beside the repository"
        )
    return path


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The ``../shared/data`` folder (skip when absent)."""
    return _need(SHARED_DATA)


@pytest.fixture(scope="session")
def ground_truth_dir() -> Path:
    """``../shared/data/ground_truth`` with one folder per Cascade dataset."""
    return _need(SHARED_DATA / "ground_truth")


@pytest.fixture(scope="session")
def suite2p_plane0() -> Path:
    """The real Suite2P ``plane0`` folder (20 ROIs x 18,000 frames)."""
    return _need(SHARED_DATA / "suite2p_hippocampus" / "plane0")


@pytest.fixture
def rng() -> np.random.Generator:
    """A seeded random generator."""
    return np.random.default_rng(0)
