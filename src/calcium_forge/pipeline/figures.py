"""Figures of a movie-to-spikes run: the ROIs, an event raster and example traces.

Each function draws one figure on a matplotlib Agg canvas (no pyplot, safe
from GUI threads); ROI axes have integer ticks, legends sit outside the data,
and every title says what is shown and how it was chosen.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..evaluation.figures import save_png
from ..recording import Recording
from ..results import SpikeInference

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "RASTER_WINDOW_S",
    "event_raster_figure",
    "roi_figure",
    "save_png",
    "traces_figure",
]

#: Longest stretch a raster shows event by event, s (longer recordings show its start).
RASTER_WINDOW_S = 120.0
#: ROIs drawn in :func:`traces_figure`.
N_EXAMPLE_ROIS = 4


def _figure(figsize_in: tuple[float, float]) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize_in, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _integer_ticks(axis) -> None:
    from matplotlib.ticker import MaxNLocator

    axis.set_major_locator(MaxNLocator(integer=True))


def roi_figure(dff: Recording) -> Figure:
    """The mean image with each analysed ROI outlined and numbered.

    Parameters
    ----------
    dff : Recording
        The analysed ROIs (``labels``; ``mean_image`` when Suite2P saved one).

    Returns
    -------
    matplotlib.figure.Figure
        One panel, pixel axes; ROI ``i`` is labelled ``i`` (its row in ``dff``).
    """
    fig = _figure((6.5, 6.0))
    ax = fig.subplots()
    labels = dff.labels
    image = dff.mean_image if dff.mean_image is not None else None
    if image is not None:
        lo, hi = np.percentile(image, [1, 99.5])
        ax.imshow(image, cmap="gray", vmin=lo, vmax=hi)
    if labels is not None:
        if image is None:
            ax.imshow(labels > 0, cmap="gray_r", alpha=0.3)
        ax.contour(labels > 0, levels=[0.5], colors="tab:orange", linewidths=0.8)
        for i in range(dff.n_rois):
            ys, xs = np.nonzero(labels == i + 1)
            if ys.size:
                ax.text(xs.mean(), ys.mean(), str(i), color="yellow", fontsize=7,
                        ha="center", va="center")  # fmt: skip
    ax.set_xlabel("x (pixels)")
    ax.set_ylabel("y (pixels)")
    ax.set_title(f"{dff.name}: {dff.n_rois} analysed ROIs on the mean image (numbered)")
    return fig


def event_raster_figure(spikes: SpikeInference, window_s: float = RASTER_WINDOW_S) -> Figure:
    """Inferred spike events, one row per ROI, over (at most) the first ``window_s`` s.

    Parameters
    ----------
    spikes : SpikeInference
        Events (s) per ROI (the rate when there are no events).
    window_s : float
        Longest stretch shown, s; the title says when it is the start of a longer recording.

    Returns
    -------
    matplotlib.figure.Figure
        Events as short vertical ticks; ROI axis with integer ticks.
    """
    duration_s = spikes.n_frames / spikes.fs_hz
    shown_s = min(duration_s, window_s)
    fig = _figure((11, 1.5 + 0.18 * min(spikes.n_rois, 60)))
    ax = fig.subplots()
    if spikes.events is not None:
        for i, ev in enumerate(spikes.events):
            ev = ev[ev <= shown_s]
            ax.vlines(ev, i - 0.4, i + 0.4, color="k", linewidth=0.8)
        what = "inferred spike events"
    else:
        t = np.arange(spikes.n_frames) / spikes.fs_hz
        span = t <= shown_s
        ax.imshow(spikes.rate_hz[:, span], aspect="auto", cmap="magma", origin="lower",
                  extent=(0, shown_s, -0.5, spikes.n_rois - 0.5))  # fmt: skip
        what = "inferred spike rate"
    ax.set_xlim(0, shown_s)
    ax.set_ylim(-0.5, spikes.n_rois - 0.5)
    _integer_ticks(ax.yaxis)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("ROI")
    span = (
        f"first {shown_s:.0f} s of {duration_s:.0f} s"
        if shown_s < duration_s
        else "whole recording"
    )
    ax.set_title(f"{spikes.method}: {what}, one row per ROI ({span})")
    return fig


def traces_figure(dff: Recording, spikes: SpikeInference, n_rois: int = N_EXAMPLE_ROIS) -> Figure:
    """dF/F, inferred rate and events of the most active ROIs.

    Parameters
    ----------
    dff : Recording
        The analysed dF/F.
    spikes : SpikeInference
        Their inferred rates (spikes/s) and events (s).
    n_rois : int
        How many ROIs: those with the most events (highest mean rate without events).

    Returns
    -------
    matplotlib.figure.Figure
        One panel per ROI over (at most) the first :data:`RASTER_WINDOW_S` s;
        the legend sits above the panels.
    """
    if spikes.events is not None:
        activity = np.array([e.size for e in spikes.events], float)
    else:
        activity = np.nanmean(spikes.rate_hz, axis=1)
    rois = [int(i) for i in np.argsort(-activity, kind="stable")[: max(1, n_rois)]]
    t = dff.time_s
    span = t <= min(RASTER_WINDOW_S, t[-1])
    fig = _figure((11, 1.2 + 1.8 * len(rois)))
    axes = np.atleast_1d(fig.subplots(len(rois), 1, sharex=True))
    twins = []
    for ax, roi in zip(axes, rois, strict=True):
        ax.plot(t[span], dff.traces[roi, span], color="0.3", lw=0.7, label="dF/F")
        ax.set_ylabel(f"ROI {roi}\ndF/F")
        ax2 = ax.twinx()
        twins.append(ax2)
        ax2.plot(t[span], spikes.rate_hz[roi, span], color="tab:red", lw=0.8,
                 label=f"{spikes.method} rate (spikes/s)")  # fmt: skip
        if spikes.events is not None:
            ev = spikes.events[roi][spikes.events[roi] <= t[span][-1]]
            ax2.plot(ev, np.zeros_like(ev), "|", color="tab:blue", ms=8, label="events")
        ax2.set_ylabel("spikes/s")
    handles = [*axes[0].get_lines(), *twins[0].get_lines()]
    fig.legend(handles=handles, loc="outside upper right", ncol=3, fontsize=8)
    axes[-1].set_xlabel("time (s)")
    what = "most events" if spikes.events is not None else "highest mean rate"
    fig.suptitle(
        f"{dff.name}: the {len(rois)} ROIs with the {what} of {dff.n_rois}, "
        f"first {t[span][-1]:.0f} s",
        x=0.01, ha="left",
    )  # fmt: skip
    return fig
