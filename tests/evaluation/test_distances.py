"""Distribution distances: KL and Fréchet on known cases."""

from __future__ import annotations

import numpy as np
import pytest

from calcium_forge.errors import InvalidInputError
from calcium_forge.evaluation.distances import frechet_distance, histogram_kl, kl_divergence


def test_kl_identical_is_zero_and_shifted_is_positive():
    rng = np.random.default_rng(0)
    a = rng.normal(size=5000)
    assert kl_divergence(a, a) == pytest.approx(0.0, abs=1e-12)
    b = rng.normal(size=5000)
    assert kl_divergence(a, b) < 0.02  # same distribution, sampling noise only
    assert kl_divergence(a, b + 2.0) > 1.0
    assert kl_divergence(a, b + 2.0) > kl_divergence(a, b + 0.5) > 0.05
    assert np.isnan(kl_divergence([np.nan], a))
    # histogram form against the closed form with the 0.5 pseudo-count
    p, q = np.array([3.0, 1.0]), np.array([1.0, 3.0])
    pp, qq = (p + 0.5) / 5, (q + 0.5) / 5
    assert histogram_kl(p, q) == pytest.approx(float(np.sum(pp * np.log(pp / qq))))


def test_frechet_known_cases():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(100_000, 2))
    assert frechet_distance(x, x) == pytest.approx(0.0, abs=1e-6)
    y = rng.normal(size=(100_000, 2)) + np.array([3.0, 0.0])
    assert frechet_distance(x, y) == pytest.approx(9.0, rel=0.02)
    # N(0, diag(1, 4)) vs N(0, diag(4, 1)): Tr = (1+4-2*2) + (4+1-2*2) = 2
    a = rng.normal(size=(200_000, 2)) * np.array([1.0, 2.0])
    b = rng.normal(size=(200_000, 2)) * np.array([2.0, 1.0])
    assert frechet_distance(a, b) == pytest.approx(2.0, rel=0.03)
    with pytest.raises(InvalidInputError):
        frechet_distance(x[:, :1], y)
