"""WGAN-GP trainer: exact resume, Ctrl-C checkpoint, pretraining switch, learning."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from calcium_forge.errors import ModelError  # noqa: E402
from calcium_forge.progress import drain  # noqa: E402
from calcium_forge.recording import Recording  # noqa: E402
from calcium_forge.synthesis.calciumgan import CalciumGAN, GANConfig  # noqa: E402
from calcium_forge.synthesis.train import (  # noqa: E402
    GANTrainConfig,
    iter_train_gan,
    load_checkpoint,
    train_gan,
)
from calcium_forge.synthesis.windows import Scaling, WindowSplit  # noqa: E402


def _gan_config(n=3, t=32, ps=1):
    return GANConfig(
        window=t,
        n_neurons=n,
        latent_dim=8,
        channels=(16, 8),
        kernel_size=4,
        stride=2,
        phase_shuffle=ps,
    )


def _rec(n=3, length=800, seed=0):
    rng = np.random.default_rng(seed)
    return Recording(np.cumsum(rng.normal(0, 0.1, (n, length)), axis=1).astype(np.float32), 30.0)


def test_resume_reproduces_uninterrupted_run_exactly(tmp_path):
    rec = _rec()
    tc = dict(batch_size=8, seed=3, pretrain_steps=2, window_stride=4)
    full = train_gan(rec, _gan_config(), GANTrainConfig(steps=6, **tc), out_dir=tmp_path / "full")
    part = train_gan(rec, _gan_config(), GANTrainConfig(steps=3, **tc), out_dir=tmp_path / "part")
    assert part.steps_done == 3 and part.checkpoint.exists()
    ck = load_checkpoint(tmp_path / "part")
    assert ck["step"] == 3 and ck["pretrained"] and "opt_g" in ck and "rng_torch" in ck
    assert ck["scaling"] == full.model.scaling.to_dict()
    resumed = train_gan(
        rec,
        None,
        GANTrainConfig(steps=6, **tc),
        out_dir=tmp_path / "part",
        resume=tmp_path / "part" / "checkpoint.pt",
    )
    assert resumed.steps_done == 6
    for key in ("loss_d", "loss_g", "wasserstein", "gp", "pretrain_loss"):
        assert resumed.history[key] == full.history[key], key
    for a, b in zip(
        full.model.generator.state_dict().values(),
        resumed.model.generator.state_dict().values(),
        strict=True,
    ):
        assert torch.equal(a, b)
    # the saved model samples like the in-memory one
    back = CalciumGAN.load(tmp_path / "part" / "model.pt")
    np.testing.assert_array_equal(
        back.sample(2, seed=0).traces, resumed.model.sample(2, seed=0).traces
    )


def test_resume_with_other_data_is_refused(tmp_path):
    train_gan(_rec(), _gan_config(), GANTrainConfig(steps=1, batch_size=4), out_dir=tmp_path)
    with pytest.raises(ModelError, match="different training windows"):
        train_gan(_rec(seed=1), None, GANTrainConfig(steps=2, batch_size=4), resume=tmp_path)


def test_keyboard_interrupt_writes_a_checkpoint(tmp_path):
    gen = iter_train_gan(
        _rec(),
        _gan_config(),
        GANTrainConfig(steps=50, batch_size=4),
        out_dir=tmp_path,
        progress_every=1,
    )
    progress = [next(gen) for _ in range(3)]
    assert progress[-1].step == 3 and {"loss_d", "loss_g", "wasserstein", "samples_per_s"} <= set(
        progress[-1].values
    )
    with pytest.raises(KeyboardInterrupt):
        gen.throw(KeyboardInterrupt)
    ck = load_checkpoint(tmp_path / "checkpoint.pt")
    assert ck["interrupted"] and ck["step"] == 3
    # and training continues from it
    res = train_gan(_rec(), None, GANTrainConfig(steps=5, batch_size=4), resume=tmp_path)
    assert res.steps_done == 5 and len(res.history["loss_d"]) == 5


def test_closing_the_generator_writes_a_checkpoint(tmp_path):
    """A cancelled run (the consumer closes the generator) keeps its latest state."""
    gen = iter_train_gan(
        _rec(),
        _gan_config(),
        GANTrainConfig(steps=50, batch_size=4),
        out_dir=tmp_path,
        progress_every=1,
    )
    for _ in range(2):
        next(gen)
    gen.close()
    ck = load_checkpoint(tmp_path / "checkpoint.pt")
    assert ck["interrupted"] and ck["step"] == 2


def test_autoencoder_pretraining_reduces_reconstruction_error():
    res = train_gan(
        _rec(),
        _gan_config(),
        GANTrainConfig(steps=0, batch_size=16, pretrain_steps=60, pretrain_lr=3e-3),
    )
    loss = res.history["pretrain_loss"]
    assert len(loss) == 60 and np.mean(loss[-10:]) < 0.5 * np.mean(loss[:5])
    off = train_gan(_rec(), _gan_config(), GANTrainConfig(steps=1, batch_size=4))
    assert off.history["pretrain_loss"] == []


def test_short_training_moves_samples_toward_the_data():
    """Toy data: neuron 0 sits near 0.85, neuron 1 near 0.15 (scaled units)."""
    rng = np.random.default_rng(0)
    m, t = 256, 16
    data = np.empty((m, t, 2), np.float32)
    data[..., 0] = 0.85 + 0.03 * rng.standard_normal((m, t))
    data[..., 1] = 0.15 + 0.03 * rng.standard_normal((m, t))
    split = WindowSplit(data, data[:8], Scaling(0.0, 1.0), t, 1, 30.0, (0, m), (m, m + 8))
    cfg = GANConfig(
        window=t,
        n_neurons=2,
        latent_dim=4,
        channels=(16, 8),
        kernel_size=4,
        stride=2,
        phase_shuffle=1,
    )
    target = np.array([0.85, 0.15])
    torch.manual_seed(0)
    before = CalciumGAN(cfg, split.scaling, 30.0).sample_windows(64, seed=1).mean(axis=(0, 1))
    res = drain(
        iter_train_gan(
            split, cfg, GANTrainConfig(steps=150, batch_size=32, lr=1e-3, betas=(0.5, 0.9), seed=0)
        )
    )
    after = res.model.sample_windows(64, seed=1).mean(axis=(0, 1))
    err_before = np.abs(before - target).sum()
    err_after = np.abs(after - target).sum()
    assert err_after < 0.4 * err_before, (before, after)
    w = np.array(res.history["wasserstein"])
    assert np.isfinite(w).all()


def test_bf16_autocast_on_cpu_trains():
    res = train_gan(
        _rec(),
        _gan_config(),
        GANTrainConfig(steps=2, batch_size=4, mixed_precision=True, pretrain_steps=1),
    )
    assert np.isfinite(res.history["loss_d"]).all() and np.isfinite(res.history["gp"]).all()
    assert res.model.sample(1).traces.dtype == np.float32


def test_generator_weight_averaging(tmp_path):
    rec = _rec()
    tc = dict(batch_size=8, seed=4, pretrain_steps=0, window_stride=4)
    raw = train_gan(rec, _gan_config(), GANTrainConfig(steps=5, **tc))
    # decay 0: the average is the last generator, and training itself is unchanged
    ema0 = train_gan(rec, _gan_config(), GANTrainConfig(steps=5, ema_decay=0.0, **tc))
    assert ema0.history["loss_g"] == raw.history["loss_g"]
    for a, b in zip(
        raw.model.generator.state_dict().values(),
        ema0.model.generator.state_dict().values(),
        strict=True,
    ):
        torch.testing.assert_close(a, b)
    # decay 0.5 over 5 steps: the sampled generator is an average, not the last one;
    # resuming carries the average exactly
    tc_ema = dict(tc, ema_decay=0.5)
    full = train_gan(
        rec, _gan_config(), GANTrainConfig(steps=5, **tc_ema), out_dir=tmp_path / "full"
    )
    assert "moving average" in full.model.card["generator_weights"]
    diff = [
        (a - b).abs().max().item()
        for a, b in zip(
            raw.model.generator.parameters(), full.model.generator.parameters(), strict=True
        )
    ]
    assert max(diff) > 0
    train_gan(rec, _gan_config(), GANTrainConfig(steps=2, **tc_ema), out_dir=tmp_path / "part")
    assert "generator_ema" in load_checkpoint(tmp_path / "part")
    resumed = train_gan(
        rec, None, GANTrainConfig(steps=5), out_dir=tmp_path / "part",
        resume=tmp_path / "part" / "checkpoint.pt",
    )  # fmt: skip
    for a, b in zip(
        full.model.generator.state_dict().values(),
        resumed.model.generator.state_dict().values(),
        strict=True,
    ):
        assert torch.equal(a, b)
    with pytest.raises(Exception, match="ema_decay"):
        GANTrainConfig(ema_decay=1.0)
