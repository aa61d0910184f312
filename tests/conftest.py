"""Shared fixtures: paths to the real data in ../shared/data (skipped when absent), and the
loopback dask cluster and batch inputs of tests/distributed and tests/cli."""

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


@pytest.fixture
def one_torch_thread():
    """One torch thread during the test (``pytestmark = pytest.mark.usefixtures(...)``): the
    CI machine's 2 cores are shared, and a busy second thread makes intra-op barriers stall."""
    torch = pytest.importorskip("torch")
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


@pytest.fixture
def loopback_cluster(tmp_path):
    """A dask scheduler on 127.0.0.1 (start workers with ``start_worker()``), stopped after."""
    from _distributed_helpers import LoopbackCluster

    c = LoopbackCluster(tmp_path)
    try:
        yield c
    finally:
        c.close()


@pytest.fixture(scope="module")
def inputs_and_reference(tmp_path_factory):
    """(LOOPBACK_INPUTS input paths, the folder of their serial OASIS batch outputs)."""
    from _distributed_helpers import LOOPBACK_INPUTS, make_inputs
    from calcium_forge.distributed import batch_infer

    root = tmp_path_factory.mktemp("batch")
    inputs = make_inputs(root / "in", LOOPBACK_INPUTS, n_rois=8, n_frames=4000, seed=1)
    ref = root / "serial"
    rep = batch_infer(inputs, ref, client="serial", method="oasis")
    assert rep.ok
    return inputs, ref


#: Markers applied by folder: every test under tests/<folder>/ gets the marker.
MARKERS_BY_FOLDER = {"napari": "qt"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark tests by folder (tests/napari -> ``qt``) and run the Qt tests last.

    suite2p's opencv segfaults when imported after a Qt viewer exists in the same
    process (DESIGN.md §4); keeping every napari test after the headless ones lets
    the headless tests import suite2p safely.
    """
    here = Path(__file__).parent
    for item in items:
        path = Path(str(item.fspath))
        for folder, marker in MARKERS_BY_FOLDER.items():
            if here / folder in path.parents:
                item.add_marker(getattr(pytest.mark, marker))
    items.sort(key=lambda item: item.get_closest_marker("qt") is not None)  # stable
