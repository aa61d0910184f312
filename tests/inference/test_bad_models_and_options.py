"""Bad model files and inference options (issue #17): named errors, never NaN rates."""

from __future__ import annotations

import json
import re
import resource

import numpy as np
import pytest

from calcium_forge import Recording
from calcium_forge.errors import CalciumForgeError, InvalidInputError, ModelError
from calcium_forge.inference import infer_spikes


def _raises(exc_type, match, func, *args, **kwargs) -> str:
    with pytest.raises(exc_type) as info:
        func(*args, **kwargs)
    assert isinstance(info.value, CalciumForgeError)
    msg = str(info.value)
    assert re.search(match, msg, flags=re.IGNORECASE | re.DOTALL), msg
    return msg


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
    """A small ENS² network saved with its card; returns (pt path, card dict)."""
    import torch

    from calcium_forge.inference.networks import build_network
    from calcium_forge.inference.registry import save_model

    torch.manual_seed(0)
    net = build_network("ENS2UNet", {"channels": [4, 8, 32, 64], "window": 96, "fs_hz": 60.0})
    pt = save_model(net, {"method": "ens2"}, tmp_path_factory.mktemp("model") / "m")
    return pt, json.loads(pt.with_suffix(".json").read_text())


def _variant(tmp_path, saved_model, name, change_card=None, change_state=None):
    import torch

    pt, card = saved_model
    card = json.loads(json.dumps(card))
    if change_card:
        change_card(card)
    state = torch.load(pt, weights_only=True)
    if change_state:
        change_state(state)
    torch.save(state, tmp_path / f"{name}.pt")
    (tmp_path / f"{name}.json").write_text(json.dumps(card))
    return tmp_path / f"{name}.pt"


@pytest.fixture
def dff(rng):
    return Recording(traces=0.1 * rng.standard_normal((2, 600)), fs_hz=30.0)


def test_the_unchanged_model_loads_and_gives_finite_rates(saved_model, dff):
    from calcium_forge.inference.registry import load_model

    model = load_model(saved_model[0])
    res = infer_spikes(dff, model=model, events=False)
    assert np.isfinite(res.rate_hz).all()


def test_nan_weights_are_refused(tmp_path, saved_model):
    from calcium_forge.inference.registry import load_model

    def poison(state):
        next(iter(state.values()))[...] = float("nan")

    path = _variant(tmp_path, saved_model, "nanw", change_state=poison)
    _raises(ModelError, r"nanw\.pt.*NaN or infinite.*retrain", load_model, path)


@pytest.mark.parametrize(
    ("key", "value", "match"),
    [
        ("output_scale", float("nan"), r"output_scale=nan must be a finite number"),
        ("output_offset", "x", r"output_offset='x' must be a finite number"),
        ("fs_hz", 0, r"fs_hz=0 must be a frame rate > 0"),
        ("fs_hz", "60", r"fs_hz='60' must be a finite number"),
        ("window", "abc", r"window='abc' must be a whole number"),
        ("window", 0, r"window=0 must be a whole number of samples in 1"),
        ("window", 9.5, r"window=9.5"),
    ],
)
def test_bad_card_values_are_refused(tmp_path, saved_model, key, value, match):
    from calcium_forge.inference.registry import load_model

    path = _variant(tmp_path, saved_model, "bad", change_card=lambda c: c.update({key: value}))
    _raises(ModelError, r"bad\.pt.*" + match, load_model, path)


def test_huge_channels_are_refused_without_allocating(tmp_path, saved_model):
    from calcium_forge.inference.registry import load_model

    def widen(card):
        card["architecture"]["kwargs"]["channels"] = [300_000] * 4

    path = _variant(tmp_path, saved_model, "wide", change_card=widen)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    _raises(ModelError, r"wide\.pt.*would need .*refused before allocating", load_model, path)
    assert (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024 < 200


def test_channels_of_the_wrong_type_are_refused(tmp_path, saved_model):
    from calcium_forge.inference.registry import load_model

    def text(card):
        card["architecture"]["kwargs"]["channels"] = "abc"

    path = _variant(tmp_path, saved_model, "text", change_card=text)
    _raises(ModelError, r"text\.pt.*unusable architecture", load_model, path)


def test_model_with_oasis_is_refused(dff):
    _raises(
        InvalidInputError, r"model='ens2-x'.*method='oasis'.*Drop model=", infer_spikes, dff,
        method="oasis", model="ens2-x",
    )  # fmt: skip


@pytest.mark.parametrize("fs", [1e6, 1e-6])
def test_oasis_refuses_impossible_frame_rates(rng, fs):
    rec = Recording(traces=rng.standard_normal((2, 300)), fs_hz=fs)
    _raises(
        InvalidInputError,
        r"fs_hz=.* outside 2.1000 Hz.*force_rate",
        infer_spikes,
        rec,
        method="oasis",
    )


@pytest.mark.parametrize("n_frames", [3, 4, 15])
def test_oasis_refuses_traces_too_short(rng, n_frames):
    rec = Recording(traces=rng.standard_normal((2, n_frames)), fs_hz=30.0)
    _raises(
        InvalidInputError,
        rf"{n_frames} frames are too short for OASIS.*16",
        infer_spikes,
        rec,
        method="oasis",
    )


def test_oasis_runs_at_the_minimum_length(rng):
    rec = Recording(traces=0.1 * rng.standard_normal((2, 16)), fs_hz=30.0)
    assert np.isfinite(infer_spikes(rec, method="oasis").rate_hz).all()


def test_misspelt_infer_keyword_names_the_nearest(dff):
    _raises(
        InvalidInputError,
        r"unknown keyword argument 'num_thread'.*'num_threads'",
        infer_spikes,
        dff,
        num_thread=1,
    )
