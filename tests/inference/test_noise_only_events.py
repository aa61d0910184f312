"""The default call does not fire events in noise: ≤ 0.05 events/s at 7.5–60 Hz, ν 2–15.

Noise-only traces are white Gaussian dF/F with the Cascade noise level ν
(std = ν·√fs / 95.39, the std whose median |Δ| gives ν). The default
``infer_spikes(x, fs_hz=fs)`` (shipped default model, its calibrated event
rule and noise floor) must report at most 0.05 events/s in every cell. The
negative controls run such traces without the noise floor, through the
authors' seeded rule and through the pure rule at 60 Hz, ν 15: both must
exceed the bound.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")
pytestmark = pytest.mark.usefixtures("one_torch_thread")

from calcium_forge.inference import infer_spikes  # noqa: E402
from calcium_forge.inference.api import DEFAULT_MODELS  # noqa: E402
from calcium_forge.inference.registry import list_models  # noqa: E402
from calcium_forge.signal import noise_level  # noqa: E402

RATES_HZ = (7.5, 15.0, 30.0, 60.0)
NUS = (2.0, 4.0, 8.0, 15.0)
MAX_EVENTS_PER_S = 0.05
N_TRACES, SECONDS = 6, 100.0


def noise_traces(fs_hz: float, nu: float, seed: int) -> np.ndarray:
    """White-noise dF/F (fraction) whose noise level is ``nu`` (% / √Hz)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N_TRACES, int(SECONDS * fs_hz))) * nu * np.sqrt(fs_hz) / 95.39
    return x.astype(np.float32)


def events_per_s(res) -> float:
    return sum(len(e) for e in res.events) / (N_TRACES * SECONDS)


@pytest.fixture(scope="module")
def default_model():
    name = DEFAULT_MODELS["ens2"]
    if name not in list_models():
        pytest.skip(f"the default model {name} is not installed")
    return name


@pytest.mark.parametrize("fs_hz", RATES_HZ)
def test_default_call_gives_no_events_in_noise(default_model, fs_hz):
    rates = []
    for k, nu in enumerate(NUS):
        x = noise_traces(fs_hz, nu, seed=int(fs_hz * 10) + k)
        assert np.median(noise_level(x, fs_hz)) == pytest.approx(nu, rel=0.05)
        res = infer_spikes(x, fs_hz=fs_hz)
        assert res.meta["model"] == default_model
        rates.append(events_per_s(res))
    assert max(rates) <= MAX_EVENTS_PER_S, dict(zip(NUS, rates, strict=True))


def test_negative_controls_fire_in_noise(default_model):
    """Without the noise floor the bound breaks: the seeded rule at 30 Hz, and even the
    pure MSE rule at 60 Hz, ν 15, where the network draws heavy bumps in noise."""
    seeded = 0.0
    for nu in (8.0, 15.0):
        x = noise_traces(30.0, nu, seed=7)
        res = infer_spikes(x, fs_hz=30.0, seed_mass=0.5, max_noise_events_per_s=None)
        seeded = max(seeded, events_per_s(res))
    assert seeded > MAX_EVENTS_PER_S
    x = noise_traces(60.0, 15.0, seed=8)
    assert events_per_s(infer_spikes(x, fs_hz=60.0, max_noise_events_per_s=None)) > MAX_EVENTS_PER_S
    floored = infer_spikes(x, fs_hz=60.0)
    assert events_per_s(floored) <= MAX_EVENTS_PER_S
    assert min(floored.meta["min_event_mass"]) > 0  # the floor is what keeps them out
