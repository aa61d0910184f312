"""Extract traces widget: painted Labels / Shapes on a movie layer -> F, Fneu -> dF/F layers."""

from __future__ import annotations

import numpy as np
import pytest
from _helpers import save_widget_shot, wait_task


class CountingMovie:
    """A (T, Y, X) array-like that records how many frames each read asks for."""

    def __init__(self, movie: np.ndarray) -> None:
        self.movie = movie
        self.shape, self.dtype, self.ndim = movie.shape, movie.dtype, movie.ndim
        self.size = movie.size
        self.reads: list[int] = []

    def __getitem__(self, key):
        out = self.movie[key]
        self.reads.append(1 if out.ndim < 3 else out.shape[0])
        return out

    def __array__(self, dtype=None, copy=None):
        raise AssertionError("the whole movie was loaded")


@pytest.fixture
def synth():
    from calcium_forge.synthesis.movie import make_synthetic_stack

    return make_synthetic_stack(shape=(64, 64), n_cells=4, n_frames=400, seed=5)


def test_extract_painted_labels_chunked(make_napari_viewer, qtbot, synth):
    from calcium_forge import napari_api
    from calcium_forge._napari.extract_widget import ExtractTracesWidget
    from calcium_forge.io.extraction import extract_traces

    fs = synth.recording.fs_hz
    movie = CountingMovie(np.asarray(synth.movie, dtype=np.float32))
    viewer = make_napari_viewer()
    napari_api.add_movie(viewer, movie, fs, name="movie")
    # ROIs painted on frame 10 of a movie-shaped Labels layer, with gaps in the label values
    painted = np.zeros((400, 64, 64), np.int32)
    painted[10] = np.where(synth.labels > 0, synth.labels * 3, 0)
    viewer.add_labels(painted, name="painted", scale=(1 / fs, 1, 1))
    w = ExtractTracesWidget(viewer)
    qtbot.addWidget(w)
    assert w.movie_layer.value is viewer.layers["movie"]
    w.rois_layer.value = viewer.layers["painted"]
    w.chunk_mb.value = 0.5  # 32 frames of 64 x 64 float32 per read
    movie.reads.clear()
    w.run()
    wait_task(qtbot, w)
    assert w.last_error is None, w.last_error
    assert w.status.text().startswith("done: 4 ROIs in ")
    assert max(movie.reads) <= 32 and sum(r for r in movie.reads if r > 1) >= 400
    traces = viewer.layers["movie dF/F"]
    raw = traces.metadata["calcium_forge"]["raw"]
    ref = extract_traces(synth.movie, synth.labels, fs)
    np.testing.assert_allclose(raw.traces, ref.traces, rtol=1e-5)
    np.testing.assert_allclose(raw.neuropil, ref.neuropil, rtol=1e-5)
    assert traces.data.shape == (4, 400) and traces.metadata["calcium_forge"]["kind"] == "traces"
    # the extracted traces follow the true calcium of each cell
    for i in range(4):
        r = np.corrcoef(traces.data[i], synth.recording.traces[i])[0, 1]
        assert r > 0.8, (i, r)
    # ready for Infer spikes: it offers the new traces layer
    from calcium_forge._napari.infer_widget import InferSpikesWidget

    infer = InferSpikesWidget(viewer)
    qtbot.addWidget(infer)
    assert traces in infer.traces_layer.choices
    save_widget_shot(w, "extract_traces")


def test_extract_from_shapes(make_napari_viewer, qtbot, synth):
    from calcium_forge import napari_api
    from calcium_forge._napari.extract_widget import ExtractTracesWidget

    fs = synth.recording.fs_hz
    viewer = make_napari_viewer()
    napari_api.add_movie(viewer, np.asarray(synth.movie), fs, name="movie")
    ys, xs = np.nonzero(synth.labels == 2)
    box = np.array([[ys.min(), xs.min()], [ys.max(), xs.max()]], float)
    viewer.add_shapes([box], shape_type="rectangle", name="boxes")
    w = ExtractTracesWidget(viewer)
    qtbot.addWidget(w)
    w.rois_layer.value = viewer.layers["boxes"]
    w.neuropil.value = False
    w.run()
    wait_task(qtbot, w)
    assert w.last_error is None, w.last_error
    traces = viewer.layers["movie dF/F"]
    assert traces.data.shape == (1, 400)
    r = np.corrcoef(traces.data[0], synth.recording.traces[1])[0, 1]
    assert r > 0.8, r


def test_extract_without_rois_fails_visibly(make_napari_viewer, qtbot, notes, synth):
    from calcium_forge import napari_api
    from calcium_forge._napari.extract_widget import ExtractTracesWidget

    viewer = make_napari_viewer()
    napari_api.add_movie(viewer, np.asarray(synth.movie), synth.recording.fs_hz, name="movie")
    viewer.add_labels(np.zeros((64, 64), np.int32), name="empty")
    w = ExtractTracesWidget(viewer)
    qtbot.addWidget(w)
    w.rois_layer.value = viewer.layers["empty"]
    w.run()
    assert not w.running and "holds no ROI" in w.last_error
    assert w.status.text().startswith("failed: ") and w.run_button.enabled
    assert any("holds no ROI" in m for _, m in notes)
