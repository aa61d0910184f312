"""calcium_forge.signal: suite2p parity on real data, and behaviour on known signals."""

from __future__ import annotations

import numpy as np
import pytest

from calcium_forge import Recording, read
from calcium_forge import signal as S
from calcium_forge.errors import InvalidInputError


def test_dff_matches_suite2p_preprocess(suite2p_plane0):
    """Our maximin dF/F equals suite2p's own preprocess on the real recording."""
    torch = pytest.importorskip("torch")
    try:
        from suite2p.extraction.dcnv import preprocess
    except Exception as exc:  # pragma: no cover - depends on the environment
        pytest.skip(f"suite2p not importable: {exc}")
    rec = read(suite2p_plane0, fs_hz=30.0)
    Fc = S.neuropil_correct(rec.traces, rec.neuropil, 0.7)
    out = preprocess(Fc.copy(), "maximin", 60.0, 10.0, 30.0, device=torch.device("cpu"))
    F0_ref = Fc - out  # suite2p returns F - F0
    dff_ref = out / F0_ref
    F0 = S.baseline_maximin(Fc, 30.0, win_baseline_s=60.0, sig_baseline=10.0)
    np.testing.assert_allclose(F0, F0_ref, rtol=1e-4)
    ours = S.to_dff(rec).traces
    scale = np.abs(dff_ref).max(axis=1, keepdims=True)
    assert np.all(np.abs(ours - dff_ref) <= 1e-4 * scale)
    np.testing.assert_allclose(ours, dff_ref, rtol=1e-4, atol=1e-4 * float(scale.min()))


def test_maximin_on_known_signal():
    fs = 10.0
    t = np.arange(3000) / fs
    base = 100 + 10 * np.sin(2 * np.pi * t / 300)  # slow drift
    F = base.copy()
    F[1000:1010] += 200  # a transient
    F0 = S.baseline_maximin(F, fs, win_baseline_s=20, sig_baseline=2)
    assert np.max(np.abs(F0[100:-100] - base[100:-100])) < 3.0  # follows the drift
    d = S.dff(F, F0)
    assert d[1005] > 1.5 and abs(np.median(d)) < 0.05


def test_baselines_ignore_nan_and_keep_it():
    F = np.full((2, 500), 50.0)
    F[0, 100:120] = np.nan
    for F0 in (S.baseline_maximin(F, 10.0, 5.0, 1.0), S.baseline_percentile(F, 10.0, 5.0, 8)):
        assert np.isnan(F0[0, 100:120]).all()
        np.testing.assert_allclose(F0[np.isfinite(F0)], 50.0)


def test_percentile_baseline():
    rng = np.random.default_rng(1)
    F = 100 + rng.standard_normal(6000)
    F0 = S.baseline_percentile(F, 30.0, window_s=60, percentile=50)
    assert np.allclose(F0, 100, atol=0.15)
    F0_low = S.baseline_percentile(F, 30.0, window_s=60, percentile=8)
    assert np.allclose(F0_low, 100 - 1.405, atol=0.2)  # 8th percentile of N(0, 1)


def test_to_dff_percentile_and_no_neuropil():
    F = 100 + np.zeros((1, 2000))
    F[0, 500:510] = 150
    rec = Recording(traces=F, fs_hz=20.0, kind="raw")
    d = S.to_dff(rec, baseline="percentile")
    assert d.kind == "dff" and d.traces[0, 505] == pytest.approx(0.5, rel=1e-3)
    assert d.meta["dff"]["neuropil_coeff"] == 0.0
    assert S.to_dff(d) is d


def test_to_dff_nonpositive_corrected_baseline_uses_raw_baseline():
    rec = Recording(
        traces=np.full((2, 300), 10.0), neuropil=np.full((2, 300), 20.0), fs_hz=10.0, kind="raw"
    )
    with pytest.warns(UserWarning, match=r"2 ROI\(s\) \[0, 1\].*raw-F baseline"):
        d = S.to_dff(rec)
    np.testing.assert_allclose(d.traces, 0.0, atol=1e-6)  # (Fc - F0c) / F0_raw of a flat trace
    assert d.meta["dff"]["raw_baseline_rois"] == [0, 1]
    with pytest.raises(InvalidInputError, match=r"F0 is <= 0 for ROI\(s\) \[0, 1\]"):
        S.dff(np.full((2, 5), 1.0), np.full((2, 5), -1.0))


def test_neuropil_correct():
    out = S.neuropil_correct(np.array([10.0, 20.0]), np.array([5.0, 10.0]), 0.7)
    np.testing.assert_allclose(out, [6.5, 13.0])
    with pytest.raises(InvalidInputError, match="shape"):
        S.neuropil_correct(np.ones(3), np.ones(4))


def test_resample_sine_and_length():
    fs_in, fs_out = 30.0, 60.0
    t_in = np.arange(600) / fs_in
    x = np.sin(2 * np.pi * 1.0 * t_in)
    y = S.resample(x, fs_in, fs_out)
    assert y.shape == (1200,)
    t_out = np.arange(1200) / fs_out
    np.testing.assert_allclose(y, np.sin(2 * np.pi * t_out), atol=1e-4)
    down = S.resample(np.stack([x, 2 * x]), fs_in, 10.0)
    assert down.shape == (2, 200)


def test_resample_keeps_nan_gaps():
    x = np.sin(np.arange(400) / 10.0)
    x[100:140] = np.nan
    y = S.resample(x, 20.0, 40.0)
    assert y.shape == (800,)
    assert np.isnan(y[202:278]).all() and np.isfinite(y[:195]).all() and np.isfinite(y[285:]).all()


def test_noise_level_white_noise():
    rng = np.random.default_rng(3)
    sigma, fs = 0.05, 25.0
    x = sigma * rng.standard_normal((3, 200_000))
    x[0, :100] = np.nan
    nu = S.noise_level(x, fs)
    expected = sigma * np.sqrt(2) * 0.6745 / np.sqrt(fs) * 100  # median|N(0, 2σ²)|
    np.testing.assert_allclose(nu, expected, rtol=0.01)


def test_invalid_frame_rate():
    with pytest.raises(InvalidInputError, match="fs_hz"):
        S.noise_level(np.ones(10), 0)
    with pytest.raises(InvalidInputError, match="fs_out_hz"):
        S.resample(np.ones(10), 10, -1)
