"""The **Infer spikes** widget: ENS², S2S or OASIS on a traces layer.

Form fields: ``traces_layer``, ``method`` (ENS² | S2S | OASIS), ``model``
(a shipped model name or "default"), ``model_file`` (a model file that
overrides ``model``), ``fs_hz`` (frame rate, Hz; 0 = from the layer),
``neuropil_coeff`` (used when the layer keeps raw F + neuropil), ``rois``
(all | iscell | selected) and ``selected`` (indices for "selected"),
``events`` (also estimate spike times), ``event_gain`` (rate factor before the
event estimate; 0 = the model card's gain), ``mode`` (exact | fast, ENS²). The
work runs in a thread with a progress bar and Cancel; the result adds
``<name> rate (<method>)`` (Image),
``<name> spikes (<method>)`` (raster Points), both drawn by the Traces dock,
and, when the recording has ROIs, ``<name> spike overlay (<method>)`` (the
ROIs lit on the frames of their events). A table under the form lists each
ROI's noise level ν (% / √Hz) and the model it got (``result.meta``), which
the output layers also carry in their metadata (``noise_level``, ``model``).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
from magicgui.widgets import CheckBox, ComboBox, FileEdit, FloatSpinBox, LineEdit
from qtpy.QtWidgets import QTableWidget, QTableWidgetItem

from ..errors import InvalidInputError
from ..recording import Recording
from . import layers as L
from ._form import layer_combo, layer_recording, parse_rois
from ._task import Task, TaskWidget

METHODS = [("ENS²", "ens2"), ("S2S", "s2s"), ("OASIS", "oasis")]
DEFAULT_NEUROPIL_COEFF = 0.7


def shipped_model_names() -> list[str]:
    """Names of the pretrained models shipped with calcium-forge (may be empty)."""
    try:
        from ..inference.registry import list_models

        return [str(m) for m in list_models()]
    except Exception:
        return []


def prepare_recording(
    layer: Any,
    fs_hz: float = 0.0,
    neuropil_coeff: float = DEFAULT_NEUROPIL_COEFF,
    rois: str = "all",
    selected: str = "",
) -> Recording:
    """The dF/F Recording to infer from, as the widget's fields ask.

    Parameters
    ----------
    layer : napari layer
        A traces layer.
    fs_hz : float
        Frame rate override in Hz; 0 keeps the layer's.
    neuropil_coeff : float
        Neuropil coefficient; recomputes dF/F from the raw F when the layer
        keeps it and the coefficient differs from 0.7.
    rois : {"all", "iscell", "selected"}
        Which ROIs.
    selected : str
        ROI indices for ``rois="selected"``, e.g. ``"0, 3, 5-7"``.
    """
    rec = layer_recording(layer, "traces")
    info = L.layer_info(layer.metadata) or {}
    raw = info.get("raw")
    if isinstance(raw, Recording) and not np.isclose(neuropil_coeff, DEFAULT_NEUROPIL_COEFF):
        from ..signal import to_dff

        rec = to_dff(raw, neuropil_coeff=float(neuropil_coeff))
    if fs_hz and fs_hz > 0 and not np.isclose(fs_hz, rec.fs_hz):
        rec = dataclasses.replace(rec, fs_hz=float(fs_hz), meta=dict(rec.meta))
    if rois == "iscell":
        idx = np.flatnonzero(rec.iscell)
        if idx.size == 0:
            raise InvalidInputError(
                f"layer {layer.name!r}: no ROI is marked iscell; choose rois='all'."
            )
    elif rois == "selected":
        idx = parse_rois(selected, rec.n_rois)
        if idx.size == 0:
            raise InvalidInputError(
                "rois='selected' but the 'selected' field is empty; type indices like 0, 3, 5-7."
            )
    elif rois == "all":
        return rec
    else:
        raise InvalidInputError(f"rois must be all, iscell or selected; got {rois!r}.")
    sub = rec.select(idx)
    sub.meta["roi_indices"] = idx.tolist()
    return sub


class InferSpikesWidget(TaskWidget):
    """Run ENS², S2S or OASIS on a traces layer and add rate, raster and overlay layers."""

    run_text = "Infer spikes"

    def make_params(self) -> list:
        """The form's fields (magicgui widgets), kept as attributes."""
        self.traces_layer = layer_combo(
            self.viewer, "traces_layer", "traces", ("traces", "synthetic_traces"), "image"
        )
        self.method = ComboBox(name="method", choices=METHODS, value="ens2")
        self.model = ComboBox(
            name="model", choices=["default", *shipped_model_names()], value="default"
        )
        self.model_file = FileEdit(
            name="model_file", label="model file", mode="r", nullable=True, value=None
        )
        self.fs_hz = FloatSpinBox(
            name="fs_hz",
            label="frame rate (Hz, 0 = layer)",
            value=0.0,
            min=0.0,
            max=10_000.0,
            step=0.5,
        )
        self.neuropil_coeff = FloatSpinBox(
            name="neuropil_coeff",
            label="neuropil coeff",
            value=DEFAULT_NEUROPIL_COEFF,
            min=0.0,
            max=2.0,
            step=0.05,
        )
        self.rois = ComboBox(name="rois", choices=["all", "iscell", "selected"], value="all")
        self.selected = LineEdit(name="selected", label="selected ROIs", value="")
        self.events = CheckBox(name="events", text="estimate spike events", value=True)
        self.event_gain = FloatSpinBox(
            name="event_gain",
            label="event gain (0 = model's)",
            value=0.0,
            min=0.0,
            max=5.0,
            step=0.1,
        )
        self.mode = ComboBox(name="mode", choices=["exact", "fast"], value="exact")
        return [
            self.traces_layer,
            self.method,
            self.model,
            self.model_file,
            self.fs_hz,
            self.neuropil_coeff,
            self.rois,
            self.selected,
            self.events,
            self.event_gain,
            self.mode,
        ]

    def extra_setup(self) -> None:
        """A table of each ROI's noise level ν and model, filled by a result."""
        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["ROI", "ν (%/√Hz)", "model"])
        self.table.verticalHeader().setVisible(False)
        self.table.setMinimumHeight(120)
        self.table.setMaximumHeight(220)
        self.layout().addWidget(self.table)

    def model_argument(self) -> str | Path | None:
        """The ``model`` argument of ``infer_spikes`` chosen in the form."""
        path = self.model_file.value
        if path is not None and str(path) not in ("", "."):
            return Path(path)
        return None if self.model.value == "default" else self.model.value

    def start(self) -> Task:
        """Read the form and return the :class:`Task` that runs the core generator."""
        from ..inference import iter_infer_spikes

        rec = prepare_recording(
            self.traces_layer.value,
            self.fs_hz.value,
            self.neuropil_coeff.value,
            self.rois.value,
            self.selected.value,
        )
        method = self.method.value
        gen = iter_infer_spikes(
            rec,
            method=method,
            model=self.model_argument(),
            events=self.events.value,
            mode=self.mode.value,
            **(
                {"event_gain": float(self.event_gain.value)}
                if method != "oasis" and self.event_gain.value > 0
                else {}
            ),
        )
        label = L.METHOD_LABELS.get(method, method)
        return Task(
            gen,
            self._add_result,
            title=f"Infer spikes ({label})",
            summary=lambda r: f"{label} on {r.n_rois} ROIs",
        )

    def _add_result(self, result: Any) -> None:
        self.add_layer_data(L.inference_layers(result))
        per_roi = L.roi_models(result)
        self.table.setRowCount(len(per_roi["roi"]))
        for r, (roi, nu, model) in enumerate(zip(*per_roi.values(), strict=True)):
            self.table.setItem(r, 0, QTableWidgetItem(str(roi)))
            self.table.setItem(r, 1, QTableWidgetItem("" if np.isnan(nu) else f"{nu:.2f}"))
            self.table.setItem(r, 2, QTableWidgetItem(model))
        self.table.resizeColumnsToContents()
