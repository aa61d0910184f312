"""The **Synthetic movie** widget: render a two-photon stack from ROIs and traces.

Form fields: ``rois_layer`` (a Labels layer, 0 = background, i + 1 = ROI i),
``traces_layer`` (real or synthetic dF/F traces, one row per ROI at least),
``n_frames`` (0 = all frames of the traces), ``lazy`` (render frames on
demand instead of all at once), ``cell_brightness`` and ``read_noise``
(photons / detector units, see :class:`calcium_forge.synthesis.movie.MovieParams`)
and ``seed``. Adds ``<traces> movie`` (Image, time scale 1/fs s), its ROIs
(Labels) and, when the traces carry spikes, a spike overlay (Labels lit per frame).
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import numpy as np
from magicgui.widgets import CheckBox, FloatSpinBox, SpinBox

from ..errors import InvalidInputError
from ..progress import Progress
from ..recording import Recording
from . import layers as L
from ._form import layer_combo, layer_recording
from ._task import Task, TaskWidget


def _render(
    labels: np.ndarray, rec: Recording, params: Any, seed: int, lazy: bool
) -> Generator[Progress, None, Any]:
    from ..synthesis.movie import SyntheticMovie, iter_render_movie

    if lazy:
        yield Progress(1, 1, "lazy movie ready")
        return SyntheticMovie(labels, rec.traces, params, seed)
    movie = yield from iter_render_movie(labels, rec.traces, params, seed)
    return movie


class SyntheticMovieWidget(TaskWidget):
    """Render a synthetic movie from a Labels layer and a traces layer."""

    run_text = "Render movie"

    def make_params(self) -> list:
        """The form's fields (magicgui widgets), kept as attributes."""
        self.rois_layer = layer_combo(self.viewer, "rois_layer", "ROIs", None, "labels")
        self.traces_layer = layer_combo(
            self.viewer, "traces_layer", "traces", ("traces", "synthetic_traces"), "image"
        )
        self.n_frames = SpinBox(
            name="n_frames", label="frames (0 = all)", value=0, min=0, max=10_000_000
        )
        self.lazy = CheckBox(name="lazy", text="render frames on demand", value=False)
        self.cell_brightness = FloatSpinBox(
            name="cell_brightness", label="cell brightness", value=40.0, min=0.1, max=1e5
        )
        self.read_noise = FloatSpinBox(
            name="read_noise", label="read noise", value=2.0, min=0.0, max=1e4
        )
        self.seed = SpinBox(name="seed", value=0, min=0, max=2**31 - 1)
        return [
            self.rois_layer,
            self.traces_layer,
            self.n_frames,
            self.lazy,
            self.cell_brightness,
            self.read_noise,
            self.seed,
        ]

    def start(self) -> Task:
        """Read the form and return the :class:`Task` that runs the core generator."""
        from ..synthesis.movie import MovieParams

        layer = self.rois_layer.value
        if layer is None:
            raise InvalidInputError(
                "no ROI (Labels) layer chosen; open a Suite2P folder or a sample first."
            )
        labels = np.asarray(layer.data)
        if labels.ndim != 2:
            raise InvalidInputError(
                f"ROI layer {layer.name!r} has shape {labels.shape}; a 2-D (Y, X) label image "
                "is needed."
            )
        rec = layer_recording(self.traces_layer.value, "traces")
        n = int(self.n_frames.value)
        if 0 < n < rec.n_frames:
            keep = [s[s < n / rec.fs_hz] for s in rec.spike_times] if rec.spike_times else None
            rec = Recording(
                traces=rec.traces[:, :n],
                fs_hz=rec.fs_hz,
                kind=rec.kind,
                spike_times=keep,
                meta=dict(rec.meta),
            )
        params = MovieParams(
            cell_brightness=float(self.cell_brightness.value),
            read_noise=float(self.read_noise.value),
        )
        self._labels, self._rec = labels.astype(np.int32), rec
        gen = _render(self._labels, rec, params, int(self.seed.value), bool(self.lazy.value))
        return Task(
            gen,
            self._add,
            title="Synthetic movie",
            summary=lambda m: f"movie of {np.shape(m)[0]} frames of {int(labels.max())} ROIs",
        )

    def _add(self, movie: Any) -> None:
        rec, labels = self._rec, self._labels
        name = f"{rec.name} movie"
        tuples = [L.stack_layer(movie, rec.fs_hz, name=name, recording=rec, kind="synthetic_movie")]
        n_rois = int(labels.max())
        roi_rec = Recording(
            traces=rec.traces[:n_rois],
            fs_hz=rec.fs_hz,
            kind=rec.kind,
            labels=labels,
            spike_times=None if rec.spike_times is None else rec.spike_times[:n_rois],
            meta={**rec.meta, "name": name},
        )
        tuples.append(
            (
                labels,
                {
                    "name": f"{name} ROIs",
                    "colormap": L.roi_colors(n_rois),
                    "opacity": 0.4,
                    "metadata": L.cf_metadata("rois", roi_rec, synthetic=True),
                },
                "labels",
            )
        )
        if rec.spike_times is not None:
            tuples.append(
                L.spike_overlay_layer(
                    rec.spike_times[:n_rois],
                    rec.fs_hz,
                    labels,
                    name=f"{name} spikes",
                    recording=rec,
                    n_frames=rec.n_frames,
                    color="cyan",
                )
            )
        self.add_layer_data(tuples)
