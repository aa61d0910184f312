"""Training ENS² and S2S networks on paired ground truth.

``iter_train(data, config)`` is a generator: it yields :class:`Progress`
records (iteration, train/validation loss) and returns a :class:`TrainResult`.
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
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InvalidInputError, ModelError
from ..progress import Progress, drain
from ..recording import Recording
from .data import (
    PairedData,
    PairedTrace,
    WindowSampler,
    added_noise_std,
    load_ground_truth,
    split_by_neuron,
)

__all__ = [
    "METHOD_DEFAULTS",
    "TrainConfig",
    "TrainResult",
    "default_config",
    "iter_train",
    "load_training_data",
    "predict_trace",
    "train",
]

#: Paper settings per method.
METHOD_DEFAULTS: dict[str, dict[str, Any]] = {
    "ens2": dict(
        fs_hz=60.0,
        window=96,
        batch_size=1024,
        learning_rate=1e-3,
        iterations=5000,
        patience=500,
        val_every=50,
        loss="mse",
        sigma_ms=25.0,
        kernel_samples=None,
        segment_samples=96,
    ),
    "s2s": dict(
        fs_hz=100.0,
        window=100,
        batch_size=20,
        learning_rate=1e-3,
        iterations=5000,
        patience=None,  # 6 epochs, resolved from the data size
        val_every=None,  # one epoch
        loss="pearson",
        sigma_ms=None,
        kernel_samples=(11, 5.0),
        segment_samples=2000,
    ),
}


@dataclass
class TrainConfig:
    """Settings of one training run (all JSON-serialisable).

    Attributes
    ----------
    method : str
        ``"ens2"`` or ``"s2s"``.
    iterations : int
        Maximum number of optimiser steps.
    batch_size : int
        Windows (ENS²) or segments (S2S) per step.
    learning_rate : float
        Adam learning rate (the initial one with ``lr_schedule="cosine"``).
    lr_schedule : {"constant", "cosine"}
        ``"cosine"`` lowers the learning rate from ``learning_rate`` to 0 along
        half a cosine over ``iterations`` (computed from the iteration count, so
        a resumed run follows the same curve); the paper uses a constant rate.
    patience : int or None
        Early stopping: stop when the validation loss has not improved for this
        many iterations (ENS²: 500; S2S: None → 6 epochs). With
        ``val_fraction=0`` the training batch loss is watched instead and the
        final weights are kept (the authors' ENS² code).
    val_every : int or None
        Iterations between validation checks (S2S: None → once per epoch).
    val_fraction : float
        Fraction of the neurons of each dataset held out for validation
        (0: train on every neuron, early stopping on the training loss).
    val_windows : int
        Size of the fixed validation sample (windows / segments).
    noise_augment : bool
        Add white noise to training windows so that their noise level ν is a
        random value in [0, ``noise_max``] (no noise when the recording is
        already noisier), as in noise-augmented ENS².
    noise_max : float
        Upper noise level ν (Cascade units).
    segment_samples : int
        S2S training segment length in samples (ENS² uses the window).
    checkpoint_every : int
        Iterations between checkpoints (0: never).
    report_every : int
        Iterations between progress reports.
    seed : int
        Seed of initialisation, sampling, noise and dropout.
    network_kwargs : dict
        Extra constructor arguments of the network (e.g. ENS² ``channels``).
    calibrate_events : bool
        After training, choose the spike-event gain on the validation neurons
        (training neurons when there are none) and store it in the card
        (:mod:`calcium_forge.inference.calibration`).
    fs_hz, window, loss, sigma_ms, kernel_samples :
        Model rate (Hz), window (samples), loss name and target smoothing.
    """

    method: str = "ens2"
    iterations: int = 5000
    batch_size: int = 1024
    learning_rate: float = 1e-3
    lr_schedule: str = "constant"
    patience: int | None = 500
    val_every: int | None = 50
    val_fraction: float = 0.2
    val_windows: int = 8192
    noise_augment: bool = False
    noise_max: float = 15.0
    segment_samples: int = 96
    checkpoint_every: int = 500
    report_every: int = 10
    seed: int = 0
    network_kwargs: dict = field(default_factory=dict)
    calibrate_events: bool = True
    fs_hz: float = 60.0
    window: int = 96
    loss: str = "mse"
    sigma_ms: float | None = 25.0
    kernel_samples: tuple[int, float] | None = None

    def to_dict(self) -> dict:
        """JSON-friendly dict."""
        d = asdict(self)
        if d["kernel_samples"] is not None:
            d["kernel_samples"] = list(d["kernel_samples"])
        return d


def default_config(method: str = "ens2", **overrides) -> TrainConfig:
    """Paper settings for ``method`` with ``overrides`` applied."""
    if method not in METHOD_DEFAULTS:
        raise InvalidInputError(f"method must be 'ens2' or 's2s', got {method!r}")
    kw = dict(METHOD_DEFAULTS[method])
    if method == "s2s":
        kw["val_windows"] = 400
    kw.update({k: v for k, v in overrides.items() if v is not None})
    if kw.get("lr_schedule", "constant") not in LR_SCHEDULES:
        raise InvalidInputError(
            f"lr_schedule must be one of {', '.join(LR_SCHEDULES)}, got {kw['lr_schedule']!r}"
        )
    return TrainConfig(method=method, **kw)


#: Learning-rate schedules of :class:`TrainConfig`.
LR_SCHEDULES = ("constant", "cosine")


def _learning_rate(config: TrainConfig, iteration: int) -> float:
    """Learning rate for the step after ``iteration`` completed steps."""
    if config.lr_schedule == "cosine":
        frac = min(iteration / max(config.iterations, 1), 1.0)
        return config.learning_rate * 0.5 * (1.0 + math.cos(math.pi * frac))
    return config.learning_rate


@dataclass
class TrainResult:
    """Outcome of a training run.

    Attributes
    ----------
    network : torch.nn.Module
        Network with the best validation weights, in eval mode.
    card : dict
        Model card (see :mod:`calcium_forge.inference.registry`).
    history : dict
        ``iteration``, ``train_loss`` (mean since the last report) and
        ``val_iteration``, ``val_loss`` lists.
    best_iteration : int
        Iteration of the best validation loss.
    iterations_run : int
        Optimiser steps done.
    stopped_early : bool
        True if early stopping ended the run.
    train_neurons, val_neurons : list of str
        Neuron ids in each split.
    val_scores : dict
        ``median_corr`` and per-neuron ``corr`` of full-trace predictions on
        the validation neurons at the model rate.
    elapsed_s : float
        Wall-clock time of this call (s).
    model_path : pathlib.Path or None
        Saved ``.pt`` when ``out_dir`` was given.
    """

    network: Any
    card: dict
    history: dict
    best_iteration: int
    iterations_run: int
    stopped_early: bool
    train_neurons: list[str]
    val_neurons: list[str]
    val_scores: dict
    elapsed_s: float
    model_path: Path | None = None


def load_training_data(paths, config: TrainConfig, include=None, exclude=None) -> PairedData:
    """Paired data at the config's rate and target smoothing (see :func:`load_ground_truth`)."""
    return load_ground_truth(
        paths,
        fs_hz=config.fs_hz,
        sigma_ms=config.sigma_ms,
        kernel_samples=config.kernel_samples,
        include=include,
        exclude=exclude,
    )


# ---------------------------------------------------------------------------
# prediction on whole traces (validation scores, calibration)
# ---------------------------------------------------------------------------


def predict_trace(
    network, dff: np.ndarray, method: str, window: int, stride: int = 1, batch_size: int = 4096
) -> np.ndarray:
    """Raw network output for a whole trace at the model rate.

    ENS²: zero-padded stride-``stride`` windows, each sample the mean of the
    windows covering it (the paper's scheme for stride 1). S2S: one pass over
    the whole trace. NaN input samples are set to 0 for the network.

    Parameters
    ----------
    network : torch.nn.Module
        Network in eval mode.
    dff : numpy.ndarray
        1-D dF/F at the model rate.
    method : str
        ``"ens2"`` or ``"s2s"``.
    window : int
        ENS² window (samples).
    stride : int
        ENS² window stride (samples).
    batch_size : int
        Windows per forward pass.

    Returns
    -------
    numpy.ndarray
        float64 output, same length as ``dff``.
    """
    import torch

    x = np.nan_to_num(np.asarray(dff, dtype=np.float32), nan=0.0)
    with torch.inference_mode():
        if method == "s2s":
            return network(torch.from_numpy(x)[None]).numpy()[0].astype(np.float64)
        n = x.size
        pad = window - 1
        xp = np.concatenate([np.zeros(pad, np.float32), x, np.zeros(pad, np.float32)])
        starts = np.arange(0, n + pad, stride)
        acc = np.zeros(xp.size)
        cnt = np.zeros(xp.size)
        offs = np.arange(window)
        for i in range(0, starts.size, batch_size):
            s = starts[i : i + batch_size]
            out = network(torch.from_numpy(xp[s[:, None] + offs])).numpy()
            idx = (s[:, None] + offs).ravel()
            np.add.at(acc, idx, out.ravel())
            np.add.at(cnt, idx, 1.0)
        return (acc / np.maximum(cnt, 1))[pad : pad + n]


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    m = np.isfinite(a) & np.isfinite(b)
    a, b = a[m], b[m]
    if a.size < 2 or a.std() == 0 or b.std() == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def _score_traces(
    network, traces: Sequence[PairedTrace], config: TrainConfig, scale: float, offset: float
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
        corr[neuron] = _corr(
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


def _calibrate(network, traces: Sequence[PairedTrace], config: TrainConfig) -> tuple[float, float]:
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


def _package_version() -> str:
    try:
        from .._version import __version__

        return str(__version__)
    except ImportError:  # pragma: no cover
        return "unknown"


def paired_from_recordings(recs: Sequence[Recording], config: TrainConfig) -> PairedData:
    """Paired training data at the model rate from dF/F Recordings with ground truth.

    Recordings read from Cascade ``.mat`` files are reloaded from their file
    (:func:`load_training_data`, which keeps their datasets and neurons);
    others (synthetic, ``.npz``, napari layers) are paired ROI by ROI as
    neurons ``"<name>/roi<i>"`` of a dataset ``<name>``.

    Parameters
    ----------
    recs : sequence of Recording
        ``kind="dff"`` recordings with ``spike_times`` (s).
    config : TrainConfig
        Gives the model rate (``fs_hz``) and the target smoothing.

    Returns
    -------
    PairedData
    """
    from . import data as D

    mats = sorted({r.source for r in recs if r.source and r.source.lower().endswith(".mat")})
    others = [r for r in recs if not (r.source and r.source.lower().endswith(".mat"))]
    paired = load_training_data(mats, config) if mats else None
    if not others:
        return paired
    if config.kernel_samples is not None:
        kernel = D.gaussian_kernel_samples(
            int(config.kernel_samples[0]), float(config.kernel_samples[1])
        )
        smoothing = {
            "kind": "gaussian_window",
            "width_samples": int(config.kernel_samples[0]),
            "sd_samples": float(config.kernel_samples[1]),
        }
    else:
        kernel = D.gaussian_kernel_ms(config.sigma_ms, config.fs_hz)
        smoothing = {"kind": "gaussian", "sigma_ms": float(config.sigma_ms)}
    traces = list(paired.traces) if paired is not None else []
    for r in others:
        for i in range(r.n_rois):
            raw = D._RawRecording(
                dff=r.traces[i].astype(np.float64), fs_hz=r.fs_hz, spike_times_s=r.spike_times[i]
            )
            t = D._paired_from_raw(raw, config.fs_hz, kernel, r.name, f"{r.name}/roi{i}")
            if t is not None:
                traces.append(t)
    return D.PairedData(traces, float(config.fs_hz), kernel, smoothing)


def _init_weights(network: Any, init_from: str | os.PathLike[str], config: TrainConfig) -> dict:
    """Copy the weights of a saved model into ``network``; return its card."""
    from .registry import load_model

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
            "TrainConfig(network_kwargs=...) with the model's widths"
        ) from exc
    return base.card


def _build(config: TrainConfig):
    import torch

    from .networks import ENS2UNet, S2SNet

    torch.manual_seed(config.seed)
    if config.method == "ens2":
        kw = {"window": config.window, "fs_hz": config.fs_hz, **config.network_kwargs}
        return ENS2UNet(**kw)
    kw = {"window": config.window, "fs_hz": config.fs_hz, **config.network_kwargs}
    return S2SNet(**kw)


def _save_checkpoint(path: Path, payload: dict) -> None:
    import torch

    from .registry import _atomic

    with _atomic(path) as tmp:
        torch.save(payload, tmp)


def iter_train(
    data: PairedData | Sequence[str | os.PathLike[str]] | str | os.PathLike[str],
    config: TrainConfig | None = None,
    out_dir: str | os.PathLike[str] | None = None,
    name: str | None = None,
    resume: str | os.PathLike[str] | None = None,
    num_threads: int | None = None,
    score_validation: bool = True,
    init_from: str | os.PathLike[str] | None = None,
) -> Generator[Progress, None, TrainResult]:
    """Train a spike-inference network, yielding progress; return a :class:`TrainResult`.

    Parameters
    ----------
    data : PairedData or path(s)
        Paired data at the config's rate (see :func:`load_training_data`), or
        ground-truth folders / ``.mat`` files to load.
    config : TrainConfig, optional
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
    TrainResult
    """
    import torch

    from .losses import LOSSES

    t_start = time.perf_counter()
    if num_threads is not None:
        torch.set_num_threads(int(num_threads))
    ckpt = None
    if resume is not None:
        from .registry import _checkpoint_payload

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
        config = TrainConfig(**saved)
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
            "package_version": _package_version(),
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
                group["lr"] = _learning_rate(config, it)
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
        from .registry import save_model

        if config.checkpoint_every:
            checkpoint(stopped)
        model_path = save_model(network, card, out_path / name)
    return TrainResult(
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
    data, config: TrainConfig | None = None, progress_bar: bool = False, **kwargs
) -> TrainResult:
    """Headless :func:`iter_train` (same arguments); shows a tqdm bar if asked."""
    return drain(iter_train(data, config, **kwargs), progress_bar=progress_bar, desc="train")
