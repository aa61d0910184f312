"""to_dff on real Suite2P output: the raw-F baseline rule for ROIs under bright neuropil,
and the block-streamed computation (same result as one shot, block size honoured)."""

from __future__ import annotations

import warnings
from dataclasses import replace

import numpy as np
import pytest

from calcium_forge import Recording, read
from calcium_forge import signal as S
from calcium_forge.errors import InvalidInputError

BRIGHT = [3, 11, 17]


@pytest.fixture
def real(suite2p_plane0) -> Recording:
    rec = read(suite2p_plane0, fs_hz=30.0, rois="all")
    return replace(rec, traces=np.array(rec.traces), neuropil=np.array(rec.neuropil))


def _bright_neuropil(rec: Recording) -> Recording:
    """Raise the neuropil of a few ROIs so that F - 0.7 Fneu dips below zero, as under
    a bright neuropil in real data (the other ROIs are untouched)."""
    neu = np.array(rec.neuropil)
    for i in BRIGHT:
        neu[i] += 1.2 * float(np.median(rec.traces[i])) / 0.7
    return replace(rec, neuropil=neu)


def _quiet_to_dff(rec: Recording, **kw) -> Recording:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a healthy recording must not warn
        return S.to_dff(rec, **kw)


def test_bright_neuropil_rois_take_the_raw_baseline(real):
    bright = _bright_neuropil(real)
    Fc = S.neuropil_correct(bright.traces, bright.neuropil, 0.7)
    assert (S.baseline_maximin(Fc[BRIGHT], 30.0) <= 0).any(axis=1).all()  # the case is real
    with pytest.warns(UserWarning) as record:
        out = S.to_dff(bright)
    assert len(record) == 1
    assert "3 ROI(s) [3, 11, 17]" in str(record[0].message)
    assert out.meta["dff"]["raw_baseline_rois"] == BRIGHT
    assert out.meta["dff"]["undefined_rois"] == []
    assert "raw-F baseline" in out.meta["dff"]["f0_rule"]
    assert np.isfinite(out.traces).all()
    # the rule: (F_corr - F0_corr) / F0_raw, F0 by the same maximin baseline
    f0c = S.baseline_maximin(Fc[BRIGHT], 30.0)
    f0raw = S.baseline_maximin(bright.traces[BRIGHT], 30.0)
    expected = ((Fc[BRIGHT] - f0c) / f0raw).astype(np.float32)
    np.testing.assert_allclose(out.traces[BRIGHT], expected, rtol=1e-6, atol=1e-6)
    # negative control: the other ROIs are exactly what the untouched recording gives
    healthy = [i for i in range(real.n_rois) if i not in BRIGHT]
    ref = _quiet_to_dff(real)
    np.testing.assert_array_equal(out.traces[healthy], ref.traces[healthy])


def test_healthy_recording_is_unchanged_and_does_not_warn(real):
    out = _quiet_to_dff(real)
    assert out.meta["dff"]["raw_baseline_rois"] == []
    Fc = S.neuropil_correct(real.traces, real.neuropil, 0.7)
    np.testing.assert_array_equal(out.traces, S.dff(Fc, S.baseline_maximin(Fc, 30.0)))


def test_no_positive_baseline_even_in_raw_f_gives_nan_rows():
    rng = np.random.default_rng(0)
    F = 100 + rng.standard_normal((3, 900))
    F[1] -= 200  # baseline-subtracted F: no dF/F is defined
    neu = 0.3 * F
    with pytest.warns(UserWarning, match=r"1 ROI\(s\) \[1\] have no positive baseline"):
        out = S.to_dff(Recording(traces=F, neuropil=neu, fs_hz=30.0, kind="raw"))
    assert np.isnan(out.traces[1]).all() and np.isfinite(out.traces[[0, 2]]).all()
    assert out.meta["dff"]["undefined_rois"] == [1]


@pytest.mark.parametrize("baseline", ["maximin", "percentile"])
def test_block_streamed_equals_one_shot(real, baseline):
    one_shot = _quiet_to_dff(real, baseline=baseline, block_rois=real.n_rois)
    for block in (1, 7):
        streamed = _quiet_to_dff(real, baseline=baseline, block_rois=block)
        np.testing.assert_array_equal(streamed.traces, one_shot.traces)
    assert one_shot.traces.dtype == np.float32


def test_block_size_is_honoured(real, monkeypatch):
    seen: list[int] = []
    inner = S._dff_rows

    def spy(F, Fneu, *args):
        seen.append(F.shape[0])
        return inner(F, Fneu, *args)

    monkeypatch.setattr(S, "_dff_rows", spy)
    _quiet_to_dff(real, block_rois=7)
    assert seen == [7, 7, 6]
    # default: as many ROIs as fit the block budget; a long recording gets small blocks
    seen.clear()
    monkeypatch.setattr("calcium_forge._blocks.BLOCK_BUDGET_BYTES", 3 * 96 * real.n_frames)
    _quiet_to_dff(real)
    assert seen == [3] * 6 + [2]
    with pytest.raises(InvalidInputError, match="block_rois must be an integer >= 1; got 0"):
        S.to_dff(real, block_rois=0)


def test_streams_memory_mapped_planes(suite2p_plane0, real):
    """The reader's read-only memory maps go through to_dff unchanged and untouched."""
    mapped = read(suite2p_plane0, fs_hz=30.0, rois="all")
    assert not mapped.traces.flags.writeable
    out = _quiet_to_dff(mapped, block_rois=4)
    np.testing.assert_array_equal(out.traces, _quiet_to_dff(real).traces)
    np.testing.assert_array_equal(mapped.traces, real.traces)


def test_noise_level_in_blocks_equals_per_trace(real):
    d = _quiet_to_dff(real).traces
    per_trace = np.array([S.noise_level(row, 30.0) for row in d])
    np.testing.assert_array_equal(S.noise_level(d, 30.0), per_trace)
