"""Noise- and rate-matched training windows (the Cascade recipe), drawn on the fly.

A model trained on each recording's own noise at 60 Hz does not transfer to
slower, noisier recordings (Rupprecht et al. 2021). Cascade's remedy is to make
the training data look like the recording: resample every ground-truth
recording to the target frame rate and add noise until its noise level ν
reaches the target. This module does that without materialising the noisy
copies:

1. The traces come at the target rate from
   :func:`calcium_forge.inference.training.data.load_ground_truth` (Fourier
   resampling; spikes binned and smoothed at that rate, so resampling keeps
   every spike).
2. For every trace, :func:`calibrate_noise` measures once how ν grows with the
   standard deviation of the added noise (Cascade interpolates the same curve,
   because ν, a median, does not add in quadrature exactly when the trace holds
   signal).
3. :class:`MatchedWindowSampler` draws a target ν per window, picks a dataset
   uniformly among those that hold a recording quiet enough for it (recordings
   already noisier than the target are skipped; datasets are balanced), picks a
   NaN-free window uniformly within that dataset and adds noise with the
   calibrated standard deviation.

The added noise is Cascade's signal-dependent Gaussian noise, scaled per
sample by √|dF/F + 1| (normalised to a median of 1: photon shot noise grows
with the fluorescence), mixed with plain white noise; ``white_fraction`` is
the share of white noise in the variance.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ...errors import InvalidInputError
from ...signal import noise_level
from .data import PairedTrace
from .sampling import added_noise_std

__all__ = [
    "ConditionedBatch",
    "MatchedBatch",
    "MatchedBatches",
    "MatchedSetup",
    "MatchedWindowSampler",
    "NoiseCalibration",
    "calibrate_noise",
    "degrade",
    "matched_setup",
    "shot_noise_profile",
]

#: Points of the ν-versus-noise curve measured per trace.
CALIBRATION_POINTS = 24


def shot_noise_profile(dff: np.ndarray) -> np.ndarray:
    """Per-sample scale of shot-like noise: √|dF/F + 1|, normalised to a median of 1.

    Parameters
    ----------
    dff : numpy.ndarray
        dF/F (fraction), NaN allowed (NaN samples get scale 1).

    Returns
    -------
    numpy.ndarray
        float64 scale, same shape as ``dff``.
    """
    level = np.sqrt(np.abs(np.asarray(dff, dtype=np.float64) + 1.0))
    med = np.nanmedian(level) if np.isfinite(level).any() else 1.0
    level = level / (med if med > 0 else 1.0)
    return np.where(np.isfinite(level), level, 1.0)


def degrade(
    dff: np.ndarray,
    noise_std: np.ndarray | float,
    rng: np.random.Generator,
    white_fraction: float = 0.5,
    profile: np.ndarray | None = None,
) -> np.ndarray:
    """Add shot-like plus white Gaussian noise to dF/F.

    Parameters
    ----------
    dff : numpy.ndarray
        (..., n) dF/F (fraction).
    noise_std : float or numpy.ndarray
        Standard deviation of the added noise where the profile is 1, dF/F per
        sample; an array broadcasts over the leading axes (one std per row).
    rng : numpy.random.Generator
        Source of the noise.
    white_fraction : float
        Share of white noise in the added variance (0: Cascade's shot-like
        noise only, 1: white noise only).
    profile : numpy.ndarray, optional
        Shot-noise scale (:func:`shot_noise_profile` of ``dff`` when omitted).

    Returns
    -------
    numpy.ndarray
        float64 noisy dF/F, same shape as ``dff``.
    """
    x = np.asarray(dff, dtype=np.float64)
    if profile is None:
        profile = shot_noise_profile(x)
    std = np.asarray(noise_std, dtype=np.float64)
    if std.ndim:
        std = std.reshape(std.shape + (1,) * (x.ndim - std.ndim))
    shot = np.sqrt(1.0 - white_fraction) * profile * rng.standard_normal(x.shape)
    white = np.sqrt(white_fraction) * rng.standard_normal(x.shape)
    return x + std * (shot + white)


@dataclass
class NoiseCalibration:
    """How a trace's noise level ν grows with the standard deviation of added noise.

    Attributes
    ----------
    std : numpy.ndarray
        Standard deviations of added noise (dF/F per sample), increasing from 0.
    nu : numpy.ndarray
        ν (% / √Hz) of the trace with that noise added; ``nu[0]`` is the trace's own.
    """

    std: np.ndarray
    nu: np.ndarray

    @property
    def base_nu(self) -> float:
        """The trace's own noise level ν (% / √Hz)."""
        return float(self.nu[0])

    def std_for(self, nu_target: np.ndarray | float) -> np.ndarray:
        """Noise std (dF/F per sample) that brings the trace to ``nu_target``.

        Parameters
        ----------
        nu_target : float or numpy.ndarray
            Target noise level(s), % / √Hz.

        Returns
        -------
        numpy.ndarray
            float64 std per target: 0 at the trace's own ν, NaN below it (the
            trace is already noisier) or beyond the calibrated range.
        """
        nu_t = np.asarray(nu_target, dtype=np.float64)
        nu = np.maximum.accumulate(self.nu)  # monotone for interpolation
        out = np.interp(nu_t, nu, self.std, left=np.nan, right=np.nan)
        return np.where(nu_t < self.base_nu, np.nan, out)


