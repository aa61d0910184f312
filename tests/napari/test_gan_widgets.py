"""GAN, Compare, Synthetic movie and Train spike model widgets under xvfb (tiny budgets)."""

from __future__ import annotations

import numpy as np
import pytest
from _helpers import save_widget_shot, wait_task

from calcium_forge import napari_api


def _kind(viewer, kind):
    return [ly for ly in viewer.layers if ly.metadata.get("calcium_forge", {}).get("kind") == kind]


@pytest.fixture
def small_real(make_napari_viewer):
    """A viewer with 6 ROIs x 3,000 frames of the shipped hippocampus recording (dF/F)."""
    import dataclasses

    from calcium_forge.datasets import load_hippocampus
    from calcium_forge.signal import to_dff

    raw = load_hippocampus().select(np.arange(6))
    raw = dataclasses.replace(
        raw, traces=raw.traces[:, :3000], neuropil=raw.neuropil[:, :3000], meta={"name": "hippo6"}
    )
    rec = to_dff(raw)
    rec.meta["name"] = "hippo6"
    viewer = make_napari_viewer()
    napari_api.add_recording(viewer, rec)
    return viewer, rec


def test_train_sample_compare_gan(small_real, qtbot, tmp_path):
    from calcium_forge._napari.gan_widgets import (
        SESSION_MODELS,
        CompareWidget,
        SampleGANWidget,
        TrainGANWidget,
    )

    viewer, rec = small_real
    train = TrainGANWidget(viewer)
    qtbot.addWidget(train)
    train.window.value = 64
    train.steps.value = 4
    train.batch_size.value = 8
    train.checkpoint_dir.value = str(tmp_path / "gan")
    train.run()
    assert not train.params.enabled  # form disabled while running
    wait_task(qtbot, train)
    assert train.last_error is None, train.last_error
    assert train.trained.steps_done == 4
    assert train.status.text().startswith("done: 4 steps trained, checkpoint ")
    assert (tmp_path / "gan" / "checkpoint.pt").is_file()
    assert "hippo6-gan" in SESSION_MODELS
    assert train.history.get("loss_d"), "live losses were not recorded"
    save_widget_shot(train, "train_calciumgan")

    # resume for 2 more steps from the checkpoint
    train.resume.value = True
    train.steps.value = 6
    train.run()
    wait_task(qtbot, train)
    assert train.last_error is None, train.last_error
    assert train.trained.steps_done == 6

    sample = SampleGANWidget(viewer)
    qtbot.addWidget(sample)
    sample.model.reset_choices()
    sample.model.value = SESSION_MODELS["hippo6-gan"]
    sample.mode.value = "windows"
    sample.n.value = 3
    sample.run()
    wait_task(qtbot, sample)
    assert sample.last_error is None, sample.last_error
    assert sample.status.text().startswith("done: 6 ROIs x 192 frames sampled in ")
    (syn,) = _kind(viewer, "synthetic_traces")
    assert syn.data.shape == (6, 3 * 64)
    assert not syn.visible and syn.metadata["calcium_forge"]["fs_hz"] == rec.fs_hz
    assert np.isfinite(syn.data).all()
    rasters = [
        ly for ly in _kind(viewer, "raster") if ly.metadata["calcium_forge"].get("synthetic")
    ]
    assert len(rasters) == 1
    save_widget_shot(sample, "sample_calciumgan")

    compare = CompareWidget(viewer)
    qtbot.addWidget(compare)
    compare.max_windows.value = 10
    compare.run()
    wait_task(qtbot, compare)
    assert compare.last_error is None, compare.last_error
    summary = compare.report.summary()
    assert compare.table.rowCount() == len(summary)
    assert compare.table.item(0, 0).text() == "kl_rate"
    assert float(compare.table.item(0, 1).text()) == pytest.approx(summary["kl_rate"], rel=1e-3)
    save_widget_shot(compare, "compare_real_synthetic")


