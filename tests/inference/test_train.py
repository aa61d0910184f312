"""Paired data, targets, noise augmentation and the training loop (learning, resume)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from calcium_forge.errors import InvalidInputError  # noqa: E402
from calcium_forge.inference.engine import predict_trace  # noqa: E402
from calcium_forge.inference.training import default_config, iter_train, train  # noqa: E402
from calcium_forge.inference.training.calibration import DEFAULT_GAINS  # noqa: E402
from calcium_forge.inference.training.config import learning_rate_at  # noqa: E402
from calcium_forge.inference.training.data import (  # noqa: E402
    PairedData,
    PairedTrace,
    indicator_of,
    load_ground_truth,
)
from calcium_forge.inference.training.losses import mse_loss, pearson_loss  # noqa: E402
from calcium_forge.inference.training.sampling import (  # noqa: E402
    WindowSampler,
    added_noise_std,
    split_by_neuron,
)
from calcium_forge.progress import drain  # noqa: E402
from calcium_forge.signal import noise_level as _noise_levels  # noqa: E402
from calcium_forge.spiketrains import (  # noqa: E402
    bin_spikes,
    gaussian_kernel_ms,
    smooth_spike_counts,
)
from calcium_forge.spiketrains import gaussian_window as gaussian_kernel_samples  # noqa: E402


def noise_level(x, fs):
    return float(_noise_levels(x, fs))


# ---------------------------------------------------------------- targets


def test_ens2_kernel_is_a_unit_sum_gaussian_of_25_ms():
    k = gaussian_kernel_ms(25.0, 60.0)
    assert k.size % 2 == 1 and np.isclose(k.sum(), 1.0)
    x = np.arange(k.size) - k.size // 2
    sd_bins = np.sqrt(np.sum(k * x**2))
    assert sd_bins == pytest.approx(0.025 * 60.0, rel=0.01)


def test_s2s_kernel_matches_scipy_gaussian_window():
    from scipy.signal.windows import gaussian

    k = gaussian_kernel_samples(11, 5.0)
    ref = gaussian(11, 5.0)
    np.testing.assert_allclose(k, ref / ref.sum())


def test_binning_and_smoothing_of_spike_times():
    fs = 60.0
    counts = bin_spikes(np.array([0.0, 1.0, 1.004, 2.5, 99.0, np.nan]), 200, fs)
    assert counts[0] == 1 and counts[60] == 2 and counts[150] == 1 and counts.sum() == 4
    k = gaussian_kernel_ms(25.0, fs)
    smooth = smooth_spike_counts(counts, k)
    h = k.size // 2
    np.testing.assert_allclose(smooth[60 - h : 60 + h + 1], 2 * k)  # centred on the spike
    assert smooth[150] == pytest.approx(k[h])
    assert smooth[h + 1 :].sum() == pytest.approx(3.0)  # interior spikes keep their count


def test_added_noise_reaches_the_requested_noise_level(rng):
    fs = 60.0
    std = added_noise_std(8.0, 0.0, fs)
    noise = rng.standard_normal(400_000) * std
    assert noise_level(noise, fs) == pytest.approx(8.0, rel=0.02)
    # noise adds in variance: from ν = 6 to ν = 10 needs ν_add = 8
    assert added_noise_std(10.0, 6.0, fs) == pytest.approx(std)
    assert added_noise_std(3.0, 5.0, fs) == 0.0  # already noisier: nothing added


# ---------------------------------------------------------------- synthetic data


def _synthetic(n_neurons=6, seconds=120.0, fs=60.0, seed=0, nan_stretch=False):
    """Poisson spikes → exponential calcium kernel (τ = 0.4 s) + noise, as paired traces."""
    rng = np.random.default_rng(seed)
    k = gaussian_kernel_ms(25.0, fs)
    n = int(seconds * fs)
    tau = np.exp(-np.arange(int(3 * fs)) / (0.4 * fs))
    traces = []
    for i in range(n_neurons):
        counts = rng.poisson(1.5 / fs, size=n).astype(float)
        dff = np.convolve(counts, 0.5 * tau)[:n] + 0.02 * rng.standard_normal(n)
        if nan_stretch and i == 0:
            dff[1000:1100] = np.nan
        spikes = np.repeat(np.arange(n), counts.astype(int)) / fs
        traces.append(
            PairedTrace(
                dff=dff.astype(np.float32),
                target=smooth_spike_counts(counts, k).astype(np.float32),
                counts=counts.astype(np.float32),
                spike_times_s=spikes,
                fs_hz=fs,
                native_fs_hz=fs,
                noise_level=noise_level(dff, fs),
                dataset=f"DS9{i % 2}-synthetic",
                neuron=f"DS9{i % 2}-synthetic/cell{i}",
            )
        )
    return PairedData(traces, fs, k, {"kind": "gaussian", "sigma_ms": 25.0})


def test_window_sampler_skips_nan_and_returns_contiguous_windows(rng):
    data = _synthetic(n_neurons=2, seconds=40.0, nan_stretch=True)
    s = WindowSampler(data.traces, 96)
    n = data.traces[0].dff.size
    assert s.n_windows == (n - 96 + 1) * 2 - (100 + 95)
    x, y, nu = s.sample(5000, rng)
    assert x.shape == y.shape == (5000, 96) and np.isfinite(x).all()
    assert set(np.unique(nu)) <= {t.noise_level for t in data.traces}
    start, _ = s.starts(np.arange(s.n_windows))
    assert len(np.unique(start)) == s.n_windows
    i = int(start[123])
    np.testing.assert_array_equal(s.windows(np.array([123]))[0][0], s.x[i : i + 96])
    with pytest.raises(InvalidInputError, match="NaN-free"):
        WindowSampler(data.traces, 10**6)


def test_validation_split_is_by_neuron():
    data = _synthetic(n_neurons=8, seconds=10.0)
    tr, va = split_by_neuron(data, 0.25, seed=1)
    assert set(tr).isdisjoint(va) and sorted(tr + va) == data.neurons
    assert {v.split("/")[0] for v in va} == {"DS90-synthetic", "DS91-synthetic"}


def test_pearson_loss_is_scale_and_offset_free():
    t = torch.rand(4, 50)
    assert float(pearson_loss(3 * t + 1, t)) == pytest.approx(0.0, abs=1e-5)
    assert float(pearson_loss(-t, t)) == pytest.approx(2.0, abs=1e-5)
    flat = torch.zeros(2, 50)
    assert float(pearson_loss(torch.rand(2, 50), flat)) == 0.0
    assert float(mse_loss(t + 1, t)) == pytest.approx(1.0)


# ---------------------------------------------------------------- learning


def test_tiny_ens2_learns_to_invert_a_calcium_kernel():
    torch.set_num_threads(1)
    data = _synthetic(n_neurons=6, seconds=120.0, seed=3)
    test = _synthetic(n_neurons=1, seconds=60.0, seed=99).traces[0]
    cfg = default_config(
        "ens2",
        iterations=250,
        batch_size=64,
        val_every=50,
        patience=1000,
        val_fraction=0.0,
        network_kwargs={"channels": [4, 8, 16, 32]},
        checkpoint_every=0,
        seed=0,
    )
    res = train(data, cfg, score_validation=False)
    pred = predict_trace(res.network, test.dff, "ens2", 96, stride=4)
    r = np.corrcoef(pred, test.target)[0, 1]
    assert r > 0.6, r
    assert res.history["train_loss"][-1] < res.history["train_loss"][0]
    # the event gain was calibrated after training (on training neurons: no validation split)
    ev = res.card["events"]
    assert ev["calibrated_on"] == "training neurons (no validation)"
    assert ev["gain"] in DEFAULT_GAINS and ev["n_neurons"] == 6
    assert ev["mean_error_rate_by_gain"][f"{ev['gain']:g}"] <= ev["mean_error_rate_by_gain"]["1"]


def test_s2s_training_improves_correlation_and_calibrates():
    torch.set_num_threads(1)
    data = _synthetic(n_neurons=6, seconds=60.0, fs=100.0, seed=4)
    cfg = default_config(
        "s2s",
        iterations=60,
        batch_size=8,
        segment_samples=400,
        val_every=20,
        patience=1000,
        checkpoint_every=0,
    )
    res = train(data, cfg)
    assert res.val_scores["median_corr"] > 0.3
    assert res.card["output_scale"] != 1.0  # least-squares calibration happened
    assert res.card["method"] == "s2s" and res.card["fs_hz"] == 100.0
    assert res.card["events"]["calibrated_on"] == "validation neurons"
    assert "predictions" not in res.val_scores and "predictions" not in res.card["validation"]


def test_resume_gives_the_same_losses_as_an_uninterrupted_run(tmp_path):
    torch.set_num_threads(1)
    data = _synthetic(n_neurons=6, seconds=30.0, seed=5)
    kw = dict(
        batch_size=16,
        val_every=5,
        patience=1000,
        checkpoint_every=10,
        report_every=5,
        noise_augment=True,
        network_kwargs={"channels": [2, 4, 8, 8]},
        val_windows=64,
    )
    full = drain(
        iter_train(
            data,
            default_config("ens2", iterations=20, **kw),
            out_dir=tmp_path / "a",
            score_validation=False,
        )
    )
    drain(
        iter_train(
            data,
            default_config("ens2", iterations=10, **kw),
            out_dir=tmp_path / "b",
            score_validation=False,
        )
    )
    resumed = drain(
        iter_train(
            data,
            default_config("ens2", iterations=20, **kw),
            out_dir=tmp_path / "b",
            resume=tmp_path / "b" / "checkpoint.pt",
            score_validation=False,
        )
    )
    assert resumed.history["train_loss"] == full.history["train_loss"]
    assert resumed.history["val_loss"] == full.history["val_loss"]
    assert np.isfinite(full.history["val_loss"]).all()
    for k, v in full.network.state_dict().items():
        torch.testing.assert_close(resumed.network.state_dict()[k], v, rtol=0, atol=0)
    assert (tmp_path / "b" / "ens2-custom.pt").is_file()
    assert resumed.card["training"]["resumed_from_iteration"] == 10
    with pytest.raises(InvalidInputError, match="batch_size"):
        drain(
            iter_train(
                data,
                default_config("ens2", iterations=30, **{**kw, "batch_size": 8}),
                resume=tmp_path / "b" / "checkpoint.pt",
            )
        )


def test_cosine_schedule_runs_the_learning_rate_down_to_zero(tmp_path):
    cfg = default_config("ens2", iterations=100, learning_rate=1e-3, lr_schedule="cosine")
    assert learning_rate_at(cfg, 0) == pytest.approx(1e-3)
    assert learning_rate_at(cfg, 50) == pytest.approx(5e-4)
    assert learning_rate_at(cfg, 100) == pytest.approx(0.0, abs=1e-12)
    lrs = [learning_rate_at(cfg, i) for i in range(101)]
    assert np.all(np.diff(lrs) <= 0)
    assert learning_rate_at(default_config("ens2", iterations=100), 99) == 1e-3  # constant
    with pytest.raises(InvalidInputError, match="lr_schedule"):
        default_config("ens2", lr_schedule="step")
    torch.set_num_threads(1)
    res = drain(
        iter_train(
            _synthetic(n_neurons=4, seconds=20.0, seed=2),
            default_config(
                "ens2",
                iterations=10,
                batch_size=8,
                val_every=5,
                val_windows=32,
                lr_schedule="cosine",
                network_kwargs={"channels": [2, 4, 8, 8]},
            ),
            out_dir=tmp_path,
            score_validation=False,
        )
    )
    assert res.card["training"]["config"]["lr_schedule"] == "cosine"


def test_ground_truth_loader_on_real_dataset(ground_truth_dir):
    folder = sorted(ground_truth_dir.glob("DS19-*"))
    if not folder:
        pytest.skip("DS19 not in the shared ground truth")
    d = load_ground_truth(folder, fs_hz=60.0, sigma_ms=25.0)
    assert d.datasets == [folder[0].name] and len(d.neurons) >= 3
    t = d.traces[0]
    assert t.fs_hz == 60.0 and t.dff.dtype == np.float32 and t.dff.size == t.target.size
    # spikes are preserved by binning (all fall inside the recording)
    assert sum(float(x.counts.sum()) for x in d.traces) > 50
    assert 0.0 < t.noise_level < 20.0


def test_indicator_is_read_from_cascade_folder_names():
    assert indicator_of("DS11-GCaMP6f-m-V1-neuropil-corrected") == "GCaMP6f"
    assert indicator_of("/data/DS19-R-CaMP-m-S1") == "R-CaMP"
    assert indicator_of("DS02-OGB1-2-m-V1") == "OGB1"
    assert indicator_of("DS06-GCaMP6f-zf-aDp") == "GCaMP6f"
    for bad in ("notes", "DS11", "DS01-m-V1"):
        with pytest.raises(InvalidInputError, match="does not name an indicator"):
            indicator_of(bad)


def test_fine_tuning_starts_from_the_shipped_weights(ground_truth_dir):
    """init_from: validation loss before training is the shipped model's, not a random net's."""
    from calcium_forge.inference.registry import list_models

    if "ens2-excitatory" not in list_models():
        pytest.skip("the shipped ens2-excitatory model is not installed")
    folder = sorted(ground_truth_dir.glob("DS10-*"))  # GCaMP6f, mouse V1
    if not folder:
        pytest.skip("DS10 not in the shared ground truth")
    torch.set_num_threads(1)
    kw = dict(iterations=1, batch_size=64, val_every=1, val_windows=2048, patience=10)
    cfg = default_config("ens2", **kw)
    data = load_ground_truth(folder, fs_hz=60.0, sigma_ms=25.0)

    def first_val_loss(**extra):
        res = drain(iter_train(data, cfg, score_validation=False, **extra))
        return res.history["val_loss"][0], res

    scratch, _ = first_val_loss()
    tuned, res = first_val_loss(init_from="ens2-excitatory")
    assert tuned < 0.7 * scratch
    assert res.card["training"]["fine_tuned_from"] == "ens2-excitatory"
    with pytest.raises(InvalidInputError, match="s2s"):
        drain(iter_train(data, default_config("s2s", iterations=1), init_from="ens2-excitatory"))


def test_without_validation_neurons_early_stopping_watches_the_training_loss():
    # val_fraction=0 (the authors' protocol: every neuron trains): a run whose
    # batch loss stops reaching new lows must stop after `patience` iterations
    torch.set_num_threads(1)
    data = _synthetic(n_neurons=4, seconds=60.0, seed=5)
    cfg = default_config(
        "ens2",
        iterations=3000,
        batch_size=16,
        learning_rate=1e-9,  # no learning: new minima of the batch loss become rare
        patience=40,
        val_fraction=0.0,
        network_kwargs={"channels": [4, 8, 16, 32]},
        checkpoint_every=0,
        report_every=1,
    )
    res = train(data, cfg, score_validation=False)
    assert res.iterations_run < 3000
    losses = np.asarray(res.history["train_loss"])
    best = int(np.argmin(losses)) + 1
    assert res.iterations_run == best + 40
