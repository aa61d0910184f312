"""The training loop: learning, calibration after training, resume, schedules, fine-tuning."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from _training_helpers import synthetic_paired  # noqa: E402

from calcium_forge.errors import InvalidInputError  # noqa: E402
from calcium_forge.inference.engine import predict_trace  # noqa: E402
from calcium_forge.inference.training import default_config, iter_train, train  # noqa: E402
from calcium_forge.inference.training.calibration import DEFAULT_GAINS  # noqa: E402
from calcium_forge.inference.training.config import learning_rate_at  # noqa: E402
from calcium_forge.inference.training.data import load_ground_truth  # noqa: E402
from calcium_forge.progress import drain  # noqa: E402


def test_tiny_ens2_learns_to_invert_a_calcium_kernel():
    torch.set_num_threads(1)
    data = synthetic_paired(n_neurons=6, seconds=120.0, seed=3)
    test = synthetic_paired(n_neurons=1, seconds=60.0, seed=99).traces[0]
    config = default_config(
        "ens2",
        iterations=250,
        batch_size=64,
        val_every=50,
        patience=1000,
        val_fraction=0.0,
        network_kwargs={"channels": [4, 8, 16, 32]},
        checkpoint_every=0,
        seed=0,
    )
    res = train(data, config, score_validation=False)
    pred = predict_trace(res.network, test.dff, "ens2", 96, stride=4)
    r = np.corrcoef(pred, test.target)[0, 1]
    assert r > 0.6, r
    assert res.history["train_loss"][-1] < res.history["train_loss"][0]
    # the event gain was calibrated after training (on training neurons: no validation split)
    ev = res.card["events"]
    assert ev["calibrated_on"] == "training neurons (no validation)"
    assert ev["gain"] in DEFAULT_GAINS and ev["n_neurons"] == 6
    assert ev["mean_error_rate_by_gain"][f"{ev['gain']:g}"] <= ev["mean_error_rate_by_gain"]["1"]


def test_s2s_training_improves_correlation_and_calibrates():
    torch.set_num_threads(1)
    data = synthetic_paired(n_neurons=6, seconds=60.0, fs=100.0, seed=4)
    config = default_config(
        "s2s",
        iterations=60,
        batch_size=8,
        segment_samples=400,
        val_every=20,
        patience=1000,
        checkpoint_every=0,
    )
    res = train(data, config)
    assert res.val_scores["median_corr"] > 0.3
    assert res.card["output_scale"] != 1.0  # least-squares calibration happened
    assert res.card["method"] == "s2s" and res.card["fs_hz"] == 100.0
    assert res.card["events"]["calibrated_on"] == "validation neurons"
    assert "predictions" not in res.val_scores and "predictions" not in res.card["validation"]


def test_resume_gives_the_same_losses_as_an_uninterrupted_run(tmp_path):
    torch.set_num_threads(1)
    data = synthetic_paired(n_neurons=6, seconds=30.0, seed=5)
    kw = dict(
        batch_size=16,
        val_every=5,
        patience=1000,
        checkpoint_every=10,
        report_every=5,
        noise_augment=True,
        network_kwargs={"channels": [2, 4, 8, 8]},
        val_windows=64,
    )
    full = drain(
        iter_train(
            data,
            default_config("ens2", iterations=20, **kw),
            out_dir=tmp_path / "a",
            score_validation=False,
        )
    )
    drain(
        iter_train(
            data,
            default_config("ens2", iterations=10, **kw),
            out_dir=tmp_path / "b",
            score_validation=False,
        )
    )
    resumed = drain(
        iter_train(
            data,
            default_config("ens2", iterations=20, **kw),
            out_dir=tmp_path / "b",
            resume=tmp_path / "b" / "checkpoint.pt",
            score_validation=False,
        )
    )
    assert resumed.history["train_loss"] == full.history["train_loss"]
    assert resumed.history["val_loss"] == full.history["val_loss"]
    assert np.isfinite(full.history["val_loss"]).all()
    for k, v in full.network.state_dict().items():
        torch.testing.assert_close(resumed.network.state_dict()[k], v, rtol=0, atol=0)
    assert (tmp_path / "b" / "ens2-custom.pt").is_file()
    assert resumed.card["training"]["resumed_from_iteration"] == 10
    with pytest.raises(InvalidInputError, match="batch_size"):
        drain(
            iter_train(
                data,
                default_config("ens2", iterations=30, **{**kw, "batch_size": 8}),
                resume=tmp_path / "b" / "checkpoint.pt",
            )
        )


def test_cosine_schedule_runs_the_learning_rate_down_to_zero(tmp_path):
    config = default_config("ens2", iterations=100, learning_rate=1e-3, lr_schedule="cosine")
    assert learning_rate_at(config, 0) == pytest.approx(1e-3)
    assert learning_rate_at(config, 50) == pytest.approx(5e-4)
    assert learning_rate_at(config, 100) == pytest.approx(0.0, abs=1e-12)
    lrs = [learning_rate_at(config, i) for i in range(101)]
    assert np.all(np.diff(lrs) <= 0)
    assert learning_rate_at(default_config("ens2", iterations=100), 99) == 1e-3  # constant
    with pytest.raises(InvalidInputError, match="lr_schedule"):
        default_config("ens2", lr_schedule="step")
    torch.set_num_threads(1)
    res = drain(
        iter_train(
            synthetic_paired(n_neurons=4, seconds=20.0, seed=2),
            default_config(
                "ens2",
                iterations=10,
                batch_size=8,
                val_every=5,
                val_windows=32,
                lr_schedule="cosine",
                network_kwargs={"channels": [2, 4, 8, 8]},
            ),
            out_dir=tmp_path,
            score_validation=False,
        )
    )
    assert res.card["training"]["config"]["lr_schedule"] == "cosine"


def test_fine_tuning_starts_from_the_shipped_weights(ground_truth_dir):
    """init_from: validation loss before training is the shipped model's, not a random net's."""
    from calcium_forge.inference.registry import list_models

    if "ens2-excitatory" not in list_models():
        pytest.skip("the shipped ens2-excitatory model is not installed")
    folder = sorted(ground_truth_dir.glob("DS10-*"))  # GCaMP6f, mouse V1
    if not folder:
        pytest.skip("DS10 not in the shared ground truth")
    torch.set_num_threads(1)
    kw = dict(iterations=1, batch_size=64, val_every=1, val_windows=2048, patience=10)
    config = default_config("ens2", **kw)
    data = load_ground_truth(folder, fs_hz=60.0, sigma_ms=25.0)

    def first_val_loss(**extra):
        res = drain(iter_train(data, config, score_validation=False, **extra))
        return res.history["val_loss"][0], res

    scratch, _ = first_val_loss()
    tuned, res = first_val_loss(init_from="ens2-excitatory")
    assert tuned < 0.7 * scratch
    assert res.card["training"]["fine_tuned_from"] == "ens2-excitatory"
    with pytest.raises(InvalidInputError, match="s2s"):
        drain(iter_train(data, default_config("s2s", iterations=1), init_from="ens2-excitatory"))


def test_without_validation_neurons_early_stopping_watches_the_training_loss():
    # val_fraction=0 (the authors' protocol: every neuron trains): a run whose
    # batch loss stops reaching new lows must stop after `patience` iterations
    torch.set_num_threads(1)
    data = synthetic_paired(n_neurons=4, seconds=60.0, seed=5)
    config = default_config(
        "ens2",
        iterations=3000,
        batch_size=16,
        learning_rate=1e-9,  # no learning: new minima of the batch loss become rare
        patience=40,
        val_fraction=0.0,
        network_kwargs={"channels": [4, 8, 16, 32]},
        checkpoint_every=0,
        report_every=1,
    )
    res = train(data, config, score_validation=False)
    assert res.iterations_run < 3000
    losses = np.asarray(res.history["train_loss"])
    best = int(np.argmin(losses)) + 1
    assert res.iterations_run == best + 40


def test_resuming_a_finished_run_continues_from_its_last_weights_not_its_best(tmp_path):
    """The last checkpoint of a run keeps the last weights: raising the budget is bit-exact."""
    torch.set_num_threads(1)
    data = synthetic_paired(n_neurons=6, seconds=30.0, seed=5)
    kw = dict(
        batch_size=16,
        val_every=5,
        patience=1000,
        checkpoint_every=10,
        report_every=5,
        learning_rate=1e-2,
        network_kwargs={"channels": [4, 8, 16, 32]},
        val_windows=64,
    )
    full = drain(
        iter_train(
            data,
            default_config("ens2", iterations=40, **kw),
            out_dir=tmp_path / "a",
            score_validation=False,
        )
    )
    part = drain(
        iter_train(
            data,
            default_config("ens2", iterations=30, **kw),
            out_dir=tmp_path / "b",
            score_validation=False,
        )
    )
    assert part.best_iteration < part.iterations_run == 30  # the best weights are not the last
    ckpt = torch.load(tmp_path / "b" / "checkpoint.pt", weights_only=True)
    for k, v in part.network.state_dict().items():  # the model is the best weights ...
        torch.testing.assert_close(ckpt["best_state"][k], v, rtol=0, atol=0)
    resumed = drain(
        iter_train(
            data,
            default_config("ens2", iterations=40, **kw),
            out_dir=tmp_path / "b",
            resume=tmp_path / "b" / "checkpoint.pt",
            score_validation=False,
        )
    )
    # ... and the run goes on from the last ones
    assert resumed.history["train_loss"] == full.history["train_loss"]
    assert resumed.history["val_loss"] == full.history["val_loss"]
    for k, v in full.network.state_dict().items():
        torch.testing.assert_close(resumed.network.state_dict()[k], v, rtol=0, atol=0)
