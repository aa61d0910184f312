"""Figures of the demo (:mod:`calcium_forge.demo`): inference, event raster, ground-truth check.

Each function draws one figure on a matplotlib Agg canvas (no pyplot, so it is
safe from GUI threads) and says in its title what is shown: which ROIs and why,
which time window, which statistic and its unit. Legends sit above the axes,
never on the data; ROI axes have integer ticks. matplotlib is imported inside
the functions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .recording import Recording
from .results import SpikeInference

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["ground_truth_figure", "inference_figure", "raster_figure", "sharpest_rois"]

#: Colour of each inference method.
METHOD_COLORS = {"ens2": "tab:red", "oasis": "tab:blue", "s2s": "tab:green"}
#: How each method is named on figures.
METHOD_NAMES = {"ens2": "ENS²", "oasis": "OASIS", "s2s": "S2S", "cascade": "Cascade"}


def _figure(nrows: int, figsize_in: tuple[float, float], **kw: Any) -> tuple[Figure, Any]:
    """A Figure on an Agg canvas and its ``fig.subplots(nrows, 1, **kw)`` axes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize_in, layout="constrained")
    FigureCanvasAgg(fig)
    return fig, np.atleast_1d(fig.subplots(nrows, 1, **kw))


def _name(method: str) -> str:
    return METHOD_NAMES.get(method, method)


def _legend_above(ax: Any, handles: list, labels: list[str]) -> None:
    """A one-row legend just above ``ax``, outside the data."""
    ax.legend(
        handles,
        labels,
        loc="lower left",
        bbox_to_anchor=(0.0, 1.02),
        ncol=len(labels),
        fontsize=8,
        frameon=False,
        borderaxespad=0.0,
    )


def _ticks_at_top(ax: Any, times_s: np.ndarray, bottom: float, color: str) -> None:
    """Event times as ticks from ``bottom`` to ``bottom + 0.1`` of the axes height."""
    ax.vlines(times_s, bottom, bottom + 0.1, transform=ax.get_xaxis_transform(), color=color)


def _headroom(ax: Any, fraction: float) -> None:
    """Stretch the y range so the data fill the lower ``fraction`` (ticks go above)."""
    lo, hi = ax.get_ylim()
    ax.set_ylim(lo, lo + (hi - lo) / fraction)


def sharpest_rois(dff: Recording, n: int = 4) -> list[int]:
    """The ``n`` ROIs with the clearest transients, in index order.

    Clearness is the 99th percentile of dF/F divided by the ROI's noise level
    (:func:`calcium_forge.signal.noise_level`).

    Parameters
    ----------
    dff : Recording
        dF/F traces (fractions).
    n : int
        ROIs wanted (at most ``dff.n_rois``).

    Returns
    -------
    list of int
        ROI indices (0-based), ascending.
    """
    from .signal import noise_level

    snr = np.nanpercentile(dff.traces, 99, axis=1) / noise_level(dff.traces, dff.fs_hz)
    snr = np.where(np.isfinite(snr), snr, -np.inf)
    return sorted(int(i) for i in np.argsort(-snr)[: min(n, dff.n_rois)])


def inference_figure(
    dff: Recording, results: list[SpikeInference], rois: list[int], window_s: float = 60.0
) -> Figure:
    """dF/F, each method's rate and its events for a few ROIs over the first ``window_s``.

    Parameters
    ----------
    dff : Recording
        dF/F traces (fractions), time in s from ``dff.time_s``.
    results : list of SpikeInference
        Rates (spikes/s) and events (s) on the same frames as ``dff``.
    rois : list of int
        ROIs to show (e.g. :func:`sharpest_rois`); the title says how they were chosen.
    window_s : float
        Length of the time window shown, s.

    Returns
    -------
    matplotlib.figure.Figure
        One row per ROI: dF/F on the left axis, rates (spikes/s) on the right
        axis, events as ticks above the rates.
    """
    t = dff.time_s
    span = t < min(window_s, float(t[-1]))
    fig, axes = _figure(len(rois), (11, 1.7 * len(rois) + 1.0), sharex=True)
    handles: list = []
    for ax, roi in zip(axes, rois, strict=True):
        (h,) = ax.plot(t[span], dff.traces[roi, span], color="0.35", lw=0.7)
        ax.set_ylabel(f"ROI {roi}\ndF/F")
        _headroom(ax, 0.75)  # the event ticks sit above the trace
        ax2 = ax.twinx()
        hs = [h]
        labels = ["dF/F (left axis)"]
        top = max(float(np.nanmax(r.rate_hz[roi, span])) for r in results)
        top = top if np.isfinite(top) and top > 0 else 1.0
        for k, res in enumerate(results):
            c = METHOD_COLORS.get(res.method, f"C{k}")
            (h,) = ax2.plot(t[span], res.rate_hz[roi, span], color=c, lw=0.9, alpha=0.85)
            hs.append(h)
            labels.append(f"{_name(res.method)} rate (right axis)")
            if res.events is not None:
                ev = res.events[roi]
                ev = ev[ev < t[span][-1]]
                (h,) = ax2.plot(ev, np.full(ev.shape, top * (1.1 + 0.12 * k)), "|", color=c, ms=7)
                hs.append(h)
                labels.append(f"{_name(res.method)} events")
        ax2.set_ylim(0, top * (1.2 + 0.12 * len(results)))
        ax2.set_ylabel("rate\n(spikes/s)")
        handles = handles or [hs, labels]
    _legend_above(axes[0], *handles)
    axes[-1].set_xlabel("time (s)")
    axes[-1].set_xlim(0, float(t[span][-1]))
    fig.suptitle(
        f"{dff.name}: dF/F, inferred spike rates and events, first {window_s:g} s\n"
        f"{len(rois)} of {dff.n_rois} ROIs shown: those with the clearest transients "
        "(highest 99th-percentile dF/F / noise level)",
        fontsize=10,
    )
    return fig


