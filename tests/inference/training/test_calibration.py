"""Event-gain calibration: choosing the gain, storing it in the card, applying it."""

from __future__ import annotations

import numpy as np
import pytest

from calcium_forge.errors import InvalidInputError
from calcium_forge.inference.events import greedy_spike_counts
from calcium_forge.inference.training.calibration import DEFAULT_GAINS, calibrate_event_gain
from calcium_forge.spiketrains import gaussian_kernel

FS = 60.0
K = gaussian_kernel(1.5)  # ENS² target kernel at 60 Hz (sigma 25 ms)


def _spikes(rng, n_bins, rate_hz=2.0):
    counts = rng.poisson(rate_hz / FS, size=n_bins)
    times = np.repeat(np.arange(n_bins), counts) / FS
    return counts.astype(float), times


def test_exact_targets_need_no_gain_and_are_recovered(rng):
    rates, times, ids = [], [], []
    for i in range(6):
        counts, t = _spikes(rng, 6000)
        rates.append(np.convolve(counts, K, mode="same"))
        times.append(t)
        ids.append(f"DS90/cell{i}")
    cal = calibrate_event_gain(rates, times, ids, FS, K)
    assert cal.gain in (1.0, 1.1)  # the greedy estimator inverts its own kernel
    assert cal.error_rate_at_1 < 0.05 and cal.mean_error_rate_by_gain[cal.gain] < 0.05
    assert 0.95 < cal.events_per_spike < 1.05
    assert cal.mean_vpd_by_gain[2.0] > cal.mean_vpd_by_gain[cal.gain] + 0.5  # false spikes
    assert set(cal.error_rate_by_gain) == set(DEFAULT_GAINS) and cal.n_neurons == 6
    card = cal.to_card()
    assert card["gain"] == cal.gain and "1.5" in card["mean_vpd_by_gain"]


def test_blurred_rates_get_a_gain_above_one_that_lowers_the_error(rng):
    """A rate spread wider than the kernel (uncertain timing) loses events at gain 1."""
    wide = gaussian_kernel(4.0)
    rates, times, ids = [], [], []
    for i in range(6):
        counts, t = _spikes(rng, 6000, rate_hz=4.0)
        rates.append(np.convolve(counts, wide, mode="same"))
        times.append(t)
        ids.append(f"DS90/cell{i}")
    cal = calibrate_event_gain(rates, times, ids, FS, K)
    assert cal.gain > 1.05
    assert cal.mean_error_rate_by_gain[cal.gain] < cal.mean_error_rate_by_gain[1.0] - 0.02
    # at gain 1 the estimator under-counts; the chosen gain brings the count closer to the truth
    n_true = sum(t.size for t in times)
    n_at_1 = sum(int(greedy_spike_counts(r, K).counts.sum()) for r in rates)
    n_at_g = sum(int(greedy_spike_counts(r * cal.gain, K).counts.sum()) for r in rates)
    assert n_at_1 < 0.9 * n_true
    assert abs(n_at_g - n_true) < abs(n_at_1 - n_true)


def test_bad_calibration_input_is_rejected():
    r = [np.zeros(100)]
    with pytest.raises(InvalidInputError, match="equally many"):
        calibrate_event_gain(r, [], ["a"], FS, K)
    with pytest.raises(InvalidInputError, match="gains must be positive"):
        calibrate_event_gain(r, [np.array([0.5])], ["a"], FS, K, gains=[0.0, 1.0])
    with pytest.raises(InvalidInputError, match="no recording has ground-truth spikes"):
        calibrate_event_gain(r, [np.array([])], ["a"], FS, K)


def test_infer_spikes_applies_the_card_gain_to_events_only(rng):
    torch = pytest.importorskip("torch")
    from calcium_forge.inference import infer_spikes
    from calcium_forge.inference.networks import ENS2UNet
    from calcium_forge.inference.registry import load_model, save_model

    torch.manual_seed(0)
    net = ENS2UNet(channels=(4, 8, 16, 32)).eval()
    with torch.no_grad():  # a positive bias makes the untrained net emit a sizeable rate
        net.head.bias.fill_(0.05)
    dff = (0.2 * rng.standard_normal((2, 3000))).astype(np.float32)
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as d:
        card = {"method": "ens2", "name": "gain-test", "events": {"gain": 1.8}}
        model = load_model(save_model(net, card, Path(d) / "gain-test"))
        # no noise floor: this untrained net's rate is the same in noise as here
        opts = {"mode": "fast", "num_threads": 1, "max_noise_events_per_s": None}
        a = infer_spikes(dff, fs_hz=30.0, model=model, **opts)
        b = infer_spikes(dff, fs_hz=30.0, model=model, event_gain=1.0, **opts)
    np.testing.assert_array_equal(a.rate_hz, b.rate_hz)
    assert a.meta["event_gain"] == 1.8 and b.meta["event_gain"] == 1.0
    assert sum(e.size for e in a.events) > sum(e.size for e in b.events)
    with pytest.raises(InvalidInputError, match="event_gain"):
        infer_spikes(dff, fs_hz=30.0, model=model, mode="fast", event_gain=0.0)


def test_saved_model_recalibrates_on_the_same_validation_neurons(ground_truth_dir, tmp_path):
    """calibrate_saved_model rebuilds the training split from the card: same neurons, same gain."""
    torch = pytest.importorskip("torch")
    from calcium_forge.errors import MissingFileError
    from calcium_forge.inference.training import default_config, train
    from calcium_forge.inference.training.calibration import calibrate_saved_model
    from calcium_forge.inference.training.data import load_ground_truth

    folder = sorted(ground_truth_dir.glob("DS10-*"))  # GCaMP6f, mouse V1
    if not folder:
        pytest.skip("DS10 not in the shared ground truth")
    torch.set_num_threads(1)
    config = default_config(
        "ens2",
        iterations=30,
        batch_size=64,
        val_every=10,
        val_windows=1024,
        network_kwargs={"channels": [4, 8, 16, 32]},
        checkpoint_every=0,
    )
    data = load_ground_truth(folder, fs_hz=60.0, sigma_ms=25.0)
    res = train(data, config, out_dir=tmp_path, name="tiny", score_validation=False)
    ev = res.card["events"]
    assert ev["calibrated_on"] == "validation neurons"
    assert ev["n_neurons"] == len(res.val_neurons) > 0
    cal = calibrate_saved_model(res.model_path, ground_truth_dir, out=tmp_path / "tiny-recal")
    assert cal.gain == ev["gain"] and cal.n_neurons == ev["n_neurons"]
    assert cal.to_card()["mean_error_rate_by_gain"] == ev["mean_error_rate_by_gain"]
    with pytest.raises(MissingFileError, match="DS10"):
        calibrate_saved_model(res.model_path, tmp_path)
