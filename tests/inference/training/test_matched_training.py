"""Noise-matched and conditioned training runs end to end on real ground truth (tiny budgets)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from calcium_forge.errors import InvalidInputError  # noqa: E402
from calcium_forge.inference.engine import predict_trace  # noqa: E402
from calcium_forge.inference.registry import load_model  # noqa: E402
from calcium_forge.inference.training import default_config, iter_train, train  # noqa: E402
from calcium_forge.progress import drain  # noqa: E402


def _files(ground_truth_dir, n=2):
    folders = [d for d in sorted(ground_truth_dir.iterdir()) if d.name[:4] in {"DS10", "DS12"}]
    return [f for d in folders for f in sorted(d.glob("*.mat"))[:n]]


def _config(**kw):
    base = dict(
        iterations=12, batch_size=32, val_every=4, report_every=4, val_windows=64,
        checkpoint_every=6, calibrate_events=False, noise_matched=True, nu_range=(2.0, 8.0),
    )  # fmt: skip
    base.update(kw)
    return default_config("ens2", **base)


def test_conditioned_multi_rate_run_trains_saves_and_reloads(ground_truth_dir, tmp_path):
    config = _config(conditioned=True, train_rates_hz=(15.0, 30.0), fs_hz=30.0)
    res = train(_files(ground_truth_dir), config, out_dir=tmp_path, name="cond")
    assert res.iterations_run == 12 and np.isfinite(res.history["val_loss"]).all()
    card = res.card
    assert card["architecture"]["kwargs"]["n_conditions"] == 2
    assert card["training"]["noise_matching"]["rates_hz"] == [15.0, 30.0]
    loaded = load_model(res.model_path)
    assert loaded.network.n_conditions == 2
    x = np.random.default_rng(0).normal(0, 0.05, 600).astype(np.float32)
    with pytest.raises(InvalidInputError, match="fs_hz"):
        predict_trace(loaded.network, x, "ens2", 96)
    out = predict_trace(loaded.network, x, "ens2", 96, fs_hz=30.0)
    assert out.shape == x.shape and np.isfinite(out).all()


def test_matched_run_resumes_bit_for_bit(ground_truth_dir, tmp_path):
    files = _files(ground_truth_dir, n=1)
    config = _config(conditioned=True)
    full = train(files, config, out_dir=tmp_path / "full")
    gen = iter_train(files, config, out_dir=tmp_path / "half")
    for p in gen:
        if p.step >= 6:
            break
    gen.close()
    resumed = drain(iter_train(files, config, resume=tmp_path / "half" / "checkpoint.pt"))
    for k, v in full.network.state_dict().items():
        torch.testing.assert_close(resumed.network.state_dict()[k], v, rtol=0, atol=0)


def test_inconsistent_matching_settings_are_refused():
    with pytest.raises(InvalidInputError, match="noise_matched"):
        default_config("ens2", conditioned=True)
    with pytest.raises(InvalidInputError, match="conditioned=True"):
        default_config("ens2", noise_matched=True, train_rates_hz=(15.0, 30.0))
    with pytest.raises(InvalidInputError, match="not both"):
        default_config("ens2", noise_matched=True, noise_augment=True)
    with pytest.raises(InvalidInputError, match="ENS"):
        default_config("s2s", noise_matched=True, conditioned=True)