def test_compare_refuses_mismatched_layers(small_real, qtbot, notes):
    from calcium_forge._napari.gan_widgets import CompareWidget
    from calcium_forge.recording import Recording

    viewer, _ = small_real
    other = Recording(traces=np.zeros((3, 500), np.float32), fs_hz=30.0, meta={"name": "x"})
    napari_api.add_synthetic(viewer, other)
    w = CompareWidget(viewer)
    qtbot.addWidget(w)
    w.run()
    assert not w.running and "6 ROIs" in w.last_error and "3" in w.last_error
    assert any("6 ROIs" in m for _, m in notes)


def test_synthetic_stack_sample_and_movie_widget(make_napari_viewer, qtbot):
    from calcium_forge._napari.movie_widget import SyntheticMovieWidget

    viewer = make_napari_viewer()
    viewer.open_sample("calcium-forge", "synthetic_stack")
    (movie,) = _kind(viewer, "synthetic_movie")
    (rois,) = _kind(viewer, "rois")
    (traces,) = _kind(viewer, "traces")
    assert movie.data.ndim == 3 and movie.data.shape[1:] == rois.data.shape
    rec = traces.metadata["calcium_forge"]["recording"]
    np.testing.assert_allclose(movie.scale, [1 / rec.fs_hz, 1, 1])
    assert rec.spike_times is not None and rois.data.max() == rec.n_rois
    assert len(_kind(viewer, "spike_overlay")) == 1
    shot = viewer.screenshot(canvas_only=True)
    assert shot.std() > 5

    w = SyntheticMovieWidget(viewer)
    qtbot.addWidget(w)
    w.rois_layer.value = rois
    w.traces_layer.value = traces
    w.n_frames.value = 50
    w.run()
    wait_task(qtbot, w)
    assert w.last_error is None, w.last_error
    movies = _kind(viewer, "synthetic_movie")
    assert len(movies) == 2
    new = movies[-1]
    assert new.data.shape == (50, *rois.data.shape)
    # active cells are brighter than the background
    frame = np.asarray(new.data).mean(axis=0)
    assert frame[rois.data > 0].mean() > frame[rois.data == 0].mean()
    save_widget_shot(w, "synthetic_movie")

    # lazy rendering: frames are computed when napari asks for them
    w.lazy.value = True
    w.n_frames.value = 0
    w.run()
    wait_task(qtbot, w)
    assert w.last_error is None, w.last_error
    lazy = _kind(viewer, "synthetic_movie")[-1]
    assert not isinstance(lazy.data, np.ndarray) and lazy.data.shape[0] == rec.n_frames
    viewer.dims.set_current_step(0, 10)
    assert viewer.screenshot(canvas_only=True).std() > 5


def test_train_spike_model_widget(make_napari_viewer, qtbot, ground_truth_dir, tmp_path):
    """Train from layers with ground truth: Cascade .mat layers + synthetic spikes."""
    from calcium_forge._napari.train_spikes_widget import TrainSpikeModelWidget
    from calcium_forge.synthesis.movie import make_synthetic_stack

    viewer = make_napari_viewer()
    folder = min(
        (p for p in ground_truth_dir.iterdir() if p.is_dir()),
        key=lambda p: sum(f.stat().st_size for f in p.glob("*.mat")),
    )
    for mat in sorted(folder.glob("*.mat"))[:2]:
        viewer.open(str(mat), plugin="calcium-forge")
    synth = make_synthetic_stack(shape=(32, 32), n_cells=3, n_frames=900, seed=3).recording
    synth.meta["name"] = "dg"
    napari_api.add_recording(viewer, synth)
    w = TrainSpikeModelWidget(viewer)
    qtbot.addWidget(w)
    w.source.value = "layers with ground truth"
    shipped = "ens2-excitatory" in w.base_model.choices
    if shipped:  # fine-tune the shipped model on the layers
        w.start_from.value = "fine-tune shipped model"
        w.base_model.value = "ens2-excitatory"
    w.iterations.value = 3
    w.batch_size.value = 32
    w.out_dir.value = str(tmp_path / "model")
    w.name.value = "tiny"
    w.run()
    wait_task(qtbot, w, 300_000)
    assert w.last_error is None, w.last_error
    result = w.trained
    assert result.iterations_run == 3
    if shipped:
        assert result.card["training"]["fine_tuned_from"] == "ens2-excitatory"
    assert result.model_path is not None and result.model_path.is_file()
    neurons = set(result.train_neurons) | set(result.val_neurons)
    assert {"dg/roi0", "dg/roi1", "dg/roi2"} <= neurons and len(neurons) >= 5
    assert len(result.val_neurons) == 1  # datasets with >= 3 neurons give one to validation
    labels = [w.table.item(r, 0).text() for r in range(w.table.rowCount())]
    assert "median corr (val)" in labels
    save_widget_shot(w, "train_spike_model")

    # the trained file runs in Infer spikes (ENS² with a model file)
    from calcium_forge._napari.infer_widget import InferSpikesWidget

    infer = InferSpikesWidget(viewer)
    qtbot.addWidget(infer)
    infer.traces_layer.value = viewer.layers["dg dF/F"]
    infer.method.value = "ens2"
    infer.model_file.value = str(result.model_path)
    infer.mode.value = "fast"
    infer.run()
    wait_task(qtbot, infer)
    assert infer.last_error is None, infer.last_error
    rate = viewer.layers["dg rate (ENS²)"]
    assert rate.data.shape == (3, 900) and np.all(rate.data >= 0)
    assert rate.metadata["calcium_forge"]["recording"].model_card["name"] == "tiny"


