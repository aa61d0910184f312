"""CalciumGAN widgets: **Train CalciumGAN**, **Sample CalciumGAN**, **Compare real vs synthetic**.

* Train: ``traces_layer``, ``window`` (frames, multiple of 16), ``stride``
  (frames between training windows), ``steps`` (generator steps),
  ``batch_size``, ``checkpoint_dir`` (``checkpoint.pt`` + ``model.pt``),
  ``resume`` (continue from the folder's checkpoint), ``seed``. Live losses
  (critic, generator, Wasserstein estimate) are plotted while it trains;
  Cancel stops at the next step and the core keeps the last checkpoint.
* Sample: ``model`` (a shipped model, one trained in this session, or
  "file"), ``model_file``, ``mode`` (windows | frames), ``n``, ``seed``.
  Adds ``<model> synthetic dF/F`` (Image) and its raster (Points, OASIS events).
* Compare: ``real_layer``, ``synthetic_layer``, ``max_windows``, ``seed`` -> the
  SynthesisReport table
  (KL of firing rate / correlation / van Rossum, Fréchet, spectral distance)
  and histograms, power spectra and rasters (first window) real vs synthetic.
"""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path
from typing import Any

import numpy as np
from magicgui.widgets import CheckBox, ComboBox, FileEdit, SpinBox
from qtpy.QtWidgets import QTableWidget, QTableWidgetItem

from ..errors import InvalidInputError
from ..progress import Progress
from . import layers as L
from ._form import layer_combo, layer_recording
from ._task import Task, TaskWidget

#: CalciumGAN models trained in this napari session, by name (Sample lists them).
SESSION_MODELS: dict[str, Any] = {}


def _figure_canvas(height: int = 220):
    from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4, 3), layout="constrained")
    canvas = FigureCanvasQTAgg(fig)
    canvas.setMinimumHeight(height)
    return fig, canvas


