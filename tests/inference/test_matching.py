"""Matching recordings to models: frame-rate limits, per-ROI noise level, trained ranges,
conditioned networks at the recording's own rate."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from calcium_forge.errors import InvalidInputError  # noqa: E402
from calcium_forge.inference import infer_spikes  # noqa: E402
from calcium_forge.inference.api import DEFAULT_MODELS  # noqa: E402
from calcium_forge.inference.matching import (  # noqa: E402
    OutsideTrainedRangeWarning,
    model_range,
)
from calcium_forge.inference.networks import ENS2UNet  # noqa: E402
from calcium_forge.inference.registry import LoadedModel  # noqa: E402
from calcium_forge.signal import noise_level  # noqa: E402


def _conditioned_model(rates=(7.5, 60.0), nu_range=(0.5, 15.0)) -> LoadedModel:
    torch.manual_seed(0)
    net = ENS2UNet(fs_hz=30.0, n_conditions=2).eval()
    card = {
        "name": "toy-conditioned",
        "method": "ens2",
        "fs_hz": 30.0,
        "target_smoothing": {"kind": "gaussian", "sigma_ms": 25.0},
        "training": {
            "noise_matching": {"enabled": True, "rates_hz": list(rates), "nu_range": list(nu_range)}
        },
    }
    return LoadedModel(net, card, "ens2", 30.0, 96, name="toy-conditioned")


def _traces(rng, n_rois, n_frames, fs, nus):
    std = np.asarray(nus)[:, None] * np.sqrt(fs) / 95.39
    return rng.normal(0, 1, (n_rois, n_frames)) * std


@pytest.mark.parametrize("fs", [0.5, 1.0, 1999.0, 1e6])
def test_implausible_frame_rates_are_refused_unless_forced(fs):
    x = np.random.default_rng(0).normal(0, 0.05, (2, 400))
    with pytest.raises(InvalidInputError, match="force_rate=True"):
        infer_spikes(x, fs_hz=fs, method="oasis")
    res = infer_spikes(x, fs_hz=fs, method="oasis", force_rate=True)
    assert res.rate_hz.shape == x.shape


def test_each_roi_noise_level_is_recorded(rng):
    x = _traces(rng, 3, 1800, 30.0, [2.0, 4.0, 8.0])
    for method in ("ens2", "oasis"):
        res = infer_spikes(x, fs_hz=30.0, method=method, mode="fast", events=False)
        assert res.meta["noise_level"] == pytest.approx([2.0, 4.0, 8.0], rel=0.1)
        assert res.meta["model"] in (DEFAULT_MODELS["ens2"], "oasis")


def test_conditioned_model_runs_at_the_recordings_own_rate(rng):
    model = _conditioned_model()
    for fs in (7.5, 15.0, 30.0, 60.0):
        x = _traces(rng, 2, int(60 * fs), fs, [3.0, 6.0])
        res = infer_spikes(x, fs_hz=fs, model=model, mode="fast", events=False)
        assert res.meta["fs_model_hz"] == fs  # no round trip through one model rate
        assert res.rate_hz.shape == x.shape


def test_conditioned_model_gives_each_roi_its_own_noise_level(rng, monkeypatch):
    import calcium_forge.inference.api as api

    seen = []
    real = api.bind_trace_condition

    def spy(network, dff, fs_hz):
        seen.append(float(noise_level(np.asarray(dff, np.float64), fs_hz)))
        return real(network, dff, fs_hz)

    monkeypatch.setattr(api, "bind_trace_condition", spy)
    x = _traces(rng, 3, 1800, 30.0, [2.0, 5.0, 10.0])
    infer_spikes(x, fs_hz=30.0, model=_conditioned_model(), mode="fast", events=False)
    assert seen == pytest.approx([2.0, 5.0, 10.0], rel=0.1)


def test_outside_the_trained_range_warns_naming_rois_value_and_range(rng):
    model = _conditioned_model(rates=(7.5, 30.0), nu_range=(1.0, 6.0))
    x = _traces(rng, 4, 3000, 50.0, [2.0, 9.0, 3.0, 12.0])
    with pytest.warns(OutsideTrainedRangeWarning) as record:
        res = infer_spikes(x, fs_hz=50.0, model=model, mode="fast", events=False)
    text = " ".join(str(w.message) for w in record)
    assert "50 Hz is outside the trained 7.5–30 Hz" in text
    assert "ROI(s) 1, 3" in text and "1–6" in text
    assert res.meta["fs_model_hz"] == 30.0
    # inside the range: silent
    with warnings.catch_warnings():
        warnings.simplefilter("error", OutsideTrainedRangeWarning)
        infer_spikes(x[[0, 2], :1800], fs_hz=30.0, model=model, mode="fast", events=False)


def test_model_range_of_the_shipped_cards():
    from calcium_forge.inference.registry import load_model

    plain = model_range(load_model("ens2-excitatory").card)
    assert plain.rates_hz is None and plain.noise_levels is None and not plain.conditioned
    augmented = model_range(load_model("ens2-all-noise-augmented").card)
    assert augmented.noise_levels == (0.0, 15.0)
    assert plain.run_rate(30.0, 60.0) == 60.0  # a classic model runs at its own rate
