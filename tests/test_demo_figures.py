"""The demo's figures say what they show: labelled axes, integer ROI ticks, legends off the data."""

from __future__ import annotations

import numpy as np
import pytest

from calcium_forge.demo_figures import (
    ground_truth_figure,
    inference_figure,
    raster_figure,
    sharpest_rois,
)
from calcium_forge.recording import Recording
from calcium_forge.results import SpikeInference

FS = 30.0


def _population(n_rois: int = 6, n_frames: int = 2400, seed: int = 0) -> Recording:
    """Noise on every ROI; clear transients (known spike times) on ROIs 1 and 4."""
    rng = np.random.default_rng(seed)
    traces = rng.normal(0, 0.05, (n_rois, n_frames)).astype(np.float32)
    kernel = np.exp(-np.arange(60) / (0.5 * FS))
    spike_times = [np.array([])] * n_rois
    for roi in (1, 4):
        idx = np.sort(rng.choice(n_frames - 60, 12, replace=False))
        train = np.zeros(n_frames)
        train[idx] = 1.0
        traces[roi] += np.convolve(train, kernel)[:n_frames].astype(np.float32)
        spike_times[roi] = idx / FS
    return Recording(traces=traces, fs_hz=FS, spike_times=spike_times, meta={"name": "toy"})


def _result(rec: Recording, method: str, scale: float) -> SpikeInference:
    rate = np.clip(np.diff(rec.traces, prepend=0, axis=1), 0, None) * scale
    events = [np.asarray(st, float) for st in rec.spike_times]
    return SpikeInference(rate_hz=rate, events=events, method=method, fs_hz=rec.fs_hz)


def _legend_is_above(ax, legend) -> bool:
    ax.figure.canvas.draw()
    return legend.get_window_extent().y0 >= ax.get_window_extent().y1 - 1


def _integer_ticks_shown(ax) -> np.ndarray:
    ax.figure.canvas.draw()
    lo, hi = sorted(ax.get_ylim())
    ticks = ax.get_yticks()
    return ticks[(ticks >= lo) & (ticks <= hi)]


def test_sharpest_rois_picks_the_rois_with_transients():
    rec = _population()
    assert sharpest_rois(rec, 2) == [1, 4]
    # control: move the transients to other ROIs and the choice follows them
    moved = Recording(traces=rec.traces[[1, 0, 4, 3, 2, 5]], fs_hz=FS)
    assert sharpest_rois(moved, 2) == [0, 2]
    assert sharpest_rois(rec, 99) == list(range(6))


def test_inference_figure_explains_its_rois_and_keeps_the_legend_off_the_data():
    rec = _population()
    results = [_result(rec, "ens2", 50.0), _result(rec, "oasis", 80.0)]
    fig = inference_figure(rec, results, [1, 4], window_s=40.0)
    title = fig._suptitle.get_text()
    assert "2 of 6 ROIs" in title and "clearest transients" in title and "40 s" in title
    left = [ax for ax in fig.axes if ax.get_ylabel().endswith("dF/F")]
    right = [ax for ax in fig.axes if "spikes/s" in ax.get_ylabel()]
    assert len(left) == 2 and len(right) == 2
    assert left[-1].get_xlabel() == "time (s)"
    legend = left[0].get_legend()
    labels = [t.get_text() for t in legend.get_texts()]
    assert "ENS² rate (right axis)" in labels and "OASIS events" in labels
    assert _legend_is_above(left[0], legend)
    assert left[0].get_xlim()[1] <= 40.0


def test_raster_shows_events_in_a_window_and_density_over_the_recording():
    rec = _population()
    res = _result(rec, "ens2", 50.0)
    fig = raster_figure(res, "toy: ENS² spike events", window_s=30.0)
    ticks_ax, density_ax = fig.axes[0], fig.axes[1]
    assert "first 30 s" in ticks_ax.get_title()
    assert ticks_ax.get_xlim() == (0.0, 30.0)
    assert "density" in density_ax.get_title() and "80 s" in density_ax.get_title()
    for ax in (ticks_ax, density_ax):
        assert ax.get_ylabel() == "ROI" and ax.get_xlabel() == "time (s)"
        shown = _integer_ticks_shown(ax)
        assert shown.size and np.allclose(shown, np.round(shown))
    assert fig.axes[2].get_ylabel() == "events/s"  # the colour bar's unit
    # ROI 1's events in the window are drawn, ROI 0 (no events) is empty
    segs = ticks_ax.collections[1].get_segments()
    assert len(segs) == int(np.sum(rec.spike_times[1] < 30.0))


def test_ground_truth_figure_gives_each_method_its_own_visible_panel():
    rec = _population()
    results = [_result(rec, "ens2", 5.0), _result(rec, "oasis", 500.0)]  # 100x apart
    fig = ground_truth_figure(rec, results, 1, window_s=30.0)
    assert len(fig.axes) == 3
    for ax in fig.axes[1:]:
        line = ax.get_lines()[0]
        y = np.asarray(line.get_ydata())
        lo, hi = ax.get_ylim()
        # the rate fills a visible part of its own panel, whatever the other method's scale
        assert y.max() > 0 and lo <= 0 and y.max() <= hi and y.max() >= 0.5 * hi
        assert "spikes/s" in ax.get_ylabel()
    assert "ENS²" in fig.axes[1].get_title(loc="left")
    assert "OASIS" in fig.axes[2].get_title(loc="left")
    assert fig.axes[0].get_ylabel() == "dF/F" and fig.axes[-1].get_xlabel() == "time (s)"
    assert "synthetic cell 1" in fig._suptitle.get_text()


@pytest.mark.parametrize("window_s", [5.0, 1e6])
def test_windows_longer_than_the_recording_are_clipped(window_s):
    rec = _population(n_frames=300)
    fig = raster_figure(_result(rec, "ens2", 5.0), "toy", window_s=window_s)
    assert fig.axes[0].get_xlim()[1] == pytest.approx(min(window_s, 10.0))
