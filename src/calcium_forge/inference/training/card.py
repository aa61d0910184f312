"""The model card a training run writes: what the network is and how it was trained.

The card is the JSON side of a saved model (see
:mod:`calcium_forge.inference.registry`): architecture, rate and window, the
output calibration, the target smoothing, the training record (datasets,
split sizes, schedule, early stopping, seed, the full config) and the
validation scores. Checkpoints carry the card so far.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from ..._version import __version__
from ..registry import CARD_FORMAT
from .checkpoint import TrainState
from .config import SpikeTrainConfig
from .sampling import TrainingSplit

__all__ = ["training_card"]


def training_card(
    name: str,
    config: SpikeTrainConfig,
    network: Any,
    split: TrainingSplit,
    state: TrainState,
    *,
    patience: int,
    val_every: int,
    fine_tuned_from: str | None,
    iterations_run: int,
    stopped: bool,
    val_scores: dict | None = None,
    scale: float = 1.0,
    offset: float = 0.0,
) -> dict:
    """The model card of a training run.

    Parameters
    ----------
    name : str
        Model name.
    config : SpikeTrainConfig
        Settings of the run.
    network : torch.nn.Module
        The trained network (``ENS2UNet``, ``S2SNet`` or ``CascadeEnsemble``).
    split : TrainingSplit
        The run's data and neuron split.
    state : TrainState
        Gives the best iteration and validation loss.
    patience, val_every : int
        Early-stopping patience and validation interval (iterations).
    fine_tuned_from : str or None
        Name of the model whose weights started the run.
    iterations_run : int
        Optimiser steps done.
    stopped : bool
        Early stopping ended the run.
    val_scores : dict, optional
        Validation scores (:func:`.scoring.score_traces`); per-neuron
        correlations and raw predictions are left out of the card.
    scale, offset : float
        Output calibration: spikes per bin = output × scale + offset.

    Returns
    -------
    dict
        JSON-serialisable card.
    """
    import torch

    return {
        "format": CARD_FORMAT,
        "name": name,
        "method": config.method,
        "architecture": {"class": type(network).__name__, "kwargs": network.config()},
        "n_parameters": int(sum(p.numel() for p in network.parameters())),
        "fs_hz": config.fs_hz,
        "window": config.window,
        "output_unit": "spikes per bin at fs_hz (multiply by fs_hz for spikes/s)",
        "output_scale": scale,
        "output_offset": offset,
        "target_smoothing": dict(split.data.smoothing),
        "training": {
            "datasets": split.data.datasets,
            "n_train_neurons": len(split.train_neurons),
            "n_val_neurons": len(split.val_neurons),
            "train_duration_h": round(split.train.duration_s / 3600, 3),
            "loss": config.loss,
            "iteration_budget": config.iterations,
            "iterations_run": iterations_run,
            "best_iteration": state.best_iteration,
            "stopped_early": stopped,
            "batch_size": config.batch_size,
            "optimizer": config.optimizer,
            "learning_rate": config.learning_rate,
            "patience_iterations": patience,
            "val_every_iterations": val_every,
            "steps_per_epoch": split.steps_per_epoch,
            "seed": config.seed,
            "fine_tuned_from": fine_tuned_from,
            **_noise_entries(config),
            "config": config.to_dict(),
        },
        "validation": {
            "split": f"{config.val_fraction:.0%} of the neurons of each dataset with >= 3",
            "best_val_loss": state.best_val if math.isfinite(state.best_val) else None,
            **(
                {k: v for k, v in val_scores.items() if k not in ("corr", "predictions")}
                if val_scores
                else {}
            ),
        },
        "package_version": __version__,
        "torch_version": str(torch.__version__),
        "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def _noise_entries(config: SpikeTrainConfig) -> dict:
    """The card's record of added training noise (white augmentation or noise matching)."""
    matched = config.noise_matched
    return {
        "noise_augmentation": {
            "enabled": config.noise_augment,
            "nu_max": config.noise_max if config.noise_augment else 0,
        },
        "noise_matching": {
            "enabled": matched,
            "nu_range": list(config.nu_range) if matched else None,
            "white_fraction": config.white_fraction if matched else None,
            "rates_hz": list(config.train_rates_hz or (config.fs_hz,)) if matched else None,
        },
    }
