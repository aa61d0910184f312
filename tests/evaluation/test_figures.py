"""Report figures: each function draws on an Agg canvas and writes a PNG atomically."""

from __future__ import annotations

import numpy as np

from calcium_forge.evaluation.figures import (
    histogram_figure,
    raster_figure,
    save_png,
    spectrum_figure,
)
from calcium_forge.evaluation.population import PopulationStats


def _stats(rng: np.random.Generator, p_spike: float) -> PopulationStats:
    spikes = rng.random((3, 4, 60)) < p_spike
    return PopulationStats(
        rates_hz=spikes.sum(2) / 2.0,
        corr=rng.uniform(-0.1, 0.3, (3, 6)),
        vrd=rng.uniform(0, 5, (3, 6)),
        spikes=spikes,
    )


def test_figures_are_written_as_png(tmp_path):
    rng = np.random.default_rng(0)
    real, syn = _stats(rng, 0.05), _stats(rng, 0.1)
    freqs = np.linspace(0, 15, 65)
    psd = 1.0 / (1.0 + freqs**2)
    figs = {
        "raster.png": raster_figure(real, syn, 30.0, ("a", "b")),
        "histograms.png": histogram_figure(real, syn, 0.1, 0.2, 0.3, ("a", "b")),
        "spectra.png": spectrum_figure(freqs, psd, 2 * psd, 3.0, ("a", "b")),
    }
    assert len(figs["histograms.png"].axes) == 3 and len(figs["raster.png"].axes) == 2
    for name, fig in figs.items():
        path = save_png(fig, tmp_path / name, dpi=50)
        assert path == tmp_path / name
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(figs)