def raster_figure(result: SpikeInference, title: str, window_s: float = 60.0) -> Figure:
    """Spike events as ticks over ``window_s`` and, below, event density over the whole recording.

    Parameters
    ----------
    result : SpikeInference
        Events (s) per ROI.
    title : str
        What the events are (e.g. "hippocampus: ENS² spike events").
    window_s : float
        Length of the tick raster's window, s; the density panel covers the whole recording.

    Returns
    -------
    matplotlib.figure.Figure
        Top: one row of ticks per ROI over the first ``window_s``. Bottom: events/s
        per ROI in 5 s bins (colour) over the whole recording.
    """
    from matplotlib.ticker import MaxNLocator

    events = result.events or [np.array([])] * result.n_rois
    duration = result.n_frames / result.fs_hz
    window = min(window_s, duration)
    fig, (ax, axd) = _figure(2, (11, 7.5), height_ratios=[1.1, 1.0])
    for i, ev in enumerate(events):
        ev = ev[ev < window]
        ax.vlines(ev, i - 0.4, i + 0.4, color="k", lw=0.8)
    ax.set_xlim(0, window)
    ax.set_ylim(result.n_rois - 0.5, -0.5)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("ROI")
    ax.set_xlabel("time (s)")
    ax.set_title(f"{title}: each tick one event, first {window:g} s", fontsize=10)
    bin_s = 5.0
    edges = np.arange(0.0, duration + bin_s, bin_s)
    density = np.stack([np.histogram(ev, edges)[0] / bin_s for ev in events])
    im = axd.imshow(
        density,
        aspect="auto",
        interpolation="nearest",
        cmap="viridis",
        extent=(0, edges[-1], result.n_rois - 0.5, -0.5),
    )
    axd.yaxis.set_major_locator(MaxNLocator(integer=True))
    axd.set_ylabel("ROI")
    axd.set_xlabel("time (s)")
    axd.set_title(
        f"event density over the whole recording ({duration:g} s), {bin_s:g} s bins",
        fontsize=10,
    )
    fig.colorbar(im, ax=axd, label="events/s")
    return fig


def ground_truth_figure(
    rec: Recording, results: list[SpikeInference], roi: int, window_s: float = 30.0
) -> Figure:
    """One synthetic cell over ``window_s``: noisy dF/F, its true spikes, each method's rate.

    Parameters
    ----------
    rec : Recording
        Synthetic dF/F (fractions) with ``spike_times`` (s).
    results : list of SpikeInference
        Each method's rate (spikes/s) on ``rec``'s frames.
    roi : int
        Cell shown.
    window_s : float
        Length of the time window shown, s.

    Returns
    -------
    matplotlib.figure.Figure
        Top: dF/F with true spikes as ticks; then one panel per method with its
        rate (spikes/s), its events and the true spikes.
    """
    t = rec.time_s
    span = t < min(window_s, float(t[-1]))
    end = float(t[span][-1])
    gt = np.asarray(rec.spike_times[roi] if rec.spike_times else [])
    gt = gt[gt < end]
    fig, axes = _figure(1 + len(results), (11, 2.0 * (1 + len(results)) + 0.6), sharex=True)
    ax = axes[0]
    ax.plot(t[span], rec.traces[roi, span], color="0.35", lw=0.7)
    _ticks_at_top(ax, gt, 0.86, "k")
    _headroom(ax, 0.8)
    ax.set_ylabel("dF/F")
    ax.set_title("noisy dF/F; black ticks: the true spikes", fontsize=9, loc="left")
    for k, (ax, res) in enumerate(zip(axes[1:], results, strict=True)):
        c = METHOD_COLORS.get(res.method, f"C{k}")
        ax.plot(t[span], res.rate_hz[roi, span], color=c, lw=1.0)
        _ticks_at_top(ax, gt, 0.86, "k")
        if res.events is not None:
            _ticks_at_top(ax, res.events[roi][res.events[roi] < end], 0.72, c)
        ax.set_ylim(bottom=0)
        _headroom(ax, 0.68)
        ax.set_ylabel("rate\n(spikes/s)")
        ax.set_title(
            f"{_name(res.method)} rate; black ticks: true spikes, coloured ticks: "
            f"{_name(res.method)} events",
            fontsize=9,
            loc="left",
            color=c,
        )
    axes[-1].set_xlabel("time (s)")
    axes[-1].set_xlim(0, end)
    fig.suptitle(
        f"ground-truth check: synthetic cell {roi} with known spikes, first {window_s:g} s",
        fontsize=10,
    )
    return fig
