"""CalciumGAN architecture: configs, Phase Shuffle, gradient penalty, sampling, files."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from calcium_forge.errors import InvalidInputError, MissingFileError, ModelError  # noqa: E402
from calcium_forge.synthesis.calciumgan import (  # noqa: E402
    CalciumGAN,
    GANConfig,
    build_critic,
    build_generator,
    crossfade_windows,
    phase_shuffle_module,
)
from calcium_forge.synthesis.train import gradient_penalty  # noqa: E402
from calcium_forge.synthesis.windows import Scaling  # noqa: E402


@pytest.mark.parametrize(
    "cfg",
    [GANConfig.cpu(), GANConfig.linear(), GANConfig.paper()],
    ids=["cpu", "linear", "paper"],
)
def test_configs_build_and_run_forward(cfg):
    torch.manual_seed(0)
    g, c = build_generator(cfg), build_critic(cfg)
    with torch.no_grad():
        x = g(torch.randn(2, cfg.latent_dim))
        assert x.shape == (2, cfg.window, cfg.n_neurons)
        assert float(x.min()) >= 0 and float(x.max()) <= 1  # sigmoid output
        assert c(x).shape == (2,)
    if cfg.window == 2048:
        assert cfg.n_neurons == 102 and cfg.phase_shuffle == 10
    # kernel divisible by stride, LayerNorm (GroupNorm(1, C)) between conv and activation
    assert cfg.kernel_size % cfg.stride == 0
    assert all(isinstance(m, torch.nn.GroupNorm) and m.num_groups == 1 for m in g.norms)
    assert not any(isinstance(m, torch.nn.GroupNorm) for m in c.modules())  # plain critic


def test_config_validation():
    with pytest.raises(InvalidInputError, match="multiple of"):
        GANConfig(kernel_size=7, stride=2)
    with pytest.raises(InvalidInputError, match="divisible"):
        GANConfig(window=100)


def test_phase_shuffle_is_a_reflected_shift():
    ps = phase_shuffle_module(3)
    ps.train()
    x = torch.arange(2 * 4 * 12, dtype=torch.float32).view(2, 4, 12)
    shifts = torch.tensor([2, -3])
    y = ps(x, shifts)
    xn = x.numpy()
    for b, k in enumerate(shifts.tolist()):
        padded = np.pad(xn[b], ((0, 0), (3, 3)), mode="reflect")
        np.testing.assert_array_equal(y[b].numpy(), padded[:, 3 - k : 3 - k + 12])
        # every output column is an input column: a permutation-with-reflection of time
        assert set(map(tuple, y[b].numpy().T)) <= set(map(tuple, xn[b].T))
    torch.manual_seed(0)
    z = ps(x)  # random shifts in [-3, 3], still reflections of the input
    for b in range(2):
        ok = False
        for k in range(-3, 4):
            padded = np.pad(xn[b], ((0, 0), (3, 3)), mode="reflect")
            ok |= np.array_equal(z[b].numpy(), padded[:, 3 - k : 3 - k + 12])
        assert ok
    ps.eval()
    assert torch.equal(ps(x), x)  # identity at evaluation
    assert torch.equal(phase_shuffle_module(0).train()(x), x)


def test_gradient_penalty_matches_hand_computation():
    w = torch.randn(8, 3)

    def critic(x):  # linear critic: grad wrt x is w everywhere
        return (x * w).sum(dim=(1, 2))

    real, fake = torch.rand(5, 8, 3), torch.rand(5, 8, 3)
    gp = gradient_penalty(critic, real, fake, torch.rand(5))
    assert float(gp) == pytest.approx((float(w.norm()) - 1.0) ** 2, rel=1e-5)

    def quad(x):  # D = 0.5 |x|^2 -> grad = x_hat
        return 0.5 * (x**2).sum(dim=(1, 2))

    eps = torch.tensor([0.0, 1.0, 0.5, 0.25, 1.0])
    x_hat = eps.view(-1, 1, 1) * real + (1 - eps.view(-1, 1, 1)) * fake
    expect = ((x_hat.flatten(1).norm(dim=1) - 1) ** 2).mean()
    assert float(gradient_penalty(quad, real, fake, eps)) == pytest.approx(float(expect), rel=1e-5)


def _tiny(n=3, t=32):
    return GANConfig(
        window=t,
        n_neurons=n,
        latent_dim=8,
        channels=(16, 8),
        kernel_size=4,
        stride=2,
        phase_shuffle=1,
    )


def test_sample_units_rate_and_save_load(tmp_path):
    cfg = _tiny()
    torch.manual_seed(0)
    gan = CalciumGAN(cfg, Scaling(-1.0, 3.0), fs_hz=30.0, card={"name": "t", "steps": 0})
    rec = gan.sample(n_windows=4, seed=1)
    assert rec.traces.shape == (3, 4 * 32) and rec.fs_hz == 30.0
    assert rec.meta["window_frames"] == 32
    assert -1.0 <= rec.traces.min() and rec.traces.max() <= 3.0  # original units
    np.testing.assert_array_equal(rec.traces, gan.sample(4, seed=1).traces)  # seeded
    assert not np.array_equal(rec.traces, gan.sample(4, seed=2).traces)
    path = gan.save(tmp_path / "m.pt")
    card = json.loads((tmp_path / "m.json").read_text())
    assert card["config"]["window"] == 32 and card["fs_hz"] == 30.0
    back = CalciumGAN.load(path)
    np.testing.assert_array_equal(back.sample(4, seed=1).traces, rec.traces)
    assert not list(tmp_path.glob("*.tmp*"))


def test_load_errors(tmp_path):
    with pytest.raises(MissingFileError, match="neither a file nor a shipped"):
        CalciumGAN.load("no-such-model")
    bad = tmp_path / "bad.pt"
    torch.save({"format": "something else"}, bad)
    with pytest.raises(ModelError, match="not a CalciumGAN"):
        CalciumGAN.load(bad)


def test_sample_long_crossfades_overlaps():
    w = np.stack([np.full((10, 2), float(i)) for i in range(3)])
    out = crossfade_windows(w, overlap=4)
    assert out.shape == (2, 10 + 2 * 6)
    np.testing.assert_allclose(out[:, :6], 0.0)
    assert np.all(np.diff(out[0, 5:11]) >= 0) and np.all(np.diff(out[0]) < 0.3)  # no jumps
    np.testing.assert_allclose(out[:, -6:], 2.0)
    gan = CalciumGAN(_tiny(), Scaling(0.0, 1.0), fs_hz=30.0)
    rec = gan.sample_long(100, seed=0)
    assert rec.traces.shape == (3, 100) and rec.meta["crossfade_frames"] == 4


def test_shipped_hippocampus_model_loads_by_name():
    from calcium_forge.synthesis.calciumgan import available_models, load_model

    if "hippocampus" not in available_models():
        pytest.skip("the shipped hippocampus CalciumGAN is not in this checkout yet")
    gan = load_model("calciumgan-hippocampus")
    assert gan.config.n_neurons == 20 and gan.fs_hz == 30.0
    assert gan.card.get("steps", 0) > 0 and "scores_vs_held_out_half" in gan.card
    rec = CalciumGAN.load("hippocampus").sample(2, seed=0)
    assert rec.traces.shape == (20, 2 * gan.config.window)
    assert np.isfinite(rec.traces).all()
