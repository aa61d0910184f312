"""Writers: every format round-trips through read() (npz lossless, csv traces, NWB)."""

from __future__ import annotations

import numpy as np
import pytest

from calcium_forge import Recording, read, write
from calcium_forge.io import read_result
from calcium_forge.results import SpikeInference


@pytest.fixture
def full_recording(rng):
    labels = np.zeros((12, 15), dtype=np.int32)
    labels[1:4, 1:4] = 1
    labels[5:9, 6:10] = 2
    labels[10:12, 0:3] = 3
    traces = rng.standard_normal((3, 400)).astype(np.float32)
    traces[1, 50:60] = np.nan
    return Recording(
        traces=traces,
        fs_hz=29.97,
        kind="dff",
        labels=labels,
        mean_image=rng.uniform(size=(12, 15)).astype(np.float32),
        iscell=np.array([True, False, True]),
        spike_times=[np.array([0.5, 1.25]), np.array([]), np.array([3.0, 4.0, 5.5])],
        source="/data/x",
        meta={"note": "hello", "nan_stretches_s": [(1.668, 2.002)], "arr": np.arange(5)},
    )


def _same(a: Recording, b: Recording, exact: bool = True) -> None:
    assert a.traces.shape == b.traces.shape and a.kind == b.kind
    assert a.fs_hz == pytest.approx(b.fs_hz)
    if exact:
        np.testing.assert_array_equal(a.traces, b.traces)
    else:
        np.testing.assert_allclose(a.traces, b.traces, rtol=1e-6, equal_nan=True)


def test_npz_recording_lossless(tmp_path, full_recording):
    path = write(full_recording, tmp_path / "r.npz")
    back = read(path)
    _same(full_recording, back)
    np.testing.assert_array_equal(back.labels, full_recording.labels)
    np.testing.assert_array_equal(back.mean_image, full_recording.mean_image)
    np.testing.assert_array_equal(back.iscell, full_recording.iscell)
    for s, t in zip(back.spike_times, full_recording.spike_times, strict=True):
        np.testing.assert_array_equal(s, t)
    assert back.meta["note"] == "hello" and back.source == "/data/x"
    np.testing.assert_array_equal(back.meta["arr"], np.arange(5))
    with np.load(path) as z:
        assert str(z["cf_format"]) == "calcium-forge" and int(z["cf_format_version"]) == 1
        assert str(z["cf_package_version"])
        assert z["traces"].dtype == np.float32


def test_npz_raw_with_neuropil(tmp_path, rng):
    rec = Recording(
        traces=rng.uniform(100, 200, (2, 90)),
        fs_hz=30,
        kind="raw",
        neuropil=rng.uniform(50, 60, (2, 90)),
    )
    back = read(write(rec, tmp_path / "raw.npz"))
    np.testing.assert_array_equal(back.neuropil, rec.neuropil)
    assert back.kind == "raw"


def test_npz_spike_inference(tmp_path, full_recording, rng):
    res = SpikeInference(
        rate_hz=rng.uniform(0, 5, (3, 400)),
        events=[np.array([0.1, 0.2]), np.array([]), np.array([7.5])],
        method="ens2",
        fs_hz=29.97,
        model_card={"name": "ens2-test", "rate_hz": 60, "params": 37581},
        recording=full_recording,
        meta={"seconds": 1.5},
    )
    path = write(res, tmp_path / "res.npz")
    back = read_result(path)
    np.testing.assert_array_equal(back.rate_hz, res.rate_hz)
    assert back.method == "ens2" and back.model_card == res.model_card
    assert back.meta == {"seconds": 1.5}
    np.testing.assert_array_equal(back.events[2], [7.5])
    _same(back.recording, full_recording)
    as_rec = read(path)  # read() gives the rates as a Recording
    assert as_rec.kind == "rate" and as_rec.meta["events"][0].tolist() == [0.1, 0.2]


def test_csv_round_trip(tmp_path, full_recording):
    path = write(full_recording, tmp_path / "r.csv")
    first = path.read_text().splitlines()[0]
    assert first.startswith("#") and "fs_hz=29.97" in first
    back = read(path)
    _same(full_recording, back, exact=True)  # %.9g keeps float32 exactly
    res = SpikeInference(rate_hz=np.ones((3, 400)), events=None, method="oasis", fs_hz=29.97)
    back_rate = read(write(res, tmp_path / "rate.csv"))
    assert back_rate.kind == "rate" and back_rate.traces.shape == (3, 400)


def test_csv_without_header_needs_fs(tmp_path):
    p = tmp_path / "plain.csv"
    p.write_text("1,2,3\n4,5,6\n")
    rec = read(p, fs_hz=5)
    np.testing.assert_array_equal(rec.traces, [[1, 2, 3], [4, 5, 6]])


def test_nwb_round_trip(tmp_path, full_recording):
    pytest.importorskip("pynwb")
    path = write(full_recording, tmp_path / "r.nwb")
    back = read(path)
    _same(full_recording, back, exact=False)
    np.testing.assert_array_equal(back.labels, full_recording.labels)
    np.testing.assert_array_equal(back.mean_image, full_recording.mean_image)
    np.testing.assert_array_equal(back.iscell, full_recording.iscell)
    for s, t in zip(back.spike_times, full_recording.spike_times, strict=True):
        np.testing.assert_allclose(s, t)
    assert back.meta["reader"] == "nwb" and back.meta["note"] == "hello"


