"""Lazy TIFF stacks: formats, frame rate from metadata, selection, laziness."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

from calcium_forge.io import read_stack


@pytest.fixture
def movie(rng):
    return rng.integers(0, 4000, size=(30, 24, 32), dtype=np.uint16)


def test_imagej_frame_rate_and_lazy_data(tmp_path, movie):
    p = tmp_path / "ij.tif"
    tifffile.imwrite(p, movie, imagej=True, metadata={"axes": "TYX", "finterval": 1 / 15.0})
    stack = read_stack(p)
    assert stack.shape == (30, 24, 32) and stack.fs_hz == pytest.approx(15.0)
    assert stack.meta["fs_hz_source"] == "ImageJ finterval"
    assert not isinstance(stack.data, np.ndarray)  # lazy (zarr), not loaded
    np.testing.assert_array_equal(stack.frame(7), movie[7])
    np.testing.assert_array_equal(np.asarray(stack.data[3:6, 2:5]), movie[3:6, 2:5])


def test_ome_time_increment_in_ms(tmp_path, movie):
    p = tmp_path / "x.ome.tif"
    tifffile.imwrite(
        p,
        movie,
        ome=True,
        metadata={"axes": "TYX", "TimeIncrement": 50.0, "TimeIncrementUnit": "ms"},
    )
    stack = read_stack(p)
    assert stack.fs_hz == pytest.approx(20.0) and stack.meta["fs_hz_source"] == "OME TimeIncrement"


def test_plain_multipage_has_no_rate_unless_given(tmp_path, movie):
    p = tmp_path / "plain.tif"
    tifffile.imwrite(p, movie)
    assert read_stack(p).fs_hz is None
    stack = read_stack(p, fs_hz=9.0)
    assert stack.fs_hz == 9.0 and stack.meta["fs_hz_source"] == "fs_hz option"


def test_imagej_hyperstack_channel_and_plane(tmp_path, rng):
    data = rng.integers(0, 100, size=(10, 2, 3, 8, 9), dtype=np.uint16)  # T Z C Y X
    p = tmp_path / "hyper.tif"
    tifffile.imwrite(p, data, imagej=True, metadata={"axes": "TZCYX", "finterval": 0.1})
    stack = read_stack(p)
    assert stack.shape == (10, 8, 9) and stack.meta["n_channels"] == 3
    from calcium_forge.io.tiff import read_tiff_stack

    other = read_tiff_stack(p, channel=2, plane=1)
    np.testing.assert_array_equal(np.asarray(other.data[4]), data[4, 1, 2])


def test_scanimage_metadata_rate_and_deinterleave(tmp_path, rng):
    """ScanImage key = value metadata (frame description): volume rate, planes, channels."""
    vol = rng.integers(0, 100, size=(12, 2, 2, 8, 9), dtype=np.uint16)  # T Z C Y X
    desc = (
        "SI.hRoiManager.scanFrameRate = 60\nSI.hRoiManager.scanVolumeRate = 30\n"
        "SI.hStackManager.numSlices = 2\nSI.hChannels.channelSave = [1;2]\n"
    )
    from calcium_forge.io.tiff import read_tiff_stack

    # ScanImage >= 5 writes the non-varying frame data into the Software tag of every
    # frame (tifffile then flags the file as ScanImage); older files use the description
    for where in ("software", "description"):
        p = tmp_path / f"si_{where}.tif"
        tifffile.imwrite(p, vol.reshape(-1, 8, 9), metadata=None, **{where: desc})
        stack = read_tiff_stack(p, channel=1, plane=0)
        assert stack.fs_hz == 30.0 and stack.shape == (12, 8, 9)
        assert stack.meta["fs_hz_source"] == "ScanImage SI.hRoiManager.scanVolumeRate"
        np.testing.assert_array_equal(np.asarray(stack.data[5]), vol[5, 0, 1])
        np.testing.assert_array_equal(np.asarray(read_stack(p).data[11]), vol[11, 0, 0])
    assert stack.meta["kind"] != "scanimage"
    assert read_stack(tmp_path / "si_software.tif").meta["kind"] == "scanimage"
