"""Spike-inference metrics: hand-computed cases, agreement with elephant, evaluate_spikes;
the event metrics stay importable from calcium_forge.evaluation.spikes."""

from __future__ import annotations

import numpy as np
import pytest

from calcium_forge.evaluation import event_metrics
from calcium_forge.evaluation.spikes import (
    auc_score,
    error_and_bias,
    evaluate_spikes,
    ground_truth_rate,
    van_rossum_rate_distance,
)


def test_error_bias_vrd_by_hand():
    gt = np.array([0.0, 2.0, 4.0, 2.0, 0.0])
    pd = np.array([1.0, 1.0, 4.0, 2.0, 0.0])
    err, bias = error_and_bias(gt, pd)
    assert err == pytest.approx(2.0 / 8.0)  # |1| + |-1| over 8
    assert bias == pytest.approx(0.0)
    # vRD = sqrt((1/tau) * sum((gt-pd)^2)/sum(gt^2)) = sqrt(40 * 2/24)
    assert van_rossum_rate_distance(gt, pd, fs_hz=60.0, tau_s=0.025) == pytest.approx(
        np.sqrt(40 * 2 / 24)
    )
    assert van_rossum_rate_distance(gt, np.zeros(5), 60.0) == pytest.approx(np.sqrt(40.0))
    assert error_and_bias(gt, 2 * gt) == (pytest.approx(1.0), pytest.approx(1.0))


def test_auc_by_hand():
    assert auc_score([0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4]) == 1.0
    assert auc_score([0, 1, 0, 1], [0.1, 0.2, 0.3, 0.4]) == pytest.approx(0.75)
    assert auc_score([0, 1], [0.5, 0.5]) == pytest.approx(0.5)  # tie counts half


def test_rate_integral_matches_elephant_van_rossum(train_pair, to_neo):
    """The Riemann integrals behind vRD agree with elephant on exponentially filtered trains.

    elephant's D^2 = (2/tau) * integral (f - g)^2 dt, and vRD^2 * integral f^2 dt * tau
    = integral (f - g)^2 dt, so vRD^2 * 2 * integral f^2 dt must equal D^2.
    """
    diss = pytest.importorskip("elephant.spike_train_dissimilarity")
    pq = pytest.importorskip("quantities")
    from scipy.signal import lfilter

    tau, fs = 0.025, 20000.0
    a, b = train_pair
    n = int(21 * fs)

    def filtered(times):
        x = np.zeros(n)
        np.add.at(x, np.round(times * fs).astype(int), 1.0)
        return lfilter([1.0], [1.0, -np.exp(-1 / (tau * fs))], x)

    f, g = filtered(a), filtered(b)
    ref = diss.van_rossum_distance([to_neo(a), to_neo(b)], time_constant=tau * pq.s)[0, 1]
    vrd = van_rossum_rate_distance(f, g, fs_hz=fs, tau_s=tau)
    d2 = vrd**2 * 2 * np.sum(f**2) / fs
    assert np.sqrt(d2) == pytest.approx(ref, rel=0.01)


def test_evaluate_spikes_perfect_and_shifted(rng):
    fs = 60.0
    n = int(120 * fs)
    gt = np.arange(150) * 0.75 + 1.0 + rng.uniform(0, 0.3, 150)  # >= 0.45 s apart
    perfect = ground_truth_rate(gt, n, fs)
    m = evaluate_spikes(gt, perfect, fs_hz=fs, pd_spike_times=gt)
    assert m.corr == pytest.approx(1.0) and m.vrd == pytest.approx(0.0, abs=1e-9)
    assert m.error == pytest.approx(0.0, abs=1e-9) and m.er == 0.0 and m.vpd == 0.0
    assert m.auc_25hz > 0.99 and m.n_gt_spikes == 150  # smoothing leaks into next bins
    # events 100 ms late: outside the 50 ms window -> all missed; VPD = 0.1 per spike
    late = evaluate_spikes(gt, perfect, fs_hz=fs, pd_spike_times=gt + 0.1)
    assert late.er == pytest.approx(1.0)
    assert late.vpd == pytest.approx(0.1, rel=1e-6)
    # half-amplitude prediction: Bias -0.5, Error 0.5, Corr still 1
    half = evaluate_spikes(gt, 0.5 * perfect, fs_hz=fs)
    assert half.bias == pytest.approx(-0.5) and half.error == pytest.approx(0.5)
    assert half.corr == pytest.approx(1.0) and half.vpd is None
    # NaN frames are left out; rebinning to another grid keeps the spike count
    gap = perfect.copy()
    gap[100:200] = np.nan
    assert np.isfinite(evaluate_spikes(gt, gap, fs_hz=fs).corr)
    m30 = evaluate_spikes(gt, perfect, fs_hz=fs, eval_fs_hz=30.0)
    assert m30.fs_hz == 30.0 and m30.corr > 0.9


def test_evaluate_spikes_from_result(rng):
    from calcium_forge.results import SpikeInference

    fs = 30.0
    gt = np.sort(rng.uniform(1, 50, 40))
    rate = ground_truth_rate(gt, int(52 * fs), fs)
    res = SpikeInference(rate_hz=np.stack([rate, rate]), events=[gt, gt], method="ens2", fs_hz=fs)
    m = evaluate_spikes(gt, res, roi=1)
    assert m.corr == pytest.approx(1.0, abs=1e-6) and m.er == 0.0 and m.n_pd_spikes == 40


def test_event_metrics_are_re_exported_from_spikes():
    from calcium_forge.evaluation import spikes

    for name in event_metrics.__all__:
        assert getattr(spikes, name) is getattr(event_metrics, name)