def calibrate_noise(
    dff: np.ndarray,
    fs_hz: float,
    nu_max: float,
    white_fraction: float = 0.5,
    seed: int = 0,
) -> NoiseCalibration:
    """Measure ν of ``dff`` plus added noise over a grid of noise levels.

    Parameters
    ----------
    dff : numpy.ndarray
        1-D dF/F (fraction) at ``fs_hz``; NaN samples are ignored.
    fs_hz : float
        Sampling rate of ``dff``, Hz.
    nu_max : float
        Highest target ν (% / √Hz) the calibration must reach.
    white_fraction : float
        Share of white noise in the added variance (see :func:`degrade`).
    seed : int
        Seed of the one noise draw used for every grid point.

    Returns
    -------
    NoiseCalibration
    """
    if not nu_max > 0:
        raise InvalidInputError(f"nu_max must be > 0 (% / √Hz), got {nu_max!r}")
    x = np.asarray(dff, dtype=np.float64)
    rng = np.random.default_rng(seed)
    profile = shot_noise_profile(x)
    z = np.sqrt(1 - white_fraction) * profile * rng.standard_normal(x.size)
    z += np.sqrt(white_fraction) * rng.standard_normal(x.size)
    # 1.5 x the std that white noise alone would need, so the grid spans nu_max
    top = 1.5 * float(added_noise_std(nu_max, 0.0, fs_hz))
    std = np.linspace(0.0, top, CALIBRATION_POINTS)
    nu = np.array([float(noise_level(x + s * z, fs_hz)) for s in std])
    return NoiseCalibration(std=std, nu=nu)


@dataclass
class MatchedBatch:
    """A batch of noise-matched training windows.

    Attributes
    ----------
    x : numpy.ndarray
        float32 (B, window) noisy dF/F.
    y : numpy.ndarray
        float32 (B, window) target: smoothed spike counts, spikes per bin.
    nu : numpy.ndarray
        float64 (B,) target noise level of each window, % / √Hz.
    trace : numpy.ndarray
        int64 (B,) index of each window's trace.
    """

    x: np.ndarray
    y: np.ndarray
    nu: np.ndarray
    trace: np.ndarray


