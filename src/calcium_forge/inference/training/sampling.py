"""What the training loop draws from paired data: the neuron split, windows and added noise.

* :func:`split_by_neuron` holds out whole neurons of every dataset for
  validation (never stretches of time).
* :class:`WindowSampler` draws random stride-1 windows from paired traces
  without materialising them: it keeps the concatenated traces and maps window
  numbers to start samples; windows that touch a NaN stretch are excluded.
* :func:`split_for_training` puts these together for one run
  (:class:`TrainingSplit`: both sides, the training sampler and a fixed
  validation sample).
* :func:`added_noise_std` converts a noise level ν (Cascade units) into the
  standard deviation of white noise to add (noise augmentation).

The paired traces themselves come from :mod:`.data`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ...errors import InvalidInputError
from .config import SpikeTrainConfig
from .data import PairedData, PairedTrace

__all__ = [
    "MAD_TO_STD",
    "TrainingSplit",
    "WindowSampler",
    "added_noise_std",
    "split_by_neuron",
    "split_for_training",
]

#: median(|Z1 - Z2|) for independent standard normals Z1, Z2 = √2 · Φ⁻¹(3/4).
MAD_TO_STD: float = float(np.sqrt(2.0) * 0.6744897501960817)


def added_noise_std(nu_target, nu_present, fs_hz: float):
    """Std (dF/F per sample) of white noise raising ν from ``nu_present`` to ``nu_target``.

    For white Gaussian noise of std σ sampled at ``fs_hz``, |Δ| is half-normal with
    scale √2·σ, so median(|Δ|) = √2·Φ⁻¹(3/4)·σ and ν = √2·Φ⁻¹(3/4)·σ/√fs·100, i.e.
    σ = ν·√fs / (100·√2·Φ⁻¹(3/4)) ≈ ν·√fs / 95.39. Independent noises add in
    variance, so the noise to add has ν_add = √(ν_target² − ν_present²) (0 when
    the trace is already noisier than the target, as in ENS²).

    Parameters
    ----------
    nu_target, nu_present : float or numpy.ndarray
        Noise levels in Cascade units (% / √Hz).
    fs_hz : float
        Sampling rate of the trace the noise is added to (Hz).

    Returns
    -------
    float or numpy.ndarray
        Standard deviation per sample in dF/F (fraction).
    """
    nu_add = np.sqrt(np.maximum(np.square(nu_target) - np.square(nu_present), 0.0))
    return nu_add * np.sqrt(fs_hz) / (100.0 * MAD_TO_STD)


def split_by_neuron(
    data: PairedData, val_fraction: float = 0.2, seed: int = 0
) -> tuple[list[str], list[str]]:
    """Split neurons into training and validation sets within every dataset.

    Each dataset with at least 3 neurons gives ``max(1, round(val_fraction·n))``
    of its neurons (chosen with ``seed``) to validation; smaller datasets stay
    entirely in training.

    Parameters
    ----------
    data : PairedData
        Paired traces.
    val_fraction : float
        Share of each dataset's neurons held out, in [0, 1) (0: none).
    seed : int
        Seed of the choice.

    Returns
    -------
    (list of str, list of str)
        Training and validation neuron ids, sorted.
    """
    if not 0 <= val_fraction < 1:
        raise InvalidInputError(f"val_fraction must be in [0, 1), got {val_fraction}")
    rng = np.random.default_rng(seed)
    train, val = [], []
    for ds in data.datasets:
        neurons = sorted({t.neuron for t in data.traces if t.dataset == ds})
        n_val = max(1, round(val_fraction * len(neurons))) if len(neurons) >= 3 else 0
        if val_fraction == 0:
            n_val = 0
        order = rng.permutation(len(neurons))
        val += [neurons[i] for i in order[:n_val]]
        train += [neurons[i] for i in order[n_val:]]
    return sorted(train), sorted(val)


class WindowSampler:
    """Draw random stride-1 windows (dF/F, target) from paired traces without materialising them.

    Parameters
    ----------
    traces : list of PairedTrace
        Traces at one model rate.
    window : int
        Window length in samples.

    Notes
    -----
    Every window lies inside one trace and contains no NaN; all such windows
    are equally likely.
    """

    def __init__(self, traces: Sequence[PairedTrace], window: int) -> None:
        if window < 1:
            raise InvalidInputError(f"window must be >= 1, got {window}")
        self.window = int(window)
        xs, ys, seg_start, seg_count, seg_nu = [], [], [], [], []
        offset = 0
        for t in traces:
            finite = np.isfinite(t.dff)
            d = np.diff(np.concatenate([[0], finite.astype(np.int8), [0]]))
            for a, b in zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1), strict=True):
                if b - a >= window:
                    seg_start.append(offset + a)
                    seg_count.append(b - a - window + 1)
                    seg_nu.append(t.noise_level)
            xs.append(np.nan_to_num(t.dff, nan=0.0))
            ys.append(t.target)
            offset += t.dff.size
        if not seg_count:
            raise InvalidInputError(
                f"no NaN-free stretch of at least {window} samples in {len(traces)} trace(s)"
            )
        self.x = np.concatenate(xs).astype(np.float32)
        self.y = np.concatenate(ys).astype(np.float32)
        self.seg_start = np.asarray(seg_start, dtype=np.int64)
        self.seg_nu = np.asarray(seg_nu, dtype=np.float64)
        self.cum = np.cumsum(np.asarray(seg_count, dtype=np.int64))
        self.n_windows = int(self.cum[-1])
        self._offsets = np.arange(self.window, dtype=np.int64)

    def starts(self, index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Map window numbers to their start samples and segments.

        Parameters
        ----------
        index : numpy.ndarray
            int64 window numbers in ``[0, n_windows)``.

        Returns
        -------
        (numpy.ndarray, numpy.ndarray)
            Start sample in the concatenated traces and index of the NaN-free
            segment of each window.
        """
        seg = np.searchsorted(self.cum, index, side="right")
        before = np.where(seg > 0, self.cum[seg - 1], 0)
        return self.seg_start[seg] + (index - before), seg

    def sample(
        self, batch_size: int, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Draw ``batch_size`` windows uniformly.

        Parameters
        ----------
        batch_size : int
            Windows to draw.
        rng : numpy.random.Generator
            Source of the window numbers.

        Returns
        -------
        (numpy.ndarray, numpy.ndarray, numpy.ndarray)
            dF/F windows (B, window) float32 (fraction), targets (B, window)
            float32 (spikes per bin) and the native noise level ν of each window's
            recording (B,) (Cascade units, % / √Hz).
        """
        idx = rng.integers(0, self.n_windows, size=batch_size)
        return self.windows(idx)

    def windows(self, index: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Windows by number.

        Parameters
        ----------
        index : numpy.ndarray
            Window numbers in ``[0, n_windows)``.

        Returns
        -------
        (numpy.ndarray, numpy.ndarray, numpy.ndarray)
            As in :meth:`sample`.
        """
        start, seg = self.starts(np.asarray(index, dtype=np.int64))
        take = start[:, None] + self._offsets
        return self.x[take], self.y[take], self.seg_nu[seg]


@dataclass
class TrainingSplit:
    """The two sides of a run's paired data and what the training loop draws from them.

    Attributes
    ----------
    data : PairedData
        All paired traces of the run.
    train, val : PairedData
        Traces of the training and validation neurons.
    train_neurons, val_neurons : list of str
        Neuron ids of each side (:func:`split_by_neuron`).
    sampler : WindowSampler
        Draws training windows (ENS², Cascade) or segments (S2S).
    val_x, val_y : numpy.ndarray or None
        The fixed validation sample, float32 (n, samples) dF/F and targets
        (spikes per bin); None without validation neurons.
    steps_per_epoch : int
        Optimiser steps that draw as many samples as the training traces hold
        non-overlapping windows/segments.
    """

    data: PairedData
    train: PairedData
    val: PairedData
    train_neurons: list[str]
    val_neurons: list[str]
    sampler: WindowSampler
    val_x: np.ndarray | None
    val_y: np.ndarray | None
    steps_per_epoch: int


def split_for_training(data: PairedData, config: SpikeTrainConfig) -> TrainingSplit:
    """Split neurons, set up the training sampler and draw the fixed validation sample.

    The validation sample is drawn with its own generator (seed
    ``[config.seed, 1]``), so it does not depend on the training draws: ENS²
    takes ``val_windows`` random windows, S2S ``val_windows`` evenly spaced
    segments.

    Parameters
    ----------
    data : PairedData
        Paired traces at the model rate.
    config : SpikeTrainConfig
        Gives the method, window / segment length, validation share and seed.

    Returns
    -------
    TrainingSplit
    """
    train_neurons, val_neurons = split_by_neuron(data, config.val_fraction, seed=config.seed)
    train = data.select(neurons=train_neurons)
    val = data.select(neurons=val_neurons)
    seg = config.segment_samples if config.method == "s2s" else config.window
    sampler = WindowSampler(train.traces, seg)
    val_x = val_y = None
    if val.traces:
        val_sampler = WindowSampler(val.traces, seg)
        vrng = np.random.default_rng([config.seed, 1])
        n_val = min(config.val_windows, val_sampler.n_windows)
        if config.method == "s2s":
            stride = max(1, val_sampler.n_windows // n_val)
            vidx = np.arange(0, val_sampler.n_windows, stride)[:n_val]
        else:
            vidx = np.sort(vrng.choice(val_sampler.n_windows, size=n_val, replace=False))
        val_x, val_y, _ = val_sampler.windows(vidx)
    return TrainingSplit(
        data=data,
        train=train,
        val=val,
        train_neurons=train_neurons,
        val_neurons=val_neurons,
        sampler=sampler,
        val_x=val_x,
        val_y=val_y,
        steps_per_epoch=max(1, math.ceil(sampler.n_windows / seg / config.batch_size)),
    )
