"""Correlation matching: a generator is pulled to the pairwise correlations of the data."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from calcium_forge.errors import InvalidInputError  # noqa: E402
from calcium_forge.evaluation.cofiring import pairwise_trace_correlations  # noqa: E402
from calcium_forge.synthesis.calciumgan import CalciumGAN  # noqa: E402
from calcium_forge.synthesis.correlation_matching import match_correlations  # noqa: E402
from calcium_forge.synthesis.gan_networks import GANConfig  # noqa: E402
from calcium_forge.synthesis.windows import Scaling  # noqa: E402


def _mean_corr(w: np.ndarray) -> float:
    return float(np.nanmean(pairwise_trace_correlations(w)))


def test_matching_reaches_the_data_correlation_and_leaves_the_input_model_alone():
    torch.manual_seed(0)
    cfg = GANConfig(window=64, n_neurons=5, latent_dim=8, channels=(16, 8))
    gan = CalciumGAN(cfg, Scaling(0.0, 1.0), fs_hz=30.0)  # untrained: about independent
    before = gan.sample_windows(64, seed=3)
    assert abs(_mean_corr(before)) < 0.1
    rng = np.random.default_rng(0)
    common = rng.standard_normal((200, 64, 1))
    real = (0.5 + 0.1 * (common + rng.standard_normal((200, 64, 5)))).astype(np.float32)
    target = _mean_corr(real)  # about 0.5
    res = match_correlations(gan, real, steps=150, batch_size=32, lr=1e-3, seed=1)
    after = res.model.sample_windows(64, seed=3)
    assert abs(_mean_corr(after) - target) < 0.5 * abs(_mean_corr(before) - target)
    assert res.model.config.neuron_noise and not gan.config.neuron_noise
    np.testing.assert_array_equal(gan.sample_windows(64, seed=3), before)  # input unchanged
    assert len(res.history["loss_corr"]) == 150 and res.cpu_seconds > 0
    assert np.mean(res.history["loss_corr"][-10:]) < np.mean(res.history["loss_corr"][:10])
    assert res.model.card["correlation_matching"]["steps"] == 150


def test_matching_checks_the_window_shape():
    gan = CalciumGAN(
        GANConfig(window=64, n_neurons=5, latent_dim=8, channels=(16, 8)),
        Scaling(0.0, 1.0),
        fs_hz=30.0,
    )
    with pytest.raises(InvalidInputError, match="like the model's"):
        match_correlations(gan, np.zeros((10, 32, 5), np.float32), steps=1)


def test_grid_peaks_see_a_period_16_pattern():
    from calcium_forge.synthesis.correlation_matching import _grid_peaks, _log_spectra

    torch.manual_seed(0)
    x = torch.rand(16, 256, 3)
    comb = 0.3 * (torch.arange(256) % 16 == 0).float()[None, :, None]
    flat = float(_grid_peaks(_log_spectra(x), 16).mean())
    peaky = float(_grid_peaks(_log_spectra(x + comb), 16).mean())
    assert abs(flat) < 0.3 and peaky > flat + 0.4
