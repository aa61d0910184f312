"""examples/scripted_session.py runs headless and saves a non-blank screenshot (slow: trains
two tiny models first because the package may not ship models yet)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_scripted_session_headless(tmp_path, ground_truth_dir):
    from calcium_forge.datasets import hippocampus_dff
    from calcium_forge.inference.training import default_config, train
    from calcium_forge.progress import drain
    from calcium_forge.synthesis.calciumgan import GANConfig
    from calcium_forge.synthesis.train import GANTrainConfig, iter_train_gan

    folder = min(
        (p for p in ground_truth_dir.iterdir() if p.is_dir()),
        key=lambda p: sum(f.stat().st_size for f in p.glob("*.mat")),
    )
    ens2 = train(
        [folder],
        default_config("ens2", iterations=5, batch_size=64),
        out_dir=tmp_path / "ens2",
        name="tiny-ens2",
    ).model_path
    drain(
        iter_train_gan(
            hippocampus_dff(),
            GANConfig(window=64, n_neurons=20),
            GANTrainConfig(steps=2, batch_size=4),
            out_dir=tmp_path / "gan",
        )
    )
    shot = tmp_path / "session.png"
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "examples" / "scripted_session.py"),
            "--screenshot",
            str(shot),
            "--ens2-model",
            str(ens2),
            "--gan-model",
            str(tmp_path / "gan" / "model.pt"),
            "--duration-s",
            "20",
            "--synthetic-s",
            "10",
            "--movie-frames",
            "30",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "screenshot" in proc.stdout
    from PIL import Image

    img = np.asarray(Image.open(shot))
    assert img.shape[0] > 400 and img.std() > 10
