"""Population statistics: OASIS deconvolution of windows finds known spikes; the old
import path of the synthetic-vs-real report still works, with a DeprecationWarning."""

from __future__ import annotations

import importlib

import numpy as np
import pytest

from calcium_forge.evaluation.population import deconvolve_windows, population_statistics
from calcium_forge.synthesis.calcium import make_dg_dataset
from calcium_forge.synthesis.windows import make_windows


def test_deconvolution_and_statistics_find_known_spikes():
    rec = make_dg_dataset(4, 60.0, 30.0, rates_hz=(0.5, 1.0), seed=2)
    w = make_windows(rec.traces, 300, 300)
    spikes = deconvolve_windows(w, 30.0, sn=np.full(4, 0.3), decay_s=np.full(4, 0.81))
    true_rate = np.mean([len(s) for s in rec.spike_times]) / rec.duration_s
    st = population_statistics(spikes, 30.0)
    assert st.rates_hz.shape == (6, 4) and st.corr.shape == (6, 6) and st.vrd.shape == (6, 6)
    assert 0.5 * true_rate < st.rates_hz.mean() < 1.5 * true_rate
    assert np.all(st.vrd[np.isfinite(st.vrd)] >= 0)


@pytest.mark.parametrize(
    "name",
    ["SynthesisReport", "evaluate_synthetic", "Memorisation", "memorisation", "PAPER_V1_KL"],
)
def test_old_population_path_of_the_report_warns_and_gives_the_same_objects(name):
    population = importlib.import_module("calcium_forge.evaluation.population")
    synthetic = importlib.import_module("calcium_forge.evaluation.synthetic")
    with pytest.warns(DeprecationWarning, match=r"calcium_forge\.evaluation\.synthetic"):
        old = getattr(population, name)
    assert old is getattr(synthetic, name)


def test_old_from_import_of_evaluate_synthetic_still_works():
    with pytest.warns(DeprecationWarning) as record:
        from calcium_forge.evaluation.population import SynthesisReport, evaluate_synthetic
    from calcium_forge.evaluation import synthetic

    messages = [str(w.message) for w in record]
    assert any("population.SynthesisReport moved to" in m for m in messages)
    assert any("population.evaluate_synthetic moved to" in m for m in messages)
    assert all(w.filename == __file__ for w in record)  # points at the importing line

    assert evaluate_synthetic is synthetic.evaluate_synthetic
    assert SynthesisReport is synthetic.SynthesisReport


def test_population_has_no_other_attributes_by_accident():
    population = importlib.import_module("calcium_forge.evaluation.population")
    with pytest.raises(AttributeError, match="no_such_name"):
        population.no_such_name  # noqa: B018
    assert not hasattr(population, "_feature_frechet")
