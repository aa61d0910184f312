"""OASIS wrapper: recovers spikes from AR(1) calcium; noise taken at the native rate."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("oasis")

from calcium_forge.evaluation.spikes import match_events
from calcium_forge.inference import infer_spikes


def ar1_calcium(rng, n=6000, fs=30.0, g=0.95, amp=1.0, noise=0.1, rate_hz=0.5):
    s = (rng.random(n) < rate_hz / fs).astype(float)
    c = np.zeros(n)
    for t in range(n):
        c[t] = (g * c[t - 1] if t else 0.0) + amp * s[t]
    return (c + noise * rng.standard_normal(n)).astype(np.float32), np.nonzero(s)[0] / fs


def test_oasis_recovers_spikes(rng):
    fs = 30.0
    y, spikes = ar1_calcium(rng)
    y2, spikes2 = ar1_calcium(rng, amp=2.0)
    res = infer_spikes(np.stack([y, y2]), fs_hz=fs, method="oasis")
    assert res.method == "oasis" and res.rate_hz.shape == (2, 6000)
    for ev, gt in zip(res.events, [spikes, spikes2], strict=True):
        assert match_events(gt, ev, window_s=0.05).error_rate < 0.2
    # the rate is in spikes/s: its integral is close to the number of spikes
    assert res.rate_hz[0].sum() / fs == pytest.approx(spikes.size, rel=0.3)
    # the noise SD is estimated at the native rate (true 0.1)
    assert res.meta["sn"][0] == pytest.approx(0.1, rel=0.3)


def test_oasis_known_amplitude_and_nan(rng):
    fs = 30.0
    y, spikes = ar1_calcium(rng, amp=1.0)
    y[3000:3100] = np.nan
    res = infer_spikes(y, fs_hz=fs, method="oasis", spike_amplitude=1.0)
    assert np.isnan(res.rate_hz[0, 3000:3100]).all()
    ev = res.events[0]
    assert not ((ev >= 3000 / fs) & (ev < 3100 / fs)).any()
    keep = (spikes < 3000 / fs) | (spikes >= 3100 / fs)
    assert match_events(spikes[keep], ev).error_rate < 0.2


# ----------------------------------------------------------- the one OASIS wrapper
@pytest.mark.parametrize(
    "kwargs",
    [
        {"penalty": 1, "optimize_g": 5},  # oasis_one and DGBaseline.fit
        {"penalty": 1},  # deconvolve_windows, g estimated
        {"penalty": 1, "tau_d": 0.6, "framerate": 30.0},  # deconvolve_windows, decay given
    ],
)
def test_deconvolve_trace_is_oasis_deconvolve(rng, kwargs):
    import warnings

    from oasis.functions import GetSn, deconvolve

    from calcium_forge.inference.oasis import OasisTrace, deconvolve_trace

    y = ar1_calcium(rng, n=1500)[0].astype(np.float64)
    sn = float(GetSn(y))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        c, s, b, g, lam = deconvolve(y, sn=sn, **kwargs)
    res = deconvolve_trace(y, sn=sn, **kwargs)
    assert isinstance(res, OasisTrace)
    np.testing.assert_array_equal(res.c, c)
    np.testing.assert_array_equal(res.s, s)
    assert res.b == b and res.lam == lam and res.sn == sn
    assert res.g == tuple(np.ravel(g)) and len(res.g) == 1
    # sn=None: OASIS' own PSD estimate, reported back
    assert deconvolve_trace(y, **kwargs).sn == sn


def test_deconvolve_trace_errors(monkeypatch):
    import sys

    from calcium_forge.errors import InvalidInputError, MissingDependencyError
    from calcium_forge.inference.oasis import deconvolve_trace

    y = np.random.default_rng(0).standard_normal(300)
    with pytest.raises(InvalidInputError, match=r"tau_d=0\.5.*framerate"):
        deconvolve_trace(y, tau_d=0.5)
    monkeypatch.setitem(sys.modules, "oasis.functions", None)
    with pytest.raises(MissingDependencyError, match="oasis"):
        deconvolve_trace(y)


def test_oasis_one_returns_a_dataclass(rng):
    from calcium_forge.inference.oasis import OasisRoiResult, oasis_one

    y, _ = ar1_calcium(rng)
    one = oasis_one(y, 30.0)
    assert isinstance(one, OasisRoiResult)
    assert one.rate_hz.shape == one.counts.shape == (6000,) and one.counts.dtype == np.int32
    assert one.sn == pytest.approx(0.1, rel=0.3) and 0 < one.g < 1 and one.unit_amplitude > 0
    with pytest.warns(DeprecationWarning, match="OasisRoiResult"):
        rate, counts, sn, g, amp = one
    assert rate is one.rate_hz and counts is one.counts
    assert (sn, g, amp) == (one.sn, one.g, one.unit_amplitude)
