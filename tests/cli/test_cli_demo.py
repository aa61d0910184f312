"""The main job (``calcium-forge demo``) end to end on the bundled sample, quick mode."""

from __future__ import annotations

import numpy as np
import pytest

from calcium_forge import io
from calcium_forge.cli import main
from calcium_forge.inference.registry import list_models
from calcium_forge.synthesis import available_models


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    if "ens2-excitatory" not in list_models() or "hippocampus" not in available_models():
        pytest.skip("shipped ENS² / CalciumGAN models are missing from the package")
    import torch

    out = tmp_path_factory.mktemp("demo")
    before = torch.get_num_threads()
    assert main(["demo", "--out", str(out), "--quick", "--mode", "fast", "--threads", "1"]) == 0
    assert torch.get_num_threads() == before  # --threads applies to the run only
    return out


def test_demo_rejects_a_bad_thread_count(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path / "d"), "--threads", "0"]) == 1
    err = capsys.readouterr().err
    assert "num_threads must be >= 1" in err and "0" in err
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
    assert res.method == "ens2" and res.model_card["name"] == "ens2-excitatory"
    assert np.isfinite(res.rate_hz).all() and (res.rate_hz >= 0).all()
    stack = io.read_stack(demo_dir / "synthetic_movie.tif")
    assert stack.data.shape[0] == 150 and stack.data.shape[1:] == dff.labels.shape
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
