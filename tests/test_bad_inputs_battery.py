"""A property-based battery of malformed inputs (issue #17): readers, model cards, CLI.

Hypothesis generates a few hundred damaged or nonsensical inputs. For each the
library raises a CalciumForgeError (or succeeds), the CLI exits with rc != 0 and
a one-line message, nothing hangs (pytest-timeout) and no file is left behind.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from calcium_forge import Recording, read, write  # noqa: E402
from calcium_forge.errors import CalciumForgeError  # noqa: E402

FAST = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)
pytestmark = pytest.mark.timeout(180)


def _npy_bytes(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=arr.dtype.hasobject)
    return buf.getvalue()


def _seed_files() -> dict[str, bytes]:
    """Valid files of every format the readers take, to be damaged."""
    rng = np.random.default_rng(0)
    traces = rng.standard_normal((3, 64))
    files: dict[str, bytes] = {"traces.npy": _npy_bytes(traces)}
    with tempfile.TemporaryDirectory() as d:
        rec = Recording(traces=traces, fs_hz=30.0, spike_times=[np.array([0.5])] * 3)
        for name in ("rec.npz", "rec.csv"):
            write(rec, Path(d) / name)
            files[name] = (Path(d) / name).read_bytes()
        import scipy.io
        import tifffile

        t = np.arange(200) / 20.0
        s = {"fluo_time": t, "fluo_mean": rng.standard_normal(200), "events_AP": [2e4]}
        scipy.io.savemat(Path(d) / "cell.mat", {"CAttached": s})
        files["cell.mat"] = (Path(d) / "cell.mat").read_bytes()
        tifffile.imwrite(Path(d) / "movie.tif", rng.integers(0, 99, (4, 8, 8), dtype=np.uint16))
        files["movie.tif"] = (Path(d) / "movie.tif").read_bytes()
    ops = {"fs": 30.0, "Ly": 16, "Lx": 16, "meanImg": rng.uniform(size=(16, 16))}
    files["ops.npy"] = _npy_bytes(np.array(ops, dtype=object))
    return files


SEEDS = _seed_files()


@st.composite
def damaged(draw) -> tuple[str, bytes]:
    """A seed file with random truncation, byte flips and insertions."""
    name = draw(st.sampled_from(sorted(SEEDS)))
    data = bytearray(SEEDS[name])
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["cut", "flip", "insert", "zero"]))
        pos = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == "cut":
            del data[pos:]
        elif kind == "flip" and data:
            data[pos] ^= draw(st.integers(1, 255))
        elif kind == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=16))
        elif data:
            data[pos : pos + 8] = b"\0" * len(data[pos : pos + 8])
    return name, bytes(data)


def _read_any(path: Path) -> None:
    if path.suffix == ".tif":
        from calcium_forge.io import read_stack

        stack = read_stack(path, fs_hz=10.0)
        stack.frame(0)
    else:
        read(path, **({} if path.suffix in (".mat", ".npz") else {"fs_hz": 30.0}))


def _only_our_errors(func, *args, **kwargs) -> None:
    try:
        func(*args, **kwargs)
    except CalciumForgeError:
        pass


@FAST
@given(case=damaged())
def test_damaged_files_raise_only_named_errors(tmp_path, case):
    name, data = case
    path = tmp_path / name
    path.write_bytes(data)
    if name == "ops.npy":  # damaged ops.npy inside an otherwise valid plane folder
        plane = tmp_path / "plane0"
        plane.mkdir(exist_ok=True)
        np.save(plane / "F.npy", np.ones((2, 40)))
        (plane / "ops.npy").write_bytes(data)
        _only_our_errors(read, plane)
    else:
        _only_our_errors(_read_any, path)


_DTYPES = ["<f8", "<f4", "<i2", "|b1", "<c16", "<U3", "|S2", "<M8[s]", "|V4", "<f2"]


@st.composite
def odd_arrays(draw) -> np.ndarray:
    dtype = np.dtype(draw(st.sampled_from(_DTYPES)))
    shape = draw(st.lists(st.integers(0, 5), min_size=0, max_size=4))
    n = int(np.prod(shape)) if shape else 1
    raw = draw(st.binary(min_size=n * dtype.itemsize, max_size=n * dtype.itemsize))
    return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()


@FAST
@given(arr=odd_arrays(), fs=st.sampled_from([30.0, 0.0, -1.0, float("nan"), 1e12]))
def test_odd_npy_arrays_raise_only_named_errors(tmp_path, arr, fs):
    np.save(tmp_path / "x.npy", arr)
    _only_our_errors(read, tmp_path / "x.npy", fs_hz=fs)


_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=5),
    st.lists(st.integers(-3, 10**6), max_size=4),
)


@FAST
@given(
    entries=st.dictionaries(
        st.sampled_from(["traces", "fs", "fs_hz", "a", "b", "F", "rate_hz", "cf_format"]),
        st.one_of(odd_arrays(), st.floats(allow_nan=True), st.text(max_size=4)),
        max_size=4,
    )
)
def test_odd_npz_archives_raise_only_named_errors(tmp_path, entries):
    np.savez(tmp_path / "x.npz", **{k: np.asarray(v) for k, v in entries.items()})
    _only_our_errors(read, tmp_path / "x.npz")


@FAST
@given(ops=st.dictionaries(st.sampled_from(["fs", "Ly", "Lx", "nframes", "meanImg"]), _VALUES))
def test_odd_ops_values_raise_only_named_errors(tmp_path, ops):
    plane = tmp_path / "plane0"
    plane.mkdir(exist_ok=True)
    np.save(plane / "F.npy", 100 + np.random.default_rng(0).standard_normal((2, 40)))
    stat = [{"ypix": np.array([1, 2]), "xpix": np.array([3, 3])}] * 2
    np.save(plane / "stat.npy", np.array(stat, dtype=object), allow_pickle=True)
    np.save(plane / "ops.npy", np.array(ops, dtype=object), allow_pickle=True)
    _only_our_errors(read, plane)


@FAST
@given(text=st.text(alphabet="0123456789.,;#-e \nnaifs_hz=", max_size=120))
def test_odd_csv_text_raises_only_named_errors(tmp_path, text):
    (tmp_path / "x.csv").write_text(text)
    _only_our_errors(read, tmp_path / "x.csv", fs_hz=30.0)


# ---------------------------------------------------------------------------- model cards
@pytest.fixture(scope="module")
def model_files(tmp_path_factory):
    from calcium_forge.inference.networks import build_network
    from calcium_forge.inference.registry import save_model

    net = build_network("ENS2UNet", {"channels": [4, 8, 32, 64], "window": 96, "fs_hz": 60.0})
    pt = save_model(net, {"method": "ens2"}, tmp_path_factory.mktemp("m") / "m")
    return pt.read_bytes(), json.loads(pt.with_suffix(".json").read_text())


@FAST
@given(
    key=st.sampled_from(
        ["fs_hz", "window", "output_scale", "output_offset", "method", "architecture",
         "architecture.kwargs", "channels", "kwargs.window", "kwargs.fs_hz"]
    ),
    value=_VALUES,
)  # fmt: skip
def test_odd_model_cards_raise_only_named_errors(tmp_path, model_files, key, value):
    from calcium_forge.inference.registry import load_model

    weights, card = model_files
    card = json.loads(json.dumps(card))
    kwargs = card["architecture"]["kwargs"]
    if key == "architecture.kwargs":
        card["architecture"]["kwargs"] = value
    elif key == "channels":
        kwargs["channels"] = value
    elif key.startswith("kwargs."):
        kwargs[key.split(".")[1]] = value
    else:
        card[key] = value
    (tmp_path / "m.pt").write_bytes(weights)
    (tmp_path / "m.json").write_text(json.dumps(card))
    _only_our_errors(load_model, tmp_path / "m.pt")


# ---------------------------------------------------------------------------- CLI
_BAD = st.sampled_from(["-1", "0", "-0", "nan", "inf", "-inf", "abc", "", "1e309", "2.5", "1e6"])
_OPTIONS = {
    "infer": (["IN", "--out", "OUT.npz"], ["--fs", "--threads", "--event-gain"]),
    "convert": (["IN", "OUT.npz"], ["--fs"]),
    "train-gan": (["IN", "--out", "D"], ["--window", "--stride", "--steps", "--batch-size",
                                         "--held-out", "--budget-min", "--ema-decay"]),
    "train-spikes": (["IN", "--out", "D"], ["--iterations", "--threads"]),
    "synth-movie": (["--out", "OUT.tif", "--traces", "IN"],
                    ["--cells", "--frames", "--fs", "--size"]),
    "sample-gan": (["IN", "--out", "OUT.npz"], ["--n", "--frames"]),
    "batch-infer": (["IN", "--out", "D"], ["--workers", "--threads-per-worker", "--fs-hz"]),
}  # fmt: skip


@FAST
@given(
    command=st.sampled_from(sorted(_OPTIONS)),
    option_index=st.integers(0, 10),
    value=_BAD,
    out_suffix=st.sampled_from([".npz", ".NPZ", ".txt", ".csv", ".tif", ""]),
)
def test_bad_cli_arguments_fail_cleanly(tmp_path, capsys, command, option_index, value, out_suffix):
    from calcium_forge.cli import main

    base, options = _OPTIONS[command]
    option = options[option_index % len(options)]
    missing = str(tmp_path / "missing.npz")  # the input never exists: no real work runs
    argv = [
        command,
        *[
            missing if a == "IN" else str(tmp_path / ("out" + out_suffix))
            if a.startswith("OUT") else str(tmp_path / "dir") if a == "D" else a
            for a in base
        ],
        f"{option}={value}" if option != "--size" else option,
    ]  # fmt: skip
    if option == "--size":
        argv += [value, "16"]
    before = set(os.listdir(tmp_path))
    try:
        rc = main(argv)
    except SystemExit as exc:  # argparse: usage line + one error line, rc 2
        rc = exc.code
    out, err = capsys.readouterr()
    assert rc not in (0, None), (argv, err)
    assert "Traceback" not in err + out
    lines = [ln for ln in err.splitlines() if ln.strip()]
    if command == "batch-infer" and not lines:  # valid arguments: the report on stdout, rc 1
        assert rc == 1 and "failed" in out.lower()
    else:
        assert lines and "error:" in lines[-1] and len([ln for ln in lines if "error" in ln]) == 1
    assert set(os.listdir(tmp_path)) <= before | {"dir"}  # nothing written


# ---------------------------------------------------------------------------- writes
@FAST
@given(
    suffix=st.sampled_from([".npz", ".NPZ", ".csv", ".CSV", ".txt", ".npz.gz", "", ".Npz"]),
    n_frames=st.integers(1, 5),
)
def test_writes_leave_the_target_or_nothing(tmp_path, suffix, n_frames):
    folder = Path(tempfile.mkdtemp(dir=tmp_path))
    target = folder / f"out{suffix}"
    rec = Recording(traces=np.ones((2, n_frames)), fs_hz=30.0)
    try:
        write(rec, target)
    except CalciumForgeError:
        assert os.listdir(folder) == []
    else:
        assert os.listdir(folder) == [target.name]
        with zipfile.ZipFile(target) if target.suffix.lower() == ".npz" else open(target) as fh:
            assert fh is not None
