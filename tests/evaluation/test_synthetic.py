"""Synthetic-vs-real report: real-vs-real halves, figures, and a worse model."""

from __future__ import annotations

import numpy as np
import pytest

from calcium_forge.evaluation.synthetic import evaluate_synthetic
from calcium_forge.synthesis.windows import make_windows


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
    assert [f.name for f in files] == [
        "raster.png",
        "histograms.png",
        "spectra.png",
        "cofiring.png",
    ]
    for f in files:
        assert f.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and f.stat().st_size > 5000
    assert not list((tmp_path / "figs").glob("*.tmp*"))
    # a "model" three times too active (each trace plus two time-shifted copies) scores worse
    busy = first + np.roll(first, 40, axis=1) + np.roll(first, 90, axis=1)
    worse = evaluate_synthetic(second, busy, fs_hz=30.0)
    assert worse.kl_rate > 2 * rep.kl_rate + 0.05
    assert worse.summary()["mean_rate_synthetic_hz"] > s["mean_rate_synthetic_hz"]


def test_evaluate_synthetic_is_exported_from_the_evaluation_package():
    import calcium_forge.evaluation as evaluation
    from calcium_forge.evaluation import synthetic

    assert evaluation.evaluate_synthetic is synthetic.evaluate_synthetic
    assert evaluation.SynthesisReport is synthetic.SynthesisReport
