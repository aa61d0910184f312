"""Training ENS² and S2S networks on paired ground truth.

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
the training traces afterwards.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Generator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from ..._version import __version__
from ...errors import InvalidInputError, ModelError
from ...evaluation.spikes import pearson
from ...io.atomic import atomic_path
from ...progress import Progress, drain
from ..engine import predict_trace
from .config import (
    METHOD_DEFAULTS,
    SpikeTrainConfig,
    SpikeTrainResult,
    default_config,
    learning_rate_at,
)
from .data import PairedData, PairedTrace, load_training_data
from .sampling import WindowSampler, added_noise_std, split_by_neuron

__all__ = [
    "iter_train",
    "train",
]

# ---------------------------------------------------------------------------
# validation scores and output calibration
# ---------------------------------------------------------------------------


def _score_traces(
    network, traces: Sequence[PairedTrace], config: SpikeTrainConfig, scale: float, offset: float
) -> dict:
    per_neuron: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}
    raw = []
    for t in traces:
        out = predict_trace(network, t.dff, config.method, config.window)
        raw.append(out)
        pred = np.maximum(out * scale + offset, 0.0)
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


def _calibrate(
    network, traces: Sequence[PairedTrace], config: SpikeTrainConfig
) -> tuple[float, float]:
    """Least-squares (scale, offset) mapping S2S output to spikes per bin on ``traces``."""
    sxx = sx = sy = sxy = n = 0.0
    for t in traces:
        out = predict_trace(network, t.dff, config.method, config.window)
        m = np.isfinite(t.dff)
        o, y = out[m], t.target[m].astype(np.float64)
        sxx += float(o @ o)
        sx += float(o.sum())
        sy += float(y.sum())
        sxy += float(o @ y)
        n += o.size
    den = n * sxx - sx * sx
    if n == 0 or den <= 0:
        return 1.0, 0.0
    scale = (n * sxy - sx * sy) / den
    offset = (sy - scale * sx) / n
    return float(scale), float(offset)


# ---------------------------------------------------------------------------
# training loop
# ---------------------------------------------------------------------------


def _rng_state_json(rng: np.random.Generator) -> str:
    return json.dumps(rng.bit_generator.state)


def _rng_from_json(text: str) -> np.random.Generator:
    rng = np.random.default_rng()
    rng.bit_generator.state = json.loads(text)
    return rng


def _init_weights(
    network: Any, init_from: str | os.PathLike[str], config: SpikeTrainConfig
) -> dict:
    """Copy the weights of a saved model into ``network``; return its card."""
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


def _build(config: SpikeTrainConfig):
    import torch

    from ..networks import ENS2UNet, S2SNet

    torch.manual_seed(config.seed)
    if config.method == "ens2":
        kw = {"window": config.window, "fs_hz": config.fs_hz, **config.network_kwargs}
        return ENS2UNet(**kw)
    kw = {"window": config.window, "fs_hz": config.fs_hz, **config.network_kwargs}
    return S2SNet(**kw)


def _save_checkpoint(path: Path, payload: dict) -> None:
    import torch

    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


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

    from .losses import LOSSES

    t_start = time.perf_counter()
    if num_threads is not None:
        torch.set_num_threads(int(num_threads))
    ckpt = None
    if resume is not None:
        from ..registry import _checkpoint_payload

        ckpt = _checkpoint_payload(Path(resume))
        saved = dict(ckpt["config"])
        if saved.get("kernel_samples") is not None:
            saved["kernel_samples"] = tuple(saved["kernel_samples"])
        if config is not None:
            for key in (
                "method",
                "batch_size",
                "learning_rate",
                "seed",
                "fs_hz",
                "window",
                "loss",
                "noise_augment",
                "segment_samples",
                "val_fraction",
            ):
                if getattr(config, key) != saved[key]:
                    raise InvalidInputError(
                        f"resume={str(resume)!r}: {key}={getattr(config, key)!r} differs from the "
                        f"checkpoint's {saved[key]!r}; resume with the same settings"
                    )
            saved["iterations"] = config.iterations
        config = SpikeTrainConfig(**saved)
        name = name or ckpt["card"].get("name")
    config = config or default_config("ens2")
    if config.method not in METHOD_DEFAULTS:
        raise InvalidInputError(f"config.method must be 'ens2' or 's2s', got {config.method!r}")
    name = name or f"{config.method}-custom"
    if not isinstance(data, PairedData):
        data = load_training_data(data, config)
    if abs(data.fs_hz - config.fs_hz) > 1e-9:
        raise InvalidInputError(
            f"paired data are at {data.fs_hz} Hz but the {config.method} config expects "
            f"{config.fs_hz} Hz; load them with load_training_data(paths, config)"
        )

    train_neurons, val_neurons = split_by_neuron(data, config.val_fraction, seed=config.seed)
    if ckpt is not None and (
        train_neurons != ckpt["train_neurons"] or val_neurons != ckpt["val_neurons"]
    ):
        raise InvalidInputError(
            f"resume={str(resume)!r}: the training data differ from the checkpoint's "
            "(different neurons); pass the same ground-truth folders"
        )
    train_data = data.select(neurons=train_neurons)
    val_data = data.select(neurons=val_neurons)
    seg = config.window if config.method == "ens2" else config.segment_samples
    sampler = WindowSampler(train_data.traces, seg)
    val_sampler = WindowSampler(val_data.traces, seg) if val_data.traces else None

    # fixed validation sample (independent of the training RNG)
    if val_sampler is not None:
        vrng = np.random.default_rng([config.seed, 1])
        n_val = min(config.val_windows, val_sampler.n_windows)
        if config.method == "s2s":
            stride = max(1, val_sampler.n_windows // n_val)
            vidx = np.arange(0, val_sampler.n_windows, stride)[:n_val]
        else:
            vidx = np.sort(vrng.choice(val_sampler.n_windows, size=n_val, replace=False))
        vx, vy, _ = val_sampler.windows(vidx)
        vx_t, vy_t = torch.from_numpy(vx), torch.from_numpy(vy)
    steps_per_epoch = max(1, math.ceil(sampler.n_windows / seg / config.batch_size))
    val_every = config.val_every or steps_per_epoch
    patience = config.patience if config.patience is not None else 6 * steps_per_epoch

    network = _build(config)
    init_card = None
    if init_from is not None:
        if ckpt is not None:
            raise InvalidInputError(
                f"iter_train got resume={str(resume)!r} and init_from={str(init_from)!r}; "
                "pass resume to continue a run or init_from to fine-tune a model, not both"
            )
        init_card = _init_weights(network, init_from, config)
    loss_fn = LOSSES[config.loss]
    opt = torch.optim.Adam(network.parameters(), lr=config.learning_rate)
    rng = np.random.default_rng([config.seed, 0])
    torch.manual_seed(config.seed)
    history: dict[str, list] = {
        "iteration": [],
        "train_loss": [],
        "val_iteration": [],
        "val_loss": [],
    }
    best_val, best_iter, best_state = float("inf"), 0, None
    it = 0
    if ckpt is not None:
        network.load_state_dict(ckpt["model_state"])
        opt.load_state_dict(ckpt["optim_state"])
        rng = _rng_from_json(ckpt["rng_numpy"])
        torch.set_rng_state(ckpt["rng_torch"])
        history = {k: list(v) for k, v in json.loads(ckpt["history"]).items()}
        best_val, best_iter = float(ckpt["best_val"]), int(ckpt["best_iteration"])
        best_state = ckpt["best_state"]
        it = int(ckpt["iteration"])

    out_path = Path(out_dir) if out_dir is not None else None
    if out_path is not None:
        out_path.mkdir(parents=True, exist_ok=True)

    def evaluate() -> float:
        if val_sampler is None:
            return float("nan")
        network.eval()
        with torch.inference_mode():
            losses = []
            for i in range(0, vx_t.shape[0], 2048):
                pred = network(vx_t[i : i + 2048])
                losses.append(float(loss_fn(pred, vy_t[i : i + 2048])) * pred.shape[0])
        network.train()
        return float(np.sum(losses) / vx_t.shape[0])

    def card_so_far(
        iterations_run: int,
        stopped: bool,
        val_scores: dict | None,
        scale: float = 1.0,
        offset: float = 0.0,
    ) -> dict:
        return {
            "format": "calcium-forge-model/1",
            "name": name,
            "method": config.method,
            "architecture": {"class": type(network).__name__, "kwargs": network.config()},
            "n_parameters": int(sum(p.numel() for p in network.parameters())),
            "fs_hz": config.fs_hz,
            "window": config.window,
            "output_unit": "spikes per bin at fs_hz (multiply by fs_hz for spikes/s)",
            "output_scale": scale,
            "output_offset": offset,
            "target_smoothing": dict(data.smoothing),
            "training": {
                "datasets": data.datasets,
                "n_train_neurons": len(train_neurons),
                "n_val_neurons": len(val_neurons),
                "train_duration_h": round(train_data.duration_s / 3600, 3),
                "loss": config.loss,
                "iteration_budget": config.iterations,
                "iterations_run": iterations_run,
                "best_iteration": best_iter,
                "stopped_early": stopped,
                "batch_size": config.batch_size,
                "learning_rate": config.learning_rate,
                "patience_iterations": patience,
                "val_every_iterations": val_every,
                "steps_per_epoch": steps_per_epoch,
                "seed": config.seed,
                "fine_tuned_from": None if init_card is None else init_card.get("name"),
                "noise_augmentation": {
                    "enabled": config.noise_augment,
                    "nu_max": config.noise_max if config.noise_augment else 0,
                },
                "config": config.to_dict(),
            },
            "validation": {
                "split": f"{config.val_fraction:.0%} of the neurons of each dataset with >= 3",
                "best_val_loss": best_val if math.isfinite(best_val) else None,
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

    def checkpoint(stopped: bool) -> None:
        if out_path is None or not config.checkpoint_every:
            return
        _save_checkpoint(
            out_path / "checkpoint.pt",
            {
                "format": "calcium-forge-checkpoint",
                "config": config.to_dict(),
                "iteration": it,
                "model_state": {k: v.clone() for k, v in network.state_dict().items()},
                "optim_state": opt.state_dict(),
                "best_state": best_state,
                "best_val": best_val,
                "best_iteration": best_iter,
                "rng_numpy": _rng_state_json(rng),
                "rng_torch": torch.get_rng_state(),
                "history": json.dumps(history),
                "train_neurons": train_neurons,
                "val_neurons": val_neurons,
                "stopped_early": stopped,
                "card": card_so_far(it, stopped, None),
            },
        )

    stopped = bool(ckpt.get("stopped_early", False)) if ckpt is not None else False
    best_train, best_train_iter = float("inf"), it
    network.train()
    running: list[float] = []
    yield Progress(it, config.iterations, f"training {name}", {})
    while it < config.iterations and not stopped:
        x, y, nu = sampler.sample(config.batch_size, rng)
        if config.noise_augment:
            nu_t = rng.uniform(0.0, config.noise_max, size=x.shape[0])
            std = added_noise_std(nu_t, nu, config.fs_hz).astype(np.float32)
            x = x + std[:, None] * rng.standard_normal(x.shape, dtype=np.float32)
        pred = network(torch.from_numpy(x))
        loss = loss_fn(pred, torch.from_numpy(y))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if config.lr_schedule != "constant":
            for group in opt.param_groups:
                group["lr"] = learning_rate_at(config, it)
        opt.step()
        it += 1
        running.append(float(loss.detach()))
        values: dict[str, float] = {}
        if val_sampler is None and config.patience is not None:
            # no validation neurons (val_fraction 0): stop on the training batch
            # loss as the authors' code does; the final weights are kept
            if running[-1] < best_train:
                best_train, best_train_iter = running[-1], it
            elif it - best_train_iter >= patience:
                stopped = True
        if it % config.report_every == 0 or it == config.iterations:
            history["iteration"].append(it)
            history["train_loss"].append(float(np.mean(running)))
            values["train_loss"] = history["train_loss"][-1]
            running = []
        if val_sampler is not None and (it % val_every == 0 or it == config.iterations):
            v = evaluate()
            history["val_iteration"].append(it)
            history["val_loss"].append(v)
            values["val_loss"] = v
            if v < best_val:
                best_val, best_iter = v, it
                best_state = {k: t.detach().clone() for k, t in network.state_dict().items()}
            elif it - best_iter >= patience:
                stopped = True
        if config.checkpoint_every and (it % config.checkpoint_every == 0 or stopped):
            checkpoint(stopped)
        if values:
            yield Progress(it, config.iterations, f"training {name}", values)

    if best_state is not None:
        network.load_state_dict(best_state)
    if val_sampler is None:
        best_iter = it  # no validation: the final weights are the model
    network.eval()
    scale, offset = 1.0, 0.0
    if config.method == "s2s":
        yield Progress(it, config.iterations, "calibrating output scale", {})
        scale, offset = _calibrate(network, train_data.traces, config)
    val_scores: dict = {}
    if score_validation and val_data.traces:
        yield Progress(it, config.iterations, "scoring validation neurons", {})
        val_scores = _score_traces(network, val_data.traces, config, scale, offset)
    card = card_so_far(it, stopped, val_scores, scale, offset)
    if config.calibrate_events:
        from .calibration import calibrate_on_traces

        yield Progress(it, config.iterations, "calibrating the spike-event gain", {})
        use_val = bool(val_data.traces)
        cal = calibrate_on_traces(
            network,
            val_data.traces if use_val else train_data.traces,
            config.method,
            config.window,
            card,
            scale,
            offset,
            predictions=val_scores.get("predictions") if use_val else None,
            calibrated_on="validation neurons" if use_val else "training neurons (no validation)",
        )
        card["events"] = cal.to_card()
    val_scores.pop("predictions", None)
    elapsed = time.perf_counter() - t_start
    card["training"]["elapsed_s_this_run"] = round(elapsed, 1)
    if ckpt is not None:
        card["training"]["resumed_from_iteration"] = int(ckpt["iteration"])
    model_path = None
    if out_path is not None:
        from ..registry import save_model

        if config.checkpoint_every:
            checkpoint(stopped)
        model_path = save_model(network, card, out_path / name)
    return SpikeTrainResult(
        network=network,
        card=card,
        history=history,
        best_iteration=best_iter,
        iterations_run=it,
        stopped_early=stopped,
        train_neurons=train_neurons,
        val_neurons=val_neurons,
        val_scores=val_scores,
        elapsed_s=elapsed,
        model_path=model_path,
    )


def train(
    data, config: SpikeTrainConfig | None = None, progress_bar: bool = False, **kwargs
) -> SpikeTrainResult:
    """Headless :func:`iter_train` (same arguments); shows a tqdm bar if asked."""
    return drain(iter_train(data, config, **kwargs), progress_bar=progress_bar, desc="train")
