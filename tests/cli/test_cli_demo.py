"""The main job (``calcium-forge demo``) end to end on the bundled sample, quick mode."""

from __future__ import annotations

import numpy as np
import pytest

from calcium_forge import datasets, demo, io
from calcium_forge.cli import main
from calcium_forge.inference.api import DEFAULT_MODELS
from calcium_forge.inference.registry import list_models
from calcium_forge.synthesis import available_models


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    if DEFAULT_MODELS["ens2"] not in list_models() or "hippocampus" not in available_models():
        pytest.skip("shipped ENS² / CalciumGAN models are missing from the package")
    import torch

    out = tmp_path_factory.mktemp("demo")
    before = torch.get_num_threads()
    messages = []
    real_run_demo = demo.run_demo

    def run_demo_recorded(*args, **kwargs):
        return real_run_demo(*args, callback=messages.append, **kwargs)

    with pytest.MonkeyPatch.context() as mp:  # the CLI's run, with its progress recorded
        mp.setattr(demo, "run_demo", run_demo_recorded)
        assert main(["demo", "--out", str(out), "--quick", "--threads", "1"]) == 0
    assert torch.get_num_threads() == before  # --threads applies to the run only
    PROGRESS[:] = messages
    return out


#: The Progress records of the fixture's run.
PROGRESS: list = []


def test_demo_names_every_long_stage_in_its_progress(demo_dir):
    texts = [p.message for p in PROGRESS]
    for stage in [
        "ENS² on 20 ROIs (100 s at 30 Hz)",
        "OASIS on 20 ROIs (100 s at 30 Hz)",
        "ENS² on 8 synthetic cells with known spikes (60 s)",
        "OASIS on 8 synthetic cells with known spikes (60 s)",
        "CalciumGAN samples (9000 frames x 20 neurons)",
        "real vs synthetic evaluation",
        "synthetic movie (150 frames)",
    ]:
        assert any(t.startswith(stage) for t in texts), stage
    # inference reports ROIs done, ending at all of them
    assert "ENS² on 20 ROIs (100 s at 30 Hz) (20/20)" in texts
    assert all(p.total == demo.N_STEPS for p in PROGRESS)
    steps = [p.step for p in PROGRESS]
    assert steps == sorted(steps) and steps[-1] == demo.N_STEPS and texts[-1] == "done"


def test_demo_outputs_stay_small(demo_dir):
    total_mb = sum(p.stat().st_size for p in demo_dir.rglob("*") if p.is_file()) / 1e6
    assert total_mb < 50
    # the full run's movie: MOVIE_FRAMES frames of the cropped, binned ROI map, uint16
    labels = demo.movie_labels(datasets.load_hippocampus().labels)
    movie_mb = demo.MOVIE_FRAMES * labels.size * 2 / 1e6
    assert movie_mb < 25, movie_mb
    assert set(np.unique(labels)) == set(np.unique(datasets.load_hippocampus().labels))


def test_demo_rejects_a_bad_thread_count(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:  # refused by argparse, before any work
        main(["demo", "--out", str(tmp_path / "d"), "--threads", "0"])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "--threads" in err and "'0'" in err and ">= 1" in err
    assert not (tmp_path / "d").exists()  # refused before anything is written


def test_demo_writes_every_output(demo_dir):
    for name in [
        "hippocampus_dff.npz",
        "hippocampus_spikes_ens2.npz",
        "hippocampus_spikes_ens2.csv",
        "hippocampus_spikes_oasis.npz",
        "inference.png",
        "raster_ens2.png",
        "ground_truth_check.png",
        "ground_truth_metrics.json",
        "calciumgan_synthetic.npz",
        "synthesis_report.md",
        "synthetic_movie.tif",
        "summary.md",
    ]:
        path = demo_dir / name
        assert path.is_file() and path.stat().st_size > 0, name
    assert not list(demo_dir.glob("*.tmp*")), "temporary files left behind"


def test_demo_results_are_readable_and_aligned(demo_dir):
    dff = io.read(demo_dir / "hippocampus_dff.npz")
    res = io.read_result(demo_dir / "hippocampus_spikes_ens2.npz")
    assert dff.traces.shape == (20, 3000)
    assert res.rate_hz.shape == dff.traces.shape
    assert res.method == "ens2" and res.model_card["name"] == DEFAULT_MODELS["ens2"]
    assert np.isfinite(res.rate_hz).all() and (res.rate_hz >= 0).all()
    stack = io.read_stack(demo_dir / "synthetic_movie.tif")
    assert stack.data.shape[0] == 150
    assert stack.data.shape[1:] == demo.movie_labels(dff.labels).shape
    assert stack.fs_hz == pytest.approx(30.0)


def test_demo_scores_ground_truth_and_synthesis(demo_dir):
    import json

    metrics = json.loads((demo_dir / "ground_truth_metrics.json").read_text())
    # the synthetic population has clear single-spike transients: both methods
    # must find them (a broken engine, rate alignment or event estimator fails this)
    assert metrics["ens2"]["corr"] > 0.5
    assert metrics["oasis"]["corr"] > 0.5
    assert metrics["ens2"]["er"] < 0.6
    report = (demo_dir / "synthesis_report.md").read_text()
    assert "KL firing rate" in report and "memorisation" in report
    summary = (demo_dir / "summary.md").read_text()
    assert "| ens2 |" in summary and "| oasis |" in summary


def test_demo_explains_the_event_rates_with_its_own_checks(demo_dir):
    """The summary's event check is measured in the run, and its noise check holds."""
    import json

    check = json.loads((demo_dir / "event_check.json").read_text())
    assert check["median_nu"] > 1.0  # the real recording's noise level, % / sqrt(Hz)
    assert check["ens2_events_per_s_in_noise"] <= 0.05  # no events in noise of that level
    assert check["ens2_events_per_s"] > check["ens2_events_per_s_in_noise"]
    for m in ("ens2", "oasis"):
        assert 0.0 <= check[f"{m}_events_per_true_spike"] < 5.0
    summary = (demo_dir / "summary.md").read_text()
    assert "events per true spike" in summary and f"{check['median_nu']:.1f}" in summary
    texts = [p.message for p in PROGRESS]
    assert any(t.startswith("event check at the recording's noise level") for t in texts)
