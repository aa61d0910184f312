"""CLI ``infer``: writes a SpikeInference (ENS² model file, OASIS); errors are one line."""

from __future__ import annotations

import numpy as np
import pytest

from calcium_forge.recording import Recording

pytest.importorskip("torch")
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_cli_infer_writes_result(tmp_path, rng, capsys):
    from calcium_forge.cli import main
    from calcium_forge.inference.networks import ENS2UNet
    from calcium_forge.inference.registry import save_model
    from calcium_forge.io import read_result, write

    rec = Recording(traces=(0.1 * rng.standard_normal((2, 600))).astype(np.float32), fs_hz=30.0)
    src = write(rec, tmp_path / "rec.npz")
    model = save_model(ENS2UNet(), {"method": "ens2"}, tmp_path / "tiny")
    out = tmp_path / "spikes.npz"
    code = main(["infer", str(src), "--out", str(out), "--model", str(model), "--mode", "fast"])
    assert code == 0 and "wrote" in capsys.readouterr().out
    res = read_result(out)
    assert res.rate_hz.shape == (2, 600) and res.method == "ens2" and res.fs_hz == 30.0
    out2 = tmp_path / "oasis.npz"
    assert main(["infer", str(src), "--out", str(out2), "--method", "oasis"]) == 0
    assert read_result(out2).method == "oasis"
    # errors come back as one line and exit code 1
    assert main(["infer", str(src), "--out", str(out2), "--model", "nope"]) == 1
    assert "neither a shipped model" in capsys.readouterr().err
