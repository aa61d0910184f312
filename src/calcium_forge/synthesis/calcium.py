"""Calcium forward model: spikes -> fluorescence, and DG artificial datasets.

AR(1) (paper, Friedrich et al. 2017): ``c_t = g c_{t-1} + s_t``,
``y = b + c + sigma u`` with ``u ~ N(0, 1)``. The paper uses g = 0.95 at 24 Hz,
sigma = 0.3, b = 0. AR(2) adds a rise: ``c_t = (d + r) c_{t-1} - d r c_{t-2} + s_t``
with ``d = exp(-1/(tau_decay fs))``, ``r = exp(-1/(tau_rise fs))``. A GCaMP-like
saturation maps ``c`` through a Hill function ``c^n / (c^n + K_d^n)`` (scaled so
one spike keeps amplitude 1). Time constants are in seconds, so the model is
sampling-rate aware: the same parameters give the same kinetics at any fs_hz.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import signal as sps

from ..errors import InvalidInputError
from ..recording import Recording
from .dg import DGModel, fit_dg

__all__ = [
    "CalciumModel",
    "decay_s_from_g",
    "g_from_decay_s",
    "make_dg_dataset",
    "random_dg",
    "spikes_to_calcium",
]


def g_from_decay_s(decay_s: float, fs_hz: float) -> float:
    """AR(1) coefficient for a decay time constant ``decay_s`` (s) at ``fs_hz``."""
    return float(np.exp(-1.0 / (decay_s * fs_hz)))


def decay_s_from_g(g: float, fs_hz: float) -> float:
    """Decay time constant (s) of an AR(1) coefficient ``g`` at ``fs_hz``."""
    if not 0 < g < 1:
        raise InvalidInputError(f"g must lie in (0, 1); got {g!r}.")
    return float(-1.0 / (fs_hz * np.log(g)))


@dataclass
class CalciumModel:
    """Parameters of the spikes -> fluorescence forward model.

    Parameters
    ----------
    decay_s : float
        Decay time constant in seconds (0.8122 s = g 0.95 at 24 Hz, the paper's value).
    rise_s : float
        Rise time constant in seconds; 0 gives the AR(1) model.
    amplitude : float
        Fluorescence jump per spike (in trace units, e.g. dF/F fraction).
    noise_sigma : float
        Standard deviation of the additive Gaussian noise (trace units).
    baseline : float
        Constant offset ``b``.
    saturation_kd : float or None
        Half-saturation of a Hill nonlinearity on the calcium, in spikes' worth
        of calcium: ``c -> (1 + K^n) c^n / (c^n + K^n)`` (one spike still maps
        to 1, bursts saturate at ``1 + K^n``); None = linear.
    hill_n : float
        Hill coefficient of the saturation.
    """

    decay_s: float = 0.8122
    rise_s: float = 0.0
    amplitude: float = 1.0
    noise_sigma: float = 0.3
    baseline: float = 0.0
    saturation_kd: float | None = None
    hill_n: float = 2.0

    def ar_coefficients(self, fs_hz: float) -> tuple[float, ...]:
        """AR coefficients (g,) or (g1, g2) at ``fs_hz``."""
        if self.decay_s <= 0:
            raise InvalidInputError(f"CalciumModel.decay_s must be > 0 s; got {self.decay_s}.")
        d = g_from_decay_s(self.decay_s, fs_hz)
        if self.rise_s <= 0:
            return (d,)
        r = g_from_decay_s(self.rise_s, fs_hz)
        return (d + r, -d * r)

    def to_dict(self) -> dict:
        """JSON-friendly parameters."""
        return asdict(self)


def spikes_to_calcium(
    spikes: np.ndarray,
    fs_hz: float,
    model: CalciumModel | None = None,
    seed: int | None = 0,
    noise: bool = True,
) -> np.ndarray:
    """Convert spike counts to fluorescence traces.

    Parameters
    ----------
    spikes : numpy.ndarray
        Spike counts per frame, (N, T) (or (T,)).
    fs_hz : float
        Frame rate in Hz.
    model : CalciumModel, optional
        Forward-model parameters (default: the paper's AR(1)).
    seed : int or None
        Seed of the noise.
    noise : bool
        Add the Gaussian noise (False gives the noiseless fluorescence).

    Returns
    -------
    numpy.ndarray
        float32 traces, same shape as ``spikes``.
    """
    model = model or CalciumModel()
    s = np.atleast_2d(np.asarray(spikes, dtype=np.float64))
    coeffs = model.ar_coefficients(fs_hz)
    c = sps.lfilter([1.0], [1.0, *(-np.asarray(coeffs))], s, axis=-1)
    if len(coeffs) == 2:
        # normalise so one spike peaks at 1 like the AR(1) kernel
        kern = sps.lfilter(
            [1.0], [1.0, -coeffs[0], -coeffs[1]], np.r_[1.0, np.zeros(int(fs_hz * 5))]
        )
        c = c / kern.max()
    if model.saturation_kd is not None:
        kd, n = float(model.saturation_kd), float(model.hill_n)
        c = np.maximum(c, 0.0)
        # one isolated spike (c = 1) keeps amplitude 1; large c saturates at 1 + kd^n
        c = (1.0 + kd**n) * c**n / (c**n + kd**n)
    y = model.baseline + model.amplitude * c
    if noise and model.noise_sigma > 0:
        rng = np.random.default_rng(seed)
        y = y + model.noise_sigma * rng.standard_normal(y.shape)
    out = y.astype(np.float32)
    return out.reshape(np.shape(spikes)) if np.ndim(spikes) == 1 else out


def random_dg(
    n_neurons: int,
    rates_hz: tuple[float, float] = (0.2, 2.0),
    latent_corr_scale: float = 0.3,
    n_factors: int = 3,
    fs_hz: float = 24.0,
    seed: int | None = 0,
) -> DGModel:
    """A random DG population: log-uniform rates and a low-rank latent correlation.

    Parameters
    ----------
    n_neurons : int
        Number of neurons.
    rates_hz : (float, float)
        Range of firing rates (spikes/s), drawn log-uniformly.
    latent_corr_scale : float
        Typical magnitude of latent correlations (0 = independent).
    n_factors : int
        Rank of the shared latent structure.
    fs_hz : float
        Bin rate (one bin per frame).
    seed : int or None
        Random seed.

    Returns
    -------
    DGModel
    """
    rng = np.random.default_rng(seed)
    rates = np.exp(rng.uniform(np.log(rates_hz[0]), np.log(rates_hz[1]), n_neurons))
    p = np.clip(rates / fs_hz, 1e-6, 0.5)
    w = rng.standard_normal((n_neurons, n_factors)) * np.sqrt(latent_corr_scale / n_factors)
    cov = w @ w.T + np.diag(np.ones(n_neurons))
    d = np.sqrt(np.diag(cov))
    lam = cov / np.outer(d, d)
    from scipy import stats

    return DGModel(mean=p, gamma=stats.norm.ppf(p), latent_corr=lam, bin_s=1.0 / fs_hz)


def make_dg_dataset(
    n_neurons: int = 102,
    duration_s: float = 899.0,
    fs_hz: float = 24.0,
    *,
    dg: DGModel | None = None,
    spikes: np.ndarray | None = None,
    calcium: CalciumModel | None = None,
    rates_hz: tuple[float, float] = (0.2, 2.0),
    latent_corr_scale: float = 0.3,
    seed: int | None = 0,
) -> Recording:
    """Artificial calcium data with known ground truth (the paper's DG dataset).

    Correlated binary spike trains from a dichotomized Gaussian (one bin per
    frame) are passed through the calcium forward model.

    Parameters
    ----------
    n_neurons : int
        Number of neurons (paper: 102).
    duration_s : float
        Duration in seconds (paper: 899 s).
    fs_hz : float
        Frame rate in Hz (paper: 24 Hz).
    dg : DGModel, optional
        The DG to sample; default a :func:`random_dg` population.
    spikes : numpy.ndarray, optional
        Target binary spikes (n_bins, N): the DG is fitted to their means and
        covariances (the paper used recorded sample moments).
    calcium : CalciumModel, optional
        Forward model (default: AR(1), g = 0.95 at 24 Hz, sigma = 0.3, b = 0).
    rates_hz, latent_corr_scale :
        Passed to :func:`random_dg` when neither ``dg`` nor ``spikes`` is given.
    seed : int or None
        Random seed.

    Returns
    -------
    Recording
        ``kind="dff"`` traces (N, T) with ``spike_times`` (s) as ground truth and
        ``meta["dg"]``/``meta["calcium_model"]`` describing the generator.
    """
    n_frames = round(duration_s * fs_hz)
    if n_frames < 2 or n_neurons < 1:
        raise InvalidInputError(
            f"make_dg_dataset needs n_neurons >= 1 and duration_s * fs_hz >= 2; got "
            f"n_neurons={n_neurons}, duration_s={duration_s}, fs_hz={fs_hz}."
        )
    ss = np.random.SeedSequence(seed)
    s_dg, s_noise = (int(x.generate_state(1)[0]) for x in ss.spawn(2))
    if dg is None:
        if spikes is not None:
            dg = fit_dg(spikes, bin_s=1.0 / fs_hz)
        else:
            dg = random_dg(n_neurons, rates_hz, latent_corr_scale, fs_hz=fs_hz, seed=s_dg)
    binary = dg.sample(n_frames, seed=s_dg).T  # (N, T)
    calcium = calcium or CalciumModel()
    traces = spikes_to_calcium(binary, fs_hz, calcium, seed=s_noise)
    spike_times = [np.flatnonzero(row) / fs_hz for row in binary]
    return Recording(
        traces=traces,
        fs_hz=fs_hz,
        kind="dff",
        spike_times=spike_times,
        meta={
            "name": "dg_artificial",
            "generator": "dichotomized Gaussian + calcium forward model",
            "dg": {
                "mean_per_bin": dg.mean.tolist(),
                "rates_hz": (dg.mean * fs_hz).tolist(),
            },
            "calcium_model": calcium.to_dict(),
            "seed": seed,
        },
    )
