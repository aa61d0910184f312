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


def test_figures_name_their_axes_statistics_and_units():
    rng = np.random.default_rng(1)
    real, syn = _stats(rng, 0.05), _stats(rng, 0.1)
    freqs = np.linspace(0, 15, 65)
    psd = 1.0 / (1.0 + freqs**2)
    hist = histogram_figure(real, syn, 0.1, 0.2, 0.3, ("a", "b"))
    for ax, kl in zip(hist.axes, (0.1, 0.2, 0.3), strict=True):
        assert ax.get_xlabel() and ax.get_ylabel()  # every histogram has both axes named
        assert f"{kl:.3g} nats" in ax.get_title() and "KL" in ax.get_title()
        assert ax.get_legend() is None  # the legend sits above the panels, off the data
    assert "spikes/s" in hist.axes[0].get_xlabel()
    assert [t.get_text() for t in hist.legends[0].get_texts()] == ["a", "b"]
    spec = spectrum_figure(freqs, psd, 2 * psd, 3.0, ("a", "b"))
    assert "(dF/F)²/Hz" in spec.axes[0].get_ylabel()
    assert "3.00 dB" in spec.axes[0].get_title()
    raster = raster_figure(real, syn, 30.0, ("a", "b"))
    raster.canvas.draw()
    ticks = raster.axes[0].get_yticks()
    shown = ticks[(ticks >= raster.axes[0].get_ylim()[0]) & (ticks <= raster.axes[0].get_ylim()[1])]
    assert shown.size and np.allclose(shown, np.round(shown))  # neuron ticks are integers
    assert "2.0 s" in raster.axes[0].get_title()  # 60 frames at 30 Hz: the window is named
