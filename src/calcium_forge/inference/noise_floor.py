"""How heavy a rate bump must be to count as an event at a ROI's noise level.

A network fed pure noise still draws bumps of rate, and the greedy estimator
(:mod:`.events`) turns the larger ones into spike events: at a high noise
level ν and a high frame rate a few per minute. The noise floor measures this
directly, per ROI noise level: white noise of that ν (the Cascade definition,
std = ν·√fs / 95.39 in dF/F) is run through the same model, rate
conversion, gain and event rule as the recording, and the fragments (runs of
rate above ε) that received events are ranked by the spikes they carry. The
floor is the smallest mass that keeps the events found in this noise at or
below ``max_events_per_s``; fragments of the recording lighter than the floor
receive no events (:func:`.events.greedy_spike_counts`'s
``min_fragment_mass``). Where noise alone gives fewer events than that, the
floor is 0 and nothing changes.

Noise levels are grouped in quarter-octave bins (one noise run per bin), with
fixed seeds, so the floor is the same for every run of a recording.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..errors import InvalidInputError
from .events import find_fragments, fragment_masses, greedy_spike_counts

__all__ = ["DEFAULT_MAX_NOISE_EVENTS_PER_S", "NoiseFloor", "noise_floors", "white_noise_dff"]

#: Events per second a noise-only trace may keep (the floor is set for this).
DEFAULT_MAX_NOISE_EVENTS_PER_S = 0.01
#: Seconds of noise per noise-level bin, split into this many traces.
NOISE_SECONDS = 960.0
NOISE_TRACES = 4
#: Noise-level bins per octave.
BINS_PER_OCTAVE = 4


def white_noise_dff(fs_hz: float, nu: float, n_traces: int, seconds: float, seed: int):
    """White-noise dF/F (fraction) of noise level ``nu`` (% / √Hz), float32 (n_traces, n).

    Parameters
    ----------
    fs_hz : float
        Frame rate, Hz.
    nu : float
        Noise level ν, % / √Hz.
    n_traces : int
        Number of traces.
    seconds : float
        Length of each, s.
    seed : int
        Random seed.

    Returns
    -------
    numpy.ndarray
    """
    rng = np.random.default_rng(seed)
    n = max(round(seconds * fs_hz), 2)
    return (rng.standard_normal((n_traces, n)) * nu * np.sqrt(fs_hz) / 95.39).astype(np.float32)


@dataclass
class NoiseFloor:
    """Per-ROI event floors.

    Attributes
    ----------
    min_mass : numpy.ndarray
        float64 (n_rois,): spikes a fragment must carry to receive events (0 = no floor).
    noise_events_per_s : dict
        Noise-level bin (% / √Hz) → events/s the rule gives in noise without the floor.
    """

    min_mass: np.ndarray
    noise_events_per_s: dict


def _floor_for(counts: np.ndarray, per_bin: np.ndarray, epsilon: float, allowed: int) -> float:
    """Smallest fragment mass that leaves at most ``allowed`` events in the noise run."""
    rows, starts, stops = find_fragments(per_bin, epsilon, None)
    if rows.size == 0:
        return 0.0
    n_events = np.add.reduceat(
        counts[np.repeat(rows, stops - starts), _ranges(starts, stops)],
        np.concatenate([[0], np.cumsum(stops - starts)[:-1]]),
    )
    has = n_events > 0
    if n_events.sum() <= allowed:
        return 0.0
    mass, n_ev = fragment_masses(per_bin, rows, starts, stops)[has], n_events[has]
    order = np.argsort(-mass)
    kept = np.cumsum(n_ev[order]) <= allowed  # the heaviest fragments within the budget
    k = int(kept.sum())  # the first fragment over the budget sets the floor
    return float(np.nextafter(mass[order][k], np.inf))


def _ranges(starts: np.ndarray, stops: np.ndarray) -> np.ndarray:
    lengths = stops - starts
    seg = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    return np.repeat(starts, lengths) + np.arange(int(lengths.sum())) - np.repeat(seg, lengths)


def noise_floors(
    noise_levels: np.ndarray,
    fs_hz: float,
    rate_per_bin: Callable[[np.ndarray], np.ndarray],
    kernel: np.ndarray,
    *,
    gain: float = 1.0,
    epsilon: float = 0.01,
    seed_mass: float | None = None,
    max_events_per_s: float = DEFAULT_MAX_NOISE_EVENTS_PER_S,
) -> NoiseFloor:
    """The event floor of every ROI from noise runs at its noise level.

    Parameters
    ----------
    noise_levels : numpy.ndarray
        (n_rois,) ν of each ROI, % / √Hz (NaN: no floor).
    fs_hz : float
        Rate the model runs at, Hz (the noise is made at this rate).
    rate_per_bin : callable
        Maps (n_traces, n_samples) dF/F at ``fs_hz`` to the model's rate in
        spikes per bin (the same network, conditioning and conversion as the
        recording's).
    kernel : numpy.ndarray
        The event estimator's kernel.
    gain, epsilon, seed_mass
        The event rule's gain, fragment threshold and seed (as for the recording).
    max_events_per_s : float
        Events per second allowed in noise (> 0).

    Returns
    -------
    NoiseFloor
    """
    if not np.isfinite(max_events_per_s) or max_events_per_s <= 0:
        raise InvalidInputError(
            f"max_noise_events_per_s must be a positive number of events per second or None; "
            f"got {max_events_per_s!r}."
        )
    nus = np.asarray(noise_levels, dtype=np.float64)
    ok = np.isfinite(nus) & (nus > 0)
    bins = np.full(nus.shape, np.nan)
    bins[ok] = 2.0 ** (np.round(np.log2(nus[ok]) * BINS_PER_OCTAVE) / BINS_PER_OCTAVE)
    min_mass = np.zeros(nus.shape)
    found: dict[float, float] = {}
    allowed = int(np.floor(max_events_per_s * NOISE_SECONDS))
    for b in np.unique(bins[ok]):
        seed = round(float(b) * 1000) + round(fs_hz * 10) * 100_000
        x = white_noise_dff(fs_hz, float(b), NOISE_TRACES, NOISE_SECONDS / NOISE_TRACES, seed)
        per_bin = np.nan_to_num(np.asarray(rate_per_bin(x), dtype=np.float64), nan=0.0) * gain
        counts = greedy_spike_counts(per_bin, kernel, epsilon=epsilon, seed_mass=seed_mass).counts
        found[round(float(b), 3)] = float(counts.sum() / NOISE_SECONDS)
        min_mass[bins == b] = _floor_for(counts, per_bin, epsilon, allowed)
    return NoiseFloor(min_mass=min_mass, noise_events_per_s=found)
