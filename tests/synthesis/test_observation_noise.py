"""GANConfig.observation_noise: signal + independent noise of each neuron's measured level."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from calcium_forge.recording import Recording  # noqa: E402
from calcium_forge.synthesis.calciumgan import CalciumGAN, GANConfig  # noqa: E402
from calcium_forge.synthesis.correlation_matching import match_correlations  # noqa: E402
from calcium_forge.synthesis.train import (  # noqa: E402
    GANTrainConfig,
    model_from_checkpoint,
    train_gan,
)
from calcium_forge.synthesis.windows import (  # noqa: E402
    Scaling,
    make_windows,
    observation_noise_sd,
)


def _config(n=4, t=64, **kw):
    return GANConfig(
        window=t,
        n_neurons=n,
        latent_dim=8,
        channels=(16, 8),
        kernel_size=4,
        stride=2,
        phase_shuffle=1,
        observation_noise=True,
        **kw,
    )


def _noisy_rec(sd=(0.05, 0.1, 0.2, 0.4), length=3000, seed=0):
    """Slow shared-free signals plus white noise of a known, different level per neuron."""
    rng = np.random.default_rng(seed)
    n = len(sd)
    slow = np.cumsum(rng.normal(0, 0.02, (n, length)), axis=1)
    noise = rng.normal(0, 1, (n, length)) * np.asarray(sd)[:, None]
    return Recording((slow + noise).astype(np.float32), 30.0)


def test_noise_level_estimate_recovers_white_noise():
    rec = _noisy_rec()
    sd = observation_noise_sd(make_windows(rec.traces, 64, 16))
    np.testing.assert_allclose(sd, [0.05, 0.1, 0.2, 0.4], rtol=0.15)


def test_trained_model_carries_the_data_noise_and_samples_it(tmp_path):
    rec = _noisy_rec()
    tc = GANTrainConfig(steps=3, batch_size=8, pretrain_steps=1, window_stride=8, seed=1)
    res = train_gan(rec, _config(), tc, out_dir=tmp_path / "run")
    model = res.model
    scaled_sd = model.generator.obs_sigma.numpy()
    span = np.asarray(model.scaling.x_max) - np.asarray(model.scaling.x_min)
    np.testing.assert_allclose(scaled_sd * span, [0.05, 0.1, 0.2, 0.4], rtol=0.2)

    # the noise is in the samples (trace units), and independent across neurons
    noisy = model.sample_windows(200, seed=3)
    clean = model.sample_windows(200, seed=3, observation_noise=False)
    resid = (noisy - clean).reshape(-1, 4)
    np.testing.assert_allclose(resid.std(0), [0.05, 0.1, 0.2, 0.4], rtol=0.1)
    off_diag = np.corrcoef(resid.T)[np.triu_indices(4, 1)]
    assert np.abs(off_diag).max() < 0.05
    np.testing.assert_array_equal(noisy, model.sample_windows(200, seed=3))  # seeded

    # the noise level survives save/load and the checkpoint
    loaded = CalciumGAN.load(model.save(tmp_path / "m.pt"))
    np.testing.assert_array_equal(loaded.generator.obs_sigma.numpy(), scaled_sd)
    snap = model_from_checkpoint(tmp_path / "run" / "checkpoint.pt")
    assert snap.card["steps"] == 3
    np.testing.assert_array_equal(snap.sample_windows(3, seed=0), model.sample_windows(3, seed=0))


def test_sample_long_adds_the_noise_once_after_the_crossfades():
    # a generator with a constant output: what sample_long returns is the noise alone
    model = CalciumGAN(_config(), Scaling(0.0, 2.0), 30.0)
    with torch.no_grad():
        for prm in model.generator.convs[-1].parameters():
            prm.zero_()
        model.generator.obs_sigma.copy_(torch.tensor([0.025, 0.05, 0.1, 0.2]))
    long = model.sample_long(4000, seed=5, overlap=32).traces
    want = np.array([0.05, 0.1, 0.2, 0.4])  # trace units: sigma * (x_max - x_min)
    np.testing.assert_allclose(long.std(1), want, rtol=0.08)
    # the crossfaded stretches carry the full level (averaging two draws would lower it)
    hop = 32  # window 64 - overlap 32: frames [k*hop, k*hop + 32) are crossfaded
    fades = np.concatenate([np.arange(k * hop, k * hop + 32) for k in range(1, 100)])
    np.testing.assert_allclose(long[:, fades].std(1), want, rtol=0.1)


def test_a_model_without_the_option_adds_nothing():
    cfg = _config(n=3)
    cfg.observation_noise = False
    model = CalciumGAN(cfg, Scaling(0.0, 1.0), 30.0)
    a = model.sample_windows(4, seed=0)
    np.testing.assert_array_equal(a, model.sample_windows(4, seed=0, observation_noise=False))
    assert not hasattr(model.generator, "obs_sigma")


def test_correlation_matching_keeps_the_observation_noise():
    rec = _noisy_rec(length=1500)
    tc = GANTrainConfig(steps=2, batch_size=8, pretrain_steps=1, window_stride=8, seed=1)
    model = train_gan(rec, _config(), tc).model
    w = make_windows(rec.traces, 64, 16)
    tuned = match_correlations(model, w, steps=2, batch_size=4).model
    assert tuned.config.observation_noise
    np.testing.assert_array_equal(
        tuned.generator.obs_sigma.numpy(), model.generator.obs_sigma.numpy()
    )


def test_top_up_brings_the_samples_to_the_data_noise_level():
    from calcium_forge.synthesis.observation_noise import top_up_observation_noise

    rec = _noisy_rec(sd=(0.05, 0.1, 0.2, 0.4))
    data = make_windows(rec.traces, 64, 16)
    cfg = _config()
    cfg.observation_noise = False
    scaling = Scaling(rec.traces.min(1), rec.traces.max(1))
    smooth = CalciumGAN(cfg, scaling, 30.0)  # a constant output: no noise of its own
    with torch.no_grad():
        for prm in smooth.generator.convs[-1].parameters():
            prm.zero_()
    res = top_up_observation_noise(smooth, data, seed=0)
    assert res.model.config.observation_noise and not smooth.config.observation_noise
    np.testing.assert_allclose(res.model_sd, 0.0, atol=1e-6)
    after = observation_noise_sd(res.model.sample_windows(128, seed=1))
    np.testing.assert_allclose(after, res.data_sd, rtol=0.1)
    np.testing.assert_allclose(res.data_sd, [0.05, 0.1, 0.2, 0.4], rtol=0.15)
    assert res.model.card["observation_noise"]["added_sd"] == list(np.round(res.added_sd, 5))
    # half the missing variance
    half = top_up_observation_noise(smooth, data, fraction=0.5, seed=0)
    np.testing.assert_allclose(half.added_sd**2, 0.5 * res.added_sd**2, rtol=1e-5)
    # a model whose own output is noisier than the data gets nothing
    loud = CalciumGAN(cfg, scaling, 30.0)  # untrained: rough output
    quiet_data = make_windows(_noisy_rec(sd=(0.001,) * 4).traces, 64, 16)
    assert np.all(top_up_observation_noise(loud, quiet_data).added_sd == 0)
    with pytest.raises(Exception, match="fraction"):
        top_up_observation_noise(loud, data, fraction=1.5)
    with pytest.raises(Exception, match="windows must be"):
        top_up_observation_noise(loud, data[:, :32])
