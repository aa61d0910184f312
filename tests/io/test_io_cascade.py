"""Cascade ground-truth reader: every dataset of the shared database + written files."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import scipy.io
from _io_helpers import write_cascade_mat

from calcium_forge import read
from calcium_forge.errors import CalciumForgeError, FileFormatError
from calcium_forge.io.cascade import nan_stretches, read_cascade

SHARED_GT = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "ground_truth"
DATASETS = sorted(p.name for p in SHARED_GT.glob("DS*")) if SHARED_GT.is_dir() else []


def _spike_rise(recs, times) -> np.ndarray:
    """dF/F 0-300 ms after each spike minus 0-100 ms before, pooled over recordings."""
    vals = []
    for rec, st in zip(recs, times, strict=True):
        y = rec.traces[0].astype(np.float64)
        after = np.arange(1, max(2, round(0.3 * rec.fs_hz)) + 1)
        before = np.arange(1, max(1, round(0.1 * rec.fs_hz)) + 1)
        k = np.round(np.asarray(st) * rec.fs_hz).astype(np.int64)
        k = k[(k > before[-1]) & (k < y.size - after[-1])]
        if k.size:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN windows (DS07)
                post = np.nanmean(y[k[:, None] + after], 1)
                vals.append(post - np.nanmean(y[k[:, None] - before], 1))
    v = np.concatenate(vals) if vals else np.zeros(0)
    return v[np.isfinite(v)]


@pytest.mark.parametrize("dataset", DATASETS or ["<no shared data>"])
def test_each_ground_truth_dataset(dataset, ground_truth_dir):
    """First file of each of the 23 datasets: shapes, fs, spikes inside, plausible dF/F."""
    files = sorted((ground_truth_dir / dataset).glob("*.mat"))
    assert files, f"no .mat in {dataset}"
    path = files[0]
    recs = read_cascade(path)
    raw = scipy.io.loadmat(path, squeeze_me=True, struct_as_record=False)["CAttached"]
    structs = np.atleast_1d(raw).ravel()
    assert len(recs) + len(recs[0].meta["skipped_structs"]) == structs.size
    for rec in recs:
        s = structs[rec.meta["struct_index"]]
        y = np.asarray(s.fluo_mean, dtype=np.float64).ravel()
        # nothing dropped: one value per fluo_mean sample, NaN kept where the file has NaN
        assert rec.traces.shape == (1, y.size)
        np.testing.assert_array_equal(np.isnan(rec.traces[0]), np.isnan(y))
        np.testing.assert_allclose(rec.traces[0], y.astype(np.float32), equal_nan=True)
        # frame rate = 1 / median frame interval of the finite fluo_time values
        t = np.asarray(s.fluo_time, dtype=np.float64).ravel()[: y.size]
        t = t[np.isfinite(t)]
        assert rec.fs_hz == pytest.approx(1.0 / np.median(np.diff(t)), rel=1e-3)
        assert 1.0 < rec.fs_hz < 1000.0
        assert rec.kind == "dff" and rec.meta["dataset"] == dataset
        # spikes: seconds from the first frame, all inside the recording
        st = rec.spike_times[0]
        assert np.all(st >= 0) and np.all(st < rec.duration_s)
        n_file = np.isfinite(np.atleast_1d(np.asarray(s.events_AP, dtype=float))).sum()
        assert st.size + len(rec.meta["events_outside_s"]) == n_file
        # NaN stretches reported exactly
        n_nan = int(np.isnan(rec.traces).sum())
        reported = sum(round((b - a) * rec.fs_hz) for a, b in rec.meta["nan_stretches_s"])
        assert reported == n_nan == rec.meta["n_nan_frames"]
        # dF/F plausibility: mostly finite, sane magnitude
        finite = rec.traces[np.isfinite(rec.traces)]
        assert finite.size > 0.5 * rec.n_frames
        assert abs(np.median(finite)) < 5 and np.percentile(finite, 99) < 50
    # spikes drive the calcium signal: dF/F rises after the ground-truth spikes
    rise = _spike_rise(recs, [r.spike_times[0] for r in recs])
    rng = np.random.default_rng(0)
    null = _spike_rise(recs, [rng.uniform(0, r.duration_s, 200) for r in recs])
    assert rise.size >= 5
    se = rise.std() / np.sqrt(rise.size)
    assert rise.mean() > 3 * se and rise.mean() > null.mean()


def test_nan_stretches_kept_and_reported(ground_truth_dir):
    """DS07 holds a NaN stretch at the start: kept as NaN, reported in seconds."""
    files = sorted((ground_truth_dir / "DS07-GCaMP6f-zf-dD").glob("*.mat"))
    recs = [r for f in files[:3] for r in read_cascade(f) if r.meta["n_nan_frames"]]
    assert recs, "expected NaN frames in DS07"
    rec = recs[0]
    (start, stop), *_ = rec.meta["nan_stretches_s"]
    k0, k1 = round(start * rec.fs_hz), round(stop * rec.fs_hz)
    assert np.isnan(rec.traces[0, k0:k1]).all()
    assert rec.time_s[k0] == pytest.approx(start)


def test_several_recordings_give_a_list(tmp_path, cascade_struct):
    second = dict(
        cascade_struct,
        fluo_mean=cascade_struct["fluo_mean"][:600],
        fluo_time=cascade_struct["fluo_time"][:600],
        events_AP=cascade_struct["events_AP"][cascade_struct["events_AP"] < 29e4],
    )
    path = write_cascade_mat(tmp_path / "two.mat", [cascade_struct, second])
    recs = read(path)
    assert isinstance(recs, list) and [r.n_frames for r in recs] == [1200, 600]
    one = read(write_cascade_mat(tmp_path / "one.mat", [cascade_struct]))
    assert one.n_frames == 1200 and one.fs_hz == pytest.approx(20.0)
    # spike times are relative to the first frame (fluo_time starts at 0.05 s)
    expected = cascade_struct["events_AP"] * 1e-4 - 0.05
    np.testing.assert_allclose(one.spike_times[0], np.sort(expected), atol=1e-9)


def test_events_outside_dropped_or_refused(tmp_path, cascade_struct):
    s = dict(cascade_struct)
    s["events_AP"] = np.concatenate([s["events_AP"], [75.0e4, 80.0e4]])  # after the end (60 s)
    path = write_cascade_mat(tmp_path / "late.mat", [s])
    rec = read(path)
    assert rec.spike_times[0].size == 40
    assert rec.meta["events_outside_s"] == pytest.approx([75.0, 80.0])
    with pytest.raises(FileFormatError, match=r"late\.mat.*2 of 42 spikes"):
        read(path, events_outside="error")


def test_short_time_vector_is_extended(tmp_path, cascade_struct):
    s = dict(cascade_struct, fluo_time=cascade_struct["fluo_time"][:500])
    rec = read(write_cascade_mat(tmp_path / "short_t.mat", [s]))
    assert rec.n_frames == 1200 and rec.meta["fluo_time_extended"] == 700
    assert rec.spike_times[0].size == 40


def test_nan_stretches_helper():
    y = np.array([1, np.nan, np.nan, 2, np.nan, 3], dtype=float)
    assert nan_stretches(y, 10.0) == [(0.1, 0.3), (0.4, 0.5)]
    assert nan_stretches(np.ones(4), 10.0) == []


def test_struct_without_imaging_is_skipped(tmp_path, cascade_struct):
    ephys_only = {"ephys_time": np.arange(10.0), "events_AP": np.array([1.0e4])}
    path = write_cascade_mat(tmp_path / "mixed.mat", [ephys_only, cascade_struct])
    rec = read(path)
    assert rec.meta["skipped_structs"] == [0] and rec.meta["struct_index"] == 1
    with pytest.raises(CalciumForgeError, match="none has both fluo_time and fluo_mean"):
        read(write_cascade_mat(tmp_path / "ephys.mat", [ephys_only]))


def test_whole_database_reads(ground_truth_dir):
    """All files of the 23 datasets read; spikes inside; NaN never dropped."""
    n_files = n_recs = n_spikes = n_outside = 0
    for path in sorted(ground_truth_dir.glob("DS*/*.mat")):
        n_files += 1
        for rec in read_cascade(path):
            n_recs += 1
            st = rec.spike_times[0]
            assert np.all((st >= 0) & (st < rec.duration_s)), path
            n_spikes += st.size
            n_outside += len(rec.meta["events_outside_s"])
            if rec.meta["events_clock"] == "first_frame":
                assert rec.meta["first_frame_time_s"] > 1.0
    assert n_files >= 23 and n_recs > n_files
    # only a small fraction of the spikes lie outside the imaged intervals
    assert n_outside < 0.02 * (n_spikes + n_outside)


def test_spikes_counted_from_first_frame_when_fluo_time_is_offset(tmp_path, cascade_struct):
    """DS21-like file: fluo_time starts at 200 s but events_AP count from the first frame."""
    s = dict(cascade_struct, fluo_time=cascade_struct["fluo_time"] + 200.0)
    rec = read(write_cascade_mat(tmp_path / "offset.mat", [s]))
    assert rec.meta["events_clock"] == "first_frame"
    np.testing.assert_allclose(rec.spike_times[0], np.sort(s["events_AP"] * 1e-4), atol=1e-9)
    # same offset, but spikes on the fluo_time clock: kept on that clock
    s2 = dict(s, events_AP=s["events_AP"] + 200.0e4)
    rec2 = read(write_cascade_mat(tmp_path / "clock.mat", [s2]))
    assert rec2.meta["events_clock"] == "fluo_time"
    np.testing.assert_allclose(rec2.spike_times[0], rec.spike_times[0] - 0.05, atol=1e-6)
