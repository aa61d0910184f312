"""Training ENS², S2S and Cascade networks on paired ground truth.

``iter_train(data, config)`` is a generator: it yields :class:`Progress`
records (iteration, train/validation loss) and returns a :class:`SpikeTrainResult`.
``train(...)`` drains it. Validation is split by neuron (never by time) within
each training dataset. Checkpoints (weights, optimiser, RNG states, history and
the model card so far) are written every ``checkpoint_every`` iterations and
training resumes from them bit-for-bit.

ENS² (Zhou et al. 2023): batches of 1024 random stride-1 windows of 96 samples
at 60 Hz, MSE, Adam 1e-3, ≤ 5000 iterations, early stopping with patience 500
iterations on the validation loss. S2S (Sebastian et al. 2021): batches of 20
segments at 100 Hz, negative Pearson loss, Adam 1e-3, early stopping with
patience 6 epochs; its output offset/scale are calibrated by least squares on
the training traces afterwards. Cascade (Rupprecht et al. 2021): an ensemble
of 5 on noise-matched windows, centre-frame targets, MSE, Adam 1e-3 (Adagrad
0.05 as in the original with ``optimizer="adagrad"``; :mod:`.cascade`).

A :class:`SpikeTrainer` does the work in named steps (data and split, network
and optimiser, restore, optimisation step, validation, checkpoint, finish);
:func:`iter_train` is the short loop around it.

Size: about 540 lines, over the house's ~500, because the trainer is one class
whose short methods share its state; about 200 lines are docstrings. Its state
and checkpoint rules (:mod:`.checkpoint`), card (:mod:`.card`), scoring
(:mod:`.scoring`) and batches (:mod:`.sampling`, :mod:`.matched`) already live
beside it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Generator, Sequence
from pathlib import Path

import numpy as np

from ...errors import InvalidInputError
from ...io.atomic import atomic_path
from ...progress import Progress, drain
from .card import training_card
from .checkpoint import (
    TrainState,
    check_same_neurons,
    checkpoint_payload,
    initial_network,
    load_initial_weights,
    read_checkpoint,
    resume_config,
)
from .config import (
    METHOD_DEFAULTS,
    SpikeTrainConfig,
    SpikeTrainResult,
    build_optimiser,
    check_same_optimiser,
    default_config,
    learning_rate_at,
)
from .data import PairedData, training_data
from .sampling import added_noise_std, split_for_training
from .scoring import OutputScale, fit_output_scale, score_traces

__all__ = ["SpikeTrainer", "iter_train", "train"]

#: Windows per forward pass when computing the validation loss.
VALIDATION_BATCH = 2048


class SpikeTrainer:
    """One training run of a spike-inference network: data, network, optimiser and state.

    Parameters
    ----------
    data : PairedData or path(s)
        Paired data at the config's rate, or ground-truth folders / ``.mat``
        files to load (see :func:`iter_train`).
    config : SpikeTrainConfig, optional
        Settings; default :func:`default_config` of ENS² (or the checkpoint's).
    out_dir : path, optional
        Folder for ``checkpoint.pt`` and the final model files.
    name : str, optional
        Model name (default: the checkpoint's, else ``"<method>-custom"``).
    resume : path, optional
        A ``checkpoint.pt`` to continue from.
    init_from : str or path, optional
        A saved model whose weights replace the random initialisation.

    Attributes
    ----------
    config : SpikeTrainConfig
        Settings of the run.
    network : torch.nn.Module
        The network being trained.
    state : TrainState
        Iteration, history, best weights and the sampling generator.
    """

    def __init__(
        self,
        data: PairedData | Sequence[str | os.PathLike[str]] | str | os.PathLike[str],
        config: SpikeTrainConfig | None = None,
        *,
        out_dir: str | os.PathLike[str] | None = None,
        name: str | None = None,
        resume: str | os.PathLike[str] | None = None,
        init_from: str | os.PathLike[str] | None = None,
    ) -> None:
        checkpoint = None
        if resume is not None:
            checkpoint = read_checkpoint(resume)
            check_same_optimiser(checkpoint["config"], config, resume)
            config = resume_config(checkpoint, config, resume)
            name = name or checkpoint["card"].get("name")
        config = config or default_config("ens2")
        if config.method not in METHOD_DEFAULTS:
            raise InvalidInputError(
                f"config.method must be one of {', '.join(METHOD_DEFAULTS)}, got {config.method!r}"
            )
        if config.method == "cascade" and not config.noise_matched:
            raise InvalidInputError("method='cascade' needs noise_matched=True (Cascade's recipe)")
        self.config = config
        self.name = name or f"{config.method}-custom"
        self.resume = resume
        self._prepare_data(data, checkpoint)
        self._build(init_from, resuming=checkpoint is not None)
        self.resumed_from_iteration: int | None = None
        self.last_weights: dict | None = None  # set when the best weights replace them
        if checkpoint is not None:
            self._restore(checkpoint)
        self.out_path = Path(out_dir) if out_dir is not None else None
        if self.out_path is not None:
            self.out_path.mkdir(parents=True, exist_ok=True)
        self.network.train()

    def _prepare_data(self, data, checkpoint: dict | None) -> None:
        """Load the data, split the neurons (as the checkpoint did), fix the schedule."""
        import torch

        config = self.config
        split = split_for_training(training_data(data, config), config)
        if checkpoint is not None:
            check_same_neurons(checkpoint, split.train_neurons, split.val_neurons, self.resume)
        self.split = split
        self.batches = None  # noise-matched batches (config.noise_matched)
        self.val_x = self.val_y = self.val_condition = None
        val_x, val_y, val_condition = split.val_x, split.val_y, None
        if config.noise_matched:
            from .matched import matched_setup

            setup = matched_setup(data, split.train_neurons, split.val_neurons, config)
            if config.method == "cascade":  # the centre frame of each window is the target
                from .cascade import centre_targets

                setup = centre_targets(setup, config.window // 2)
            self.batches = setup.batches
            val_x, val_y, val_condition = setup.val_x, setup.val_y, setup.val_condition
        if val_x is not None:
            self.val_x, self.val_y = torch.from_numpy(val_x), torch.from_numpy(val_y)
        if val_condition is not None:
            self.val_condition = torch.from_numpy(val_condition)
        self.val_every = config.val_every or split.steps_per_epoch
        self.patience = (
            config.patience if config.patience is not None else 6 * split.steps_per_epoch
        )

    def _build(self, init_from, resuming: bool) -> None:
        """Network (random or ``init_from`` weights), loss, optimiser and a fresh state."""
        import torch

        from .cascade import initial_cascade_network
        from .losses import LOSSES

        config = self.config
        new_network = initial_cascade_network if config.method == "cascade" else initial_network
        self.network = new_network(config)
        self.fine_tuned_from = None
        if init_from is not None:
            if resuming:
                raise InvalidInputError(
                    f"iter_train got resume={str(self.resume)!r} and init_from={str(init_from)!r}; "
                    "pass resume to continue a run or init_from to fine-tune a model, not both"
                )
            self.fine_tuned_from = load_initial_weights(self.network, init_from, config).get("name")
        self.loss_fn = LOSSES[config.loss]
        self.optimiser = build_optimiser(config, self.network.parameters())
        self.state = TrainState(rng=np.random.default_rng([config.seed, 0]))
        torch.manual_seed(config.seed)

    def _restore(self, checkpoint: dict) -> None:
        """Continue from a checkpoint: weights, optimiser, generators and state."""
        import torch

        self.network.load_state_dict(checkpoint["model_state"])
        self.optimiser.load_state_dict(checkpoint["optim_state"])
        self.state = TrainState.from_checkpoint(checkpoint)
        torch.set_rng_state(checkpoint["rng_torch"])
        self.resumed_from_iteration = self.state.iteration

    @property
    def running(self) -> bool:
        """True while the iteration budget is not used up and early stopping has not fired."""
        return self.state.iteration < self.config.iterations and not self.state.stopped

    def progress(self, message: str, values: dict | None = None) -> Progress:
        """A :class:`Progress` record at the current iteration.

        Parameters
        ----------
        message : str
            What the run is doing.
        values : dict, optional
            Losses to show (``train_loss``, ``val_loss``).

        Returns
        -------
        Progress
        """
        return Progress(self.state.iteration, self.config.iterations, message, values or {})

    def step(self) -> dict[str, float]:
        """One optimisation step and what follows it: reports, validation, checkpoint.

        Returns
        -------
        dict
            ``train_loss`` when a report was due, ``val_loss`` when a validation
            was (empty otherwise).
        """
        config, state = self.config, self.state
        loss = self._optimise()
        state.running.append(loss)
        if self.val_x is None and config.patience is not None:
            self._watch_training_loss(loss)
        values: dict[str, float] = {}
        last = state.iteration == config.iterations
        if state.iteration % config.report_every == 0 or last:
            values["train_loss"] = self._report_training_loss()
        if self.val_x is not None and (state.iteration % self.val_every == 0 or last):
            values["val_loss"] = self._validation_step()
        if config.checkpoint_every and (
            state.iteration % config.checkpoint_every == 0 or state.stopped
        ):
            self.save_checkpoint()
        return values

    def _optimise(self) -> float:
        """Draw a batch (adding noise if asked), take one optimiser step; return the batch loss."""
        import torch

        config, state = self.config, self.state
        condition = None
        if self.batches is not None:
            batch = self.batches.sample(config.batch_size, state.rng, state.iteration)
            x, y, condition = batch.x, batch.y, batch.condition
        else:
            x, y, nu = self.split.sampler.sample(config.batch_size, state.rng)
        if config.noise_augment:
            nu_t = state.rng.uniform(0.0, config.noise_max, size=x.shape[0])
            std = added_noise_std(nu_t, nu, config.fs_hz).astype(np.float32)
            x = x + std[:, None] * state.rng.standard_normal(x.shape, dtype=np.float32)
        if condition is None:
            pred = self.network(torch.from_numpy(x))
        else:
            pred = self.network(torch.from_numpy(x), torch.from_numpy(condition))
        loss = self.loss_fn(pred, torch.from_numpy(y))
        self.optimiser.zero_grad(set_to_none=True)
        loss.backward()
        if config.lr_schedule != "constant":
            for group in self.optimiser.param_groups:
                group["lr"] = learning_rate_at(config, state.iteration)
        self.optimiser.step()
        state.iteration += 1
        return float(loss.detach())

    def _watch_training_loss(self, loss: float) -> None:
        """Early stopping without validation neurons: on the batch loss (the authors' ENS² code).

        The final weights are kept.
        """
        state = self.state
        if loss < state.best_train:
            state.best_train, state.best_train_iteration = loss, state.iteration
        elif state.iteration - state.best_train_iteration >= self.patience:
            state.stopped = True

    def _report_training_loss(self) -> float:
        """Record the mean batch loss since the last report; return it."""
        state = self.state
        state.history["iteration"].append(state.iteration)
        state.history["train_loss"].append(float(np.mean(state.running)))
        state.running = []
        return state.history["train_loss"][-1]

    def validate(self) -> float:
        """Loss on the fixed validation windows (NaN without validation neurons).

        Returns
        -------
        float
            Mean loss per window, in the units of the config's loss.
        """
        import torch

        if self.val_x is None:
            return float("nan")
        self.network.eval()
        with torch.inference_mode():
            losses = []
            for i in range(0, self.val_x.shape[0], VALIDATION_BATCH):
                part = slice(i, i + VALIDATION_BATCH)
                if self.val_condition is None:
                    pred = self.network(self.val_x[part])
                else:
                    pred = self.network(self.val_x[part], self.val_condition[part])
                batch_loss = self.loss_fn(pred, self.val_y[i : i + VALIDATION_BATCH])
                losses.append(float(batch_loss) * pred.shape[0])
        self.network.train()
        return float(np.sum(losses) / self.val_x.shape[0])

    def _validation_step(self) -> float:
        """Validate, keep the best weights, stop when patience runs out; return the loss."""
        state = self.state
        v = self.validate()
        state.history["val_iteration"].append(state.iteration)
        state.history["val_loss"].append(v)
        if v < state.best_val:
            state.best_val, state.best_iteration = v, state.iteration
            state.best_state = {k: t.detach().clone() for k, t in self.network.state_dict().items()}
        elif state.iteration - state.best_iteration >= self.patience:
            state.stopped = True
        return v

    def save_checkpoint(self) -> Path | None:
        """Write ``checkpoint.pt`` into the output folder (atomically).

        Returns
        -------
        pathlib.Path or None
            The checkpoint written; None without ``out_dir`` or with
            ``checkpoint_every=0``.
        """
        import torch

        if self.out_path is None or not self.config.checkpoint_every:
            return None
        payload = checkpoint_payload(
            self.config, self.state, self.network, self.optimiser, self.split,
            card=self._card(self.state.stopped), weights=self.last_weights,
        )  # fmt: skip
        path = self.out_path / "checkpoint.pt"
        with atomic_path(path) as tmp:
            torch.save(payload, tmp)
        return path

    def _card(
        self, stopped: bool, val_scores: dict | None = None, output: OutputScale | None = None
    ) -> dict:
        """The model card so far (:func:`.card.training_card` at the current iteration)."""
        output = output or OutputScale()
        return training_card(
            self.name,
            self.config,
            self.network,
            self.split,
            self.state,
            patience=self.patience,
            val_every=self.val_every,
            fine_tuned_from=self.fine_tuned_from,
            iterations_run=self.state.iteration,
            stopped=stopped,
            val_scores=val_scores,
            scale=output.scale,
            offset=output.offset,
        )

    def finish(
        self, score_validation: bool = True, started: float | None = None
    ) -> Generator[Progress, None, SpikeTrainResult]:
        """Best weights, output and event calibration, model card and files (generator).

        Parameters
        ----------
        score_validation : bool
            Compute full-trace validation correlations.
        started : float, optional
            ``time.perf_counter()`` at the start of the run (for ``elapsed_s``).

        Yields
        ------
        Progress
            One per finishing stage.

        Returns
        -------
        SpikeTrainResult
        """
        config, state = self.config, self.state
        started = time.perf_counter() if started is None else started
        if state.best_state is not None:  # a later resume continues from the last weights
            self.last_weights = {k: v.clone() for k, v in self.network.state_dict().items()}
            self.network.load_state_dict(state.best_state)
        if self.val_x is None:
            state.best_iteration = state.iteration  # no validation: the final weights are the model
        self.network.eval()
        output = OutputScale()
        if config.method == "s2s":
            yield self.progress("calibrating output scale")
            output = fit_output_scale(self.network, self.split.train.traces, config)
        val_scores: dict = {}
        if score_validation and self.split.val.traces:
            yield self.progress("scoring validation neurons")
            val_scores = score_traces(
                self.network, self.split.val.traces, config, output.scale, output.offset
            )
        card = self._card(state.stopped, val_scores, output)
        if config.calibrate_events:
            from .calibration import calibrate_on_traces, events_seed_mass

            yield self.progress("calibrating the spike-event gain")
            use_val = bool(self.split.val.traces)  # else the training neurons
            card["events"] = calibrate_on_traces(
                self.network,
                self.split.val.traces if use_val else self.split.train.traces,
                config.method,
                config.window,
                card,
                output.scale,
                output.offset,
                predictions=val_scores.get("predictions") if use_val else None,
                seed_mass=events_seed_mass(None, config),
                calibrated_on="validation neurons"
                if use_val
                else "training neurons (no validation)",
            ).to_card()
        val_scores.pop("predictions", None)
        elapsed = time.perf_counter() - started
        card["training"]["elapsed_s_this_run"] = round(elapsed, 1)
        if self.resumed_from_iteration is not None:
            card["training"]["resumed_from_iteration"] = self.resumed_from_iteration
        return SpikeTrainResult(
            network=self.network,
            card=card,
            history=state.history,
            best_iteration=state.best_iteration,
            iterations_run=state.iteration,
            stopped_early=state.stopped,
            train_neurons=self.split.train_neurons,
            val_neurons=self.split.val_neurons,
            val_scores=val_scores,
            elapsed_s=elapsed,
            model_path=self._save_model(card),
        )

    def _save_model(self, card: dict) -> Path | None:
        """Last checkpoint and ``<name>.pt`` / ``<name>.json`` in the output folder."""
        if self.out_path is None:
            return None
        from ..registry import save_model

        self.save_checkpoint()
        return save_model(self.network, card, self.out_path / self.name)


def iter_train(
    data: PairedData | Sequence[str | os.PathLike[str]] | str | os.PathLike[str],
    config: SpikeTrainConfig | None = None,
    out_dir: str | os.PathLike[str] | None = None,
    name: str | None = None,
    resume: str | os.PathLike[str] | None = None,
    num_threads: int | None = None,
    score_validation: bool = True,
    init_from: str | os.PathLike[str] | None = None,
) -> Generator[Progress, None, SpikeTrainResult]:
    """Train a spike-inference network, yielding progress; return a :class:`SpikeTrainResult`.

    Parameters
    ----------
    data : PairedData or path(s)
        Paired data at the config's rate (see :func:`load_training_data`), or
        ground-truth folders / ``.mat`` files to load.
    config : SpikeTrainConfig, optional
        Settings; default :func:`default_config` of ENS².
    out_dir : path, optional
        Folder for ``checkpoint.pt`` and the final ``<name>.pt`` / ``<name>.json``.
    name : str, optional
        Model name (default ``"<method>-custom"``).
    resume : path, optional
        A ``checkpoint.pt`` to continue from (same data and settings; the
        iteration budget may be raised).
    num_threads : int, optional
        ``torch.set_num_threads`` for this process.
    score_validation : bool
        Compute full-trace validation correlations at the end (costs one
        stride-1 pass over the validation neurons).
    init_from : str or path, optional
        Fine-tune: start from the weights of a shipped model (e.g.
        ``"ens2-excitatory"``) or a model file of the same method, rate,
        window and architecture, instead of a random initialisation. Not
        combined with ``resume``.

    Yields
    ------
    Progress
        ``step`` = iteration, ``values`` = ``train_loss`` / ``val_loss``.

    Returns
    -------
    SpikeTrainResult
    """
    import torch

    started = time.perf_counter()
    if num_threads is not None:
        torch.set_num_threads(int(num_threads))
    trainer = SpikeTrainer(
        data, config, out_dir=out_dir, name=name, resume=resume, init_from=init_from
    )
    message = f"training {trainer.name}"
    yield trainer.progress(message)
    while trainer.running:
        values = trainer.step()
        if values:
            yield trainer.progress(message, values)
    return (yield from trainer.finish(score_validation, started))


def train(
    data, config: SpikeTrainConfig | None = None, progress_bar: bool = False, **kwargs
) -> SpikeTrainResult:
    """Headless :func:`iter_train` (same arguments); shows a tqdm bar if asked.

    Parameters
    ----------
    data : PairedData or path(s)
        As in :func:`iter_train`.
    config : SpikeTrainConfig, optional
        Settings; default :func:`default_config` of ENS².
    progress_bar : bool
        Show a tqdm bar.
    **kwargs
        Other keyword arguments of :func:`iter_train`.

    Returns
    -------
    SpikeTrainResult
    """
    return drain(iter_train(data, config, **kwargs), progress_bar=progress_bar, desc="train")
