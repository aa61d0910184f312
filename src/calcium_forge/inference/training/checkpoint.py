"""Where a training run starts and how it is saved: fresh or fine-tuned weights, checkpoints.

A run starts from a fresh network (:func:`initial_network`, seeded), from the
weights of a saved model (:func:`load_initial_weights`, ``init_from``) or from
a checkpoint (``resume``): :func:`read_checkpoint`, :func:`resume_config` and
:func:`check_same_neurons` say whether the run may continue, and
:meth:`TrainState.from_checkpoint` restores its state.

A checkpoint is one ``checkpoint.pt`` (``torch.save`` of
:func:`checkpoint_payload`: tensors, numbers, strings and lists, so it loads
with ``weights_only=True``):

``format``, ``checkpoint_version``
    ``"calcium-forge-checkpoint"`` and :data:`CHECKPOINT_VERSION`.
``config``
    :meth:`SpikeTrainConfig.to_dict` of the run.
``iteration``, ``best_val``, ``best_iteration``, ``stopped_early``, ``history``, ``rng_numpy``
    The :class:`TrainState` (history and the NumPy generator state as JSON text).
``model_state``, ``optim_state``, ``best_state``, ``rng_torch``
    Network and Adam state dicts, the best weights so far (None before the
    first validation) and torch's CPU generator state.
``train_neurons``, ``val_neurons``
    The neuron split, checked on resume.
``card``
    The model card so far, so that
    :func:`calcium_forge.inference.registry.load_model` can load a checkpoint.

The trainer (:class:`calcium_forge.inference.training.loop.SpikeTrainer`)
decides when to write a checkpoint and restores from it.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import InvalidInputError, ModelError
from .config import SpikeTrainConfig
from .sampling import TrainingSplit

__all__ = [
    "CHECKPOINT_FORMAT",
    "CHECKPOINT_VERSION",
    "RESUME_KEYS",
    "TrainState",
    "check_same_neurons",
    "checkpoint_payload",
    "initial_network",
    "load_initial_weights",
    "read_checkpoint",
    "resume_config",
]

#: Value of ``checkpoint["format"]``.
CHECKPOINT_FORMAT = "calcium-forge-checkpoint"

#: Value of ``checkpoint["checkpoint_version"]``; raise it when the entries change meaning.
#: Checkpoints written before the version existed count as version 1.
CHECKPOINT_VERSION = 1

#: Settings a resumed run must share with its checkpoint (the iteration budget may change).
RESUME_KEYS: tuple[str, ...] = (
    "method",
    "batch_size",
    "learning_rate",
    "seed",
    "fs_hz",
    "window",
    "loss",
    "noise_augment",
    "noise_matched",
    "conditioned",
    "segment_samples",
    "val_fraction",
)


def _empty_history() -> dict[str, list]:
    return {"iteration": [], "train_loss": [], "val_iteration": [], "val_loss": []}


@dataclass
class TrainState:
    """What changes while a network trains; the checkpointed part is restored on resume.

    Attributes
    ----------
    rng : numpy.random.Generator
        Draws the training windows and the added noise.
    iteration : int
        Optimiser steps done.
    history : dict
        ``iteration`` / ``train_loss`` (mean batch loss since the last report)
        and ``val_iteration`` / ``val_loss`` lists (loss units of the config's loss).
    best_val : float
        Lowest validation loss so far (inf before the first validation).
    best_iteration : int
        Iteration of ``best_val``.
    best_state : dict or None
        Network weights at ``best_iteration`` (None before the first validation).
    stopped : bool
        Early stopping has ended the run.
    running : list of float
        Batch losses since the last report (not checkpointed).
    best_train, best_train_iteration : float, int
        Lowest batch loss and its iteration, watched for early stopping when
        there are no validation neurons (not checkpointed: a resumed run starts
        watching afresh).
    """

    rng: np.random.Generator
    iteration: int = 0
    history: dict[str, list] = field(default_factory=_empty_history)
    best_val: float = math.inf
    best_iteration: int = 0
    best_state: dict | None = None
    stopped: bool = False
    running: list[float] = field(default_factory=list)
    best_train: float = math.inf
    best_train_iteration: int = 0

    def to_checkpoint(self) -> dict:
        """The checkpoint entries of this state (see the module docstring).

        Returns
        -------
        dict
            ``iteration``, ``best_state``, ``best_val``, ``best_iteration``,
            ``rng_numpy`` and ``history`` (JSON text), ``stopped_early``.
        """
        return {
            "iteration": self.iteration,
            "best_state": self.best_state,
            "best_val": self.best_val,
            "best_iteration": self.best_iteration,
            "rng_numpy": json.dumps(self.rng.bit_generator.state),
            "history": json.dumps(self.history),
            "stopped_early": self.stopped,
        }

    @classmethod
    def from_checkpoint(cls, payload: dict) -> TrainState:
        """The state saved in a checkpoint payload.

        Parameters
        ----------
        payload : dict
            A checkpoint read with :func:`read_checkpoint`.

        Returns
        -------
        TrainState
        """
        rng = np.random.default_rng()
        rng.bit_generator.state = json.loads(payload["rng_numpy"])
        iteration = int(payload["iteration"])
        return cls(
            rng=rng,
            iteration=iteration,
            history={k: list(v) for k, v in json.loads(payload["history"]).items()},
            best_val=float(payload["best_val"]),
            best_iteration=int(payload["best_iteration"]),
            best_state=payload["best_state"],
            stopped=bool(payload.get("stopped_early", False)),
            best_train_iteration=iteration,
        )


def checkpoint_payload(
    config: SpikeTrainConfig,
    state: TrainState,
    network: Any,
    optimiser: Any,
    split: TrainingSplit,
    card: dict,
    weights: dict | None = None,
) -> dict:
    """The checkpoint of a run at its current iteration (see the module docstring).

    Parameters
    ----------
    config : SpikeTrainConfig
        Settings of the run.
    state : TrainState
        Iteration, history, best weights and the sampling generator.
    network : torch.nn.Module
        The network being trained (its weights are copied).
    optimiser : torch.optim.Optimizer
        Its state dict is stored.
    split : TrainingSplit
        Gives the neuron split.
    card : dict
        The model card so far.
    weights : dict, optional
        The weights the run continues from, stored as ``model_state``
        (default: the network's current weights).

    Returns
    -------
    dict
        Ready for ``torch.save``; torch's CPU generator state is taken now.
    """
    import torch

    return {
        "format": CHECKPOINT_FORMAT,
        "checkpoint_version": CHECKPOINT_VERSION,
        "config": config.to_dict(),
        **state.to_checkpoint(),
        "model_state": {k: v.clone() for k, v in (weights or network.state_dict()).items()},
        "optim_state": optimiser.state_dict(),
        "rng_torch": torch.get_rng_state(),
        "train_neurons": split.train_neurons,
        "val_neurons": split.val_neurons,
        "card": card,
    }


def read_checkpoint(path: str | os.PathLike[str]) -> dict:
    """Read a training checkpoint (``torch.load(weights_only=True)``, format checked).

    Parameters
    ----------
    path : path
        A ``checkpoint.pt`` written by :func:`calcium_forge.inference.training.iter_train`.

    Returns
    -------
    dict
        The checkpoint payload (see the module docstring).

    Raises
    ------
    ModelError
        When the file is not a calcium-forge training checkpoint, or one of a
        newer version than this calcium-forge reads.
    """
    from ..registry import _checkpoint_payload

    payload = _checkpoint_payload(Path(path))
    version = payload.get("checkpoint_version", 1)
    if not isinstance(version, int) or not 1 <= version <= CHECKPOINT_VERSION:
        raise ModelError(
            f"checkpoint {str(path)!r} has checkpoint_version={version!r}; this calcium-forge "
            f"reads versions 1 to {CHECKPOINT_VERSION}. Resume it with the calcium-forge that "
            "wrote it, or start a new run."
        )
    return payload


def check_same_neurons(
    payload: dict,
    train_neurons: list[str],
    val_neurons: list[str],
    resume: str | os.PathLike[str],
) -> None:
    """Refuse to resume on data whose neuron split differs from the checkpoint's.

    Parameters
    ----------
    payload : dict
        The checkpoint (see :func:`read_checkpoint`).
    train_neurons, val_neurons : list of str
        The split of the data given to the resumed run.
    resume : path
        The checkpoint path (for the message).

    Raises
    ------
    InvalidInputError
        When either side differs.
    """
    if train_neurons != payload["train_neurons"] or val_neurons != payload["val_neurons"]:
        raise InvalidInputError(
            f"resume={str(resume)!r}: the training data differ from the checkpoint's "
            "(different neurons); pass the same ground-truth folders"
        )


def resume_config(
    payload: dict, config: SpikeTrainConfig | None, resume: str | os.PathLike[str]
) -> SpikeTrainConfig:
    """The settings of a resumed run: the checkpoint's, with the caller's iteration budget.

    Parameters
    ----------
    payload : dict
        The checkpoint (see :func:`read_checkpoint`).
    config : SpikeTrainConfig or None
        Settings passed to the resumed run; None takes the checkpoint's as they are.
    resume : path
        The checkpoint path (for error messages).

    Returns
    -------
    SpikeTrainConfig

    Raises
    ------
    InvalidInputError
        When ``config`` differs from the checkpoint's in one of :data:`RESUME_KEYS`.
    """
    defaults = SpikeTrainConfig().to_dict()
    saved = {**defaults, **payload["config"]}  # checkpoints from before a field existed
    for key in ("kernel_samples", "nu_range", "train_rates_hz"):
        if saved.get(key) is not None:
            saved[key] = tuple(saved[key])
    if config is not None:
        for key in RESUME_KEYS:
            if getattr(config, key) != saved[key]:
                raise InvalidInputError(
                    f"resume={str(resume)!r}: {key}={getattr(config, key)!r} differs from the "
                    f"checkpoint's {saved[key]!r}; resume with the same settings"
                )
        saved["iterations"] = config.iterations
    return SpikeTrainConfig(**saved)


def initial_network(config: SpikeTrainConfig):
    """A freshly initialised network for ``config``.

    Parameters
    ----------
    config : SpikeTrainConfig
        Gives the method, rate (Hz), window (samples), extra constructor
        arguments and the seed (torch is seeded with it before initialising).

    Returns
    -------
    torch.nn.Module
        ``ENS2UNet`` or ``S2SNet``.
    """
    import torch

    from ..networks import build_network

    torch.manual_seed(config.seed)
    kwargs = {"window": config.window, "fs_hz": config.fs_hz, **config.network_kwargs}
    if config.conditioned:
        kwargs["n_conditions"] = 2  # noise level and frame rate (networks.CONDITIONS)
    return build_network("ENS2UNet" if config.method == "ens2" else "S2SNet", kwargs)


def load_initial_weights(
    network: Any, init_from: str | os.PathLike[str], config: SpikeTrainConfig
) -> dict:
    """Copy the weights of a saved model into ``network`` (fine-tuning); return its card.

    Parameters
    ----------
    network : torch.nn.Module
        The network about to be trained.
    init_from : str or path
        A shipped model name or a model file of the same method, rate, window
        and architecture.
    config : SpikeTrainConfig
        Settings of the run.

    Returns
    -------
    dict
        The model card of ``init_from``.

    Raises
    ------
    InvalidInputError
        When the model's method, rate or window differ from the config's.
    ModelError
        When its architecture differs from the network's.
    """
    from ..registry import load_model

    base = load_model(init_from)
    where = f"init_from={str(init_from)!r}"
    if base.method != config.method:
        raise InvalidInputError(
            f"{where} is a {base.method} model but the training config is {config.method}; "
            "fine-tune a model of the same method"
        )
    if abs(base.fs_hz - config.fs_hz) > 1e-9 or base.window != config.window:
        raise InvalidInputError(
            f"{where} works at {base.fs_hz} Hz with window {base.window}, the training config at "
            f"{config.fs_hz} Hz with window {config.window}; use the model's rate and window"
        )
    try:
        network.load_state_dict(base.network.state_dict())
    except RuntimeError as exc:
        raise ModelError(
            f"{where}: its architecture {base.card.get('architecture')} differs from the network "
            f"being trained ({type(network).__name__} {network.config()}); pass "
            "SpikeTrainConfig(network_kwargs=...) with the model's widths"
        ) from exc
    return base.card
