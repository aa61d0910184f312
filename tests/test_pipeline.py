"""``calcium-forge suite2p`` and ``calcium-forge run`` on a 128 x 128, 1,000-frame movie.

No real raw two-photon movie is available to the tests (no installed or PyPI
package we can use ships one), so the movie is rebuilt from a real Suite2P
output: the 20 real ROI footprints and their real fluorescence traces of the
bundled mouse hippocampus recording (the arrays of shared/data/suite2p_hippocampus),
laid out on a 128 x 128 field, rendered with neuropil, Poisson shot noise and
read noise, and moved by a smooth rigid random walk of up to 2 px
(``tests/_hippocampus_movie.py``). Real: footprints and activity. Not real: the
placement, neuropil, noise and motion.

A 128 x 128 field is the case that failed: suite2p's default 128 px non-rigid
block filled the field and registration raised "Input and output sizes should
be greater than 0". Each test runs suite2p once (about a minute on 2 busy cores).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from _hippocampus_movie import rigid_walk, write_hippocampus_movie

pytest.importorskip("suite2p")
pytest.importorskip("torch")
pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def movie(tmp_path_factory):
    return write_hippocampus_movie(tmp_path_factory.mktemp("movie") / "hippocampus_128.tif")


def _best_iou(truth: np.ndarray, found: np.ndarray, roi: int) -> float:
    mask = truth == roi
    ious = [
        (mask & (found == k)).sum() / (mask | (found == k)).sum()
        for k in np.unique(found[mask])
        if k
    ]
    return float(max(ious, default=0.0))


def _cli(*argv: str) -> subprocess.CompletedProcess:
    """``calcium-forge ARGV`` in a subprocess: suite2p's opencv must not share a process
    with the Qt that the napari tests load (the Run Suite2P widget does the same)."""
    import calcium_forge

    src = str(Path(calcium_forge.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    env["OMP_NUM_THREADS"] = "1"
    return subprocess.run(
        [sys.executable, "-m", "calcium_forge.cli", *argv],
        capture_output=True, text=True, timeout=1200, env=env,
    )  # fmt: skip


def _residual_px(offsets: np.ndarray, shifts: np.ndarray) -> float:
    d = offsets - shifts
    d -= d.mean(axis=0)
    return float(np.sqrt((d**2).mean()))


@pytest.mark.slow
def test_suite2p_command_registers_a_small_field(movie, tmp_path):
    from calcium_forge import read
    from calcium_forge.io.safe_pickle import load_npy

    out = tmp_path / "s2p"
    done = _cli("suite2p", str(movie.path), "--fs", "30", "--out", str(out))
    assert done.returncode == 0, done.stderr[-2000:]
    assert "non-rigid blocks 64x64 px" in done.stdout and "wrote" in done.stdout
    plane = out / "suite2p" / "plane0"
    reg = load_npy(plane / "reg_outputs.npy").item()
    offsets = np.stack([reg["yoff"], reg["xoff"]], axis=1).astype(float)
    # registration follows the imposed motion to a third of a pixel; the same
    # offsets against another random walk of the same size do not (control)
    assert _residual_px(offsets, movie.shifts_yx) < 0.5
    assert _residual_px(offsets, rigid_walk(len(offsets), 2.0, seed=1)) > 0.7
    rec = read(plane)
    assert rec.fs_hz == 30.0 and rec.n_frames == 1000 and rec.labels.shape == (128, 128)
    # the real footprints are found where they were put (IoU > 0.3); shifted by
    # 13 px, the same truth matches none of them (control)
    found = [_best_iou(movie.labels, rec.labels, k) > 0.3 for k in range(1, 21)]
    assert sum(found) >= 15, found
    moved = np.roll(movie.labels, (13, 13), axis=(0, 1))
    assert sum(_best_iou(moved, rec.labels, k) > 0.3 for k in range(1, 21)) <= 2


@pytest.mark.slow
def test_run_command_goes_from_movie_to_spikes(movie, tmp_path, capsys):
    from calcium_forge.cli import main
    from calcium_forge.io import read, read_result

    out = tmp_path / "run"
    argv = ["run", str(movie.path), "--fs", "30", "--out", str(out), "--threads", "1"]
    captured = _cli(*argv)
    assert captured.returncode == 0, captured.stderr[-2000:]
    for stage in ("[1/5] Suite2P on hippocampus_128.tif (128 x 128 px, 1000 frames at 30 Hz)",
                  "[2/5] dF/F on", "[3/5] ENS² on", "[4/5] figures of"):  # fmt: skip
        assert stage in captured.stderr, captured.stderr[-2000:]
    assert "ROIs," in captured.stdout and "cells (iscell)" in captured.stdout
    assert "events/s per ROI" in captured.stdout and "Suite2P" in captured.stdout
    summary = json.loads((out / "summary.json").read_text())
    assert summary["n_rois"] >= 15 and 0 < summary["n_cells"] <= summary["n_rois"]
    assert set(summary["timings_s"]) == {"Suite2P", "dF/F", "spikes", "figures"}
    spikes = read_result(out / "spikes.npz")
    dff = read(out / "dff.npz")
    assert spikes.n_rois == dff.n_rois == summary["n_analysed"]
    assert spikes.method == "ens2" and spikes.n_frames == 1000
    # real hippocampal activity: a few events per second per ROI at most, and not none
    assert 0.05 < summary["events_per_s"] < 5.0
    n_ev = sum(e.size for e in spikes.events)
    assert n_ev == summary["n_events"]
    for name in ("rois.png", "raster.png", "traces.png"):
        assert (out / name).stat().st_size > 10_000
    assert "events/s per ROI" in (out / "summary.md").read_text()
    # the same folder again is refused before any work (it holds a Suite2P output)
    assert main(argv) == 1
    assert "already holds a Suite2P output" in capsys.readouterr().err


@pytest.mark.slow
def test_suite2p_defaults_fail_on_the_small_field(movie, tmp_path):
    """Control for the block size: suite2p's own settings fail on the same movie."""
    script = (
        "import sys, suite2p\n"
        "from calcium_forge.io.suite2p_run import build_settings\n"
        "settings = build_settings(30.0, 1.0, 0.0, True)  # no field of view: suite2p's own\n"
        "db = dict(data_path=[sys.argv[1]], file_list=[sys.argv[2]], save_path0=sys.argv[3],\n"
        "          save_folder='suite2p', nplanes=1, nchannels=1)\n"
        "suite2p.run_s2p(db=db, settings=settings)\n"
    )
    import calcium_forge

    src = str(Path(calcium_forge.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(
        [sys.executable, "-c", script, str(movie.path.parent), movie.path.name, str(tmp_path)],
        capture_output=True, text=True, timeout=1200, env=env,
    )  # fmt: skip
    assert done.returncode != 0
    assert "Input and output sizes should be greater than 0" in done.stderr


# ------------------------------------------ the pipeline's logic, suite2p stood in for (fast)
def _fake_suite2p_plane(plane, n_frames: int = 900, non_cells=(3, 11)):
    """A Suite2P plane folder from the bundled real hippocampus output (600 s -> 30 s)."""
    from calcium_forge.datasets import load_hippocampus

    rec = load_hippocampus()
    plane.mkdir(parents=True)
    np.save(plane / "F.npy", rec.traces[:, :n_frames])
    np.save(plane / "Fneu.npy", rec.neuropil[:, :n_frames])
    iscell = np.ones((rec.n_rois, 2))
    iscell[list(non_cells), 0] = 0
    np.save(plane / "iscell.npy", iscell)
    stat = []
    for k in range(1, rec.n_rois + 1):
        ys, xs = np.nonzero(rec.labels == k)
        stat.append({"ypix": ys, "xpix": xs, "lam": np.ones(ys.size, np.float32)})
    np.save(plane / "stat.npy", np.array(stat, dtype=object), allow_pickle=True)
    ly, lx = rec.labels.shape
    ops = {"fs": 30.0, "Ly": ly, "Lx": lx}  # no meanImg was published with it
    np.save(plane / "ops.npy", np.array(ops, dtype=object), allow_pickle=True)
    return plane


@pytest.fixture
def fake_run_suite2p(monkeypatch):
    calls = []

    def fake(movie_path, out_dir, fs_hz, **kwargs):
        calls.append((movie_path, fs_hz, kwargs))
        return _fake_suite2p_plane(Path(out_dir) / "suite2p" / "plane0")

    monkeypatch.setattr("calcium_forge.io.suite2p_run.run_suite2p", fake)
    return calls


def _tiny_movie(path):
    from calcium_forge.io import write_stack

    return write_stack(path, np.zeros((10, 64, 64), np.float32), fs_hz=30.0)


@pytest.mark.parametrize("method", ["ens2", "oasis"])
def test_pipeline_stages_summary_and_files(tmp_path, fake_run_suite2p, method):
    from calcium_forge.io import read_result
    from calcium_forge.pipeline import N_STAGES, iter_run_pipeline

    movie = _tiny_movie(tmp_path / "m.tif")
    gen = iter_run_pipeline(movie, tmp_path / "out", method=method, mode="fast", tau_s=0.7)
    messages = []
    while True:
        try:
            p = next(gen)
        except StopIteration as stop:
            res = stop.value
            break
        assert p.total == N_STAGES and 0 <= p.step <= N_STAGES
        messages.append(p.message)
    assert messages[0] == "Suite2P on m.tif (64 x 64 px, 10 frames at 30 Hz)"
    name = {"ens2": "ENS²", "oasis": "OASIS"}[method]
    assert any(m.startswith(f"{name} on {res.n_analysed} ROIs") for m in messages)
    assert fake_run_suite2p[0][1] == 30.0 and fake_run_suite2p[0][2]["tau_s"] == 0.7
    assert (res.n_rois, res.n_cells) == (20, 18) and res.n_analysed in (18, 20)
    spikes = read_result(res.out_dir / "spikes.npz")
    n_ev = sum(e.size for e in spikes.events)
    assert res.n_events == n_ev > 0 and spikes.method == method
    assert res.events_per_s == pytest.approx(n_ev / (res.n_analysed * 30.0))
    text = res.summary()
    assert "20 ROIs, 18 cells (iscell)" in text and f"{n_ev} events" in text
    assert set(res.timings_s) == {"Suite2P", "dF/F", "spikes", "figures"}
    written = {p.name for p in res.files}
    assert written == {"dff.npz", "spikes.npz", "rois.png", "raster.png", "traces.png",
                       "summary.md", "summary.json"}  # fmt: skip
    assert all(p.is_file() for p in res.files)


def test_pipeline_checks_everything_before_suite2p(tmp_path, fake_run_suite2p):
    from calcium_forge.errors import InvalidInputError
    from calcium_forge.pipeline import run_pipeline

    movie = _tiny_movie(tmp_path / "m.tif")
    with pytest.raises(InvalidInputError, match="method 'nope'"):
        run_pipeline(movie, tmp_path / "out", method="nope")
    with pytest.raises(InvalidInputError, match=r"0\.5 Hz.*--fs"):
        run_pipeline(movie, tmp_path / "out", fs_hz=0.5)
    assert fake_run_suite2p == [] and not (tmp_path / "out").exists()


def test_cells_are_the_default_and_all_rois_one_option_away(tmp_path, fake_run_suite2p):
    from calcium_forge.io import suite2p as reader
    from calcium_forge.pipeline import run_pipeline

    if not hasattr(reader, "ROI_SELECTIONS"):
        pytest.skip("the Suite2P reader has no rois option yet (issue 18, dF/F part)")
    movie = _tiny_movie(tmp_path / "m.tif")
    cells = run_pipeline(movie, tmp_path / "cells", method="oasis")
    assert cells.n_analysed == cells.n_cells == 18
    every = run_pipeline(movie, tmp_path / "all", method="oasis", rois="all")
    assert every.n_analysed == every.n_rois == 20
