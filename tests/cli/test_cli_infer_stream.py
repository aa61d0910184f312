"""CLI ``infer`` on a raw Suite2P plane: large planes take the block-streamed path (same
rates and events as the in-memory path), the cells are the default and --all-rois reads all."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _plane(tmp_path, rng, n_rois=6, n_frames=1800):
    plane = tmp_path / "suite2p" / "plane0"
    plane.mkdir(parents=True)
    t = np.arange(n_frames)
    dff = np.zeros((n_rois, n_frames), np.float32)
    for i in range(n_rois):
        for s in rng.choice(n_frames - 60, 12, replace=False):
            dff[i, s:] += 0.5 * np.exp(-(t[s:] - s) / 20.0)
    neu = (50 + 2 * rng.standard_normal((n_rois, n_frames))).astype(np.float32)
    F = 100 * (1 + dff + 0.02 * rng.standard_normal(dff.shape)) + 0.7 * neu
    np.save(plane / "F.npy", F.astype(np.float32))
    np.save(plane / "Fneu.npy", neu)
    iscell = np.stack([np.arange(n_rois) % 3 != 0, np.full(n_rois, 0.9)], axis=1)
    np.save(plane / "iscell.npy", iscell)
    np.save(plane / "ops.npy", np.array({"fs": 30.0}, dtype=object), allow_pickle=True)
    return plane


def test_large_plane_streams_with_the_in_memory_result(tmp_path, rng, monkeypatch, capsys):
    from calcium_forge.cli import main
    from calcium_forge.io import read_result

    plane = _plane(tmp_path, rng)
    in_memory = tmp_path / "mem.npz"
    assert main(["infer", str(plane), "--out", str(in_memory), "--method", "oasis"]) == 0
    assert "streamed" not in capsys.readouterr().out
    monkeypatch.setattr("calcium_forge.distributed.task.STREAM_ABOVE_MB", 0.0)
    monkeypatch.setattr("calcium_forge.distributed.task.STREAM_ROI_BLOCK", 2)
    streamed = tmp_path / "streamed.npz"
    assert main(["infer", str(plane), "--out", str(streamed), "--method", "oasis"]) == 0
    assert "streamed in blocks of 2 ROIs" in capsys.readouterr().out
    a, b = read_result(in_memory), read_result(streamed)
    assert a.rate_hz.shape == b.rate_hz.shape == (4, 1800)  # the 4 cells of 6 ROIs
    np.testing.assert_allclose(b.rate_hz, a.rate_hz, rtol=1e-5, atol=1e-6)
    assert [e.size for e in a.events] == [e.size for e in b.events]
    assert a.recording is not None and b.recording is None  # streamed: no input copy
    assert a.recording.meta["roi_indices"] == [1, 2, 4, 5]


def test_all_rois_option(tmp_path, rng):
    from calcium_forge.cli import main
    from calcium_forge.io import read_result

    plane = _plane(tmp_path, rng)
    out = tmp_path / "all.npz"
    assert main(["infer", str(plane), "--out", str(out), "--method", "oasis", "--all-rois"]) == 0
    assert read_result(out).rate_hz.shape == (6, 1800)


def test_streamed_plane_flags_bright_neuropil_once_with_plane_indices(tmp_path, rng, monkeypatch):
    from calcium_forge.cli import main
    from calcium_forge.io import read_result

    plane = _plane(tmp_path, rng)
    F, neu = np.load(plane / "F.npy"), np.load(plane / "Fneu.npy")
    neu[[3, 4]] += 1.2 * np.median(F[[3, 4]], axis=1, keepdims=True) / 0.7  # bright neuropil
    np.save(plane / "Fneu.npy", neu)
    monkeypatch.setattr("calcium_forge.distributed.task.STREAM_ABOVE_MB", 0.0)
    monkeypatch.setattr("calcium_forge.distributed.task.STREAM_ROI_BLOCK", 2)
    out = tmp_path / "streamed.npz"
    argv = ["infer", str(plane), "--out", str(out), "--method", "oasis", "--all-rois"]
    with pytest.warns(UserWarning, match="raw-F baseline") as record:
        assert main(argv) == 0
    flagged = [w for w in record if "raw-F baseline" in str(w.message)]
    assert len(flagged) == 1 and "2 ROI(s) [3, 4]" in str(flagged[0].message)
    res = read_result(out)
    assert res.meta["dff"]["raw_baseline_rois"] == [3, 4]
    assert np.isfinite(res.rate_hz).all()