class MatchedWindowSampler:
    """Draw noise-matched windows at one frame rate, balanced over datasets.

    Parameters
    ----------
    traces : sequence of PairedTrace
        Ground truth at the target rate (all with the same ``fs_hz``).
    window : int
        Window length in samples.
    nu_range : (float, float)
        Target ν is drawn uniformly from this range (% / √Hz) per window.
    white_fraction : float
        Share of white noise in the added variance (see :func:`degrade`).
    seed : int
        Seed of the noise calibrations.

    Notes
    -----
    Memory holds the traces once (float32) plus one calibration curve per
    trace; noisy windows exist only inside the batch being drawn.
    """

    def __init__(
        self,
        traces: Sequence[PairedTrace],
        window: int,
        nu_range: tuple[float, float],
        white_fraction: float = 0.5,
        seed: int = 0,
    ) -> None:
        lo, hi = (float(v) for v in nu_range)
        if not 0 < lo <= hi:
            raise InvalidInputError(
                f"nu_range must be (low, high) with 0 < low <= high (% / √Hz), got {nu_range!r}"
            )
        if not 0.0 <= white_fraction <= 1.0:
            raise InvalidInputError(f"white_fraction must be in [0, 1], got {white_fraction!r}")
        fs = {float(t.fs_hz) for t in traces}
        if len(fs) != 1:
            raise InvalidInputError(f"traces must share one frame rate, got {sorted(fs)} Hz")
        self.fs_hz = fs.pop()
        self.window = int(window)
        self.nu_range = (lo, hi)
        self.white_fraction = float(white_fraction)
        self._index_segments(traces)
        self.calibrations = [
            calibrate_noise(t.dff, self.fs_hz, hi, white_fraction, seed + i)
            for i, t in enumerate(traces)
        ]
        self.base_nu = np.array([c.base_nu for c in self.calibrations])
        self.datasets = sorted({t.dataset for t in traces})
        self._trace_dataset = np.array([self.datasets.index(t.dataset) for t in traces])
        if not np.any(self.base_nu[self._seg_trace] <= lo):
            raise InvalidInputError(
                f"no ground-truth recording is quieter than ν = {lo:g} (the quietest has "
                f"ν = {np.nanmin(self.base_nu):.3g}); raise nu_range's low end."
            )

    def _index_segments(self, traces: Sequence[PairedTrace]) -> None:
        """Concatenate the traces and list their NaN-free stretches of ≥ ``window`` samples."""
        xs, ys, profiles, seg_start, seg_count, seg_trace = [], [], [], [], [], []
        offset = 0
        for i, t in enumerate(traces):
            finite = np.isfinite(t.dff)
            d = np.diff(np.concatenate([[0], finite.astype(np.int8), [0]]))
            for a, b in zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1), strict=True):
                if b - a >= self.window:
                    seg_start.append(offset + a)
                    seg_count.append(b - a - self.window + 1)
                    seg_trace.append(i)
            xs.append(np.nan_to_num(t.dff, nan=0.0))
            ys.append(t.target)
            profiles.append(shot_noise_profile(t.dff))
            offset += t.dff.size
        if not seg_count:
            raise InvalidInputError(
                f"no NaN-free stretch of at least {self.window} samples in {len(traces)} trace(s)"
            )
        self.x = np.concatenate(xs).astype(np.float32)
        self.y = np.concatenate(ys).astype(np.float32)
        self.profile = np.concatenate(profiles).astype(np.float32)
        self._seg_start = np.asarray(seg_start, dtype=np.int64)
        self._seg_count = np.asarray(seg_count, dtype=np.int64)
        self._seg_trace = np.asarray(seg_trace, dtype=np.int64)
        self._offsets = np.arange(self.window, dtype=np.int64)

    def _draw_segments(self, nu: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One eligible segment per target ν: dataset uniform, then segment by its windows."""
        eligible = self.base_nu[self._seg_trace][None, :] <= nu[:, None]  # (B, n_segments)
        seg_ds = self._trace_dataset[self._seg_trace]
        n_ds = len(self.datasets)
        # datasets that hold at least one eligible segment, per window
        has = np.zeros((nu.size, n_ds), dtype=bool)
        for d in range(n_ds):
            has[:, d] = eligible[:, seg_ds == d].any(axis=1)
        pick_ds = np.array([rng.choice(np.flatnonzero(h)) for h in has])
        weights = eligible * (seg_ds[None, :] == pick_ds[:, None]) * self._seg_count[None, :]
        cum = np.cumsum(weights, axis=1)
        u = rng.random(nu.size) * cum[:, -1]
        return (cum > u[:, None]).argmax(axis=1)

    def sample(self, batch_size: int, rng: np.random.Generator) -> MatchedBatch:
        """Draw ``batch_size`` noise-matched windows.

        Parameters
        ----------
        batch_size : int
            Number of windows.
        rng : numpy.random.Generator
            Source of target ν, window choice and noise.

        Returns
        -------
        MatchedBatch
        """
        lo, hi = self.nu_range
        nu = rng.uniform(lo, hi, batch_size) if hi > lo else np.full(batch_size, lo)
        seg = self._draw_segments(nu, rng)
        start = self._seg_start[seg] + rng.integers(0, self._seg_count[seg])
        take = start[:, None] + self._offsets
        trace = self._seg_trace[seg]
        std = np.array([self.calibrations[t].std_for(v) for t, v in zip(trace, nu, strict=True)])
        if np.isnan(std).any():  # pragma: no cover - eligibility and the grid rule it out
            raise RuntimeError("noise calibration did not cover a drawn target ν")
        x = degrade(self.x[take], std, rng, self.white_fraction, self.profile[take])
        return MatchedBatch(
            x=x.astype(np.float32), y=self.y[take], nu=nu, trace=trace.astype(np.int64)
        )


@dataclass
class ConditionedBatch:
    """A noise-matched batch with the conditioning values of its windows.

    Attributes
    ----------
    x, y : numpy.ndarray
        float32 (B, window) noisy dF/F and target (spikes per bin).
    condition : numpy.ndarray or None
        float32 (B, 2) conditioning values (target ν and rate, see
        :func:`calcium_forge.inference.networks.condition_values`); None for an
        unconditioned network.
    fs_hz : float
        Rate of the batch, Hz.
    """

    x: np.ndarray
    y: np.ndarray
    condition: np.ndarray | None
    fs_hz: float


class MatchedBatches:
    """Noise-matched training batches at one or several frame rates (one rate per batch).

    Parameters
    ----------
    traces_by_rate : dict of float to sequence of PairedTrace
        The training neurons' ground truth at each rate (Hz).
    window : int
        Window length in samples (the same at every rate).
    nu_range : (float, float)
        Target ν range, % / √Hz.
    white_fraction : float
        Share of white noise in the added variance.
    conditioned : bool
        Attach conditioning values (ν, rate) to every batch.
    seed : int
        Seed of the noise calibrations.
    """

    def __init__(
        self,
        traces_by_rate: dict[float, Sequence[PairedTrace]],
        window: int,
        nu_range: tuple[float, float],
        white_fraction: float = 0.5,
        conditioned: bool = False,
        seed: int = 0,
    ) -> None:
        if not traces_by_rate:
            raise InvalidInputError("MatchedBatches needs traces at one rate at least")
        self.rates_hz = sorted(float(r) for r in traces_by_rate)
        self.samplers = {
            float(r): MatchedWindowSampler(t, window, nu_range, white_fraction, seed)
            for r, t in traces_by_rate.items()
        }
        self.conditioned = bool(conditioned)

    def sample(self, batch_size: int, rng: np.random.Generator, index: int) -> ConditionedBatch:
        """Draw batch number ``index`` (its rate is ``rates_hz[index % n_rates]``).

        Parameters
        ----------
        batch_size : int
            Windows per batch.
        rng : numpy.random.Generator
            Source of target ν, windows and noise.
        index : int
            Batch number (the iteration), which picks the rate in turn.

        Returns
        -------
        ConditionedBatch
        """
        from ..networks import condition_values

        fs = self.rates_hz[index % len(self.rates_hz)]
        batch = self.samplers[fs].sample(batch_size, rng)
        cond = condition_values(batch.nu, fs) if self.conditioned else None
        return ConditionedBatch(x=batch.x, y=batch.y, condition=cond, fs_hz=fs)


@dataclass
class MatchedSetup:
    """What a noise-matched training run draws from.

    Attributes
    ----------
    batches : MatchedBatches
        Training batches (training neurons only).
    val_x, val_y : numpy.ndarray or None
        The fixed validation sample at the run's ``fs_hz`` (validation neurons,
        noise-matched with its own generator), float32 (n, window).
    val_condition : numpy.ndarray or None
        float32 (n, 2) conditioning values of the validation windows (None for
        an unconditioned network or without validation neurons).
    """

    batches: MatchedBatches
    val_x: np.ndarray | None
    val_y: np.ndarray | None
    val_condition: np.ndarray | None


def matched_setup(data, train_neurons, val_neurons, config) -> MatchedSetup:
    """Noise-matched batches and validation sample of a training run.

    Parameters
    ----------
    data : PairedData or path(s)
        The run's ground truth: paths are loaded at every rate of
        ``config.train_rates_hz``; paired data serve their own rate only.
    train_neurons, val_neurons : list of str
        The run's neuron split (the same neurons at every rate).
    config : SpikeTrainConfig
        Gives ``fs_hz``, ``train_rates_hz``, ``window``, ``nu_range``,
        ``white_fraction``, ``conditioned``, ``val_windows`` and ``seed``.

    Returns
    -------
    MatchedSetup
    """
    from dataclasses import replace

    from ..networks import condition_values
    from .data import training_data

    rates = [float(r) for r in (config.train_rates_hz or (config.fs_hz,))]
    by_rate = {}
    for fs in rates:
        paired = training_data(data, replace(config, fs_hz=fs))
        by_rate[fs] = paired.select(neurons=train_neurons).traces
    batches = MatchedBatches(
        by_rate, config.window, config.nu_range, config.white_fraction, config.conditioned,
        config.seed,
    )  # fmt: skip
    val = training_data(data, config).select(neurons=val_neurons).traces
    if not val:
        return MatchedSetup(batches, None, None, None)
    sampler = MatchedWindowSampler(
        val, config.window, config.nu_range, config.white_fraction, config.seed + 1
    )
    vb = sampler.sample(config.val_windows, np.random.default_rng([config.seed, 1]))
    cond = condition_values(vb.nu, config.fs_hz) if config.conditioned else None
    return MatchedSetup(batches, vb.x, vb.y, cond)
