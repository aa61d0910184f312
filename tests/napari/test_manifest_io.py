"""Manifest, readers and writers (run under xvfb: xvfb-run -a python -m pytest tests/napari)."""

from __future__ import annotations

import numpy as np
import pytest

from calcium_forge._napari import readers
from calcium_forge.recording import Recording
from calcium_forge.results import SpikeInference

WIDGETS = [
    "calcium-forge",
    "Traces",
    "Infer spikes",
    "Train spike model",
    "Train CalciumGAN",
    "Sample CalciumGAN",
    "Compare real vs synthetic",
    "Synthetic movie",
    "Run Suite2P",
    "Extract traces",
]


def test_manifest_contributions_resolve():
    import npe2

    pm = npe2.PluginManager.instance()
    pm.discover()
    mf = pm.get_manifest("calcium-forge")
    assert [w.display_name for w in mf.contributions.widgets] == WIDGETS
    assert [s.display_name for s in mf.contributions.sample_data] == [
        "Hippocampus Suite2P recording",
        "Synthetic two-photon stack",
    ]
    assert {ext for w in mf.contributions.writers for ext in w.filename_extensions} == {
        ".npz",
        ".csv",
        ".nwb",
    }
    assert any(r.accepts_directories for r in mf.contributions.readers)
    for cmd in mf.contributions.commands:
        assert callable(_resolve(cmd.python_name)), cmd.id


def _resolve(python_name: str):
    import importlib

    mod, attr = python_name.split(":")
    return getattr(importlib.import_module(mod), attr)


def test_readers_refuse_foreign_paths(tmp_path):
    txt = tmp_path / "notes.txt"
    txt.write_text("hello")
    plain = tmp_path / "plain.npz"
    np.savez(plain, a=np.ones(3))
    import scipy.io

    mat = tmp_path / "other.mat"
    scipy.io.savemat(mat, {"x": np.ones(3)})
    empty_dir = tmp_path / "plane0"
    empty_dir.mkdir()
    for get in (
        readers.get_tiff_reader,
        readers.get_suite2p_reader,
        readers.get_mat_reader,
        readers.get_npz_reader,
        readers.get_nwb_reader,
    ):
        for p in (txt, plain, mat, empty_dir, tmp_path / "missing.tif", [txt, plain], 42):
            got = get(str(p) if not isinstance(p, list | int) else p)
            assert got is None, (get.__name__, p)


def _recording(rng, n_rois=4, n_frames=600, fs_hz=30.0):
    labels = np.zeros((32, 32), dtype=np.int32)
    for i in range(n_rois):
        labels[4 + 6 * i : 8 + 6 * i, 5:10] = i + 1
    return Recording(
        traces=rng.normal(size=(n_rois, n_frames)).astype(np.float32),
        fs_hz=fs_hz,
        labels=labels,
        iscell=np.array([True, True, False, True][:n_rois]),
        spike_times=[np.sort(rng.uniform(0, n_frames / fs_hz, 5)) for _ in range(n_rois)],
        meta={"name": "toy"},
    )


def test_npz_and_csv_writers_round_trip(make_napari_viewer, tmp_path, rng):
    from calcium_forge import napari_api

    viewer = make_napari_viewer()
    rec = _recording(rng)
    layers = napari_api.add_recording(viewer, rec)
    traces = next(ly for ly in layers if ly.metadata["calcium_forge"]["kind"] == "traces")
    viewer.layers.selection = {traces}
    out = viewer.layers.save(str(tmp_path / "toy.npz"), selected=True, plugin="calcium-forge")
    assert out == [str(tmp_path / "toy.npz")]
    n_before = len(viewer.layers)
    viewer.open(str(tmp_path / "toy.npz"), plugin="calcium-forge")
    new = viewer.layers[n_before:]
    back = next(ly for ly in new if ly.metadata["calcium_forge"]["kind"] == "traces")
    np.testing.assert_array_equal(back.data, rec.traces)
    assert back.metadata["calcium_forge"]["fs_hz"] == 30.0
    labels = next(ly for ly in new if ly.metadata["calcium_forge"]["kind"] == "rois")
    np.testing.assert_array_equal(labels.data, rec.labels)
    truth = next(ly for ly in new if ly.metadata["calcium_forge"]["kind"] == "raster")
    assert truth.metadata["calcium_forge"]["ground_truth"] is True

    # a spike inference written from its rate layer comes back with rates and events
    res = SpikeInference(
        rate_hz=np.abs(rec.traces),
        events=[np.array([1.0, 2.0])] * 4,
        method="oasis",
        fs_hz=30.0,
        recording=rec,
    )
    inf_layers = napari_api.add_inference(viewer, res)
    assert [ly.name for ly in inf_layers] == [
        "toy rate (OASIS)",
        "toy spikes (OASIS)",
        "toy spike overlay (OASIS)",
    ]
    viewer.layers.selection = {inf_layers[0]}
    viewer.layers.save(str(tmp_path / "res.npz"), selected=True, plugin="calcium-forge")
    n_before = len(viewer.layers)
    viewer.open(str(tmp_path / "res.npz"), plugin="calcium-forge")
    rate = next(
        ly for ly in viewer.layers[n_before:] if ly.metadata["calcium_forge"]["kind"] == "rate"
    )
    np.testing.assert_allclose(rate.data, res.rate_hz)
    assert rate.name.startswith("toy rate (OASIS)")  # napari adds " [1]" to repeats

    viewer.layers.selection = {traces}
    csv = viewer.layers.save(str(tmp_path / "toy.csv"), selected=True, plugin="calcium-forge")
    assert csv and (tmp_path / "toy.csv").stat().st_size > 0
    from calcium_forge.io import read

    back_csv = read(tmp_path / "toy.csv")
    np.testing.assert_allclose(back_csv.traces, rec.traces, rtol=1e-5, atol=1e-6)