# --------------------------------------------------------------------- train
class TrainGANWidget(TaskWidget):
    """Train a CalciumGAN on a traces layer with live losses."""

    run_text = "Train"

    def make_params(self) -> list:
        """The form's fields (magicgui widgets), kept as attributes: layer, window, steps..."""
        self.traces_layer = layer_combo(
            self.viewer, "traces_layer", "traces", ("traces", "synthetic_traces"), "image"
        )
        self.window = SpinBox(
            name="window", label="window (frames)", value=256, min=16, max=8192, step=16
        )
        self.stride = SpinBox(
            name="stride", label="window stride (frames)", value=4, min=1, max=8192
        )
        self.steps = SpinBox(name="steps", value=200, min=1, max=1_000_000)
        self.batch_size = SpinBox(name="batch_size", label="batch size", value=32, min=1, max=4096)
        self.checkpoint_dir = FileEdit(
            name="checkpoint_dir",
            label="checkpoint folder",
            mode="d",
            value=str(Path.home() / "calciumgan_run"),
        )
        self.resume = CheckBox(
            name="resume", text="resume from the folder's checkpoint", value=False
        )
        self.seed = SpinBox(name="seed", value=0, min=0, max=2**31 - 1)
        return [
            self.traces_layer,
            self.window,
            self.stride,
            self.steps,
            self.batch_size,
            self.checkpoint_dir,
            self.resume,
            self.seed,
        ]

    def extra_setup(self) -> None:
        """Add the live loss plot below the buttons."""
        self.figure, self.canvas = _figure_canvas()
        self.layout().addWidget(self.canvas)
        self.history: dict[str, list[float]] = {}

    def start(self) -> Task:
        """Read the form and return the :class:`Task` that trains the GAN.

        Returns
        -------
        Task
            :func:`~calcium_forge.synthesis.train.iter_train_gan` on the chosen
            layer; its result is kept as a session model for Sample.

        Raises
        ------
        InvalidInputError
            When resume is ticked and the folder has no ``checkpoint.pt``.
        """
        from ..synthesis.calciumgan import GANConfig
        from ..synthesis.train import GANTrainConfig, iter_train_gan

        rec = layer_recording(self.traces_layer.value, "traces")
        out_dir = Path(self.checkpoint_dir.value)
        resume = None
        if self.resume.value:
            resume = out_dir / "checkpoint.pt"
            if not resume.is_file():
                raise InvalidInputError(
                    f"resume is ticked but {resume} does not exist; untick resume or choose the "
                    "folder of an earlier run."
                )
        gan_config = GANConfig(window=int(self.window.value), n_neurons=rec.n_rois)
        config = GANTrainConfig(
            steps=int(self.steps.value),
            batch_size=int(self.batch_size.value),
            seed=int(self.seed.value),
            window_stride=int(self.stride.value),
            checkpoint_every=max(1, int(self.steps.value) // 10),
        )
        self.history = {}
        name = f"{rec.name}-gan"
        gen = iter_train_gan(
            rec,
            gan_config,
            config,
            out_dir=out_dir,
            resume=resume,
            progress_every=max(1, int(self.steps.value) // 100),
            name=name,
        )
        self._name = name
        return Task(
            gen,
            self._done,
            title="Train CalciumGAN",
            summary=lambda r: f"{r.steps_done} steps trained, checkpoint {r.checkpoint}",
        )

    def on_progress(self, p: Progress) -> None:
        """Append the step's losses to the history and redraw the loss plot.

        Parameters
        ----------
        p : Progress
            A training step; ``values`` may hold loss_d, loss_g and wasserstein.
        """
        for key in ("loss_d", "loss_g", "wasserstein"):
            if key in p.values:
                self.history.setdefault(key, []).append(float(p.values[key]))
        self.history.setdefault("step", []).append(p.step)
        self._plot()

    def _plot(self) -> None:
        self.figure.clear()
        ax = self.figure.add_subplot(111)
        steps = self.history.get("step", [])
        for key, label in (
            ("loss_d", "critic"),
            ("loss_g", "generator"),
            ("wasserstein", "W estimate"),
        ):
            vals = self.history.get(key, [])
            if vals:
                ax.plot(steps[-len(vals) :], vals, label=label, lw=0.8)
        ax.set_xlabel("generator step")
        ax.set_ylabel("loss")
        if ax.lines:
            ax.legend(fontsize=7)
        self.canvas.draw_idle()

    def _done(self, result: Any) -> None:
        SESSION_MODELS[self._name] = result.model
        self.trained = result


# -------------------------------------------------------------------- sample
def _sample_then_deconvolve(
    model_ref: Any, mode: str, n: int, seed: int
) -> Generator[Progress, None, Any]:
    from ..inference import iter_infer_spikes
    from ..synthesis.calciumgan import CalciumGAN

    yield Progress(0, 2, "loading model")
    model = model_ref if isinstance(model_ref, CalciumGAN) else CalciumGAN.load(model_ref)
    yield Progress(0, 2, "sampling")
    rec = (
        model.sample(n_windows=n, seed=seed)
        if mode == "windows"
        else model.sample_long(n_frames=n, seed=seed)
    )
    yield Progress(1, 2, "OASIS events of the synthetic traces")
    inference = yield from iter_infer_spikes(rec, method="oasis", events=True)
    yield Progress(2, 2, "done")
    return rec, inference


class SampleGANWidget(TaskWidget):
    """Sample a CalciumGAN and add synthetic traces and their raster."""

    run_text = "Sample"

    def make_params(self) -> list:
        """The form's fields (magicgui widgets), kept as attributes: model, mode, n, seed."""
        self.model = ComboBox(name="model", choices=self._model_choices)
        self.model_file = FileEdit(
            name="model_file", label="model file", mode="r", nullable=True, value=None
        )
        self.mode = ComboBox(name="mode", choices=["windows", "frames"], value="windows")
        self.n = SpinBox(name="n", label="windows / frames", value=4, min=1, max=10_000_000)
        self.seed = SpinBox(name="seed", value=0, min=0, max=2**31 - 1)
        return [self.model, self.model_file, self.mode, self.n, self.seed]

    @staticmethod
    def _model_choices(_w: Any = None) -> list[tuple[str, Any]]:
        try:
            from ..synthesis.calciumgan import available_models

            shipped = available_models()
        except Exception:
            shipped = []
        out: list[tuple[str, Any]] = [(f"shipped: {m}", m) for m in shipped]
        out += [(f"trained: {name}", model) for name, model in SESSION_MODELS.items()]
        out.append(("model file", "file"))
        return out

    def start(self) -> Task:
        """Read the form and return the :class:`Task` that samples and deconvolves.

        Returns
        -------
        Task
            Sampling (``n`` windows or frames) then OASIS events; the result is
            added as synthetic traces and raster layers.

        Raises
        ------
        InvalidInputError
            When "model file" is chosen without a file.
        """
        ref = self.model.value
        if ref == "file" or ref is None:
            path = self.model_file.value
            if path is None or str(path) in ("", "."):
                raise InvalidInputError(
                    "model is 'model file' but no model file is chosen; pick a CalciumGAN "
                    ".pt file (e.g. model.pt in a training folder) or a shipped model."
                )
            ref = Path(path)
        self._label = (
            ref.name
            if isinstance(ref, Path)
            else (
                ref
                if isinstance(ref, str)
                else next((k for k, v in SESSION_MODELS.items() if v is ref), "CalciumGAN")
            )
        )
        gen = _sample_then_deconvolve(ref, self.mode.value, int(self.n.value), int(self.seed.value))
        return Task(
            gen,
            self._add,
            title="Sample CalciumGAN",
            summary=lambda out: f"{out[0].n_rois} ROIs x {out[0].n_frames} frames sampled",
        )

    def _add(self, out: tuple) -> None:
        rec, inference = out
        rec.meta.setdefault("name", f"{Path(str(self._label)).stem}")
        self.add_layer_data(L.synthetic_layers(rec, inference=inference))


# ------------------------------------------------------------------- compare
def _evaluate(
    real: Any, synthetic: Any, max_windows: int, seed: int
) -> Generator[Progress, None, Any]:
    from ..evaluation.synthetic import evaluate_synthetic

    yield Progress(0, 1, "population statistics (OASIS, elephant)")
    report = evaluate_synthetic(real, synthetic, max_windows=max_windows, seed=seed)
    yield Progress(1, 1, "done")
    return report


class CompareWidget(TaskWidget):
    """Compare a real and a synthetic traces layer: SynthesisReport table + histograms."""

    run_text = "Compare"

    def make_params(self) -> list:
        """The form's fields (magicgui widgets), kept as attributes: both layers, windows."""
        self.real_layer = layer_combo(self.viewer, "real_layer", "real", ("traces",), "image")
        self.synthetic_layer = layer_combo(
            self.viewer, "synthetic_layer", "synthetic", ("synthetic_traces",), "image"
        )
        self.max_windows = SpinBox(
            name="max_windows", label="max windows", value=300, min=2, max=100_000
        )
        self.seed = SpinBox(name="seed", value=0, min=0, max=2**31 - 1)
        return [self.real_layer, self.synthetic_layer, self.max_windows, self.seed]

    def extra_setup(self) -> None:
        """Add the report table and the histogram figure below the buttons."""
        self.table = QTableWidget(0, 2)
        self.table.setHorizontalHeaderLabels(["statistic", "value"])
        self.table.setMinimumHeight(160)
        self.layout().addWidget(self.table)
        self.figure, self.canvas = _figure_canvas(420)
        self.layout().addWidget(self.canvas)

    def start(self) -> Task:
        """Read the form and return the :class:`Task` that evaluates real vs synthetic.

        Returns
        -------
        Task
            :func:`~calcium_forge.evaluation.synthetic.evaluate_synthetic`; its
            report fills the table and figures (:meth:`show_report`).

        Raises
        ------
        InvalidInputError
            When the two layers have different numbers of ROIs.
        """
        real = layer_recording(self.real_layer.value, "real traces")
        synth = layer_recording(self.synthetic_layer.value, "synthetic traces")
        if real.n_rois != synth.n_rois:
            raise InvalidInputError(
                f"real layer {self.real_layer.value.name!r} has {real.n_rois} ROIs but synthetic "
                f"layer {self.synthetic_layer.value.name!r} has {synth.n_rois}; compare data with "
                "the same neurons (sample a model trained on the real layer)."
            )
        gen = _evaluate(real, synth, int(self.max_windows.value), int(self.seed.value))
        return Task(gen, self.show_report, title="Compare real vs synthetic")

    def show_report(self, report: Any) -> None:
        """Fill the table and the histograms from a SynthesisReport."""
        self.report = report
        rows = list(report.summary().items())
        self.table.setRowCount(len(rows))
        for r, (k, v) in enumerate(rows):
            self.table.setItem(r, 0, QTableWidgetItem(str(k)))
            self.table.setItem(
                r, 1, QTableWidgetItem(f"{v:.4g}" if isinstance(v, float) else str(v))
            )
        self.table.resizeColumnsToContents()
        self.figure.clear()
        axes = self.figure.subplots(3, 2)
        names = report.names
        for ax, attr, label in (
            (axes[0, 0], "rates_hz", "firing rate (Hz)"),
            (axes[0, 1], "corr", "pairwise correlation"),
            (axes[1, 0], "vrd", "van Rossum distance"),
        ):
            for stats, name, color in (
                (report.real, names[0], "tab:blue"),
                (report.synthetic, names[1], "tab:orange"),
            ):
                vals = np.asarray(getattr(stats, attr), dtype=float).ravel()
                vals = vals[np.isfinite(vals)]
                if vals.size:
                    ax.hist(vals, bins=30, alpha=0.5, density=True, color=color, label=name)
            ax.set_xlabel(label, fontsize=8)
        axes[0, 0].legend(fontsize=7)
        ax = axes[1, 1]
        ax.loglog(report.freqs_hz[1:], report.psd_real[1:], label=names[0], color="tab:blue")
        ax.loglog(report.freqs_hz[1:], report.psd_synthetic[1:], label=names[1], color="tab:orange")
        ax.set_xlabel("frequency (Hz)", fontsize=8)
        ax.set_ylabel("power", fontsize=8)
        # rasters of the first window of each side (OASIS spikes, neurons x frames)
        for ax, stats, name, color in (
            (axes[2, 0], report.real, names[0], "tab:blue"),
            (axes[2, 1], report.synthetic, names[1], "tab:orange"),
        ):
            spikes = np.asarray(stats.spikes)
            if spikes.ndim == 3 and spikes.shape[0]:
                rows, frames = np.nonzero(spikes[0])
                ax.plot(frames / report.fs_hz, rows, "|", color=color, ms=4)
                ax.set_ylim(-0.5, spikes.shape[1] - 0.5)
            ax.set_title(f"{name} window 0", fontsize=8)
            ax.set_xlabel("time (s)", fontsize=8)
        axes[2, 0].set_ylabel("neuron", fontsize=8)
        self.canvas.draw_idle()
