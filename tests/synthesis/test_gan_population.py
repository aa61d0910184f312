"""CalciumGAN options against population co-fluctuation: pair-correlation critic features,
per-neuron output noise, linear up-sampling, and old model files keeping the paper's layout."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from calcium_forge.errors import InvalidInputError  # noqa: E402
from calcium_forge.synthesis.calciumgan import CalciumGAN  # noqa: E402
from calcium_forge.synthesis.gan_networks import (  # noqa: E402
    GANConfig,
    build_critic,
    build_generator,
    pairwise_correlations,
)
from calcium_forge.synthesis.windows import Scaling  # noqa: E402


def _small(**kw) -> GANConfig:
    return GANConfig(window=64, n_neurons=6, latent_dim=8, channels=(16, 8), **kw)


def test_pairwise_correlations_match_numpy_and_carry_gradients():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 50, 4))
    x[0, :, 1] += x[0, :, 0]
    t = torch.tensor(x, requires_grad=True)
    c = pairwise_correlations(t)
    iu = np.triu_indices(4, 1)
    for i in range(2):
        np.testing.assert_allclose(c[i].detach().numpy(), np.corrcoef(x[i].T)[iu], atol=1e-6)
    c.sum().backward()
    assert torch.isfinite(t.grad).all() and float(t.grad.abs().sum()) > 0


def test_critic_with_pairwise_features_scores_a_common_mode():
    cfg = _small(pairwise_features=True)
    critic = build_critic(cfg)
    assert critic.n_features == 16 * cfg.base_length + 6 * 5
    # a head that reads only the correlation features separates independent from co-moving
    with torch.no_grad():
        critic.head.weight.zero_()
        critic.head.weight[0, -30:] = 1.0
        critic.head.bias.zero_()
    critic.eval()
    indep = torch.rand(4, 64, 6)
    common = indep + 2 * torch.rand(4, 64, 1)
    assert float(critic(common).mean()) > float(critic(indep).mean()) + 5


def test_neuron_noise_decorrelates_fast_fluctuations_and_sampling_stays_seeded():
    torch.manual_seed(0)
    cfg = _small(neuron_noise=True)
    gen = build_generator(cfg)
    z = torch.randn(16, cfg.latent_dim)
    with torch.no_grad():
        quiet = gen(z, torch.zeros(16, 6, 64))
        gen.noise_scale.fill_(3.0)  # noise dominates: softplus(3) = 3 logit units
        noisy = gen(z, torch.randn(16, 6, 64))
    assert quiet.shape == noisy.shape == (16, 64, 6)
    d = np.diff(noisy.numpy(), axis=1)
    c = np.mean([np.corrcoef(w.T)[np.triu_indices(6, 1)].mean() for w in d])
    assert abs(c) < 0.1  # independent per neuron
    gan = CalciumGAN(cfg, Scaling(0.0, 1.0), fs_hz=30.0, generator=gen)
    np.testing.assert_array_equal(gan.sample_windows(3, seed=1), gan.sample_windows(3, seed=1))
    assert not np.array_equal(gan.sample_windows(3, seed=1), gan.sample_windows(3, seed=2))


def test_linear_upsampling_builds_and_old_configs_keep_the_paper_layout():
    cfg = _small(upsample="linear")
    gen = build_generator(cfg)
    with torch.no_grad():
        assert gen(torch.randn(2, 8)).shape == (2, 64, 6)
    assert not any(isinstance(m, torch.nn.ConvTranspose1d) for m in gen.modules())
    old = {k: v for k, v in _small().to_dict().items()}
    for key in ("upsample", "pairwise_features", "neuron_noise"):
        old.pop(key)
    back = GANConfig.from_dict(old)  # a model file written before these options
    assert (back.upsample, back.pairwise_features, back.neuron_noise) == (
        "transposed",
        False,
        False,
    )
    assert any(isinstance(m, torch.nn.ConvTranspose1d) for m in build_generator(back).modules())
    with pytest.raises(InvalidInputError, match="upsample"):
        _small(upsample="nearest")
