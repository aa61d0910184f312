"""Training losses (inference.training.losses)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from calcium_forge.inference.training.losses import mse_loss, pearson_loss  # noqa: E402


def test_pearson_loss_is_scale_and_offset_free():
    t = torch.rand(4, 50)
    assert float(pearson_loss(3 * t + 1, t)) == pytest.approx(0.0, abs=1e-5)
    assert float(pearson_loss(-t, t)) == pytest.approx(2.0, abs=1e-5)
    flat = torch.zeros(2, 50)
    assert float(pearson_loss(torch.rand(2, 50), flat)) == 0.0
    assert float(mse_loss(t + 1, t)) == pytest.approx(1.0)
