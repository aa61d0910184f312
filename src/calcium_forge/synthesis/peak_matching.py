"""Transient heights: a generator loss that keeps the rare, large transients of sparse neurons.

A WGAN generator trained on per-neuron scaled windows can leave out the rare
large transients of its sparsest neurons: a window without one is realistic,
and the critic judges one window at a time. This term compares, per neuron,
the distribution over a minibatch of each window's largest excursion

``p = (max_t x - median_t x) / sigma_n``

(in units of the neuron's noise level ``sigma_n``, the median absolute
frame-to-frame difference of the training windows / (0.6745 sqrt 2)) with its
distribution over the training windows, as a 1-D Wasserstein distance: the
sorted minibatch values against the training quantiles at the levels
(i + 0.5) / B, divided by the SD of p over training windows,

``L_peak = mean_(n, i) ((p_(i), n - q_n((i + 0.5) / B)) / sd_n) ** 2``.

``GANTrainConfig.peak_weight`` adds it to the generator loss. Torch is
imported lazily.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import InvalidInputError
from .windows import diff_noise_sd

__all__ = ["PeakTarget", "window_peaks"]


def window_peaks(x: Any, sigma: Any) -> Any:
    """(B, N) largest excursion of each window and neuron: max - median, in noise units.

    Parameters
    ----------
    x : torch.Tensor
        (B, T, N) windows.
    sigma : torch.Tensor
        (N,) noise SD per neuron in the units of ``x``.

    Returns
    -------
    torch.Tensor
        (B, N) peak heights (dimensionless).
    """
    xs = x / sigma
    return xs.max(1).values - xs.median(1).values


@dataclass
class PeakTarget:
    """Training quantiles of the peak heights and the loss against them.

    Parameters
    ----------
    sigma : torch.Tensor
        (N,) noise SD per neuron (units of the windows it was built from).
    quantiles : torch.Tensor
        (B, N) peak heights of the training windows at the levels (i + 0.5) / B.
    scale : torch.Tensor
        (N,) SD of the peak heights over training windows (at least 1e-3).
    """

    sigma: Any
    quantiles: Any
    scale: Any

    @classmethod
    def from_windows(cls, windows: np.ndarray, batch_size: int) -> PeakTarget:
        """Targets for minibatches of ``batch_size`` windows from (M, T, N) training windows."""
        import torch

        if batch_size < 2:
            raise InvalidInputError(f"PeakTarget needs batch_size >= 2; got {batch_size}.")
        w = torch.from_numpy(np.asarray(windows, np.float32))
        sigma = torch.from_numpy(diff_noise_sd(windows))
        peaks = torch.cat([window_peaks(c, sigma) for c in w.split(256)])
        levels = (torch.arange(batch_size, dtype=peaks.dtype) + 0.5) / batch_size
        q = torch.quantile(peaks, levels, dim=0)
        return cls(sigma, q, peaks.std(0).clamp_min(1e-3))

    def loss(self, x: Any) -> Any:
        """Scalar L_peak of a (B, T, N) minibatch (B = the batch size of the targets)."""
        if x.shape[0] != self.quantiles.shape[0]:
            raise InvalidInputError(
                f"PeakTarget.loss: batch of {x.shape[0]} windows, targets for "
                f"{self.quantiles.shape[0]}."
            )
        p = window_peaks(x, self.sigma.to(x)).sort(0).values
        return (((p - self.quantiles.to(x)) / self.scale.to(x)) ** 2).mean()
