"""A trained network on whole paired traces: validation scores and S2S output calibration.

Both run the network over full traces at the model rate with
:func:`calcium_forge.inference.engine.predict_trace` (ENS²: stride-1 window
averaging; S2S: one pass; Cascade: every sample from its centred window),
samples where the dF/F is NaN left out.

* :func:`score_traces` gives the per-neuron Pearson correlation of the
  predicted rate with the smoothed ground-truth spikes (what the model card
  reports as validation scores).
* :func:`fit_output_scale` fits the affine map from raw network output to
  spikes per bin by least squares (S2S is trained with a Pearson loss, which
  leaves scale and offset free).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ...evaluation.spikes import pearson
from ..engine import predict_trace
from ..registry import spikes_per_bin
from .config import SpikeTrainConfig
from .data import PairedTrace

__all__ = ["OutputScale", "fit_output_scale", "score_traces"]


@dataclass(frozen=True)
class OutputScale:
    """Affine map from raw network output to spikes per bin: ``output * scale + offset``.

    Attributes
    ----------
    scale : float
        Multiplier (spikes per bin per unit of network output).
    offset : float
        Added after scaling (spikes per bin).
    """

    scale: float = 1.0
    offset: float = 0.0


def score_traces(
    network, traces: Sequence[PairedTrace], config: SpikeTrainConfig, scale: float, offset: float
) -> dict:
    """Correlation of predicted and ground-truth rates per neuron, on whole traces.

    Parameters
    ----------
    network : torch.nn.Module
        Trained network in eval mode.
    traces : sequence of PairedTrace
        Paired recordings at the model rate; a neuron's recordings are
        concatenated before correlating.
    config : SpikeTrainConfig
        Gives the method and window.
    scale, offset : float
        Output calibration (see :class:`OutputScale`); the rate is clipped at 0.

    Returns
    -------
    dict
        ``median_corr`` (median over neurons of the Pearson r), ``n_neurons``,
        ``per_dataset_median_corr``, per-neuron ``corr`` and the raw network
        outputs ``predictions`` (one float64 array per trace, in order).
    """
    per_neuron: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}
    raw = []
    for t in traces:
        out = predict_trace(network, t.dff, config.method, config.window, fs_hz=t.fs_hz)
        raw.append(out)
        pred = spikes_per_bin(out, scale, offset)
        pred[~np.isfinite(t.dff)] = np.nan
        per_neuron.setdefault(t.neuron, []).append((pred, t.target.astype(np.float64)))
    corr = {}
    for neuron, parts in per_neuron.items():
        corr[neuron] = pearson(
            np.concatenate([p for p, _ in parts]), np.concatenate([g for _, g in parts])
        )
    vals = np.array([v for v in corr.values() if np.isfinite(v)])
    by_ds: dict[str, list[float]] = {}
    for neuron, v in corr.items():
        if np.isfinite(v):
            by_ds.setdefault(neuron.split("/")[0], []).append(v)
    return {
        "median_corr": float(np.median(vals)) if vals.size else float("nan"),
        "n_neurons": len(corr),
        "per_dataset_median_corr": {k: float(np.median(v)) for k, v in sorted(by_ds.items())},
        "corr": corr,
        "predictions": raw,
    }


def fit_output_scale(
    network, traces: Sequence[PairedTrace], config: SpikeTrainConfig
) -> OutputScale:
    """Least-squares scale and offset mapping the network output to spikes per bin.

    Parameters
    ----------
    network : torch.nn.Module
        Trained network in eval mode.
    traces : sequence of PairedTrace
        Paired recordings at the model rate (the training traces).
    config : SpikeTrainConfig
        Gives the method and window.

    Returns
    -------
    OutputScale
        The fitted map; scale 1 and offset 0 when the output is constant or
        there are no finite samples.
    """
    sxx = sx = sy = sxy = n = 0.0
    for t in traces:
        out = predict_trace(network, t.dff, config.method, config.window, fs_hz=t.fs_hz)
        m = np.isfinite(t.dff)
        o, y = out[m], t.target[m].astype(np.float64)
        sxx += float(o @ o)
        sx += float(o.sum())
        sy += float(y.sum())
        sxy += float(o @ y)
        n += o.size
    den = n * sxx - sx * sx
    if n == 0 or den <= 0:
        return OutputScale()
    scale = (n * sxy - sx * sy) / den
    offset = (sy - scale * sx) / n
    return OutputScale(float(scale), float(offset))