def test_nwb_raw_neuropil_and_no_labels(tmp_path, rng):
    pytest.importorskip("pynwb")
    rec = Recording(
        traces=rng.uniform(100, 200, (2, 90)),
        fs_hz=30,
        kind="raw",
        neuropil=rng.uniform(50, 60, (2, 90)),
    )
    back = read(write(rec, tmp_path / "raw.nwb"))
    assert back.kind == "raw" and back.labels is None
    np.testing.assert_allclose(back.neuropil, rec.neuropil)
    res = SpikeInference(
        rate_hz=np.ones((2, 90)),
        events=[np.array([1.0]), np.array([])],
        method="oasis",
        fs_hz=30.0,
        recording=rec,
    )
    back_res = read(write(res, tmp_path / "res.nwb"))
    assert back_res.kind == "raw" and back_res.meta["events"][0].tolist() == [1.0]
    assert "noise_level" not in back_res.meta  # an inference without them writes none


def test_nwb_keeps_each_rois_noise_level_and_model(tmp_path, rng):
    """The ν and the model every ROI was given survive an NWB round trip, ROI by ROI."""
    pytest.importorskip("pynwb")
    rec = Recording(traces=rng.normal(0, 0.05, (3, 120)), fs_hz=30.0)
    res = SpikeInference(
        rate_hz=np.zeros((3, 120)),
        events=[np.array([0.5]), np.array([]), np.array([1.0, 2.0])],
        method="ens2",
        fs_hz=30.0,
        recording=rec,
        meta={"noise_level": [1.5, 4.25, 9.0], "roi_model": ["a", "b", "a"]},
    )
    back = read(write(res, tmp_path / "res.nwb"))
    assert back.meta["noise_level"] == pytest.approx([1.5, 4.25, 9.0])
    assert [str(m) for m in back.meta["spike_model"]] == ["a", "b", "a"]
    res.meta = {"noise_level": [1.5, 4.25, 9.0], "model": "one"}
    back = read(write(res, tmp_path / "res2.nwb"))
    assert [str(m) for m in back.meta["spike_model"]] == ["one"] * 3


def test_real_suite2p_to_nwb(tmp_path, suite2p_plane0):
    pytest.importorskip("pynwb")
    rec = read(suite2p_plane0, fs_hz=30.0)
    back = read(write(rec, tmp_path / "plane0.nwb"))
    np.testing.assert_array_equal(back.traces, rec.traces)
    np.testing.assert_array_equal(back.labels, rec.labels)


def test_npy_and_plain_npz(tmp_path, rng):
    arr = rng.standard_normal((4, 100)).astype(np.float32)
    np.save(tmp_path / "t.npy", arr)
    rec = read(tmp_path / "t.npy", fs_hz=12.5)
    np.testing.assert_array_equal(rec.traces, arr)
    np.savez(tmp_path / "plain.npz", dff=arr, fs=np.float64(12.5))
    rec2 = read(tmp_path / "plain.npz")
    assert rec2.fs_hz == 12.5 and rec2.meta["traces_key"] == "dff"


def test_content_not_extension_decides(tmp_path, full_recording):
    """A calcium-forge .npz renamed to .dat is still read by the npz reader."""
    path = write(full_recording, tmp_path / "r.npz")
    renamed = path.rename(tmp_path / "r.dat")
    assert read(renamed).n_rois == 3


def test_third_party_nwb_image_masks_and_timestamps(tmp_path, rng):
    """An NWB file written directly with pynwb: image_mask ROIs, timestamps instead of rate."""
    pynwb = pytest.importorskip("pynwb")
    from datetime import UTC, datetime

    from pynwb.ophys import DfOverF, ImageSegmentation, OpticalChannel, RoiResponseSeries

    nwb = pynwb.NWBFile(
        session_description="x",
        identifier="id1",
        session_start_time=datetime(2020, 1, 1, tzinfo=UTC),
    )
    device = nwb.create_device(name="scope")
    plane = nwb.create_imaging_plane(
        name="plane",
        optical_channel=OpticalChannel(name="ch", description="g", emission_lambda=510.0),
        imaging_rate=15.0,
        description="p",
        device=device,
        excitation_lambda=920.0,
        indicator="GCaMP6s",
        location="V1",
    )
    mod = nwb.create_processing_module(name="ophys", description="o")
    seg = ImageSegmentation()
    mod.add(seg)
    ps = seg.create_plane_segmentation(name="ps", description="d", imaging_plane=plane)
    m0 = np.zeros((6, 7))
    m0[1:3, 1:3] = 1.0
    m1 = np.zeros((6, 7))
    m1[2:5, 2:6] = 0.5  # overlaps ROI 0 at (2, 2): ROI 0 has the larger weight there
    ps.add_roi(image_mask=m0)
    ps.add_roi(image_mask=m1)
    region = ps.create_roi_table_region(region=[0, 1], description="all")
    data = rng.standard_normal((300, 2)).astype(np.float32)
    dff = DfOverF()
    dff.add_roi_response_series(
        RoiResponseSeries(
            name="dff", data=data, rois=region, unit="n/a", timestamps=np.arange(300) / 15.0
        )
    )
    mod.add(dff)
    path = tmp_path / "third.nwb"
    with pynwb.NWBHDF5IO(str(path), "w") as io:
        io.write(nwb)
    rec = read(path)
    assert rec.kind == "dff" and rec.fs_hz == pytest.approx(15.0)
    np.testing.assert_array_equal(rec.traces, data.T)
    assert rec.labels.shape == (6, 7)
    assert rec.labels[2, 2] == 1 and rec.labels[4, 5] == 2 and rec.labels[0, 0] == 0
