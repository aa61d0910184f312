"""The Cascade baseline: network, ensemble, whole-trace form, training, saving and inference."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from numpy.lib.stride_tricks import sliding_window_view  # noqa: E402

from calcium_forge.errors import InvalidInputError, ModelError  # noqa: E402
from calcium_forge.inference import infer_spikes  # noqa: E402
from calcium_forge.inference.cascade import (  # noqa: E402
    CascadeEnsemble,
    CascadeNet,
    CascadeOverTraces,
)
from calcium_forge.inference.engine import predict_trace, sequence_rates  # noqa: E402
from calcium_forge.inference.events import event_kernel  # noqa: E402
from calcium_forge.inference.networks import (  # noqa: E402
    ENS2UNet,
    build_network,
    count_parameters,
)
from calcium_forge.inference.registry import load_model, save_model  # noqa: E402
from calcium_forge.inference.training import default_config, iter_train, train  # noqa: E402
from calcium_forge.inference.training.loop import SpikeTrainer  # noqa: E402
from calcium_forge.inference.training.scoring import score_traces  # noqa: E402
from calcium_forge.progress import drain  # noqa: E402
from calcium_forge.spiketrains import gaussian_kernel_ms  # noqa: E402


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _windows(x: np.ndarray, window: int = 64) -> np.ndarray:
    """The centred zero-padded window of every frame of each row: (rows * n, window)."""
    c = window // 2
    xp = np.pad(x, ((0, 0), (c, window - 1 - c)))
    return sliding_window_view(xp, window, axis=1).reshape(-1, window)


# --------------------------------------------------------------------------- network


def test_parameter_counts_and_shapes():
    net = CascadeNet()
    assert count_parameters(net) == 34_381
    ens = CascadeEnsemble()
    assert ens.n_members == 5 and count_parameters(ens) == 5 * 34_381
    x = torch.randn(7, 64)
    assert net(x).shape == (7,) and net(x[:, None]).shape == (7,)
    ens.eval()
    assert ens(x).shape == (7,)
    ens.train()
    assert ens(x).shape == (5, 7)  # every member's own output while training
    with pytest.raises(ValueError, match="64"):
        net(torch.randn(3, 96))
    with pytest.raises(ValueError, match="too short"):
        CascadeNet(window=40)
    rebuilt = build_network("CascadeEnsemble", ens.config())
    assert rebuilt.config() == ens.config() and rebuilt.config()["n_members"] == 5


def test_ensemble_is_the_mean_of_members_seeded_apart():
    torch.manual_seed(3)
    ens = CascadeEnsemble().eval()
    w = [m.conv1.weight for m in ens.members]
    assert all(not torch.equal(w[0], wi) for wi in w[1:])  # each member its own init
    x = torch.randn(11, 64)
    with torch.no_grad():
        members = torch.stack([m(x) for m in ens.members])
        torch.testing.assert_close(ens(x), members.mean(0), rtol=0, atol=0)
    torch.manual_seed(3)
    again = CascadeEnsemble()
    for k, v in ens.state_dict().items():
        assert torch.equal(again.state_dict()[k], v)  # seeding torch fixes every member
    a, b = CascadeEnsemble(seed=7), CascadeEnsemble(seed=7)
    assert torch.equal(a.members[4].out.weight, b.members[4].out.weight)


def test_trace_form_equals_the_centred_window_of_every_frame():
    torch.manual_seed(0)
    ens = CascadeEnsemble(n_members=3).eval()
    x = (0.3 * np.random.default_rng(0).standard_normal((2, 257))).astype(np.float32)
    with torch.no_grad():
        ref = ens(torch.from_numpy(_windows(x))).reshape(2, -1).numpy()
        fast = CascadeOverTraces(ens)(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(fast, ref, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(predict_trace(ens, x[0], "cascade", 64), ref[0], atol=1e-6)
    # in chunks with one window of context on each side: the same as one pass
    chunked = sequence_rates(CascadeOverTraces(ens), x, context=64, chunk_samples=50)
    np.testing.assert_allclose(chunked, fast, rtol=1e-5, atol=1e-6)


def test_each_frame_sees_32_frames_before_and_31_after():
    torch.manual_seed(1)
    over = CascadeOverTraces(CascadeEnsemble(n_members=1)).eval()
    x = torch.zeros(1, 300)
    bumped = x.clone()
    bumped[0, 150] = 1.0
    with torch.no_grad():
        changed = np.flatnonzero((over(bumped) - over(x)).abs().numpy()[0] > 0)
    # frame t is predicted from frames t-32 .. t+31: frame 150 reaches t = 119 .. 182,
    # on both sides about as far (a centred window, not a causal or shifted one)
    assert changed.min() >= 150 - 31 and changed.max() <= 150 + 32
    assert changed.min() <= 150 - 25 and changed.max() >= 150 + 25


# --------------------------------------------------------------------------- config


def test_cascade_config_defaults_and_refusals():
    c = default_config("cascade")
    assert (c.window, c.loss, c.fs_hz, c.noise_matched, c.optimizer) == (
        64,
        "mse",
        30.0,
        True,
        "adam",
    )
    assert c.sigma_ms == pytest.approx(50.0)  # 1.5 frames at 30 Hz
    assert default_config("cascade", fs_hz=7.5).sigma_ms == pytest.approx(200.0)
    assert default_config("cascade", sigma_ms=80.0).sigma_ms == 80.0
    orig = default_config("cascade", optimizer="adagrad", learning_rate=0.05)
    assert orig.optimizer == "adagrad"
    with pytest.raises(InvalidInputError, match="noise_matched"):
        default_config("cascade", noise_matched=False)
    with pytest.raises(InvalidInputError, match="ENS"):
        default_config("cascade", conditioned=True)
    with pytest.raises(InvalidInputError, match="optimizer"):
        default_config("cascade", optimizer="sgd")
    assert default_config("ens2").optimizer == "adam"  # ENS² and S2S unchanged


def test_cards_must_pair_the_method_with_its_network(tmp_path):
    with pytest.raises(ModelError, match=r"'ens2' runs ENS2UNet.*is CascadeEnsemble"):
        save_model(CascadeEnsemble(n_members=1), {"method": "ens2"}, tmp_path / "x")
    with pytest.raises(ModelError, match="CascadeEnsemble or CascadeNet"):
        save_model(ENS2UNet(), {"method": "cascade"}, tmp_path / "z")
    with pytest.raises(ModelError, match="method must be one of"):
        save_model(CascadeEnsemble(n_members=1), {"method": "mlspike"}, tmp_path / "y")


# --------------------------------------------------------------------------- training


def _files(ground_truth_dir, n=3):
    folder = next(d for d in sorted(ground_truth_dir.iterdir()) if d.name.startswith("DS10"))
    return sorted(folder.glob("*.mat"))[:n]


def _config(**kw):
    base = dict(
        iterations=120, batch_size=128, val_every=30, report_every=30, val_windows=1024,
        checkpoint_every=30, calibrate_events=False, nu_range=(2.0, 8.0), patience=None,
    )  # fmt: skip
    base.update(kw)
    return default_config("cascade", **base)


def fresh_state(config) -> dict:
    """The untrained weights a run with ``config`` starts from."""
    from calcium_forge.inference.training.cascade import initial_cascade_network

    return initial_cascade_network(config).state_dict()


@pytest.fixture(scope="module")
def trained(ground_truth_dir, tmp_path_factory):
    """A tiny Cascade run on 3 real DS10 neurons at 30 Hz (2 train, 1 validation)."""
    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("cascade-run")
    config = _config(calibrate_events=True)
    untrained = SpikeTrainer(_files(ground_truth_dir), config)
    res = train(_files(ground_truth_dir), config, out_dir=out, name="cascade-tiny")
    return untrained, res


def test_tiny_run_learns_and_beats_an_untrained_ensemble(trained):
    untrained, res = trained
    assert res.iterations_run == 120 and len(res.val_neurons) == 1
    val = res.history["val_loss"]
    assert np.isfinite(val).all() and min(val[1:]) < val[0]
    # negative control: the same validation windows through the untrained ensemble
    fresh = untrained.network
    before = untrained.validate()
    untrained.network.load_state_dict(res.network.state_dict())
    after = untrained.validate()
    untrained.network.load_state_dict(fresh_state(untrained.config))
    assert untrained.validate() == pytest.approx(before)
    assert after < 0.8 * before
    val_traces, config = untrained.split.val.traces, untrained.config
    r_trained = score_traces(res.network, val_traces, config, 1.0, 0.0)["median_corr"]
    r_fresh = score_traces(fresh.eval(), val_traces, config, 1.0, 0.0)["median_corr"]
    assert r_trained > r_fresh + 0.1
    card = res.card
    assert card["method"] == "cascade" and card["architecture"]["class"] == "CascadeEnsemble"
    assert card["n_parameters"] == 5 * 34_381 and card["window"] == 64
    assert card["target_smoothing"]["sigma_ms"] == pytest.approx(50.0)
    assert card["training"]["noise_matching"]["enabled"] is True
    assert card["training"]["optimizer"] == "adam"
    assert card["events"]["gain"] > 0  # event gain calibrated on the validation neuron


def test_save_load_infer_round_trip(trained):
    _, res = trained
    loaded = load_model(res.model_path)
    assert loaded.method == "cascade" and isinstance(loaded.network, CascadeEnsemble)
    x = (0.2 * np.random.default_rng(0).standard_normal((3, 900))).astype(np.float32)
    x[:, 300:303] += np.array([0.8, 0.6, 0.45], dtype=np.float32)  # a calcium transient
    ref = np.maximum(np.stack([predict_trace(res.network, row, "cascade", 64) for row in x]), 0.0)
    out = infer_spikes(x, fs_hz=30.0, method="cascade", model=res.model_path, num_threads=1)
    assert out.rate_hz.shape == x.shape and out.method == "cascade"
    np.testing.assert_allclose(out.rate_hz, ref * 30.0, rtol=1e-4, atol=1e-4)
    assert out.meta["fs_model_hz"] == 30.0 and len(out.events) == 3
    kernel = event_kernel(loaded.card, "cascade", 30.0)
    np.testing.assert_allclose(kernel, gaussian_kernel_ms(50.0, 30.0))
    # another frame rate: resampled to the model's 30 Hz and back
    slow = infer_spikes(x[:, ::2], fs_hz=15.0, method="cascade", model=loaded, events=False)
    assert slow.rate_hz.shape == (3, 450) and slow.meta["fs_model_hz"] == 30.0
    with pytest.raises(ModelError, match="no shipped model"):
        infer_spikes(x, fs_hz=30.0, method="cascade")
    with pytest.raises(ModelError, match="'cascade' model but method='ens2'"):
        infer_spikes(x, fs_hz=30.0, method="ens2", model=loaded)
    card = json.loads(res.model_path.with_suffix(".json").read_text())
    assert card["architecture"]["kwargs"]["n_members"] == 5


def test_resume_is_bit_exact(ground_truth_dir, tmp_path):
    files = _files(ground_truth_dir)
    config = _config(iterations=12, batch_size=32, val_every=4, report_every=4, val_windows=128,
                     checkpoint_every=6, optimizer="adagrad", learning_rate=0.05)  # fmt: skip
    full = train(files, config, out_dir=tmp_path / "full", score_validation=False)
    gen = iter_train(files, config, out_dir=tmp_path / "half", score_validation=False)
    for p in gen:
        if p.step >= 6:
            break
    gen.close()
    ck = tmp_path / "half" / "checkpoint.pt"
    resumed = drain(iter_train(files, config, resume=ck, score_validation=False))
    assert resumed.iterations_run == 12
    for k, v in full.network.state_dict().items():
        torch.testing.assert_close(resumed.network.state_dict()[k], v, rtol=0, atol=0)
    assert resumed.history["val_loss"] == full.history["val_loss"]
    other = _config(iterations=12, batch_size=32, val_every=4, report_every=4, val_windows=128,
                    checkpoint_every=6)  # fmt: skip
    with pytest.raises(InvalidInputError, match="optimizer"):
        SpikeTrainer(files, other, resume=ck)
