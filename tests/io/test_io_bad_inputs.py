"""Bad inputs and faults of the readers and writers: one test per case of issue #17.

Each case gets a named CalciumForgeError whose message names the file, the
value and the fix, a SuspectInputWarning when the input is legal but suspect,
or correct handling, and never leaves a file behind.
"""

from __future__ import annotations

import errno
import os
import pickle
import re
import resource
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import tifffile
from _io_helpers import write_cascade_mat

from calcium_forge import Recording, read, write
from calcium_forge.errors import (
    CalciumForgeError,
    FileFormatError,
    InvalidInputError,
    SuspectInputWarning,
    UnsafePickleError,
    WriteError,
)
from calcium_forge.io import read_result, read_stack
from calcium_forge.results import SpikeInference

SRC = Path(__file__).resolve().parents[2] / "src"


def _raises(exc_type, match, func, *args, **kwargs) -> str:
    with pytest.raises(exc_type) as info:
        func(*args, **kwargs)
    assert isinstance(info.value, CalciumForgeError)
    msg = str(info.value)
    assert re.search(match, msg, flags=re.IGNORECASE | re.DOTALL), msg
    return msg


@pytest.fixture
def rec(rng):
    return Recording(traces=rng.standard_normal((3, 200)), fs_hz=30.0)


# ---------------------------------------------------------------------------- writes
@pytest.mark.parametrize("name", ["X.NPZ", "Y.Npz", "Z.CSV"])
def test_upper_case_extension_writes_the_file_and_nothing_else(tmp_path, rec, name):
    target = tmp_path / name
    write(rec, target)
    assert sorted(os.listdir(tmp_path)) == [name]  # no orphan .X.NPZ.<rand>.tmp.NPZ.npz
    np.testing.assert_allclose(read(target).traces, rec.traces, rtol=1e-6)


