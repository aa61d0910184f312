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


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Run the Qt tests (tests/napari) last.

    suite2p's opencv segfaults when imported after a Qt viewer exists in the same
    process (DESIGN.md §4); keeping every napari test after the headless ones lets
    the headless tests import suite2p safely.
    """
    napari_dir = Path(__file__).parent / "napari"

    def is_qt(item: pytest.Item) -> bool:
        return napari_dir in Path(str(item.fspath)).parents

    items.sort(key=is_qt)  # stable: keeps the order within each group
