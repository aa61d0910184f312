"""What a Cascade training run adds to the trainer: its ensemble and centre-frame targets.

A Cascade run (``SpikeTrainConfig(method="cascade")``, Rupprecht et al. 2021)
trains a :class:`~calcium_forge.inference.cascade.CascadeEnsemble` on the same
noise-matched windows as a matched ENS² run
(:mod:`calcium_forge.inference.training.matched`, same neuron split): each
window's target is the smoothed spike count of its centre frame
(``window // 2``), not the whole window. The members share the batches; their
losses are averaged (the ensemble returns every member's output in training
mode), so each member follows its own MSE gradient, and the validation loss is
the MSE of the members' mean, the prediction users get.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from .config import SpikeTrainConfig
from .matched import ConditionedBatch, MatchedBatches, MatchedSetup

__all__ = ["CentreTargetBatches", "centre_targets", "initial_cascade_network"]


def initial_cascade_network(config: SpikeTrainConfig):
    """A freshly initialised Cascade ensemble for ``config`` (torch seeded with ``config.seed``).

    Parameters
    ----------
    config : SpikeTrainConfig
        Gives the rate (Hz), window (samples), seed and extra constructor
        arguments (``network_kwargs``, e.g. ``n_members``).

    Returns
    -------
    CascadeEnsemble
        Members seeded ``s, s + 1, ...`` from one draw of the seeded generator.
    """
    import torch

    from ..networks import build_network

    torch.manual_seed(config.seed)
    kwargs = {"window": config.window, "fs_hz": config.fs_hz, **config.network_kwargs}
    return build_network("CascadeEnsemble", kwargs)


class CentreTargetBatches:
    """Noise-matched batches whose target is each window's centre sample.

    Parameters
    ----------
    batches : MatchedBatches
        The matched batches (targets ``(B, window)``).
    centre : int
        Index of the predicted sample in a window.
    """

    def __init__(self, batches: MatchedBatches, centre: int) -> None:
        self.batches = batches
        self.centre = int(centre)

    def sample(self, batch_size: int, rng: np.random.Generator, index: int) -> ConditionedBatch:
        """Draw batch number ``index`` as :meth:`MatchedBatches.sample` does.

        Parameters
        ----------
        batch_size : int
            Windows per batch.
        rng : numpy.random.Generator
            Source of target ν, windows and noise.
        index : int
            Batch number.

        Returns
        -------
        ConditionedBatch
            ``x`` float32 (B, window) dF/F, ``y`` float32 (B,) spikes per frame
            at the centre sample.
        """
        batch = self.batches.sample(batch_size, rng, index)
        return replace(batch, y=np.ascontiguousarray(batch.y[:, self.centre]))


def centre_targets(setup: MatchedSetup, centre: int) -> MatchedSetup:
    """A matched setup with centre-sample targets for training and validation.

    Parameters
    ----------
    setup : MatchedSetup
        From :func:`calcium_forge.inference.training.matched.matched_setup`.
    centre : int
        Index of the predicted sample in a window.

    Returns
    -------
    MatchedSetup
        Same windows; ``val_y`` float32 (n,) and batches with (B,) targets.
    """
    val_y = None if setup.val_y is None else np.ascontiguousarray(setup.val_y[:, centre])
    return replace(setup, batches=CentreTargetBatches(setup.batches, centre), val_y=val_y)