def test_sigterm_during_a_write_removes_the_temporary_file(tmp_path):
    script = textwrap.dedent(
        f"""
        import sys, time
        sys.path.insert(0, {str(SRC)!r})
        from calcium_forge.io.atomic import atomic_path
        with atomic_path({str(tmp_path / "out.npz")!r}) as tmp:
            tmp.write_bytes(b"half")
            print("writing", flush=True)
            time.sleep(60)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "writing"
    assert len(os.listdir(tmp_path)) == 1  # the hidden temporary file exists while writing
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 128 + signal.SIGTERM
    assert os.listdir(tmp_path) == []


def test_sigterm_handler_is_only_installed_during_a_write(tmp_path, rec):
    before = signal.getsignal(signal.SIGTERM)
    write(rec, tmp_path / "out.npz")
    assert signal.getsignal(signal.SIGTERM) is before


def test_read_only_folder_is_a_write_error(tmp_path, rec, monkeypatch):
    import calcium_forge.io.atomic as atomic

    real_open = os.open

    def denied(path, flags, *args):
        if str(path).startswith(str(tmp_path)):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, flags, *args)

    monkeypatch.setattr(atomic.os, "open", denied)
    msg = _raises(
        WriteError, r"out\.npz.*permission denied.*writ", write, rec, tmp_path / "out.npz"
    )
    assert "folder you can write" in msg
    assert os.listdir(tmp_path) == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores folder permissions")
def test_read_only_folder_for_real(tmp_path, rec):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        _raises(WriteError, r"permission denied", write, rec, folder / "out.npz")
    finally:
        folder.chmod(0o700)


def test_full_disk_is_a_write_error_and_leaves_nothing(tmp_path, rec, monkeypatch):
    import calcium_forge.io.traces as traces_io

    def full(file, arrays):
        with open(file, "wb") as fh:
            fh.write(b"PK partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(traces_io, "save_npz", full)
    err = _raises(WriteError, r"out\.npz.*disk.*full", write, rec, tmp_path / "out.npz")
    assert "free space" in err
    with pytest.raises(OSError):  # WriteError stays an OSError for generic handlers
        write(rec, tmp_path / "out.npz")
    assert os.listdir(tmp_path) == []


def test_nwb_writes_a_result_with_zero_events(tmp_path, rec):
    pytest.importorskip("pynwb")
    rec.spike_times = [np.zeros(0)] * 3
    res = SpikeInference(
        rate_hz=np.zeros((3, 200)), events=[np.zeros(0)] * 3, method="oasis", fs_hz=30.0,
        recording=rec,
    )  # fmt: skip
    write(res, tmp_path / "r.nwb")
    back = read(tmp_path / "r.nwb")
    assert [e.size for e in back.meta["events"]] == [0, 0, 0]
    assert [s.size for s in back.spike_times] == [0, 0, 0]


# ---------------------------------------------------------------------------- resources
def test_pickle_asking_for_2_gb_is_refused_before_allocating(tmp_path):
    class Big:
        def __reduce__(self):
            return (bytearray, (2_000_000_000,))

    path = tmp_path / "ops.npy"
    with open(path, "wb") as fh:
        np.lib.format.write_array_header_1_0(
            fh, {"descr": "|O", "fortran_order": False, "shape": ()}
        )
        fh.write(pickle.dumps(Big(), protocol=4))
    assert path.stat().st_size < 300
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    from calcium_forge.io.safe_pickle import load_npy

    _raises(
        UnsafePickleError,
        r"ops\.npy.*bytearray\(2000000000\).*Nothing was allocated",
        load_npy,
        path,
    )
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mb < 100


def test_pickle_array_shape_beyond_its_data_is_refused():
    from calcium_forge.io.safe_pickle import loads_restricted

    class Huge:
        def __reduce__(self):
            from numpy._core.multiarray import _reconstruct

            return (_reconstruct, (np.ndarray, (10**9,), b"b"))

    _raises(UnsafePickleError, r"shape \(1000000000,\)", loads_restricted, pickle.dumps(Huge()))


def test_real_pickles_still_load(tmp_path, rng):
    from calcium_forge.io.safe_pickle import load_npy

    ops = {"fs": 30.0, "meanImg": rng.uniform(size=(256, 256)), "xs": {1, 2}, "b": bytearray(3)}
    np.save(tmp_path / "ops.npy", np.array(ops, dtype=object), allow_pickle=True)
    back = load_npy(tmp_path / "ops.npy").item()
    np.testing.assert_array_equal(back["meanImg"], ops["meanImg"])
    assert back["xs"] == {1, 2} and back["b"] == bytearray(3)


@pytest.mark.timeout(30)
@pytest.mark.parametrize("name", ["traces.csv", "traces.npy", "movie.tif"])
def test_fifo_is_refused_not_read(tmp_path, name):
    fifo = tmp_path / name
    os.mkfifo(fifo)
    _raises(FileFormatError, r"FIFO.*regular files", read, fifo)


@pytest.mark.timeout(30)
def test_fifo_in_a_suite2p_folder_is_refused(plane_factory):
    plane = plane_factory(ops={"fs": 30.0})
    (plane / "F.npy").unlink()
    os.mkfifo(plane / "F.npy")
    _raises(FileFormatError, r"F\.npy.*FIFO", read, plane)


@pytest.mark.timeout(30)
def test_device_is_refused(tmp_path):
    if not Path("/dev/zero").exists():
        pytest.skip("no /dev/zero")
    _raises(FileFormatError, r"/dev/zero.*character device", read, "/dev/zero", fs_hz=30.0)


def test_npy_header_larger_than_memory_is_refused(tmp_path):
    path = tmp_path / "F.npy"
    with open(path, "wb") as fh:
        np.lib.format.write_array_header_1_0(
            fh, {"descr": "<f8", "fortran_order": False, "shape": (10**7, 10**7)}
        )
    _raises(
        FileFormatError,
        r"F\.npy.*would need .*TiB.*refused before allocating",
        read,
        path,
        fs_hz=30,
    )


def test_npy_header_beyond_the_data_is_truncated(tmp_path):
    path = tmp_path / "F.npy"
    with open(path, "wb") as fh:
        np.lib.format.write_array_header_1_0(
            fh, {"descr": "<f8", "fortran_order": False, "shape": (100, 100)}
        )
        fh.write(b"\0" * 100)
    _raises(FileFormatError, r"F\.npy.*truncated", read, path, fs_hz=30)


def test_npy_header_that_does_not_parse_is_a_format_error(tmp_path):
    path = tmp_path / "x.npy"
    header = b"{'descr': '<f8', 'fortran_order': False, 'shape': (((".ljust(118) + b"\n"
    path.write_bytes(b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header)
    _raises(FileFormatError, r"x\.npy: not a readable \.npy file", read, path, fs_hz=30)


def test_npz_member_larger_than_memory_is_refused(tmp_path):
    import zipfile

    path = tmp_path / "big.npz"
    with zipfile.ZipFile(path, "w") as zf, zf.open("traces.npy", "w") as fh:
        np.lib.format.write_array_header_1_0(
            fh, {"descr": "<f8", "fortran_order": False, "shape": (10**7, 10**7)}
        )
    _raises(
        FileFormatError, r"big\.npz.*'traces\.npy'.*refused before allocating", read, path, fs_hz=30
    )


def test_ly_lx_200000_is_refused_before_allocating_labels(plane_factory):
    plane = plane_factory(ops={"fs": 30.0, "Ly": 200_000, "Lx": 200_000})
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    _raises(FileFormatError, r"stat\.npy.*label image.*200000 x 200000.*Ly/Lx", read, plane)
    assert (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024 < 100


def test_ops_ly_as_text_is_refused(plane_factory):
    plane = plane_factory(ops={"fs": 30.0, "Ly": "big"})
    _raises(FileFormatError, r"Ly='big'.*positive whole number", read, plane)


# ---------------------------------------------------------------------------- content
def test_complex_npy_is_refused(tmp_path, rng):
    np.save(tmp_path / "c.npy", rng.standard_normal((2, 50)) + 1j)
    _raises(InvalidInputError, r"real numbers.*c\.npy.*complex", read, tmp_path / "c.npy", fs_hz=30)


def test_complex_f_npy_in_suite2p_is_refused(plane_factory, rng):
    plane = plane_factory(ops={"fs": 30.0})
    np.save(plane / "F.npy", rng.standard_normal((4, 300)) + 1j)
    _raises(FileFormatError, r"F\.npy.*real numbers.*complex", read, plane)


def test_complex_tiff_is_refused(tmp_path, rng):
    path = tmp_path / "c.tif"
    tifffile.imwrite(path, (rng.standard_normal((5, 8, 8)) + 1j).astype(np.complex64))
    _raises(FileFormatError, r"c\.tif.*complex.*imaginary", read_stack, path)


def test_text_f_npy_is_refused(plane_factory):
    plane = plane_factory(ops={"fs": 30.0})
    np.save(plane / "F.npy", np.array([["a", "b"], ["c", "d"]]))
    _raises(FileFormatError, r"F\.npy.*real numbers.*<U1", read, plane)


def test_text_ops_fs_is_refused(plane_factory):
    plane = plane_factory(ops={"fs": "thirty"})
    _raises(InvalidInputError, r"ops\.npy.*fs.*'thirty'", read, plane)


def test_npz_with_unknown_keys_is_refused(tmp_path, rng):
    path = tmp_path / "u.npz"
    np.savez(path, a=rng.standard_normal((2, 50)), b=rng.standard_normal(50), fs=30.0)
    _raises(FileFormatError, r"u\.npz.*cannot tell.*entries: a, b, fs.*'traces'", read, path)


def test_npz_with_one_unknown_array_warns(tmp_path, rng):
    path = tmp_path / "u.npz"
    np.savez(path, foo=rng.standard_normal((2, 50)), fs=30.0)
    with pytest.warns(SuspectInputWarning, match=r"u\.npz.*'foo'.*Name it 'traces'"):
        got = read(path)
    assert got.traces.shape == (2, 50)


def _cut_result(tmp_path, rec, keep_shape: bool) -> Path:
    res = SpikeInference(
        rate_hz=np.zeros((3, 200)), events=None, method="oasis", fs_hz=30.0, recording=rec
    )
    write(res, tmp_path / "r.npz")
    z = dict(np.load(tmp_path / "r.npz"))
    z["rate_hz"] = z["rate_hz"][:, :100]
    if not keep_shape:
        del z["rate_shape"]  # a file written before rate_shape existed
    np.savez(tmp_path / "cut.npz", **z)
    return tmp_path / "cut.npz"


@pytest.mark.parametrize("keep_shape", [True, False])
def test_result_with_rate_cut_short_is_refused(tmp_path, rec, keep_shape):
    path = _cut_result(tmp_path, rec, keep_shape)
    _raises(
        FileFormatError,
        r"cut\.npz.*rate_hz has shape \(3, 100\).*\(3, 200\).*cut short",
        read_result,
        path,
    )


def test_result_round_trip_still_reads(tmp_path, rec):
    res = SpikeInference(
        rate_hz=np.ones((3, 200)), events=[np.array([1.0, 6.0])] * 3, method="oasis", fs_hz=30.0
    )
    write(res, tmp_path / "r.npz")
    assert read_result(tmp_path / "r.npz").rate_hz.shape == (3, 200)


# ---------------------------------------------------------------------------- Cascade .mat
def _struct(n=1200, fs=20.0, rng=None):
    rng = rng or np.random.default_rng(0)
    t = 0.05 + np.arange(n) / fs
    return {
        "fluo_time": t,
        "fluo_mean": 0.02 * rng.standard_normal(n),
        "events_AP": np.array([1e4, 2e4]),
    }


def test_cascade_reversed_fluo_time_is_refused(tmp_path):
    s = _struct()
    s["fluo_time"] = s["fluo_time"][::-1]
    path = write_cascade_mat(tmp_path / "rev.mat", [s])
    _raises(FileFormatError, r"rev\.mat.*fluo_time does not increase", read, path)


def test_cascade_fewer_time_stamps_than_samples_warns(tmp_path):
    s = _struct()
    s["fluo_time"] = s["fluo_time"][:1000]
    path = write_cascade_mat(tmp_path / "short.mat", [s])
    with pytest.warns(SuspectInputWarning, match=r"short\.mat.*1000 time stamps for 1200.*200"):
        got = read(path)
    assert got.meta["fluo_time_extended"] == 200


@pytest.mark.parametrize("field", ["fluo_time", "fluo_mean", "events_AP"])
def test_cascade_text_field_is_refused(tmp_path, field):
    s = _struct()
    s[field] = "hello"
    path = write_cascade_mat(tmp_path / "text.mat", [s])
    _raises(FileFormatError, rf"text\.mat.*{field} must hold numbers", read, path)


# ---------------------------------------------------------------------------- API misuse
def test_misspelt_reader_keyword(tmp_path, rec):
    write(rec, tmp_path / "r.npz")
    _raises(InvalidInputError, r"r\.npz.*fs_hzz", read, tmp_path / "r.npz", fs_hzz=30)


@pytest.mark.parametrize("rois", [[5], [-4], [0.5], np.ones(2, bool)])
def test_select_out_of_range(rec, rois):
    _raises(InvalidInputError, r"Recording\.select.*0\.\.\.2", rec.select, rois)
