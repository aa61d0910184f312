"""Dichotomized Gaussian: bivariate CDF, fitting and sampling recover target moments."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from calcium_forge.errors import InvalidInputError
from calcium_forge.synthesis.dg import (
    DGModel,
    bivariate_normal_cdf,
    fit_dg,
    nearest_correlation,
)


def test_bivariate_cdf_matches_scipy():
    rng = np.random.default_rng(1)
    for _ in range(20):
        h, k = rng.normal(size=2)
        rho = rng.uniform(-0.9, 0.9)
        ref = stats.multivariate_normal([0, 0], [[1, rho], [rho, 1]]).cdf([h, k])
        assert bivariate_normal_cdf(h, k, rho) == pytest.approx(ref, abs=1e-5)
    # independence and the h = 0 edge case
    assert bivariate_normal_cdf(0.0, 0.0, 0.0) == pytest.approx(0.25, abs=1e-9)
    assert bivariate_normal_cdf(0.0, 0.0, 0.5) == pytest.approx(0.25 + np.arcsin(0.5) / (2 * np.pi))


def test_fit_recovers_known_dg_rates_and_covariances():
    n = 6
    rng = np.random.default_rng(2)
    p = rng.uniform(0.02, 0.3, n)
    w = rng.normal(size=(n, 2)) * 0.5
    lam = w @ w.T + np.eye(n)
    d = np.sqrt(np.diag(lam))
    lam = lam / np.outer(d, d)
    truth = DGModel(mean=p, gamma=stats.norm.ppf(p), latent_corr=lam, bin_s=1 / 30)
    target_cov = truth.covariance()
    spikes = truth.sample(200_000, seed=3)
    # the sample matches the model's analytic moments (sampling is right)
    np.testing.assert_allclose(spikes.mean(0), p, atol=4 * np.sqrt(p * (1 - p) / 2e5).max())
    # fitting the sample recovers the latent parameters ...
    fitted = fit_dg(spikes, bin_s=1 / 30)
    np.testing.assert_allclose(fitted.mean, p, atol=0.003)
    iu = np.triu_indices(n, 1)
    np.testing.assert_allclose(fitted.latent_corr[iu], lam[iu], atol=0.03)
    # ... and a sample of the fitted model reproduces target rates and covariances
    again = fitted.sample(200_000, seed=4).astype(float)
    np.testing.assert_allclose(again.mean(0), p, atol=0.003)
    np.testing.assert_allclose(np.cov(again, rowvar=False, bias=True), target_cov, atol=0.003)
    np.testing.assert_allclose(fitted.rates_hz, p * 30, rtol=0.05)


def test_fit_from_moments_and_pd_repair():
    mean = np.array([0.1, 0.1, 0.1])
    # strongly inconsistent pairwise targets -> latent matrix not PD -> repaired
    c = 0.09
    cov = np.array([[0.09, c, -c], [c, 0.09, c], [-c, c, 0.09]])
    dg = fit_dg(mean=mean, cov=cov)
    assert np.linalg.eigvalsh(dg.latent_corr).min() > 0
    np.testing.assert_allclose(np.diag(dg.latent_corr), 1.0)
    dg.sample(10, seed=0)  # Cholesky works


def test_nearest_correlation_keeps_valid_matrix():
    a = np.array([[1.0, 0.3], [0.3, 1.0]])
    np.testing.assert_allclose(nearest_correlation(a), a)


def test_bad_input_names_the_problem():
    with pytest.raises(InvalidInputError, match="2-D"):
        fit_dg(np.zeros(5))
    with pytest.raises(InvalidInputError, match="spikes or both"):
        fit_dg()


def test_dg_baseline_fitted_to_calcium_recovers_rates_and_amplitude():
    from calcium_forge.synthesis.baseline import DGBaseline
    from calcium_forge.synthesis.calcium import make_dg_dataset

    rec = make_dg_dataset(5, 200.0, 30.0, rates_hz=(0.5, 1.5), seed=4)
    base = DGBaseline.fit(rec)
    true_rates = np.array(rec.meta["dg"]["rates_hz"])
    np.testing.assert_allclose(base.dg.mean * 30.0, true_rates, rtol=0.35)
    np.testing.assert_allclose(base.amplitude, 1.0, atol=0.25)  # spike amplitude of the data
    np.testing.assert_allclose(base.sn, 0.3, rtol=0.15)
    syn = base.sample(3000, seed=1)
    assert syn.traces.shape == (5, 3000) and syn.fs_hz == 30.0
    assert base.sample_windows(4, 64, seed=0).shape == (4, 64, 5)
