"""Population evaluation: KL/Fréchet known cases, memorisation, real-vs-real report."""

from __future__ import annotations

import numpy as np
import pytest

from calcium_forge.errors import InvalidInputError
from calcium_forge.evaluation.distances import frechet_distance, histogram_kl, kl_divergence
from calcium_forge.evaluation.population import (
    deconvolve_windows,
    evaluate_synthetic,
    memorisation,
    population_statistics,
)
from calcium_forge.synthesis.calcium import make_dg_dataset
from calcium_forge.synthesis.windows import make_windows


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


def test_deconvolution_and_statistics_find_known_spikes():
    rec = make_dg_dataset(4, 60.0, 30.0, rates_hz=(0.5, 1.0), seed=2)
    w = make_windows(rec.traces, 300, 300)
    spikes = deconvolve_windows(w, 30.0, sn=np.full(4, 0.3), decay_s=np.full(4, 0.81))
    true_rate = np.mean([len(s) for s in rec.spike_times]) / rec.duration_s
    st = population_statistics(spikes, 30.0)
    assert st.rates_hz.shape == (6, 4) and st.corr.shape == (6, 6) and st.vrd.shape == (6, 6)
    assert 0.5 * true_rate < st.rates_hz.mean() < 1.5 * true_rate
    assert np.all(st.vrd[np.isfinite(st.vrd)] >= 0)


def test_memorisation_flags_copies():
    rng = np.random.default_rng(3)
    tr = np.cumsum(rng.normal(size=(3, 6000)), axis=1)
    train = make_windows(tr[:, :4000], 64, 4)
    held = make_windows(tr[:, 4000:], 64, 32)
    copies = train[rng.choice(len(train), 30)]
    mem_copy = memorisation(copies, train, held)
    mem_new = memorisation(held[1::2], train, held[::2])
    assert mem_copy.score < 0.1 and mem_copy.copy_fraction > 0.9
    assert mem_new.score > 0.5


@pytest.fixture(scope="module")
def hippocampus_dff(suite2p_plane0):
    from calcium_forge.recording import Recording
    from calcium_forge.signal import to_dff

    f = np.load(suite2p_plane0 / "F.npy")
    fneu = np.load(suite2p_plane0 / "Fneu.npy")
    return to_dff(Recording(f, 30.0, kind="raw", neuropil=fneu))


def test_real_vs_real_halves_report_figures_and_a_worse_model(hippocampus_dff, tmp_path):
    rec = hippocampus_dff
    half = rec.n_frames // 2
    first = make_windows(rec.traces[:, :half], 256, 256)
    second = make_windows(rec.traces[:, half:], 256, 256)
    train = make_windows(rec.traces[:, :half], 256, 32)
    rep = evaluate_synthetic(second, first, fs_hz=30.0, training=train, held_out=second)
    s = rep.summary()
    for key in (
        "kl_rate",
        "kl_corr",
        "kl_vrd",
        "frechet",
        "log_spectral_distance_db",
        "kl_rate_per_neuron_mean",
        "memorisation_score",
    ):
        assert np.isfinite(s[key]), key
    assert rep.kl_rate_per_neuron.shape == (20,)
    assert s["kl_rate"] < 0.3 and s["kl_corr"] < 0.3  # two halves of one recording are alike
    # the first half IS training data: the memorisation check must say so
    assert s["memorisation_score"] < 0.2
    md = rep.to_markdown()
    assert "KL firing rate" in md and "| 0.32 |" in md
    files = rep.save_figures(tmp_path / "figs")
    assert [f.name for f in files] == ["raster.png", "histograms.png", "spectra.png"]
    for f in files:
        assert f.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and f.stat().st_size > 5000
    assert not list((tmp_path / "figs").glob("*.tmp*"))
    # a "model" three times too active (each trace plus two time-shifted copies) scores worse
    busy = first + np.roll(first, 40, axis=1) + np.roll(first, 90, axis=1)
    worse = evaluate_synthetic(second, busy, fs_hz=30.0)
    assert worse.kl_rate > 2 * rep.kl_rate + 0.05
    assert worse.summary()["mean_rate_synthetic_hz"] > s["mean_rate_synthetic_hz"]
