"""CLI arguments are checked before any work: a one-line error and rc != 0, no traceback,
no file written (issue #17)."""

from __future__ import annotations

import os

import numpy as np
import pytest
import scipy.io

from calcium_forge import Recording, write
from calcium_forge.cli import main


@pytest.fixture
def recording_file(tmp_path, rng):
    path = tmp_path / "in.npz"
    write(Recording(traces=0.1 * rng.standard_normal((2, 300)), fs_hz=30.0), path)
    return path


def _rejected(capsys, argv, match: str, rc: int = 2) -> str:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == rc
    err = capsys.readouterr().err
    assert match in err, err
    assert "Traceback" not in err
    return err


@pytest.mark.parametrize(
    ("argv", "match"),
    [
        (["train-gan", "d.npz", "--out", "o", "--budget-min", "-1"], "--budget-min: '-1'"),
        (["train-gan", "d.npz", "--out", "o", "--steps", "0"], "--steps: '0'"),
        (["train-gan", "d.npz", "--out", "o", "--held-out", "1.5"], "--held-out: '1.5'"),
        (["train-gan", "d.npz", "--out", "o", "--batch-size", "x"], "--batch-size: 'x'"),
        (["train-spikes", "d", "--out", "o", "--iterations", "-5"], "--iterations: '-5'"),
        (["batch-infer", "a.npz", "--out", "o", "--workers", "0"], "--workers: '0'"),
        (["batch-infer", "a.npz", "--out", "o", "--threads-per-worker", "0"], "worker: '0'"),
        (["synth-movie", "--out", "m.tif", "--size", "0", "0"], "--size: '0'"),
        (["synth-movie", "--out", "m.tif", "--frames", "-3"], "--frames: '-3'"),
        (["synth-movie", "--out", "m.tif", "--fs", "nan"], "--fs: 'nan'"),
        (["synth-movie", "--out", "m.png"], "--out: 'm.png' must end in .tif"),
        (["infer", "in.npz", "--out", "r.txt"], "--out: 'r.txt' must end in .npz"),
        (["infer", "in.npz", "--out", "r.npz", "--fs", "0"], "--fs: '0'"),
        (["infer", "in.npz", "--out", "r.npz", "--threads", "0"], "--threads: '0'"),
        (["convert", "in.npz", "out.mat"], "OUT: 'out.mat' must end in .npz"),
        (["sample-gan", "m", "--out", "s.npz", "--n", "0"], "--n: '0'"),
    ],
)
def test_bad_arguments_are_refused_before_work(capsys, tmp_path, monkeypatch, argv, match):
    monkeypatch.chdir(tmp_path)
    _rejected(capsys, argv, match)
    assert os.listdir(tmp_path) == []


def test_synth_movie_too_many_cells(capsys, tmp_path):
    out = tmp_path / "m.tif"
    argv = ["synth-movie", "--out", str(out), "--size", "32", "32", "--cells", "500"]
    assert main([*argv, "--frames", "5", "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "n_cells=500 somata cannot fit in 32 x 32" in err and "Traceback" not in err
    assert not out.parent.exists() or os.listdir(out.parent) == []


def test_synth_movie_image_too_small(capsys, tmp_path):
    argv = ["synth-movie", "--out", str(tmp_path / "m.tif"), "--size", "16", "16"]
    assert main([*argv, "--cells", "500", "--frames", "5", "--no-progress"]) == 1
    assert "at least 17 x 17 pixels" in capsys.readouterr().err


def test_upper_case_out_extension_writes_one_file(capsys, tmp_path, recording_file):
    out = tmp_path / "X.NPZ"
    assert main(["convert", str(recording_file), str(out)]) == 0
    assert sorted(os.listdir(tmp_path)) == ["X.NPZ", "in.npz"]


def test_train_spikes_with_text_in_the_mat_file(capsys, tmp_path):
    folder = tmp_path / "DS99-text"
    folder.mkdir()
    s = {"fluo_time": np.arange(600) / 30.0, "fluo_mean": "not numbers", "events_AP": [1e4]}
    scipy.io.savemat(folder / "cell.mat", {"CAttached": s})
    argv = ["train-spikes", str(folder), "--out", str(tmp_path / "o"), "--iterations", "2"]
    assert main([*argv, "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "fluo_mean must hold numbers" in err and "Traceback" not in err


def test_unwritable_output_folder_is_one_line(capsys, tmp_path, monkeypatch):
    import pathlib

    def denied(self, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(pathlib.Path, "mkdir", denied)
    argv = ["synth-movie", "--out", str(tmp_path / "new" / "m.tif"), "--size", "32", "32"]
    assert main([*argv, "--cells", "2", "--frames", "5", "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "Permission denied" in err and "new" in err and "Traceback" not in err
