"""CLI: train-gan (+ resume), sample-gan, evaluate-synthetic, synth-movie end to end."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("torch")

from calcium_forge.cli import main
from calcium_forge.io import read, write
from calcium_forge.synthesis.calcium import make_dg_dataset


def test_synthesis_commands_end_to_end(tmp_path, capsys):
    data = write(make_dg_dataset(3, 80.0, 30.0, seed=0), tmp_path / "dg.npz")
    run = tmp_path / "run"
    common = ["--window", "64", "--batch-size", "4", "--no-progress", "--held-out", "0.25"]
    first = ["--steps", "2", "--match-correlations", "0", "--distill-steps", "0", "--top-up", "0"]
    assert main(["train-gan", str(data), "--out", str(run), *first, *common]) == 0
    resume = ["--steps", "3", "--resume", "--match-correlations", "20", "--distill-steps", "30"]
    assert main(["train-gan", str(data), "--out", str(run), *resume, *common]) == 0
    card = json.loads((run / "model.json").read_text())
    assert card["steps"] == 3 and card["config"]["window"] == 64
    # model.pt: distilled into linear up-sampling, with observation noise, correlation-matched;
    # the adversarial one is kept beside it
    assert card["distillation"]["steps"] == 30 and card["config"]["upsample"] == "linear"
    assert card["config"]["observation_noise"] and max(card["observation_noise"]["added_sd"]) > 0
    assert card["correlation_matching"]["steps"] == 20 and card["config"]["neuron_noise"]
    assert set(card["post_training_cpu_seconds"]) == {
        "distillation",
        "observation_noise",
        "correlation_matching",
    }
    assert json.loads((run / "model_adversarial.json").read_text())["config"]["upsample"] == (
        "transposed"
    )
    syn = tmp_path / "syn.npz"
    assert main(["sample-gan", str(run / "model.pt"), "--out", str(syn), "--frames", "700"]) == 0
    rec = read(syn)
    assert rec.traces.shape == (3, 700) and rec.fs_hz == 30.0
    ev = tmp_path / "ev"
    ev_args = ["evaluate-synthetic", str(data), str(syn), "--out", str(ev), "--window", "64"]
    assert main([*ev_args, "--floor", str(data)]) == 0
    report = json.loads((ev / "report.json").read_text())
    summary = report["summary"]
    assert np.isfinite(summary["kl_rate"]) and (ev / "histograms.png").exists()
    assert set(report["floor"]) == set(report["scores"]) and (ev / "cofiring.png").exists()
    movie = tmp_path / "mv" / "m.tif"
    args = ["synth-movie", "--out", str(movie), "--frames", "30", "--size", "40", "40"]
    assert main([*args, "--cells", "3", "--no-progress"]) == 0
    import tifffile

    arr = tifffile.imread(movie)
    labels = tifffile.imread(movie.with_name("m_labels.tif"))
    assert arr.shape == (30, 40, 40) and labels.max() == 3
    truth = read(movie.with_name("m_truth.npz"))
    assert truth.spike_times is not None and truth.labels.shape == (40, 40)
    out = capsys.readouterr().out
    assert "trained 3 generator steps" in out and "KL firing rate" in out


def test_sample_unknown_model_is_one_line_error(tmp_path, capsys):
    assert main(["sample-gan", "no-such-model", "--out", str(tmp_path / "x.npz")]) == 1
    err = capsys.readouterr().err
    assert "no-such-model" in err and "Shipped" in err
