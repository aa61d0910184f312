"""The **Train spike model** widget: train ENS² or S2S on paired ground truth.

Form fields: ``source`` (ground-truth files | layers with ground truth),
``ground_truth`` (a ``DSxx-*`` folder, a folder of them, or one ``.mat``),
``method`` (ENS² | S2S), ``start`` (from scratch | fine-tune shipped model |
resume checkpoint), ``base_model`` (the shipped model to fine-tune),
``checkpoint`` (a ``checkpoint.pt`` to resume), ``iterations``,
``batch_size``, ``out_dir`` (checkpoint + final ``<name>.pt``/``.json``),
``name`` and ``seed``. Losses update live; at the end the validation
metrics (median correlation on held-out neurons, per neuron) fill the table.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from magicgui.widgets import ComboBox, FileEdit, LineEdit, SpinBox
from qtpy.QtWidgets import QTableWidget, QTableWidgetItem

from ..errors import InvalidInputError
from ..recording import Recording
from . import layers as L
from ._task import Task, TaskWidget


def ground_truth_recordings(viewer: Any) -> list[Recording]:
    """Recordings of the viewer's traces layers that carry ground-truth spikes."""
    out = []
    for layer in viewer.layers:
        info = L.layer_info(getattr(layer, "metadata", None))
        if not info or info.get("kind") not in ("traces", "synthetic_traces"):
            continue
        rec = info.get("recording")
        if isinstance(rec, Recording) and rec.spike_times is not None and rec.kind == "dff":
            out.append(rec)
    return out


def _shipped_models(*_: Any) -> list[str]:
    """Names of the shipped spike models (choices of the 'shipped model' box)."""
    from ..inference.registry import list_models

    return list_models()


class TrainSpikeModelWidget(TaskWidget):
    """Train ENS²/S2S on ground-truth files or layers; show validation metrics."""

    run_text = "Train"

    def make_params(self) -> list:
        """The form's fields (magicgui widgets), kept as attributes: data, method, start..."""
        self.source = ComboBox(
            name="source", choices=["ground-truth files", "layers with ground truth"]
        )
        self.ground_truth = FileEdit(
            name="ground_truth", label="ground-truth folder", mode="d", value=None, nullable=True
        )
        self.method = ComboBox(
            name="method", choices=[("ENS²", "ens2"), ("S2S", "s2s")], value="ens2"
        )
        self.start_from = ComboBox(
            name="start",
            choices=["from scratch", "fine-tune shipped model", "resume checkpoint"],
            value="from scratch",
        )
        self.base_model = ComboBox(
            name="base_model", label="shipped model", choices=_shipped_models
        )
        self.checkpoint = FileEdit(
            name="checkpoint", mode="r", filter="*.pt", nullable=True, value=None
        )
        self.iterations = SpinBox(name="iterations", value=500, min=1, max=1_000_000)
        self.batch_size = SpinBox(
            name="batch_size", label="batch size", value=1024, min=1, max=65536
        )
        self.out_dir = FileEdit(
            name="out_dir",
            label="output folder",
            mode="d",
            value=str(Path.home() / "calcium_forge_models"),
        )
        self.name = LineEdit(name="name", value="")
        self.seed = SpinBox(name="seed", value=0, min=0, max=2**31 - 1)
        return [
            self.source,
            self.ground_truth,
            self.method,
            self.start_from,
            self.base_model,
            self.checkpoint,
            self.iterations,
            self.batch_size,
            self.out_dir,
            self.name,
            self.seed,
        ]

    def extra_setup(self) -> None:
        """Add the validation-metrics table below the buttons."""
        self.table = QTableWidget(0, 2)
        self.table.setHorizontalHeaderLabels(["validation", "value"])
        self.table.setMinimumHeight(140)
        self.layout().addWidget(self.table)

    def start(self) -> Task:
        """Read the form and return the :class:`Task` that trains the spike model.

        Returns
        -------
        Task
            :func:`~calcium_forge.inference.training.iter_train` on the chosen
            ground truth; its validation metrics fill the table.

        Raises
        ------
        InvalidInputError
            When no ground truth is chosen or open, the checkpoint to resume is
            not a file, or fine-tuning is asked without a shipped model.
        """
        from ..inference.training import default_config, iter_train, paired_from_recordings

        method = self.method.value
        config = default_config(
            method,
            iterations=int(self.iterations.value),
            batch_size=int(self.batch_size.value),
            seed=int(self.seed.value),
        )
        if self.source.value == "ground-truth files":
            gt = self.ground_truth.value
            if gt is None or str(gt) in ("", "."):
                raise InvalidInputError(
                    "no ground-truth folder chosen; pick a Cascade DSxx-* folder (or the folder "
                    "holding them), or switch source to 'layers with ground truth'."
                )
            data: Any = [Path(gt)]
        else:
            recs = ground_truth_recordings(self.viewer)
            if not recs:
                raise InvalidInputError(
                    "no open traces layer has ground-truth spikes; open Cascade .mat files "
                    "(File > Open) or the synthetic stack sample first."
                )
            data = paired_from_recordings(recs, config)
        resume = None
        if self.start_from.value == "resume checkpoint":
            if self.checkpoint.value is None or not Path(self.checkpoint.value).is_file():
                raise InvalidInputError(
                    f"start is 'resume checkpoint' but checkpoint={self.checkpoint.value!s} is "
                    "not a file; pick the checkpoint.pt of an earlier run."
                )
            resume = Path(self.checkpoint.value)
        init_from = None
        if self.start_from.value == "fine-tune shipped model":
            init_from = self.base_model.value
            if not init_from:
                raise InvalidInputError(
                    "start is 'fine-tune shipped model' but no shipped model is installed; "
                    "train from scratch instead."
                )
        gen = iter_train(
            data,
            config,
            out_dir=Path(self.out_dir.value),
            name=self.name.value or None,
            resume=resume,
            num_threads=1,
            init_from=init_from,
        )
        return Task(gen, self.show_result, title=f"Train {L.METHOD_LABELS[method]}")

    def show_result(self, result: Any) -> None:
        """Show the validation scores of a SpikeTrainResult."""
        self.trained = result
        rows: list[tuple[str, str]] = [
            ("model file", str(result.model_path)),
            ("iterations run", str(result.iterations_run)),
            ("best iteration", str(result.best_iteration)),
            ("stopped early", str(result.stopped_early)),
        ]
        scores = result.val_scores or {}
        if "median_corr" in scores:
            rows.append(("median corr (val)", f"{float(scores['median_corr']):.3f}"))
        for neuron, corr in (scores.get("corr") or {}).items():
            rows.append((f"corr {neuron}", f"{float(corr):.3f}"))
        self.table.setRowCount(len(rows))
        for r, (k, v) in enumerate(rows):
            self.table.setItem(r, 0, QTableWidgetItem(k))
            self.table.setItem(r, 1, QTableWidgetItem(v))
        self.table.resizeColumnsToContents()
