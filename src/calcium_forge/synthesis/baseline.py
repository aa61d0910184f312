"""DG baseline: a dichotomized Gaussian fitted to a recording, rendered as calcium.

Each neuron's trace is deconvolved with OASIS (AR(1), L1, g estimated on the
trace; noise sn from OASIS' PSD estimate at the native rate); frames whose
deconvolved amplitude exceeds ``spike_threshold_sn * sn`` are spikes. A DG is
fitted to the per-frame spike means and covariances; samples are rendered
back with each neuron's own AR(1) kernel ``g``, spike amplitude (least-squares
fit of the event train through that kernel to the trace), baseline ``b`` and Gaussian noise ``sn``,
so they come out in the recording's units and frame rate — directly comparable
with CalciumGAN samples (the paper's baseline).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import signal as sps

from ..errors import InvalidInputError
from ..recording import Recording
from .dg import DGModel, fit_dg

__all__ = ["DGBaseline"]


@dataclass
class DGBaseline:
    """A DG spike model plus per-neuron AR(1) calcium rendering.

    Parameters
    ----------
    dg : DGModel
        Spike model (one bin per frame).
    g : numpy.ndarray
        AR(1) coefficient per neuron (N,).
    amplitude : numpy.ndarray
        Fluorescence jump per spike per neuron (trace units).
    baseline : numpy.ndarray
        Baseline per neuron (trace units).
    sn : numpy.ndarray
        Noise standard deviation per neuron (trace units).
    fs_hz : float
        Frame rate in Hz.
    """

    dg: DGModel
    g: np.ndarray
    amplitude: np.ndarray
    baseline: np.ndarray
    sn: np.ndarray
    fs_hz: float

    @classmethod
    def fit(
        cls,
        data: Recording | np.ndarray,
        fs_hz: float | None = None,
        spike_threshold_sn: float = 1.0,
    ) -> DGBaseline:
        """Fit to a Recording (or (N, L) traces with ``fs_hz``).

        Parameters
        ----------
        data : Recording or numpy.ndarray
            Calcium traces in their units.
        fs_hz : float, optional
            Frame rate for an array.
        spike_threshold_sn : float
            Spike threshold in noise units (same as the evaluation's).
        """
        from oasis.functions import GetSn

        from ..inference.oasis import deconvolve_trace

        if isinstance(data, Recording):
            tr, fs = data.traces, data.fs_hz
        else:
            tr, fs = np.asarray(data), fs_hz
        if fs is None:
            raise InvalidInputError("DGBaseline.fit: pass fs_hz= with an array.")
        tr = np.asarray(tr, np.float64)
        if np.isnan(tr).any():
            tr = np.where(np.isnan(tr), np.nanmedian(tr, axis=1, keepdims=True), tr)
        n = tr.shape[0]
        g = np.zeros(n)
        amp = np.ones(n)
        base = np.zeros(n)
        sn = np.zeros(n)
        events = np.zeros(tr.shape, bool)
        for j in range(n):
            y = tr[j]
            sn[j] = max(float(GetSn(y)), 1e-9)
            res = deconvolve_trace(y, sn=sn[j], penalty=1, optimize_g=5)
            s = res.s
            base[j] = res.b
            g[j] = float(np.clip(res.g[0], 0.0, 0.999))
            events[j] = s > spike_threshold_sn * sn[j]
            # least-squares amplitude of the event train through the AR(1) kernel
            # (the L1-penalised OASIS amplitudes are shrunk towards zero)
            kern = sps.lfilter([1.0], [1.0, -g[j]], events[j].astype(np.float64))
            denom = float(kern @ kern)
            if denom > 0:
                amp[j] = max(float((y - base[j]) @ kern) / denom, spike_threshold_sn * sn[j])
            else:
                amp[j] = spike_threshold_sn * sn[j]
        dg = fit_dg(events.T, bin_s=1.0 / fs)
        return cls(dg=dg, g=g, amplitude=amp, baseline=base, sn=sn, fs_hz=float(fs))

    def sample_traces(self, n_frames: int, seed: int | None = 0) -> np.ndarray:
        """(N, n_frames) float32 synthetic traces."""
        ss = np.random.SeedSequence(seed)
        s1, s2 = (int(x.generate_state(1)[0]) for x in ss.spawn(2))
        burn = int(np.ceil(5 * self.fs_hz))
        spikes = self.dg.sample(n_frames + burn, seed=s1).T.astype(np.float64)
        out = np.empty(spikes.shape)
        for j in range(spikes.shape[0]):
            out[j] = sps.lfilter([1.0], [1.0, -self.g[j]], spikes[j])
        rng = np.random.default_rng(s2)
        y = (
            self.baseline[:, None]
            + self.amplitude[:, None] * out
            + self.sn[:, None] * rng.standard_normal(out.shape)
        )
        return y[:, burn:].astype(np.float32)

    def sample_windows(self, n_windows: int, window: int, seed: int | None = 0) -> np.ndarray:
        """(n_windows, window, N) windows from one long sample."""
        y = self.sample_traces(n_windows * window, seed)
        return np.ascontiguousarray(y.reshape(y.shape[0], n_windows, window).transpose(1, 2, 0))

    def sample(self, n_frames: int, seed: int | None = 0) -> Recording:
        """A synthetic Recording of ``n_frames`` frames."""
        return Recording(
            traces=self.sample_traces(n_frames, seed),
            fs_hz=self.fs_hz,
            kind="dff",
            meta={"name": "dg_baseline", "seed": seed},
        )