def test_train_spike_model_without_data_notifies(make_napari_viewer, qtbot, notes):
    from calcium_forge._napari.train_spikes_widget import TrainSpikeModelWidget

    w = TrainSpikeModelWidget(make_napari_viewer())
    qtbot.addWidget(w)
    w.source.value = "layers with ground truth"
    w.run()
    assert not w.running and "no open traces layer has ground-truth" in w.last_error
    assert any("ground-truth" in m for _, m in notes)


def test_cancel_stops_training_and_keeps_checkpoint(small_real, qtbot, tmp_path):
    from calcium_forge._napari.gan_widgets import TrainGANWidget

    viewer, _ = small_real
    n_layers = len(viewer.layers)
    w = TrainGANWidget(viewer)
    qtbot.addWidget(w)
    w.window.value = 64
    w.steps.value = 200  # far more than we let it run
    w.batch_size.value = 4
    w.checkpoint_dir.value = str(tmp_path / "run")
    w.run()
    # checkpoints every 20 steps; wait for the first one, then cancel
    qtbot.waitUntil(lambda: (tmp_path / "run" / "checkpoint.pt").is_file(), timeout=120_000)
    w.cancel()
    wait_task(qtbot, w)
    assert w.status.text() == "cancelled"
    assert w.last_error is None
    assert w.last_progress.step < 200
    assert (tmp_path / "run" / "checkpoint.pt").is_file()
    assert not (tmp_path / "run" / "model.pt").exists()  # training did not finish
    assert w.run_button.enabled and w.params.enabled
    assert len(viewer.layers) == n_layers


def test_sample_shipped_calciumgan(make_napari_viewer, qtbot):
    from calcium_forge._napari.gan_widgets import SampleGANWidget
    from calcium_forge.synthesis.calciumgan import available_models

    if "hippocampus" not in available_models():
        pytest.skip("the shipped CalciumGAN model is not installed")
    viewer = make_napari_viewer()
    w = SampleGANWidget(viewer)
    qtbot.addWidget(w)
    assert "hippocampus" in w.model.choices
    w.model.value = "hippocampus"
    w.mode.value = "frames"
    w.n.value = 600
    w.seed.value = 7
    w.run()
    wait_task(qtbot, w)
    assert w.last_error is None, w.last_error
    (syn,) = _kind(viewer, "synthetic_traces")
    assert syn.name == "calciumgan_hippocampus synthetic dF/F"
    assert syn.data.shape == (20, 600) and np.isfinite(syn.data).all()
    assert not syn.visible and syn.metadata["calcium_forge"]["fs_hz"] == 30.0
    (raster,) = _kind(viewer, "raster")
    assert raster.metadata["calcium_forge"]["events_from"] == "oasis"