def test_corrupt_file_gives_notification(make_napari_viewer, tmp_path, notes):
    viewer = make_napari_viewer()
    bad = tmp_path / "broken.npz"
    bad.write_bytes(b"PK\x03\x04 this is not a zip archive")
    viewer.open(str(bad), plugin="calcium-forge")
    assert len(viewer.layers) == 0
    assert any("broken.npz" in msg and "ERROR" in sev.upper() for sev, msg in notes), notes


def test_cascade_reader_on_shared_data(make_napari_viewer, ground_truth_dir):
    from calcium_forge.io import read

    path = sorted(ground_truth_dir.glob("DS0*/*.mat"))[0]
    assert readers.get_mat_reader(str(path)) is not None
    viewer = make_napari_viewer()
    viewer.open(str(path), plugin="calcium-forge")
    recs = read(path)
    recs = recs if isinstance(recs, list) else [recs]
    traces = [ly for ly in viewer.layers if ly.metadata["calcium_forge"]["kind"] == "traces"]
    rasters = [ly for ly in viewer.layers if ly.metadata["calcium_forge"]["kind"] == "raster"]
    assert len(traces) == len(recs) and len(rasters) == len(recs)
    for ly, rec in zip(traces, recs, strict=True):
        np.testing.assert_array_equal(ly.data, rec.traces)
        assert ly.metadata["calcium_forge"]["fs_hz"] == rec.fs_hz and not ly.visible
        assert ly.metadata["calcium_forge"]["recording"].spike_times is not None
    n_spikes = sum(len(s) for r in recs for s in r.spike_times)
    assert sum(int(r.features["count"].sum()) for r in rasters) == n_spikes


@pytest.mark.parametrize("n_planes", [1])
def test_suite2p_reader_on_shared_data(make_napari_viewer, suite2p_plane0, n_planes):
    from calcium_forge.io import read
    from calcium_forge.signal import to_dff

    assert readers.get_suite2p_reader(str(suite2p_plane0)) is not None
    viewer = make_napari_viewer()
    viewer.open(str(suite2p_plane0), plugin="calcium-forge")
    kinds = {ly.metadata["calcium_forge"]["kind"]: ly for ly in viewer.layers}
    rois, traces = kinds["rois"], kinds["traces"]
    assert type(rois).__name__ == "Labels" and rois.data.max() == 20
    assert traces.data.shape == (20, 18000)
    fs = traces.metadata["calcium_forge"]["fs_hz"]
    assert not traces.visible
    raw = read(suite2p_plane0, fs_hz=fs)
    np.testing.assert_allclose(traces.data, to_dff(raw).traces, rtol=1e-5, atol=1e-6)
    assert traces.metadata["calcium_forge"]["raw"].neuropil is not None


def test_tiff_reader_is_lazy_with_time_scale(make_napari_viewer, tmp_path, rng):
    import tifffile

    movie = rng.integers(0, 1000, size=(40, 24, 32)).astype(np.uint16)
    path = tmp_path / "movie.tif"
    tifffile.imwrite(path, movie, imagej=True, metadata={"axes": "TYX", "finterval": 1 / 15.0})
    viewer = make_napari_viewer()
    viewer.open(str(path), plugin="calcium-forge")
    (layer,) = viewer.layers
    assert type(layer).__name__ == "Image"
    assert not isinstance(layer.data, np.ndarray)  # lazy (zarr/dask), not loaded
    assert layer.data.shape == (40, 24, 32)
    np.testing.assert_allclose(layer.scale, [1 / 15.0, 1.0, 1.0])
    np.testing.assert_array_equal(np.asarray(layer.data[7]), movie[7])
    info = layer.metadata["calcium_forge"]
    assert info["kind"] == "stack" and info["fs_hz"] == pytest.approx(15.0)
    assert info["recording"].source == str(path)


def test_nwb_writer_and_reader(make_napari_viewer, tmp_path, rng):
    pytest.importorskip("pynwb")
    from calcium_forge import napari_api

    viewer = make_napari_viewer()
    rec = _recording(rng)
    layers = napari_api.add_recording(viewer, rec)
    traces = next(ly for ly in layers if ly.metadata["calcium_forge"]["kind"] == "traces")
    viewer.layers.selection = {traces}
    out = viewer.layers.save(str(tmp_path / "toy.nwb"), selected=True, plugin="calcium-forge")
    assert out == [str(tmp_path / "toy.nwb")]
    n = len(viewer.layers)
    viewer.open(str(tmp_path / "toy.nwb"), plugin="calcium-forge")
    back = next(ly for ly in viewer.layers[n:] if ly.metadata["calcium_forge"]["kind"] == "traces")
    np.testing.assert_allclose(back.data, rec.traces, rtol=1e-6)
    assert back.metadata["calcium_forge"]["fs_hz"] == 30.0


