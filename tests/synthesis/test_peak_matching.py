"""Transient heights: the term tells windows without the rare large transients from real ones."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from calcium_forge.errors import InvalidInputError  # noqa: E402
from calcium_forge.synthesis.gan_networks import GANConfig  # noqa: E402
from calcium_forge.synthesis.peak_matching import (  # noqa: E402
    PeakTarget,
    diff_noise_sd,
    window_peaks,
)
from calcium_forge.synthesis.train import GANTrainConfig, train_gan  # noqa: E402
from calcium_forge.synthesis.windows import Scaling, WindowSplit  # noqa: E402


def _windows(m: int, rng, transients: bool) -> np.ndarray:
    """(m, 128, 3) noise (SD 0.1); neuron 0 gets a decaying transient of 2.0 in 30 % of windows."""
    w = 0.1 * rng.standard_normal((m, 128, 3))
    if transients:
        kernel = 2.0 * np.exp(-np.arange(40) / 10.0)
        for i in np.flatnonzero(rng.random(m) < 0.3):
            t0 = rng.integers(0, 80)
            w[i, t0 : t0 + 40, 0] += kernel
    return w.astype(np.float32)


def test_missing_transients_score_far_worse_than_real_windows():
    rng = np.random.default_rng(0)
    target = PeakTarget.from_windows(_windows(2000, rng, True), batch_size=32)
    np.testing.assert_allclose(target.sigma.numpy(), 0.1, rtol=0.1)
    real = [float(target.loss(torch.from_numpy(_windows(32, rng, True)))) for _ in range(20)]
    flat = [float(target.loss(torch.from_numpy(_windows(32, rng, False)))) for _ in range(20)]
    assert np.median(flat) > 3 * np.median(real)  # the negative control fails clearly
    assert np.median(real) < 0.25


def test_peaks_are_in_noise_units_and_the_batch_must_match():
    x = torch.zeros(2, 10, 1)
    x[0, 3, 0] = 1.0
    np.testing.assert_allclose(window_peaks(x, torch.tensor([0.5])).numpy()[:, 0], [2.0, 0.0])
    target = PeakTarget.from_windows(np.zeros((5, 10, 1), np.float32), batch_size=4)
    with pytest.raises(InvalidInputError, match="batch of 3 windows"):
        target.loss(torch.zeros(3, 10, 1))
    with pytest.raises(InvalidInputError, match="expected"):
        diff_noise_sd(np.zeros((4, 10)))


def test_the_trainer_adds_the_term_only_when_asked():
    rng = np.random.default_rng(1)
    train = _windows(64, rng, True)
    lo, hi = float(train.min()), float(train.max())
    data = (train - lo) / (hi - lo)
    split = WindowSplit(data, data[:8], Scaling(lo, hi), 128, 1, 30.0, (0, 64), (64, 72))
    cfg = GANConfig(window=128, n_neurons=3, latent_dim=8, channels=(16, 8))
    runs = []
    for w in (0.0, 5.0):
        res = train_gan(split, cfg, GANTrainConfig(steps=3, batch_size=8, peak_weight=w))
        runs.append(np.asarray(res.history["loss_g"]))
    assert not np.allclose(runs[0], runs[1])
