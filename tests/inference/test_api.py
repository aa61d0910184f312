"""infer_spikes: shapes, alignment with the input frames, NaN gaps, bad input."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.usefixtures("one_torch_thread")

from calcium_forge.errors import CalciumForgeError, InvalidInputError, ModelError  # noqa: E402
from calcium_forge.inference import infer_spikes, iter_infer_spikes  # noqa: E402
from calcium_forge.inference.registry import LoadedModel, list_models  # noqa: E402
from calcium_forge.progress import Progress  # noqa: E402
from calcium_forge.recording import Recording  # noqa: E402
from calcium_forge.results import SpikeInference  # noqa: E402


class Relu(torch.nn.Module):
    """'Network' whose output is its input (clipped at 0): makes alignment checkable."""

    def forward(self, x):
        return torch.relu(x)


def identity_model(method="ens2", fs_hz=60.0, window=96):
    card = {"name": f"identity-{method}", "method": method}
    return LoadedModel(network=Relu(), card=card, method=method, fs_hz=fs_hz, window=window)


def bump(n, centre, width=3.0, height=0.5):
    t = np.arange(n)
    return (height * np.exp(-0.5 * ((t - centre) / width) ** 2)).astype(np.float32)


@pytest.mark.parametrize("fs_in", [30.0, 100.0])
@pytest.mark.parametrize("method", ["ens2", "s2s"])
def test_rate_aligned_with_input_frames_and_counts_preserved(fs_in, method):
    fs_m, win = (60.0, 96) if method == "ens2" else (100.0, 100)
    n = int(20 * fs_in)
    x = np.stack([bump(n, 0.3 * n), bump(n, 0.7 * n, height=0.3)])
    res = infer_spikes(x, fs_hz=fs_in, method=method, model=identity_model(method, fs_m, win))
    assert isinstance(res, SpikeInference)
    assert res.rate_hz.shape == x.shape and res.fs_hz == fs_in and res.method == method
    # identity network: the peak stays on the input frame of the peak
    assert np.argmax(res.rate_hz[0]) == int(0.3 * n)
    assert np.argmax(res.rate_hz[1]) == int(0.7 * n)
    # the network outputs x (spikes per model bin); spikes are conserved across rates
    expected_spikes = x.sum(axis=1) * fs_m / fs_in
    np.testing.assert_allclose(res.rate_hz.sum(axis=1) / fs_in, expected_spikes, rtol=0.02)
    assert len(res.events) == 2


def test_nan_stretch_reported_back_as_nan(rng):
    fs = 30.0
    x = (0.05 * rng.standard_normal((2, 900))).astype(np.float32)
    x[0] += bump(900, 200, height=2.0) + bump(900, 450, height=2.0)
    x[0, 400:500] = np.nan  # a gap with a transient inside
    res = infer_spikes(x, fs_hz=fs, model=identity_model())
    assert np.isnan(res.rate_hz[0, 400:500]).all()
    assert np.isfinite(res.rate_hz[0, :400]).all() and np.isfinite(res.rate_hz[0, 500:]).all()
    assert np.isfinite(res.rate_hz[1]).all()
    ev = res.events[0]
    assert ev.size > 0 and not ((ev >= 400 / fs) & (ev < 500 / fs)).any()
    assert np.abs(ev - 200 / fs).min() < 0.05


def test_recording_input_and_progress(rng):
    rec = Recording(traces=np.abs(rng.standard_normal((5, 400))).astype(np.float32), fs_hz=30.0)
    gen = iter_infer_spikes(rec, model=identity_model(), max_memory_mb=0.05)
    steps = []
    try:
        while True:
            steps.append(next(gen))
    except StopIteration as stop:
        res = stop.value
    assert all(isinstance(p, Progress) for p in steps) and len(steps) > 1
    assert steps[-1].step == steps[-1].total == 5
    assert res.recording is rec and res.rate_hz.shape == (5, 400)


def test_raw_recording_is_converted_to_dff(rng):
    F = (100 + 5 * np.abs(rng.standard_normal((2, 3000)))).astype(np.float32)
    rec = Recording(traces=F, fs_hz=30.0, kind="raw", neuropil=np.full_like(F, 10.0))
    res = infer_spikes(rec, model=identity_model(), events=False)
    assert res.rate_hz.shape == (2, 3000) and res.events is None
    # dF/F of F ~ 90 +- 5 is ~0.05, far below the raw values
    assert np.nanmax(res.rate_hz) < 60.0 * 1.0


def test_fast_mode_close_to_exact(rng):
    x = np.abs(rng.standard_normal((1, 600))).astype(np.float32)
    m = identity_model()
    exact = infer_spikes(x, fs_hz=30.0, model=m, events=False, mode="exact")
    fast = infer_spikes(x, fs_hz=30.0, model=m, events=False)  # fast is the default
    assert fast.meta["stride"] == 8 and exact.meta["stride"] == 1
    np.testing.assert_allclose(fast.rate_hz, exact.rate_hz, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"fs_hz": None}, "fs_hz is required"),
        ({"fs_hz": 0.0}, "fs_hz must be a finite frame rate > 0"),
        ({"fs_hz": -5}, "fs_hz must be a finite frame rate > 0"),
        ({"fs_hz": 30.0, "method": "mlspike"}, "method must be one of"),
        ({"fs_hz": 30.0, "mode": "turbo"}, "mode must be one of"),
    ],
)
def test_bad_arguments(kwargs, match, rng):
    x = rng.standard_normal((2, 300))
    with pytest.raises(InvalidInputError, match=match):
        infer_spikes(x, model=identity_model(), **kwargs)


def test_bad_traces(rng):
    m = identity_model()
    x = rng.standard_normal((3, 300))
    x[1] = np.nan
    with pytest.raises(InvalidInputError, match=r"ROI\(s\) \[1\] are entirely NaN"):
        infer_spikes(x, fs_hz=30.0, model=m)
    x = rng.standard_normal((3, 300))
    x[2] = 0.25
    with pytest.raises(InvalidInputError, match="constant"):
        infer_spikes(x, fs_hz=30.0, model=m)
    with pytest.raises(InvalidInputError, match="shorter than one"):
        infer_spikes(rng.standard_normal((1, 40)), fs_hz=30.0, model=m)
    x = rng.standard_normal((1, 300))
    x[0, 3] = np.inf
    with pytest.raises(InvalidInputError, match="infinite"):
        infer_spikes(x, fs_hz=30.0, model=m)
    rate_rec = Recording(traces=np.abs(rng.standard_normal((1, 300))), fs_hz=30.0, kind="rate")
    with pytest.raises(InvalidInputError, match="kind='rate'"):
        infer_spikes(rate_rec, model=m)


def test_bad_models(tmp_path, rng):
    from calcium_forge.inference.networks import ENS2UNet, S2SNet
    from calcium_forge.inference.registry import save_model

    x = rng.standard_normal((1, 600))
    with pytest.raises(ModelError, match="'ens2' model but method='s2s'"):
        infer_spikes(x, fs_hz=30.0, method="s2s", model=identity_model("ens2"))
    # S2S weights under a card that claims ENS2UNet: wrong architecture
    path = save_model(S2SNet(), {"method": "s2s"}, tmp_path / "wrong")
    card = path.with_suffix(".json")
    text = card.read_text().replace('"S2SNet"', '"ENS2UNet"')
    text = text.replace('"method": "s2s"', '"method": "ens2"')
    import json

    d = json.loads(text)
    d["architecture"]["kwargs"] = ENS2UNet().config()
    d["window"] = d["architecture"]["kwargs"]["window"]  # a consistent card, wrong weights
    card.write_text(json.dumps(d))
    with pytest.raises(ModelError, match="do not fit"):
        infer_spikes(x, fs_hz=30.0, model=path)
    # a pickled whole module is refused
    bad = tmp_path / "module.pt"
    torch.save(ENS2UNet(), bad)
    with pytest.raises(CalciumForgeError):
        infer_spikes(x, fs_hz=30.0, model=bad)
    with pytest.raises(CalciumForgeError, match="neither a shipped model"):
        infer_spikes(x, fs_hz=30.0, model="no-such-model")


def test_shipped_model_on_ground_truth(ground_truth_dir):
    """The default ENS² model reaches a useful correlation on a V1 GCaMP6f dataset."""
    if "ens2-excitatory" not in list_models():
        pytest.skip("shipped model ens2-excitatory is not in the package yet")
    from calcium_forge.evaluation.spikes import evaluate_spikes
    from calcium_forge.io import read

    folder = ground_truth_dir / "DS10-GCaMP6f-m-V1-neuropil-corrected"
    mats = sorted(folder.glob("*.mat"))[:3]
    corrs = []
    for mat in mats:
        recs = read(mat)
        recs = recs if isinstance(recs, list) else [recs]
        for rec in recs[:1]:
            rec = rec.select([0])
            n = min(rec.n_frames, int(600 * rec.fs_hz))  # 10 minutes
            sub = Recording(traces=rec.traces[:, :n], fs_hz=rec.fs_hz)
            res = infer_spikes(sub, mode="fast", events=False)
            gt = rec.spike_times[0]
            corrs.append(evaluate_spikes(gt[gt < n / rec.fs_hz], res, eval_fs_hz=60.0).corr)
    assert np.nanmedian(corrs) > 0.7, corrs


def test_event_kernel_follows_model_card():
    from calcium_forge.inference.events import event_kernel as _event_kernel
    from calcium_forge.spiketrains import gaussian_kernel

    s2s = {"target_smoothing": {"kind": "gaussian_window", "width_samples": 11, "sd_samples": 5}}
    k = _event_kernel(s2s, "s2s", 100.0)
    assert k.size == 11 and k.sum() == pytest.approx(1.0) and k[5] == k.max()
    ens2 = {"target_smoothing": {"kind": "gaussian", "sigma_ms": 25.0}}
    np.testing.assert_allclose(_event_kernel(ens2, "ens2", 60.0), gaussian_kernel(1.5))
    np.testing.assert_allclose(_event_kernel({}, "ens2", 60.0), gaussian_kernel(1.5))


def test_seed_rule_comes_from_the_model_card(rng):
    """seed_mass='card' (default) uses the rule the card's events were calibrated with."""
    n = 1200
    rate = np.zeros((1, n), dtype=np.float32)
    rate[0, 300:340] = 0.02  # a broad, low bump carrying 0.8 spikes: only a seed gives it one
    seeded = identity_model()
    seeded.card["events"] = {"gain": 1.0, "seed_mass": 0.5}
    pure = identity_model()
    pure.card["events"] = {"gain": 1.0, "seed_mass": None}
    a = infer_spikes(rate, fs_hz=60.0, model=seeded)
    b = infer_spikes(rate, fs_hz=60.0, model=pure)
    assert a.meta["seed_mass"] == 0.5 and len(a.events[0]) == 1
    assert b.meta["seed_mass"] is None and len(b.events[0]) == 0
    assert identity_model().card.get("events") is None  # no calibration: the authors' 0.5
    assert infer_spikes(rate, fs_hz=60.0, model=identity_model()).meta["seed_mass"] == 0.5
    forced = infer_spikes(rate, fs_hz=60.0, model=pure, seed_mass=0.5)  # the argument wins
    assert forced.meta["seed_mass"] == 0.5 and len(forced.events[0]) == 1
    for bad in ("auto", -1.0, float("nan")):
        with pytest.raises(InvalidInputError, match="seed_mass"):
            infer_spikes(rate, fs_hz=60.0, model=pure, seed_mass=bad)
