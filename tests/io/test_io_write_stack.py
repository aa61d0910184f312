"""The one TIFF stack writer: round trip through read_stack, atomic on failure, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

from calcium_forge.errors import InvalidInputError, MissingFileError
from calcium_forge.io import read_stack, write_stack
from calcium_forge.io.tiff import write_labels


class LazyMovie:
    """A (T, Y, X) array-like that counts the frames read and refuses whole reads."""

    def __init__(self, data: np.ndarray) -> None:
        self.data = data
        self.shape = data.shape
        self.reads: list[int] = []

    def __getitem__(self, t: int) -> np.ndarray:
        self.reads.append(t)
        return self.data[t]

    def __array__(self, dtype=None, copy=None):  # pragma: no cover - must not be called
        raise AssertionError("write_stack loaded the whole movie")


def test_round_trip_float32_and_frame_rate(tmp_path, rng):
    movie = rng.normal(100.0, 20.0, size=(12, 9, 11))  # float64 in, float32 on disk
    path = write_stack(tmp_path / "m.tif", movie, fs_hz=15.0)
    assert path == tmp_path / "m.tif"
    stack = read_stack(path)
    assert stack.shape == (12, 9, 11) and stack.dtype == np.float32
    assert stack.fs_hz == pytest.approx(15.0) and stack.meta["fs_hz_source"] == "ImageJ finterval"
    np.testing.assert_array_equal(np.asarray(stack.data[:]), movie.astype(np.float32))


def test_round_trip_uint16_and_no_rate(tmp_path, rng):
    movie = rng.integers(0, 65536, size=(5, 6, 7)).astype(np.int64)
    stack = read_stack(write_stack(tmp_path / "u.tif", movie, dtype="uint16"))
    assert stack.dtype == np.uint16 and stack.fs_hz is None
    np.testing.assert_array_equal(np.asarray(stack.data[:]), movie)


def test_lazy_movie_is_written_frame_by_frame(tmp_path, rng, capsys):
    data = rng.random((7, 4, 5)).astype(np.float32)
    lazy = LazyMovie(data)
    write_stack(tmp_path / "lazy.tif", lazy, fs_hz=30.0, progress_bar=True)
    assert lazy.reads == list(range(7))
    np.testing.assert_array_equal(tifffile.imread(tmp_path / "lazy.tif"), data)
    assert "lazy.tif" in capsys.readouterr().err  # the progress bar names the file


def test_synthetic_movie_round_trip(tmp_path):
    from calcium_forge.synthesis.movie import make_synthetic_stack

    st = make_synthetic_stack((24, 24), n_cells=2, n_frames=6, fs_hz=20.0, seed=1, lazy=True)
    stack = read_stack(write_stack(tmp_path / "syn.tif", st.movie, fs_hz=20.0))
    np.testing.assert_array_equal(np.asarray(stack.data[:]), np.asarray(st.movie))
    assert stack.fs_hz == pytest.approx(20.0)


def test_failure_mid_write_leaves_nothing(tmp_path, rng):
    movie = rng.random((6, 4, 4))
    movie[4, 1, 2] = np.nan
    with pytest.raises(InvalidInputError, match=r"movie frame 4 holds 1 non-finite.*nan_to_num"):
        write_stack(tmp_path / "bad.tif", movie)
    assert list(tmp_path.iterdir()) == []
    # an existing file keeps its content
    good = write_stack(tmp_path / "bad.tif", movie[:3])
    before = good.read_bytes()
    with pytest.raises(InvalidInputError):
        write_stack(good, movie)
    assert good.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["bad.tif"]


@pytest.mark.parametrize(
    ("movie", "kwargs", "match"),
    [
        (np.zeros((4, 5)), {}, r"movie has shape \(4, 5\); expected a non-empty 3-D .*\[None\]"),
        (np.zeros((2, 3, 4, 5)), {}, r"shape \(2, 3, 4, 5\).*channel/plane"),
        (np.zeros((0, 4, 5)), {}, r"shape \(0, 4, 5\); expected a non-empty"),
        (np.zeros((2, 4, 5)), {"dtype": "int8"}, r"dtype='int8' is not supported.*'float32'"),
        (np.zeros((2, 4, 5)), {"dtype": "no-such"}, r"dtype='no-such' is not supported"),
        (np.zeros((2, 4, 5)), {"fs_hz": 0.0}, r"write_stack: fs_hz must be .* > 0 Hz; got 0\.0"),
        (np.full((2, 4, 5), np.inf), {}, r"frame 0 holds 20 non-finite"),
        (np.full((2, 4, 5), 1e39), {}, r"beyond the float32 range"),
        (np.full((2, 4, 5), -1.0), {"dtype": "uint16"}, r"\[-1\.0, -1\.0\].*dtype='float32'"),
        (np.full((2, 4, 5), 0.5), {"dtype": "uint16"}, r"not all integers in 0\.\.65535"),
        (np.zeros((2, 4, 5), complex), {}, r"dtype complex128; expected real numbers"),
    ],
)
def test_bad_input_is_named(tmp_path, movie, kwargs, match):
    with pytest.raises(InvalidInputError, match=match):
        write_stack(tmp_path / "x.tif", movie, **kwargs)
    assert list(tmp_path.iterdir()) == []


def test_missing_folder(tmp_path):
    with pytest.raises(MissingFileError, match="does not exist"):
        write_stack(tmp_path / "no" / "x.tif", np.zeros((2, 3, 3)))


def test_write_labels_uint16(tmp_path):
    labels = np.zeros((6, 7), np.int32)
    labels[1:3, 1:3] = 1
    labels[4:, 4:] = 300
    path = write_labels(tmp_path / "labels.tif", labels)
    back = tifffile.imread(path)
    assert back.dtype == np.uint16 and back.shape == (6, 7)
    np.testing.assert_array_equal(back, labels)
    with pytest.raises(InvalidInputError, match=r"labels has shape \(2, 6, 7\); expected .* 2-D"):
        write_labels(tmp_path / "l3.tif", np.zeros((2, 6, 7), int))
    with pytest.raises(InvalidInputError, match=r"\[0, 70000\].*at most 65535 ROIs"):
        write_labels(tmp_path / "big.tif", np.array([[0, 70000]]))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["labels.tif"]
