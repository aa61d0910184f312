"""One call for users: dF/F traces in, spike rates and spike events out.

:func:`infer_spikes` / :func:`iter_infer_spikes` accept a
:class:`~calcium_forge.recording.Recording` or an array of dF/F (fraction)
and return a :class:`~calcium_forge.results.SpikeInference`.

Pipeline for the network methods (``"ens2"``, ``"s2s"``, ``"cascade"``), per chunk of ROIs:

1. NaN stretches are bridged by linear interpolation (the network needs a
   continuous signal); they come back as NaN in ``rate_hz`` and receive no
   events.
2. The traces are Fourier-resampled to the model rate (ENS² 60 Hz, S2S
   100 Hz) with :func:`calcium_forge.signal.resample`.
3. The network runs over the traces with the windowed engine (ENS²; exact
   stride-1 averaging or the fast strided variant) or the chunked sequence
   engine (S2S; Cascade, whose ensemble predicts every frame from its centred
   window in one dilated pass, :mod:`.cascade`), see
   :mod:`calcium_forge.inference.engine`.
4. The output (spikes per model bin, via the model card's output scale) is
   turned into events by the greedy estimator (:mod:`.events`) at the model
   rate, then re-binned to the INPUT frames preserving spike counts
   (:func:`calcium_forge.spiketrains.rebin_rate`) and expressed in spikes/s.

Time convention: sample ``j`` of a trace at ``fs_hz`` stands for the bin
centred on ``j / fs_hz`` seconds (as the training targets do); event times
are bin centres.

``"oasis"`` runs :mod:`.oasis` on the input frames directly.

A Recording of ``kind="raw"`` (raw fluorescence, with neuropil if present)
is first converted with :func:`calcium_forge.signal.to_dff` (neuropil
coefficient 0.7, maximin baseline); ``kind="rate"`` is refused.
"""

from __future__ import annotations

import time
from collections.abc import Generator
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ..errors import InvalidInputError, ModelError
from ..progress import Progress, drain
from ..results import SpikeInference
from ..signal import bridge_nans, resample
from ..spiketrains import rebin_rate
from .engine import DEFAULT_MAX_MEMORY_MB
from .events import DEFAULT_EPSILON_PER_BIN, DEFAULT_SEED_MASS, event_kernel, greedy_spike_counts
from .inputs import check_rois, dff_input
from .matching import (
    ModelRange,
    bind_trace_condition,
    check_frame_rate,
    model_range,
    roi_noise_levels,
    warn_outside,
)
from .noise_floor import DEFAULT_MAX_NOISE_EVENTS_PER_S, NoiseFloor, noise_floors
from .oasis import iter_oasis_inference

METHODS = ("ens2", "s2s", "cascade", "oasis")
MODES = ("exact", "fast")
#: ENS² engine mode when none is given: strided windows. With the noise- and
#: rate-matched model at the recording's own rate it is as accurate as the
#: stride-1 mode and costs about as much as OASIS (docs/benchmarks.md).
DEFAULT_MODE = "fast"
#: Shipped model used when ``model=None``.
DEFAULT_MODELS = {"ens2": "ens2-matched-excitatory", "s2s": "s2s"}
#: Window stride of the fast ENS² mode (96 / 8 = 12 predictions averaged per sample).
FAST_STRIDE = 8


def _event_gain(card: dict, event_gain: float | None) -> float:
    """The event gain to use: the argument, else the model card's, else 1."""
    if event_gain is None:
        ev = card.get("events") if isinstance(card.get("events"), dict) else {}
        event_gain = ev.get("gain", 1.0)
        source = f"the model card's events.gain ({event_gain!r})"
    else:
        source = f"event_gain={event_gain!r}"
    try:
        g = float(event_gain)
    except (TypeError, ValueError):
        g = float("nan")
    if not np.isfinite(g) or g <= 0:
        raise InvalidInputError(
            f"{source} must be a positive number (the factor applied to the rate before "
            "spike-event estimation); pass e.g. event_gain=1.0."
        )
    return g


