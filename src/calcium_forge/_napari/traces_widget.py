"""The **Traces** widget: the plot dock of traces, rates and rasters.

Traces, rates and rasters are drawn here, not on the canvas (their layers
are hidden). Click an ROI in a calcium-forge Labels layer (or type indices)
and a docked matplotlib figure shows the raster of every ROI (events of the
chosen rate layer, else the ground truth; the selected ROIs highlighted) and,
per selected ROI, its dF/F (black), the inferred spike rate (red, right axis)
with the estimated events (red ticks), and the ground-truth spikes (blue
ticks) when the recording has them. A vertical line follows the viewer's
time slider (seconds) and the view shows ``window_s`` seconds around it.
With "stack" on, clicks add ROIs instead of replacing them. The figure can be
saved as PNG or SVG.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from magicgui.widgets import CheckBox, Container, FileEdit, FloatSpinBox, LineEdit, PushButton
from qtpy.QtWidgets import QVBoxLayout, QWidget

from ..errors import CalciumForgeError, InvalidInputError
from ..recording import Recording
from ..results import SpikeInference
from . import layers as L
from ._form import layer_combo, layer_recording, parse_rois
from ._task import error_message
from .readers import notify_error

TRACE_KINDS = ("traces", "synthetic_traces")


def show_time_overlay(viewer: Any) -> None:
    """Write the time slider's position in seconds on the canvas (``time 1.13 s / 19.97 s``).

    napari's slider counts steps (frames); the text overlay of the canvas gives
    the time in seconds of the first axis when it is labelled ``"time (s)"``.
    Connected once per viewer; idempotent.
    """
    if id(viewer.dims) in _TIME_OVERLAYS:
        return
    text = viewer.canvas.overlays.text
    text.position = "top_left"  # the bottom-right corner is clipped in narrow canvases

    def update(*_: Any) -> None:
        dims = viewer.dims
        on = dims.ndim >= 3 and dims.axis_labels[0] == "time (s)"
        text.visible = on
        if on:
            text.text = f"time {dims.point[0]:.2f} s / {dims.range[0].stop:.2f} s"

    viewer.dims.events.current_step.connect(update)
    viewer.dims.events.range.connect(update)
    viewer.dims.events.axis_labels.connect(update)
    _TIME_OVERLAYS.add(id(viewer.dims))
    update()


#: ``id(viewer.dims)`` of the viewers whose canvas shows the time (s).
_TIME_OVERLAYS: set[int] = set()


def _result_rows(result: SpikeInference | None, n_rois: int) -> dict[int, int]:
    """ROI index of the recording -> row of the result (inference may run on a subset)."""
    if result is None:
        return {}
    rec = result.recording
    idx = rec.meta.get("roi_indices") if rec is not None else None
    if idx is None:
        idx = range(result.n_rois)
    return {int(roi): row for row, roi in enumerate(idx) if 0 <= int(roi) < n_rois}


class TracesWidget(QWidget):
    """Docked matplotlib view of ROI traces, rates, events and ground truth.

    Parameters (form fields)
    ------------------------
    traces_layer : dF/F traces layer (Image, ROIs x time)
    rate_layer : optional inferred-rate layer (``<name> rate (ENS²)``)
    rois : ROI indices, e.g. ``0, 3, 5-7``
    stack : clicks add ROIs instead of replacing them
    window_s : seconds shown around the time cursor (0 = the whole recording)
    save_path : where Save writes the figure (``.png`` or ``.svg``)
    """

    def __init__(self, napari_viewer: Any) -> None:
        super().__init__()
        from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
        from matplotlib.figure import Figure

        self.viewer = napari_viewer
        self.traces_layer = layer_combo(
            napari_viewer, "traces_layer", "traces", TRACE_KINDS, "image"
        )
        self.rate_layer = layer_combo(
            napari_viewer, "rate_layer", "rate", ("rate",), "image", optional=True
        )
        self.rois = LineEdit(name="rois", label="ROIs", value="0")
        self.stack = CheckBox(name="stack", text="stack clicked ROIs", value=False)
        self.window_s = FloatSpinBox(
            name="window_s", label="window (s, 0 = all)", value=60.0, min=0.0, max=1e6, step=5.0
        )
        self.save_path = FileEdit(
            name="save_path", label="save as", mode="w", filter="*.png *.svg", value="traces.png"
        )
        self.save_button = PushButton(text="Save figure")
        self.params = Container(
            widgets=[
                self.traces_layer,
                self.rate_layer,
                self.rois,
                self.stack,
                self.window_s,
                self.save_path,
                self.save_button,
            ]
        )
        self.figure = Figure(figsize=(5, 5), layout="constrained")
        self.canvas = FigureCanvasQTAgg(self.figure)
        self.canvas.setMinimumHeight(300)
        self.setLayout(QVBoxLayout())
        self.layout().addWidget(self.params.native)
        self.layout().addWidget(self.canvas, stretch=1)  # the plots get the dock's height
        self.selected: list[int] = [0]
        self.cursors: list[Any] = []
        self.last_error: str | None = None

        self.rois.changed.connect(self._on_rois_text)
        self.traces_layer.changed.connect(self.redraw)
        self.rate_layer.changed.connect(self.redraw)
        self.window_s.changed.connect(self.redraw)
        self.save_button.changed.connect(lambda *_: self._save_clicked())
        napari_viewer.layers.events.inserted.connect(self._on_layers_changed)
        napari_viewer.layers.events.removed.connect(self._on_layers_changed)
        napari_viewer.dims.events.current_step.connect(self._move_cursor)
        # on the viewer, not on the ROI layers: napari calls a layer's callbacks only
        # while it is selected, and the newest layer (an overlay) usually is
        napari_viewer.mouse_drag_callbacks.append(self._on_viewer_click)
        show_time_overlay(napari_viewer)
        self._on_layers_changed()

    # ----------------------------------------------------------------- layers
    def _on_layers_changed(self, event: Any = None) -> None:
        self.traces_layer.reset_choices()
        self.rate_layer.reset_choices()
        if self.rate_layer.value is None:
            rates = [c for c in self.rate_layer.choices if c is not None]
            if rates:
                self.rate_layer.value = rates[-1]
        self.redraw()

    def _on_viewer_click(self, viewer: Any, event: Any) -> None:
        """A click on the canvas selects the ROI under it in the topmost visible ROI layer."""
        for layer in reversed(list(viewer.layers)):
            info = L.layer_info(getattr(layer, "metadata", None))
            if layer.visible and info and info.get("kind") == "rois":
                if self._on_click(layer, event):
                    return

    def _on_click(self, layer: Any, event: Any) -> bool:
        """Select the ROI of ``layer`` under the click; True when there is one."""
        value = layer.get_value(
            event.position,
            view_direction=event.view_direction,
            dims_displayed=event.dims_displayed,
            world=True,
        )
        if value:
            self.select_roi(int(value) - 1, add=self.stack.value)
        return bool(value)

    # ------------------------------------------------------------- selection
    def select_roi(self, roi: int, add: bool | None = None) -> None:
        """Show ROI ``roi`` (0-based); with ``add`` (default: the stack box) keep the others."""
        add = self.stack.value if add is None else add
        rois = list(self.selected) if add else []
        if roi not in rois:
            rois.append(roi)
        self.rois.value = ", ".join(str(i) for i in rois)

    def _on_rois_text(self, *_: Any) -> None:
        try:
            rec = self.recording()
            self.selected = [int(i) for i in parse_rois(self.rois.value, rec.n_rois)]
        except CalciumForgeError as exc:
            self._error(exc)
            return
        self.redraw()

    def recording(self) -> Recording:
        """The Recording of the chosen traces layer."""
        return layer_recording(self.traces_layer.value, "traces")

    def inference(self) -> SpikeInference | None:
        """The SpikeInference of the chosen rate layer, if any."""
        layer = self.rate_layer.value
        if layer is None:
            return None
        return L.result_from_layer_data(layer.metadata, layer_name=layer.name)

    def _error(self, exc: BaseException) -> None:
        self.last_error = error_message(exc)
        notify_error(self.last_error)

    # ----------------------------------------------------------------- draw
    def current_time_s(self) -> float | None:
        """The viewer's time-slider position in seconds (None without a time axis)."""
        if self.viewer.dims.ndim < 3:
            return None
        return float(self.viewer.dims.point[0])

    def redraw(self, *_: Any) -> None:
        """Redraw the figure for the selected ROIs."""
        self.figure.clear()
        self.cursors = []
        if self.traces_layer.value is None:
            self.canvas.draw_idle()
            return
        try:
            rec = self.recording()
            result = self.inference()
        except CalciumForgeError as exc:
            self._error(exc)
            return
        rois = [i for i in self.selected if 0 <= i < rec.n_rois] or [0]
        truth = rec.spike_times
        if truth is None and result is not None and result.recording is not None:
            truth = result.recording.spike_times
        matched = result is not None and result.n_frames == rec.n_frames
        row_of = _result_rows(result, rec.n_rois) if matched else {}
        raster = truth
        if row_of and result.events is not None:
            raster = [result.events[row_of[i]] if i in row_of else [] for i in range(rec.n_rois)]
        n_rows = len(rois) + (raster is not None)
        ratios = ([max(1.5, min(4.0, rec.n_rois / 8))] if raster is not None else []) + [1.0] * len(
            rois
        )
        axes = self.figure.subplots(
            n_rows, 1, sharex=True, squeeze=False, gridspec_kw={"height_ratios": ratios}
        )[:, 0]
        if raster is not None:
            how = (
                f"events ({L.METHOD_LABELS.get(result.method, result.method)})"
                if raster is not truth
                else "ground-truth spikes"
            )
            self._draw_raster(axes[0], raster, rois, how)
        for ax, i in zip(axes[n_rows - len(rois) :], rois, strict=True):
            self._draw_roi(ax, rec, i, result, row_of.get(i), truth)
        cursor_t = self.current_time_s()
        if cursor_t is not None:
            self.cursors = [ax.axvline(cursor_t, color="tab:green", lw=0.8) for ax in axes]
        axes[0].set_xlim(rec.time_s[0], rec.time_s[-1])
        self._apply_window(axes, cursor_t)
        axes[-1].set_xlabel("time (s)")
        axes[0].set_title(rec.name, fontsize=9)
        self.canvas.draw_idle()

    def _draw_raster(self, ax: Any, events: list, rois: list[int], how: str) -> None:
        """Events of every ROI as ticks, one row per ROI; the selected rows in red."""
        colors = ["tab:red" if i in rois else "0.25" for i in range(len(events))]
        ax.eventplot(
            [np.asarray(e, dtype=float) for e in events], colors=colors, linelengths=0.8, lw=0.8
        )
        ax.set_ylim(len(events) - 0.5, -0.5)  # ROI 0 on top
        from matplotlib.ticker import MaxNLocator

        ax.yaxis.set_major_locator(MaxNLocator(nbins=6, integer=True))
        ax.set_ylabel("ROI")
        ax.set_title(how, fontsize=8, loc="left")

    def _draw_roi(
        self, ax: Any, rec: Recording, i: int, result: Any, row: int | None, truth: Any
    ) -> None:
        """dF/F of ROI ``i``; its rate (result row ``row``, right axis), events, truth."""
        t = rec.time_s
        ax.plot(t, rec.traces[i], color="black", lw=0.6, label="dF/F")
        ax.set_ylabel(f"ROI {i}\n{L.KIND_LABELS.get(rec.kind, rec.kind)}")
        top = np.nanmax(rec.traces[i]) if np.isfinite(rec.traces[i]).any() else 1.0
        if row is not None:
            ax2 = ax.twinx()
            ax2.plot(t, result.rate_hz[row], color="tab:red", lw=0.6, label="rate")
            ax2.set_ylabel("spikes/s", color="tab:red", fontsize=7)
            if result.events is not None and len(result.events[row]):
                ax.plot(
                    result.events[row],
                    np.full(len(result.events[row]), top * 1.08),
                    "|",
                    color="tab:red",
                    ms=6,
                    label="events",
                )
        if truth is not None and len(truth[i]):
            ax.plot(
                truth[i],
                np.full(len(truth[i]), top * 1.18),
                "|",
                color="tab:blue",
                ms=6,
                label="ground truth",
            )

    def _move_cursor(self, *_: Any) -> None:
        t = self.current_time_s()
        if t is None:
            return
        if not self.cursors:
            self.redraw()
            return
        for line in self.cursors:
            line.set_xdata([t, t])
        self._apply_window(self.figure.axes, t)
        self.canvas.draw_idle()

    def _apply_window(self, axes: Any, center_s: float | None) -> None:
        """Show ``window_s`` seconds around the cursor (or from 0); 0 shows everything."""
        w = float(self.window_s.value)
        if w <= 0 or not len(axes):
            return
        c = w / 2 if center_s is None else max(center_s, w / 2)
        axes[0].set_xlim(c - w / 2, c + w / 2)  # x is shared by all rows

    # ----------------------------------------------------------------- save
    def save(self, path: str | Path) -> Path:
        """Save the figure as PNG or SVG (by suffix), atomically; returns the path."""
        from ..io.atomic import atomic_path

        path = Path(path)
        fmt = path.suffix.lower().lstrip(".")
        if fmt not in ("png", "svg"):
            raise InvalidInputError(
                f"figure file {str(path)!r} must end in .png or .svg; got {path.suffix!r}."
            )
        with atomic_path(path) as tmp:
            self.figure.savefig(tmp, format=fmt, dpi=150)
        return path

    def _save_clicked(self) -> None:
        try:
            out = self.save(self.save_path.value)
        except (CalciumForgeError, OSError) as exc:
            self._error(exc)
            return
        from ._task import notify_info

        notify_info(f"saved {out}")
