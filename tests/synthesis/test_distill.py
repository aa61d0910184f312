"""Distillation of a CalciumGAN generator into the linear-up-sampling architecture."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from calcium_forge.errors import InvalidInputError  # noqa: E402
from calcium_forge.synthesis.calciumgan import CalciumGAN, GANConfig  # noqa: E402
from calcium_forge.synthesis.distill import distill_generator  # noqa: E402
from calcium_forge.synthesis.windows import Scaling  # noqa: E402


def _cfg(**kw):
    base = dict(window=32, n_neurons=3, latent_dim=4, channels=(8, 8), kernel_size=4, stride=2)
    return GANConfig(**{**base, **kw})


def _grid_share(x: np.ndarray, period: int) -> float:
    """Share of the (B, T, N) output's power at multiples of 1/period (the grid peaks)."""
    spec = np.abs(np.fft.rfft(x - x.mean(1, keepdims=True), axis=1)) ** 2
    t = x.shape[1]
    harmonics = [k * t // period for k in range(1, period // 2 + 1)]
    return float(spec[:, harmonics].sum() / spec[:, 1:].sum())


def _distil(teacher_cfg, steps=150):
    torch.manual_seed(3)
    teacher = CalciumGAN(teacher_cfg, Scaling(0.0, 1.0), 30.0)  # an untrained generator
    windows = np.random.default_rng(0).normal(0.5, 0.05, (20, 32, 3)).astype(np.float32)
    student_cfg = _cfg(upsample="linear", observation_noise=True)
    res = distill_generator(teacher, student_cfg, windows, steps=steps, batch_size=16, lr=3e-3)
    z = torch.randn(64, 4)
    with torch.no_grad():
        t_out = teacher.generator(z).numpy()
        s_out = res.model.generator(z, None, False).numpy()
        fresh = CalciumGAN(student_cfg, Scaling(0.0, 1.0), 30.0).generator(z, None, False).numpy()
    return res, t_out, s_out, fresh


def test_student_reproduces_a_teacher_it_can_draw():
    res, t_out, s_out, fresh = _distil(_cfg(upsample="linear"))
    loss = np.asarray(res.history["loss"])
    assert loss[-20:].mean() < 0.3 * loss[:20].mean()
    assert np.mean((s_out - t_out) ** 2) < 0.3 * np.mean((fresh - t_out) ** 2)
    assert res.model.card["distillation"]["steps"] == 150
    assert res.model.config.upsample == "linear"
    assert float(res.model.generator.obs_sigma.abs().sum()) == 0.0  # noise is added later


def test_student_leaves_out_the_transposed_convolution_grid():
    _, t_out, s_out, _ = _distil(_cfg())  # the paper's transposed convolutions
    period = 2**2  # stride ** depth
    assert _grid_share(t_out, period) > 0.1  # the untrained teacher's pattern is strong
    assert _grid_share(s_out, period) < 0.5 * _grid_share(t_out, period)


def test_student_must_share_window_neurons_and_latent():
    teacher = CalciumGAN(_cfg(), Scaling(0.0, 1.0), 30.0)
    w = np.zeros((4, 32, 3), np.float32)
    with pytest.raises(InvalidInputError, match="must be the teacher's"):
        distill_generator(teacher, _cfg(latent_dim=8), w, steps=1)


def test_transient_weight_keeps_the_teachers_peaks_closer():
    torch.manual_seed(3)
    teacher = CalciumGAN(_cfg(), Scaling(0.0, 1.0), 30.0)  # transposed convs: a hard teacher
    windows = np.random.default_rng(0).normal(0.5, 0.05, (20, 32, 3)).astype(np.float32)
    student_cfg = _cfg(upsample="linear")
    z = torch.randn(256, 4)
    with torch.no_grad():
        t_out = teacher.generator(z).numpy()
    top = t_out - np.median(t_out, axis=1, keepdims=True)
    top = top > np.quantile(top, 0.95)  # the teacher's highest frames
    errors = {}
    for a in (0.0, 30.0):
        res = distill_generator(
            teacher, student_cfg, windows, steps=150, batch_size=16, lr=3e-3, transient_weight=a
        )
        assert res.model.card["distillation"]["transient_weight"] == a
        with torch.no_grad():
            s_out = res.model.generator(z, None, False).numpy()
        errors[a] = float(np.mean((s_out - t_out)[top] ** 2))
    assert errors[30.0] < 0.8 * errors[0.0]
