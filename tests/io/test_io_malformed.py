"""Malformed inputs: each raises a CalciumForgeError subclass naming the file and the problem."""

from __future__ import annotations

import os
import re
import shutil

import numpy as np
import pytest
import scipy.io
import tifffile
from _io_helpers import write_cascade_mat

from calcium_forge import Recording, read, write
from calcium_forge.errors import (
    CalciumForgeError,
    FileFormatError,
    InvalidInputError,
    MissingFileError,
    UnsafePickleError,
)
from calcium_forge.io import read_stack


def _raises(exc_type, match, func, *args, **kwargs):
    with pytest.raises(exc_type) as info:
        func(*args, **kwargs)
    assert isinstance(info.value, CalciumForgeError)
    msg = str(info.value)
    assert re.search(match, msg, flags=re.IGNORECASE | re.DOTALL), msg
    return msg


def test_truncated_tiff(tmp_path, rng):
    p = tmp_path / "cut.tif"
    tifffile.imwrite(p, rng.integers(0, 9, (40, 32, 32), dtype=np.uint16), imagej=True)
    os.truncate(p, p.stat().st_size // 2)
    _raises(FileFormatError, r"cut\.tif.*truncated", read_stack, p)


def test_truncated_plain_tiff(tmp_path, rng):
    p = tmp_path / "cut2.tif"
    tifffile.imwrite(p, rng.integers(0, 9, (40, 32, 32), dtype=np.uint16))
    os.truncate(p, p.stat().st_size - 5000)
    _raises(FileFormatError, r"cut2\.tif.*truncated", read_stack, p)


def test_empty_stack_file(tmp_path):
    p = tmp_path / "empty.tif"
    p.write_bytes(b"")
    _raises(FileFormatError, r"empty\.tif.*empty", read_stack, p)


def test_2d_image_where_stack_needed(tmp_path, rng):
    p = tmp_path / "single.tif"
    tifffile.imwrite(p, rng.integers(0, 9, (32, 40), dtype=np.uint16))
    _raises(FileFormatError, r"single\.tif.*2-D image.*stack", read_stack, p)


def test_tiff_given_to_read(tmp_path, rng):
    p = tmp_path / "movie.tif"
    tifffile.imwrite(p, rng.integers(0, 9, (5, 8, 8), dtype=np.uint16))
    _raises(FileFormatError, r"\[tiff reader\].*movie\.tif.*read_stack", read, p)


def test_suite2p_missing_F(plane_factory):
    plane = plane_factory("plane0", ops={"fs": 30.0})
    (plane / "F.npy").unlink()
    _raises(MissingFileError, r"\[suite2p reader\].*plane0.*no F\.npy", read, plane)


def test_suite2p_F_Fneu_mismatch(plane_factory):
    plane = plane_factory("plane0", ops={"fs": 30.0})
    np.save(plane / "Fneu.npy", np.zeros((4, 299), dtype=np.float32))
    _raises(FileFormatError, r"Fneu\.npy.*\(4, 299\).*\(4, 300\)", read, plane)


def test_suite2p_stat_length(plane_factory):
    plane = plane_factory("plane0", ops={"fs": 30.0})
    stat = np.load(plane / "stat.npy", allow_pickle=True)[:3]
    np.save(plane / "stat.npy", stat, allow_pickle=True)
    _raises(FileFormatError, r"stat\.npy.*3 ROIs.*F\.npy has 4", read, plane)


def test_suite2p_iscell_shape(plane_factory):
    plane = plane_factory("plane0", ops={"fs": 30.0})
    np.save(plane / "iscell.npy", np.ones((5, 2)))
    _raises(FileFormatError, r"iscell\.npy.*\(5, 2\).*4 ROIs", read, plane)


def test_pickle_payload_in_stat(plane_factory, tmp_path):
    class Evil:
        def __reduce__(self):
            return (shutil.rmtree, (str(tmp_path),))

    plane = plane_factory("plane0", ops={"fs": 30.0})
    np.save(plane / "stat.npy", np.array([Evil()] * 4, dtype=object), allow_pickle=True)
    _raises(UnsafePickleError, r"stat\.npy.*shutil\.rmtree", read, plane)
    assert tmp_path.exists()


def test_inf_in_traces(plane_factory, tmp_path):
    plane = plane_factory("plane0", ops={"fs": 30.0})
    F = np.load(plane / "F.npy")
    F[2, 10] = np.inf
    np.save(plane / "F.npy", F)
    _raises(InvalidInputError, r"F\.npy.*1 infinite", read, plane)
    np.save(tmp_path / "t.npy", np.array([[1.0, np.inf, 2.0]]))
    _raises(InvalidInputError, r"t\.npy.*infinite", read, tmp_path / "t.npy", fs_hz=10)


def test_nan_in_suite2p_traces(plane_factory):
    plane = plane_factory("plane0", ops={"fs": 30.0})
    F = np.load(plane / "F.npy")
    F[0, :3] = np.nan
    np.save(plane / "F.npy", F)
    _raises(InvalidInputError, r"F\.npy.*3 NaN.*does not allow", read, plane)


@pytest.mark.parametrize("fs", [0.0, -5.0, float("nan")])
def test_bad_frame_rate(tmp_path, fs):
    np.save(tmp_path / "t.npy", np.ones((2, 10)))
    _raises(
        InvalidInputError,
        r"t\.npy.*fs_hz must be a finite frame rate > 0",
        read,
        tmp_path / "t.npy",
        fs_hz=fs,
    )
    with pytest.raises(InvalidInputError, match="fs_hz"):
        Recording(traces=np.ones((1, 5)), fs_hz=fs)


def test_mat_without_cattached(tmp_path):
    p = tmp_path / "other.mat"
    scipy.io.savemat(p, {"traces": np.ones((2, 5)), "fs": 30.0})
    _raises(FileFormatError, r"\[cascade reader\].*other\.mat.*no 'CAttached'.*fs, traces", read, p)


def test_mat_events_outside_recording(tmp_path, cascade_struct):
    s = dict(cascade_struct, events_AP=cascade_struct["events_AP"] * 10)  # wrong units
    p = write_cascade_mat(tmp_path / "units.mat", [s])
    _raises(FileFormatError, r"units\.mat.*spikes.*outside the recording.*1e-4 s", read, p)


def test_ragged_csv(tmp_path):
    p = tmp_path / "ragged.csv"
    p.write_text("# fs_hz=10\n1,2,3\n4,5\n6,7,8\n")
    _raises(FileFormatError, r"ragged\.csv.*ragged.*line 3 has 2", read, p)


def test_csv_not_numbers(tmp_path):
    p = tmp_path / "words.csv"
    p.write_text("# fs_hz=10\n1,2,3\n4,five,6\n")
    _raises(FileFormatError, r"words\.csv.*line 3, column 2.*'five'", read, p)


def test_unknown_extension(tmp_path):
    p = tmp_path / "data.xyz"
    p.write_bytes(b"\x00\x01garbage" * 20)
    _raises(FileFormatError, r"data\.xyz.*unknown file type.*'\.xyz'", read, p)
    rec = Recording(traces=np.ones((1, 5)), fs_hz=1.0)
    _raises(FileFormatError, r"out\.xlsx.*cannot write", write, rec, tmp_path / "out.xlsx")


def test_directory_not_suite2p(tmp_path):
    d = tmp_path / "holiday_photos"
    d.mkdir()
    (d / "a.txt").write_text("x")
    _raises(FileFormatError, r"holiday_photos.*not a Suite2P output", read, d)


def test_missing_path(tmp_path):
    _raises(MissingFileError, r"nothing_here.*no such file", read, tmp_path / "nothing_here")


def test_damaged_npz(tmp_path):
    p = tmp_path / "bad.npz"
    p.write_bytes(b"PK\x03\x04" + b"\x00" * 50)
    _raises(FileFormatError, r"bad\.npz.*not a readable \.npz", read, p)


def test_npy_without_fs(tmp_path):
    np.save(tmp_path / "t.npy", np.ones((2, 10)))
    _raises(
        InvalidInputError,
        r"t\.npy.*does not store the frame rate.*fs_hz=",
        read,
        tmp_path / "t.npy",
    )


def test_error_classes_are_builtin_compatible():
    assert issubclass(FileFormatError, ValueError)
    assert issubclass(MissingFileError, FileNotFoundError)


def test_fs_option_contradicting_stored_times(tmp_path, cascade_struct):
    p = write_cascade_mat(tmp_path / "gt.mat", [cascade_struct])
    assert read(p, fs_hz=20.0).fs_hz == pytest.approx(20.0)  # agrees: accepted
    _raises(
        InvalidInputError,
        r"gt\.mat.*stores its frame rate \(20 Hz\).*fs_hz=30",
        read,
        p,
        fs_hz=30.0,
    )
    npz = write(read(p), tmp_path / "gt.npz")
    _raises(InvalidInputError, r"gt\.npz.*contradicts", read, npz, fs_hz=31.0)
