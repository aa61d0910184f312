"""Every command that writes checks its output path before any work, and a frame rate
that is unknown or implausible is a one-line request for ``--fs`` (no suite2p run here)."""

from __future__ import annotations

import numpy as np
import pytest

from calcium_forge.recording import Recording


@pytest.fixture
def no_work(monkeypatch):
    """Fail the test if spike inference or suite2p starts."""

    def boom(*args, **kwargs):
        raise AssertionError("work started before the output path was checked")

    monkeypatch.setattr("calcium_forge.inference.infer_spikes", boom)
    monkeypatch.setattr("calcium_forge.inference.iter_infer_spikes", boom)
    monkeypatch.setattr("calcium_forge.io.suite2p_run.run_suite2p", boom)


@pytest.fixture
def rec_npz(tmp_path, rng):
    from calcium_forge.io import write

    rec = Recording(traces=(0.1 * rng.standard_normal((2, 300))).astype(np.float32), fs_hz=30.0)
    return write(rec, tmp_path / "rec.npz")


def _movie(path, fs_hz=None, frames=8):
    from calcium_forge.io import write_stack

    return write_stack(path, np.zeros((frames, 32, 32), np.float32), fs_hz=fs_hz)


def _one_line_error(capsys, *needles: str) -> str:
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0, err
    for n in needles:
        assert n in err, err
    return err


@pytest.mark.parametrize(
    ("argv", "needles"),
    [
        (["infer", "{rec}", "--out", "{tmp}/y.xlsx"], [".xlsx", ".npz"]),
        (["infer", "{rec}", "--out", "{tmp}/missing/y.npz"], ["does not exist"]),
        (["infer", "{rec}", "--out", "{tmp}"], [".npz"]),  # a folder has no extension
        (["convert", "{rec}", "{tmp}/y.txt"], ["OUT", ".txt"]),
        (["sample-gan", "m.pt", "--out", "{tmp}/s.xlsx"], [".xlsx"]),
        (["synth-movie", "--out", "{tmp}/movie.png"], [".png", ".tif"]),
        (["synth-movie", "--out", "{rec}/movie.tif"], ["is a file"]),
        (["batch-infer", "{rec}", "--out", "{rec}"], ["is a file"]),
        (["demo", "--out", "{rec}/d"], ["is a file"]),
        (["train-spikes", "gt", "--out", "{rec}/sub"], ["is a file"]),
        (["run", "{tmp}/m.tif", "--fs", "30", "--out", "{rec}"], ["is a file"]),
        (["suite2p", "{tmp}/m.tif", "--fs", "30", "--out", "{rec}/x"], ["is a file"]),
    ],
)
def test_outputs_are_checked_before_any_work(tmp_path, rec_npz, no_work, capsys, argv, needles):
    from calcium_forge.cli import main

    argv = [a.format(rec=rec_npz, tmp=tmp_path) for a in argv]
    try:
        rc = main(argv)
    except SystemExit as stop:  # a wrong extension is refused by argparse itself (usage, rc 2)
        rc = stop.code
    if rc == 2:
        last = capsys.readouterr().err.strip().splitlines()[-1]
        assert all(n in last for n in needles), last
    else:
        assert rc == 1
        _one_line_error(capsys, *needles)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rec.npz"]  # nothing written


def test_run_refuses_a_folder_that_holds_a_suite2p_output(tmp_path, no_work, capsys):
    from calcium_forge.cli import main

    movie = _movie(tmp_path / "m.tif", fs_hz=30.0)
    plane = tmp_path / "out" / "suite2p" / "plane0"
    plane.mkdir(parents=True)
    (plane / "F.npy").write_bytes(b"")
    assert main(["run", str(movie), "--out", str(tmp_path / "out")]) == 1
    _one_line_error(capsys, "already holds a Suite2P output")


@pytest.mark.parametrize("command", ["run", "suite2p"])
def test_movie_frame_rate_unknown_or_implausible_asks_for_fs(tmp_path, no_work, capsys, command):
    from calcium_forge.cli import main

    bare = _movie(tmp_path / "bare.tif")  # no frame rate in the file
    assert main([command, str(bare), "--out", str(tmp_path / "o")]) == 1
    _one_line_error(capsys, "stores no frame rate", "--fs")
    slow = _movie(tmp_path / "slow.tif", fs_hz=1.0)  # 1 Hz in the metadata
    assert main([command, str(slow), "--out", str(tmp_path / "o")]) == 1
    _one_line_error(capsys, "1 Hz (TIFF metadata)", "2–1000 Hz", "--fs")
    assert main([command, str(bare), "--fs", "5000", "--out", str(tmp_path / "o")]) == 1
    _one_line_error(capsys, "5000 Hz (--fs / fs_hz option)", "--fs")
    assert not (tmp_path / "o").exists()


def test_infer_implausible_rate_asks_for_fs(tmp_path, rng, no_work, capsys):
    from calcium_forge.cli import main
    from calcium_forge.io import write

    rec = Recording(traces=rng.standard_normal((2, 300)).astype(np.float32), fs_hz=1.0)
    src = write(rec, tmp_path / "one_hz.npz")
    assert main(["infer", str(src), "--out", str(tmp_path / "s.npz")]) == 1
    _one_line_error(capsys, "frame rate 1 Hz", "--fs", "--force-rate")
    assert not (tmp_path / "s.npz").exists()