def _seed_mass(card: dict, seed_mass: float | str | None) -> float | None:
    """The greedy seed mass to use: the argument, or the card's with ``"card"``."""
    if isinstance(seed_mass, str):
        if seed_mass != "card":
            raise InvalidInputError(
                f"seed_mass must be a number of spikes, None or 'card'; got {seed_mass!r}."
            )
        ev = card.get("events") if isinstance(card.get("events"), dict) else {}
        seed_mass = ev.get("seed_mass", DEFAULT_SEED_MASS)
    if seed_mass is None:
        return None
    try:
        m = float(seed_mass)
    except (TypeError, ValueError):
        m = float("nan")
    if not np.isfinite(m) or m < 0:
        raise InvalidInputError(
            f"seed_mass must be a non-negative number of spikes or None; got {seed_mass!r}."
        )
    return m


def _roi_chunk(n_rois: int, n_model: int, max_memory_mb: float) -> int:
    # per ROI and model-rate sample: float64 FFT buffers (~4 x 16 B) + float32 outputs
    per_roi = 80.0 * max(n_model, 1)
    by_memory = int(max(1, min(n_rois, (max_memory_mb * 1e6 / 2) // per_roi)))
    # at least ~20 progress steps for the bar, unless ROIs are few
    return max(1, min(by_memory, -(-n_rois // 20)))


def iter_infer_spikes(
    data: Any,
    fs_hz: float | None = None,
    method: str = "ens2",
    model: Any = None,
    events: bool = True,
    mode: str = DEFAULT_MODE,
    *,
    stride: int | None = None,
    epsilon: float | None = None,
    seed_mass: float | str | None = "card",
    event_gain: float | None = None,
    num_threads: int | None = None,
    max_memory_mb: float = DEFAULT_MAX_MEMORY_MB,
    spike_amplitude: float | None = None,
    device: str | None = None,
    force_rate: bool = False,
    max_noise_events_per_s: float | None = DEFAULT_MAX_NOISE_EVENTS_PER_S,
) -> Generator[Progress, None, SpikeInference]:
    """Infer spike rates (and events) from dF/F; yields one Progress per chunk of ROIs.

    Parameters
    ----------
    data : Recording or numpy.ndarray
        dF/F as a fraction, (n_rois, n_frames) or (n_frames,); NaN marks gaps.
        A Recording of kind ``"raw"`` is converted with
        :func:`calcium_forge.signal.to_dff` first.
    fs_hz : float, optional
        Frame rate in Hz; required for arrays (taken from a Recording).
    method : {"ens2", "s2s", "cascade", "oasis"}
        Inference method.
    model : str, path or LoadedModel, optional
        Shipped model name (:func:`~calcium_forge.inference.registry.list_models`),
        a model file or a loaded model. Default: ``ens2-excitatory`` / ``s2s``;
        Cascade has no shipped model (give a trained one).
    events : bool
        Also estimate discrete spike events.
    mode : {"exact", "fast"}
        ENS² only: ``"exact"`` averages the predictions of all stride-1
        windows (the paper); ``"fast"`` uses windows every ``FAST_STRIDE``
        samples (default, :data:`DEFAULT_MODE`). S2S and Cascade run in one
        convolutional pass either way; OASIS ignores it.
    stride : int, optional
        Override the ENS² window stride (1 = exact).
    epsilon : float, optional
        Greedy fragment threshold in spikes per model bin (default
        :data:`calcium_forge.inference.events.DEFAULT_EPSILON_PER_BIN`).
    seed_mass : float, None or "card"
        Greedy events: a fragment whose rate sums to at least this many spikes
        gets one spike at its peak before the MSE-driven additions (0.5, as in
        the authors' code); ``None`` for the pure MSE rule. ``"card"`` (default)
        takes the rule the model's events were calibrated with (the card's
        ``events.seed_mass``; 0.5 when the card has none). The noise- and
        rate-matched models use the pure MSE rule: seeding is what made events
        fire in noise (docs/benchmarks.md, "Slower and noisier recordings").
    event_gain : float, optional
        Factor (dimensionless, > 0) applied to the rate before the greedy
        estimator only; ``rate_hz`` is not scaled. Default: the gain the model
        was calibrated with on its validation neurons (``card["events"]["gain"]``,
        see :mod:`calcium_forge.inference.training.calibration`), 1 for models without one.
    num_threads : int, optional
        torch threads for the network (default: torch's setting).
    max_memory_mb : float
        Working-memory budget in MB (excluding input and output arrays).
    spike_amplitude : float, optional
        OASIS only: dF/F jump of one spike, if known.
    device : str, optional
        torch device for ENS²/S2S (``"cuda"``, ``"cuda:1"``, ``"mps"``); default
        CPU. Resampling and events stay on the CPU. OASIS ignores it.
    force_rate : bool
        Accept a frame rate below 2 Hz or above 1 kHz (refused otherwise).
    max_noise_events_per_s : float or None
        Events: each ROI's event floor is set so that white noise of its noise
        level ν, run through the same model and rule, keeps at most this many
        events per second (default 0.01; fragments of rate lighter than the
        floor get no events; :mod:`calcium_forge.inference.noise_floor`).
        ``meta["min_event_mass"]`` holds each ROI's floor (spikes). ``None``:
        no floor.

    Yields
    ------
    Progress
        ``step``/``total`` count ROIs done.

    Returns
    -------
    SpikeInference
        ``rate_hz`` (n_rois, n_frames) spikes/s on the input frames,
        ``events`` spike times (s) per ROI or None; ``meta["noise_level"]``
        holds each ROI's noise level ν (% / √Hz) and ``meta["model"]`` the
        model that ran (see :mod:`calcium_forge.inference.matching`).
    """
    traces, fs_in, rec, nan = _checked_input(data, fs_hz, method, mode, force_rate)
    t_start = time.perf_counter()
    if method == "oasis" and model is not None:
        raise InvalidInputError(
            f"model={model!r} was given with method='oasis', which uses no model (OASIS is "
            "a deconvolution, not a network). Drop model=, or choose the model's method "
            "(method='ens2', 's2s' or 'cascade')."
        )
    if method == "oasis":
        return (yield from iter_oasis_inference(traces, nan, fs_in, rec, events, spike_amplitude))
    from ._runtime import resolve_device

    resolve_device(device)  # fail before any work when the device is unusable
    loaded = _load(model, method)
    run = _network_run(
        loaded, method, traces.shape[1], fs_in, mode=mode, stride=stride, epsilon=epsilon,
        seed_mass=seed_mass, event_gain=event_gain, num_threads=num_threads,
        max_memory_mb=max_memory_mb, device=device, noise_levels=roi_noise_levels(traces, fs_in),
    )  # fmt: skip
    warn_outside(loaded.name or method, fs_in, run.noise_levels, run.trained)
    if events and max_noise_events_per_s is not None:
        run = _with_noise_floor(loaded, run, fs_in, max_noise_events_per_s)
    return (yield from _iter_network(loaded, run, traces, nan, fs_in, rec, events, mode, t_start))


def _checked_input(data, fs_hz, method: str, mode: str, force_rate: bool):
    """Check the method, mode and frame rate; (traces, fs_hz, recording, NaN mask) of the input."""
    if method not in METHODS:
        raise InvalidInputError(f"method must be one of {METHODS}; got {method!r}.")
    if mode not in MODES:
        raise InvalidInputError(f"mode must be one of {MODES}; got {mode!r}.")
    given = dff_input(data, fs_hz)
    check_frame_rate(given.fs_hz, force_rate)
    return given.traces, given.fs_hz, given.recording, check_rois(given.traces)


def _iter_network(
    loaded, run: _NetworkRun, traces, nan, fs_in: float, rec, events: bool, mode: str, t_start
) -> Generator[Progress, None, SpikeInference]:
    """ENS²/S2S inference chunk of ROIs by chunk; one Progress per chunk."""
    method = loaded.method
    n_rois, n_frames = traces.shape
    rate = np.empty((n_rois, n_frames), dtype=np.float32)
    ev: list[np.ndarray] | None = [] if events else None
    timing = {"network_s": 0.0, "events_s": 0.0, "resample_s": 0.0}
    chunk = _roi_chunk(n_rois, run.n_model, run.max_memory_mb)
    for r0 in range(0, n_rois, chunk):
        r1 = min(n_rois, r0 + chunk)
        part = _infer_chunk(
            loaded, traces[r0:r1], nan[r0:r1], fs_in, run, events, timing, slice(r0, r1)
        )
        rate[r0:r1] = part.rate_hz
        if ev is not None:
            ev.extend(part.events)
        yield Progress(r1, n_rois, f"{method} inference", {"rois": r1})
    timing["total_s"] = time.perf_counter() - t_start
    meta = {
        "model": loaded.name,
        "noise_level": [round(float(v), 4) for v in run.noise_levels],
        "mode": mode if method == "ens2" else "sequence",
        "stride": run.stride,
        "fs_model_hz": run.fs_model_hz,
        "epsilon_per_bin": run.epsilon,
        "seed_mass": run.seed_mass,
        "event_gain": run.gain,
        **_floor_meta(run.floor),
        "timing": timing,
        "nan_frames": int(nan.sum()),
        "device": str(run.device or "cpu"),
    }
    return SpikeInference(
        rate_hz=rate,
        events=ev,
        method=method,
        fs_hz=fs_in,
        model_card=dict(loaded.card),
        recording=rec,
        meta=meta,
    )


@dataclass(frozen=True)
class _NetworkRun:
    """Settings of one ENS²/S2S run: model rate (Hz) and samples, engine, event estimator."""

    fs_model_hz: float
    n_model: int
    stride: int
    epsilon: float
    gain: float
    kernel: np.ndarray
    seed_mass: float | None
    trained: ModelRange
    noise_levels: np.ndarray
    num_threads: int | None
    max_memory_mb: float
    device: str | None
    floor: NoiseFloor | None = None


@dataclass
class _ChunkResult:
    """Rates (spikes/s, float64 (rois, n_frames)) and event times (s) of a chunk of ROIs."""

    rate_hz: np.ndarray
    events: list[np.ndarray]


def _network_run(
    loaded, method: str, n_frames: int, fs_in: float, *, mode: str, stride, epsilon, seed_mass,
    event_gain, num_threads, max_memory_mb: float, device, noise_levels: np.ndarray,
) -> _NetworkRun:  # fmt: skip
    """Check the traces are long enough for the model and resolve the run's settings."""
    trained = model_range(loaded.card, loaded.network)
    fs_m = trained.run_rate(fs_in, float(loaded.fs_hz))
    window = int(loaded.window)
    n_model = round(n_frames * fs_m / fs_in)
    min_s = window / fs_m
    if n_model < window:
        raise InvalidInputError(
            f"traces of {n_frames} frames at {fs_in:g} Hz ({n_frames / fs_in:.3g} s) are shorter "
            f"than one {loaded.name or method} window ({window} samples at {fs_m:g} Hz = "
            f"{min_s:.3g} s); give at least {int(np.ceil(min_s * fs_in))} frames."
        )
    if method == "ens2":
        step = int(stride) if stride is not None else (1 if mode == "exact" else FAST_STRIDE)
    else:
        step = 1
    return _NetworkRun(
        fs_model_hz=fs_m,
        n_model=n_model,
        stride=step,
        epsilon=DEFAULT_EPSILON_PER_BIN if epsilon is None else float(epsilon),
        gain=_event_gain(loaded.card, event_gain),
        kernel=event_kernel(loaded.card, method, fs_m),
        seed_mass=_seed_mass(loaded.card, seed_mass),
        trained=trained,
        noise_levels=noise_levels,
        num_threads=num_threads,
        max_memory_mb=max_memory_mb,
        device=device,
    )


def _infer_chunk(
    loaded,
    traces: np.ndarray,
    nan: np.ndarray,
    fs_in: float,
    run: _NetworkRun,
    events: bool,
    timing: dict,
    rois: slice = slice(None),
) -> _ChunkResult:
    """Rates (spikes/s on the input frames) and event times (s) of a chunk of ROIs.

    Resample to the model rate (gaps bridged), run the network, blank the model
    bins that fall in a gap, estimate events at the model rate, re-bin the rate
    to the input frames. Adds the seconds spent to ``timing``.
    """
    n_frames = traces.shape[1]
    fs_m, n_model = run.fs_model_hz, run.n_model
    t0 = time.perf_counter()
    filled, _ = bridge_nans(np.where(nan, np.nan, traces))
    x_m = resample(filled, fs_in, fs_m)
    if x_m.shape[1] != n_model:  # pragma: no cover - resample rounds the same way
        x_m = x_m[:, :n_model]
    t1 = time.perf_counter()
    out = _run_network(
        loaded, x_m, run.stride, run.num_threads, run.max_memory_mb, run.device, fs_m
    )
    per_bin = np.asarray(loaded.to_spikes_per_bin(out), dtype=np.float64)
    t2 = time.perf_counter()
    # model bins falling in an input NaN stretch: no rate, no events
    per_bin[nan[:, _nearest_frame(n_model, fs_m, fs_in, n_frames)]] = 0.0
    ev: list[np.ndarray] = []
    if events:
        src = per_bin * run.gain if run.gain != 1.0 else per_bin
        floor = None if run.floor is None else run.floor.min_mass[rois]
        g = greedy_spike_counts(
            src, run.kernel, epsilon=run.epsilon, seed_mass=run.seed_mass, min_fragment_mass=floor
        )
        ev = g.spike_times(fs_m)
    t3 = time.perf_counter()
    r_in = rebin_rate(per_bin * fs_m, fs_m, fs_in, n_frames)
    r_in[nan] = np.nan
    timing["resample_s"] += t1 - t0 + (time.perf_counter() - t3)
    timing["network_s"] += t2 - t1
    timing["events_s"] += t3 - t2
    return _ChunkResult(r_in, ev)


def _with_noise_floor(loaded, run: _NetworkRun, fs_in: float, max_events: float) -> _NetworkRun:
    """``run`` with each ROI's event floor from noise runs at its noise level (.noise_floor).

    The noise is made at the input rate and takes the recording's path: resampled to
    the model rate, through the network (conditioned on its own measured ν), to spikes
    per bin.
    """

    def rate_per_bin(x: np.ndarray) -> np.ndarray:
        x_m = resample(x, fs_in, run.fs_model_hz)
        out = _run_network(
            loaded, x_m, run.stride, run.num_threads, run.max_memory_mb, run.device,
            run.fs_model_hz,
        )  # fmt: skip
        return np.asarray(loaded.to_spikes_per_bin(out), dtype=np.float64)

    floor = noise_floors(
        run.noise_levels, fs_in, rate_per_bin, run.kernel, gain=run.gain, epsilon=run.epsilon,
        seed_mass=run.seed_mass, max_events_per_s=max_events,
    )  # fmt: skip
    return replace(run, floor=floor)


def _floor_meta(floor: NoiseFloor | None) -> dict:
    """Result metadata of the event floor (empty without one)."""
    if floor is None:
        return {}
    return {
        "min_event_mass": [round(float(v), 4) for v in floor.min_mass],
        "noise_events_per_s_without_floor": floor.noise_events_per_s,
    }


def _nearest_frame(n_model: int, fs_m: float, fs_in: float, n_frames: int) -> np.ndarray:
    """Index of the input frame nearest to every model-rate sample."""
    idx = np.round(np.arange(n_model) * fs_in / fs_m).astype(np.int64)
    return np.clip(idx, 0, n_frames - 1)


def _load(model: Any, method: str):
    from .registry import LoadedModel, load_model

    if isinstance(model, LoadedModel):
        loaded = model
    elif model is None and method not in DEFAULT_MODELS:
        raise ModelError(
            f"method={method!r} has no shipped model; pass model= a trained {method} model "
            "(a .pt file with its .json card, or a training output folder)."
        )
    else:
        loaded = load_model(DEFAULT_MODELS[method] if model is None else model)
    if loaded.method != method:
        raise ModelError(
            f"model {loaded.name or model!r} is a {loaded.method!r} model but method={method!r}; "
            f"pass method={loaded.method!r} or a {method} model."
        )
    return loaded


def _run_network(
    loaded, x_m: np.ndarray, stride: int, num_threads, max_memory_mb, device=None, fs_m=None
):
    from .engine import sequence_rates, windowed_rates

    if getattr(loaded.network, "n_conditions", 0):  # each ROI with its own ν and the rate
        rows = [
            windowed_rates(
                bind_trace_condition(loaded.network, row, fs_m),
                row[None],
                int(loaded.window),
                stride=stride,
                num_threads=num_threads,
                max_memory_mb=max_memory_mb,
                device=device,
            )
            for row in x_m
        ]
        return np.concatenate(rows, axis=0) if rows else np.zeros((0, x_m.shape[1]))

    if loaded.method in ("s2s", "cascade"):
        net = loaded.network
        if loaded.method == "cascade":  # every frame from its centred window, one pass
            from .cascade import CascadeOverTraces

            net = CascadeOverTraces(net)
        return sequence_rates(
            net,
            x_m,
            context=int(loaded.window),
            num_threads=num_threads,
            max_memory_mb=max_memory_mb,
            device=device,
        )
    return windowed_rates(
        loaded.network,
        x_m,
        int(loaded.window),
        stride=stride,
        num_threads=num_threads,
        max_memory_mb=max_memory_mb,
        device=device,
    )


def _check_options(options: dict[str, Any]) -> None:
    """Refuse keyword options :func:`iter_infer_spikes` does not take, suggesting the nearest."""
    import difflib
    import inspect

    params = inspect.signature(iter_infer_spikes).parameters
    known = [n for n, p in params.items() if p.kind is inspect.Parameter.KEYWORD_ONLY]
    known += ["progress_bar"]
    for name in options:
        if name not in params:
            near = difflib.get_close_matches(name, [*params, "progress_bar"], n=1)
            hint = f"did you mean {near[0]!r}? " if near else ""
            raise InvalidInputError(
                f"infer_spikes: unknown keyword argument {name!r}; {hint}accepted options: "
                f"{', '.join(known)} (and data, fs_hz, method, model, events, mode)."
            )


def infer_spikes(
    data: Any,
    fs_hz: float | None = None,
    method: str = "ens2",
    model: Any = None,
    events: bool = True,
    mode: str = DEFAULT_MODE,
    progress_bar: bool = False,
    **options: Any,
) -> SpikeInference:
    """Infer spike rates and events from dF/F (see :func:`iter_infer_spikes`).

    Parameters
    ----------
    data, fs_hz, method, model, events, mode
        As in :func:`iter_infer_spikes`.
    progress_bar : bool
        Show a tqdm bar.
    **options
        Keyword options of :func:`iter_infer_spikes` (``stride``,
        ``epsilon``, ``seed_mass``, ``event_gain``, ``num_threads``,
        ``max_memory_mb``, ``spike_amplitude``, ``device``).

    Returns
    -------
    SpikeInference

    Examples
    --------
    >>> import calcium_forge as cf                                   # doctest: +SKIP
    >>> res = cf.infer_spikes(dff, fs_hz=30.0)                       # doctest: +SKIP
    >>> res.rate_hz.shape == dff.shape                               # doctest: +SKIP
    True
    """
    _check_options(options)
    gen = iter_infer_spikes(data, fs_hz, method, model, events, mode, **options)
    return drain(gen, progress_bar=progress_bar, desc=f"{method} spike inference")
