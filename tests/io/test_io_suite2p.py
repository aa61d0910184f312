"""Suite2P reader: the real hippocampus output and written 0.x / 1.x folders."""

from __future__ import annotations

import numpy as np
import pytest

from calcium_forge import read, write
from calcium_forge.errors import InvalidInputError
from calcium_forge.io.suite2p import labels_from_stat


def test_real_hippocampus_plane(suite2p_plane0):
    rec = read(suite2p_plane0, fs_hz=30.0)
    F = np.load(suite2p_plane0 / "F.npy")
    stat = np.load(suite2p_plane0 / "stat.npy", allow_pickle=True)  # trusted test data
    assert rec.kind == "raw" and rec.fs_hz == 30.0
    assert rec.traces.shape == (20, 18000) and rec.neuropil.shape == (20, 18000)
    np.testing.assert_array_equal(rec.traces, F)
    np.testing.assert_array_equal(rec.neuropil, np.load(suite2p_plane0 / "Fneu.npy"))
    np.testing.assert_array_equal(rec.meta["spks"], np.load(suite2p_plane0 / "spks.npy"))
    assert rec.iscell.all() and rec.meta["cell_probability"].shape == (20,)
    # image size from the ROI extents; every ROI painted, mostly at its own pixels
    ymax = max(int(s["ypix"].max()) for s in stat)
    xmax = max(int(s["xpix"].max()) for s in stat)
    assert rec.labels.shape == (ymax + 1, xmax + 1)
    assert rec.meta["image_shape_source"] == "ROI pixel extents"
    assert set(np.unique(rec.labels)) == set(range(21))
    for i, s in enumerate(stat):
        own = rec.labels[s["ypix"], s["xpix"]] == i + 1
        assert own.mean() > 0.5
        # the painted pixels of ROI i are a subset of its stat pixels
        assert np.count_nonzero(rec.labels == i + 1) == own.sum()
    assert rec.meta["fs_hz_source"] == "fs_hz option"


def test_frame_rate_required_without_ops(suite2p_plane0):
    with pytest.raises(InvalidInputError, match=r"plane0.*no ops\.npy/settings\.npy.*fs_hz=30"):
        read(suite2p_plane0)


def test_overlap_highest_lam_wins():
    stat = [
        {
            "ypix": np.array([0, 0, 1]),
            "xpix": np.array([0, 1, 1]),
            "lam": np.array([1.0, 0.2, 0.9]),
        },
        {
            "ypix": np.array([0, 1, 2]),
            "xpix": np.array([1, 1, 2]),
            "lam": np.array([0.5, 0.95, 0.1]),
        },
    ]
    labels = labels_from_stat(stat, None)
    assert labels.shape == (3, 3)
    assert labels[0, 0] == 1  # only ROI 0
    assert labels[0, 1] == 2  # 0.5 > 0.2
    assert labels[1, 1] == 2  # 0.95 > 0.9
    assert labels[2, 2] == 2 and labels[2, 0] == 0


def test_ops_v0_folder(plane_factory):
    plane = plane_factory("plane0", ops={"fs": 15.5, "tau": 1.0})
    rec = read(plane, rois="all")
    assert rec.fs_hz == 15.5 and rec.meta["fs_hz_source"] == "ops.npy fs"
    assert rec.labels.shape == (40, 50) and rec.mean_image.shape == (40, 50)
    assert rec.meta["suite2p_ops"]["Ly"] == 40
    np.testing.assert_array_equal(rec.iscell, np.arange(4) % 2 == 0)
    # the fs_hz option overrides and the ops value is kept for reference
    rec2 = read(plane, fs_hz=30.0)
    assert rec2.fs_hz == 30.0 and rec2.meta["fs_hz_in_ops"] == 15.5


def test_suite2p_1x_settings_folder(plane_factory):
    plane = plane_factory("plane0", ops={"fs": 7.5}, settings_style=True)
    rec = read(plane)
    assert rec.fs_hz == 7.5 and rec.meta["fs_hz_source"] == "settings.npy fs"
    assert rec.mean_image.shape == rec.labels.shape == (40, 50)
    assert {"settings.npy", "db.npy", "reg_outputs.npy"} <= set(rec.meta["suite2p_files"])


def test_ops_with_datetime_like_suite2p_1_1(plane_factory):
    """suite2p 1.1 stores date_proc as a timezone-aware datetime in ops.npy."""
    from datetime import UTC, datetime

    plane = plane_factory("plane0", ops={"fs": 30.0, "date_proc": datetime.now(UTC)})
    rec = read(plane)
    assert rec.fs_hz == 30.0 and isinstance(rec.meta["suite2p_ops"]["date_proc"], datetime)
    write(rec, plane.parent / "r.npz")  # datetimes in meta are stored as ISO strings
    assert isinstance(read(plane.parent / "r.npz").meta["suite2p_ops"]["date_proc"], str)


def test_folder_of_planes_and_parent(plane_factory, tmp_path):
    for k in (0, 1, 2):
        plane_factory(f"exp/suite2p/plane{k}", ops={"fs": 10.0 + k})
    plane_factory("exp/suite2p/combined", ops={"fs": 10.0})  # merged view: skipped
    recs = read(tmp_path / "exp" / "suite2p")
    assert [r.fs_hz for r in recs] == [10.0, 11.0, 12.0]
    assert recs[1].name == "exp/plane1"
    recs_parent = read(tmp_path / "exp")
    assert len(recs_parent) == 3
