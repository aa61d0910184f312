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