def test_writer_refuses_a_movie_with_a_notification(make_napari_viewer, tmp_path, notes):
    viewer = make_napari_viewer()
    viewer.add_image(np.zeros((5, 8, 8), np.float32), name="movie")
    viewer.layers.selection = {viewer.layers[0]}
    out = viewer.layers.save(str(tmp_path / "x.npz"), selected=True, plugin="calcium-forge")
    assert not out and not (tmp_path / "x.npz").exists()
    assert any("movie" in m and "traces" in m for _, m in notes), notes


def test_tabbed_dock_holds_every_widget_and_fits_1080_lines(make_napari_viewer):
    from calcium_forge._napari.tabs import TABS

    viewer = make_napari_viewer(show=True)
    dock, tabs = viewer.window.add_plugin_dock_widget("calcium-forge", "calcium-forge")
    assert tabs.count() == len(TABS) == len(WIDGETS) - 1  # every widget but the dock itself
    for i in range(tabs.count()):
        tabs.setCurrentIndex(i)
        assert tabs.widget_at(i).parent() is not None
    names = {type(w).__name__ for w in tabs.widgets.values()}
    assert names == {cls for _, _, cls in TABS}
    # the dock asks for less than a 1080-line screen; each tab scrolls instead
    assert tabs.sizeHint().height() <= 800 and tabs.minimumSizeHint().height() <= 800
    assert dock.minimumSizeHint().height() <= 1000 and dock.sizeHint().height() <= 1000
    tall = max(w.sizeHint().height() for w in tabs.widgets.values())
    assert tall > 300  # the tallest form needs its scroll area


def test_every_widget_docks_from_the_plugins_menu(make_napari_viewer):
    viewer = make_napari_viewer()
    for name in WIDGETS:
        dock, widget = viewer.window.add_plugin_dock_widget("calcium-forge", name)
        assert widget.isVisible() or dock is not None
    assert len(viewer.window.dock_widgets) >= len(WIDGETS)


def test_suite2p_parent_folder_opens_every_plane(make_napari_viewer, suite2p_plane0, tmp_path):
    root = tmp_path / "suite2p"
    root.mkdir()
    (root / "plane0").symlink_to(suite2p_plane0, target_is_directory=True)
    assert readers.get_suite2p_reader(str(root)) is not None
    viewer = make_napari_viewer()
    viewer.open(str(root), plugin="calcium-forge")
    traces = [ly for ly in viewer.layers if ly.metadata["calcium_forge"]["kind"] == "traces"]
    assert len(traces) == 1 and traces[0].data.shape == (20, 18000)


def test_tiff_without_frame_rate_asks_for_it(make_napari_viewer, tmp_path, rng, notes):
    import tifffile

    path = tmp_path / "nofs.tif"
    tifffile.imwrite(path, rng.integers(0, 100, size=(10, 8, 8)).astype(np.uint16))
    viewer = make_napari_viewer()
    viewer.open(str(path), plugin="calcium-forge")
    (layer,) = viewer.layers
    assert layer.axis_labels[0] == "frame"  # not seconds: the rate is unknown
    asks = [m for sev, m in notes if sev == "warning" and "frame rate is unknown" in m]
    assert len(asks) == 1 and "nofs.tif" in asks[0] and "frame rate (Hz)" in asks[0]


def test_tiff_with_frame_rate_opens_silently(make_napari_viewer, tmp_path, rng, notes):
    import tifffile

    path = tmp_path / "fs15.tif"
    movie = rng.integers(0, 100, size=(10, 8, 8)).astype(np.uint16)
    tifffile.imwrite(path, movie, imagej=True, metadata={"axes": "TYX", "finterval": 1 / 15.0})
    viewer = make_napari_viewer()
    viewer.open(str(path), plugin="calcium-forge")
    assert viewer.layers[0].axis_labels[0] == "time (s)"
    assert not [m for _, m in notes if "frame rate" in m]


def test_suite2p_folder_with_implausible_rate_asks_for_it(
    make_napari_viewer, suite2p_plane0, tmp_path, notes
):
    plane = tmp_path / "plane0"
    plane.mkdir()
    for f in suite2p_plane0.iterdir():
        if f.name != "ops.npy":
            (plane / f.name).symlink_to(f)
    np.save(plane / "ops.npy", {"fs": 1.0}, allow_pickle=True)  # a rate no 2-photon setup has
    viewer = make_napari_viewer()
    viewer.open(str(plane), plugin="calcium-forge")
    asks = [m for sev, m in notes if sev == "warning" and "1 Hz is implausible" in m]
    assert len(asks) == 1 and "plane0" in asks[0], notes
