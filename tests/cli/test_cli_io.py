"""CLI `info` and `convert` on real and written files."""

from __future__ import annotations

import numpy as np
import pytest

from calcium_forge import read
from calcium_forge.cli import main


def test_info_suite2p(suite2p_plane0, capsys):
    assert main(["info", str(suite2p_plane0), "--fs", "30"]) == 0
    out = capsys.readouterr().out
    assert "reader: suite2p" in out and "20 ROI(s) x 18000 frames at 30 Hz" in out
    assert "labels: 466x469" in out and "neuropil: yes" in out and "NaN values: 0" in out


def test_info_without_fs_is_a_one_line_error(suite2p_plane0, capsys):
    assert main(["info", str(suite2p_plane0)]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--fs 30" in err and "plane0" in err


def test_info_cascade_reports_nans_and_spikes(ground_truth_dir, capsys):
    path = sorted((ground_truth_dir / "DS07-GCaMP6f-zf-dD").glob("*.mat"))[0]
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "reader: cascade" in out and "ground-truth spikes:" in out
    assert "stretch(es)" in out  # this file has a NaN stretch


def test_convert_real_suite2p_to_npz_and_csv(suite2p_plane0, tmp_path, capsys):
    out_npz = tmp_path / "plane0.npz"
    assert main(["convert", str(suite2p_plane0), str(out_npz), "--fs", "30"]) == 0
    back = read(out_npz)
    assert back.kind == "raw" and back.traces.shape == (20, 18000) and back.labels is not None
    assert main(["convert", str(out_npz), str(tmp_path / "plane0.csv")]) == 0
    csv = read(tmp_path / "plane0.csv")
    np.testing.assert_array_equal(csv.traces, back.traces)
    assert "wrote" in capsys.readouterr().out


def test_convert_multi_recording_file(tmp_path, ground_truth_dir):
    path = sorted((ground_truth_dir / "DS02-OGB1-2-m-V1").glob("*.mat"))[0]
    n = len(read(path))
    assert main(["convert", str(path), str(tmp_path / "ds02.npz")]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"ds02_{k}.npz" for k in range(n)]


def test_convert_unknown_output(tmp_path, capsys):
    np.save(tmp_path / "t.npy", np.ones((1, 5)))
    with pytest.raises(SystemExit) as info:  # refused by argparse, before reading IN
        main(["convert", str(tmp_path / "t.npy"), str(tmp_path / "t.xlsx"), "--fs", "3"])
    assert info.value.code == 2
    assert "t.xlsx' must end in .npz, .csv, .nwb" in capsys.readouterr().err


def test_info_damaged_file_and_tiff(tmp_path, capsys, rng):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"PK\x03\x04garbage")
    assert main(["info", str(bad)]) == 1
    assert "bad.npz" in capsys.readouterr().err
    import tifffile

    tif = tmp_path / "movie.tif"
    tifffile.imwrite(
        tif,
        rng.integers(0, 9, (12, 8, 10), dtype=np.uint16),
        imagej=True,
        metadata={"axes": "TYX", "finterval": 0.05},
    )
    assert main(["info", str(tif)]) == 0
    out = capsys.readouterr().out
    assert "reader: tiff" in out and "12 frames of 8 x 10" in out and "20 Hz" in out


def test_write_rejects_unknown_option(tmp_path):
    import pytest

    from calcium_forge import Recording, write
    from calcium_forge.errors import InvalidInputError

    rec = Recording(traces=np.ones((1, 3)), fs_hz=1.0)
    with pytest.raises(InvalidInputError, match="option not understood by the npz writer"):
        write(rec, tmp_path / "x.npz", compress=False)
    assert not (tmp_path / "x.npz").exists()
