"""Calibrate the greedy spike-event estimator of a trained model on held-out neurons.

The ENS² greedy estimator adds a spike wherever one more smoothed spike
lowers the squared error to the predicted rate. That rule assumes the rate
has the shape of the training target (one Gaussian of σ = 25 ms per spike).
A network trained with MSE spreads its output when the spike time is
uncertain, and a bump wider than the kernel must carry well over one spike of
mass before a spike lowers the error: in bursts the estimator then places
fewer spikes than the rate holds (measured on the leave-one-dataset-out folds:
0.2–0.7 events per ground-truth spike, see ``docs/benchmarks.md``).

The fix is one number per model: the *event gain* g, by which the rate is
multiplied before the greedy estimator (the rate itself is not changed).
It is chosen after training on the model's validation neurons (neurons of the
training datasets that the network never trained on), as the g of a fixed grid
with the lowest sum of the two event metrics, mean error rate (ER = 1 − F1,
±50 ms) plus mean Victor–Purpura distance per ground-truth spike (ER alone
rewards extra events until precision collapses; VPD charges every false
spike), and stored in the model card (``card["events"]["gain"]``);
:func:`calcium_forge.infer_spikes` applies it. No test data are involved, so
leave-one-dataset-out scores stay honest.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from ...errors import InvalidInputError
from ...recording import check_fs
from ..engine import predict_trace
from ..events import (
    DEFAULT_EPSILON_PER_BIN,
    DEFAULT_SEED_MASS,
    event_kernel,
    greedy_spike_counts,
)
from ..registry import spikes_per_bin
from .config import SpikeTrainConfig
from .data import load_training_data
from .sampling import split_by_neuron

#: Event gains tried by :func:`calibrate_event_gain` (dimensionless).
DEFAULT_GAINS: tuple[float, ...] = tuple(round(0.7 + 0.1 * i, 2) for i in range(14))


@dataclass(frozen=True)
class EventCalibration:
    """Result of :func:`calibrate_event_gain`.

    Attributes
    ----------
    gain : float
        Chosen event gain (dimensionless): the rate is multiplied by it before
        the greedy estimator.
    error_rate_by_gain : dict
        Median (over neurons) ER for every gain tried.
    mean_error_rate_by_gain : dict
        Mean (over neurons) ER for every gain tried.
    mean_vpd_by_gain : dict
        Mean (over neurons) Victor–Purpura distance per ground-truth spike for
        every gain tried; the gain minimises mean ER + mean VPD.
    error_rate_at_1 : float
        Median ER without calibration (gain 1).
    n_neurons : int
        Neurons the median was taken over.
    events_per_spike : float
        Median ratio of estimated events to ground-truth spikes at the chosen gain.
    calibrated_on : str
        Which neurons were used (e.g. ``"validation neurons"``).
    """

    gain: float
    error_rate_by_gain: dict[float, float]
    mean_error_rate_by_gain: dict[float, float]
    mean_vpd_by_gain: dict[float, float]
    error_rate_at_1: float
    n_neurons: int
    events_per_spike: float
    calibrated_on: str = "validation neurons"
    epsilon_per_bin: float = DEFAULT_EPSILON_PER_BIN
    seed_mass: float | None = DEFAULT_SEED_MASS
    extra: dict = field(default_factory=dict)

    def to_card(self) -> dict:
        """JSON-friendly dict for the model card's ``"events"`` entry.

        Returns
        -------
        dict
            The fields (error rates and VPD per gain keyed by the gain as text,
            rounded) plus a ``rule`` describing how the gain was chosen.
        """
        d = asdict(self)
        for key in ("error_rate_by_gain", "mean_error_rate_by_gain", "mean_vpd_by_gain"):
            d[key] = {f"{g:g}": round(v, 4) for g, v in getattr(self, key).items()}
        d["error_rate_at_1"] = round(self.error_rate_at_1, 4)
        d["events_per_spike"] = round(self.events_per_spike, 3)
        d["rule"] = (
            "rate x gain before the greedy estimator; gain = argmin of mean ER (+-50 ms) "
            "+ mean Victor-Purpura distance per spike over the neurons in calibrated_on"
        )
        return d


def calibrate_event_gain(
    rates_per_bin: Sequence[np.ndarray],
    spike_times_s: Sequence[np.ndarray],
    neurons: Sequence[str],
    fs_hz: float,
    kernel: np.ndarray,
    gains: Sequence[float] = DEFAULT_GAINS,
    epsilon: float = DEFAULT_EPSILON_PER_BIN,
    seed_mass: float | None = DEFAULT_SEED_MASS,
    calibrated_on: str = "validation neurons",
) -> EventCalibration:
    """Choose the event gain with the lowest mean ER + mean VPD over neurons.

    Parameters
    ----------
    rates_per_bin : sequence of numpy.ndarray
        Predicted rate of each recording (1-D, spikes per bin at ``fs_hz``,
        time 0 at the first bin).
    spike_times_s : sequence of numpy.ndarray
        Ground-truth spike times (s) of each recording, same time origin.
    neurons : sequence of str
        Neuron id of each recording; a neuron's ER is the mean over its
        recordings and the median is taken over neurons.
    fs_hz : float
        Rate of the predictions (Hz).
    kernel : numpy.ndarray
        Smoothing kernel of the greedy estimator (odd length, sums to 1).
    gains : sequence of float
        Gains to try (> 0). The gain with the lowest mean (over neurons) ER
        plus mean VPD per ground-truth spike wins; ties go to the gain closest to 1.
    epsilon, seed_mass
        Greedy estimator settings (as in :func:`greedy_spike_counts`).
    calibrated_on : str
        Description stored with the result.

    Returns
    -------
    EventCalibration
    """
    from ...evaluation.spikes import match_events, victor_purpura_distance

    n = len(rates_per_bin)
    if n == 0 or len(spike_times_s) != n or len(neurons) != n:
        raise InvalidInputError(
            f"calibrate_event_gain needs equally many rates, spike-time arrays and neuron ids "
            f"(at least one); got {n}, {len(spike_times_s)} and {len(neurons)}."
        )
    gains = [float(g) for g in gains]
    if not gains or min(gains) <= 0 or not np.all(np.isfinite(gains)):
        raise InvalidInputError(f"gains must be positive finite numbers; got {gains}.")
    check_fs(fs_hz, "calibrate_event_gain")
    er: dict[float, dict[str, list[float]]] = {g: {} for g in gains}
    per_spike: dict[float, dict[str, list[float]]] = {g: {} for g in gains}
    vpd: dict[float, dict[str, list[float]]] = {g: {} for g in gains}
    for rate, gt, neuron in zip(rates_per_bin, spike_times_s, neurons, strict=True):
        gt = np.asarray(gt, dtype=np.float64)
        if gt.size == 0:
            continue
        r = np.nan_to_num(np.asarray(rate, dtype=np.float64), nan=0.0)
        for g in gains:
            counts = greedy_spike_counts(r * g, kernel, epsilon=epsilon, seed_mass=seed_mass)
            ev = counts.spike_times(fs_hz)[0]
            er[g].setdefault(neuron, []).append(match_events(gt, ev).error_rate)
            per_spike[g].setdefault(neuron, []).append(ev.size / gt.size)
            vpd[g].setdefault(neuron, []).append(victor_purpura_distance(gt, ev) / gt.size)
    if not er[gains[0]]:
        raise InvalidInputError("calibrate_event_gain: no recording has ground-truth spikes.")
    med = {g: float(np.median([np.mean(v) for v in er[g].values()])) for g in gains}
    mean = {g: float(np.mean([np.mean(v) for v in er[g].values()])) for g in gains}
    mean_vpd = {g: float(np.mean([np.mean(v) for v in vpd[g].values()])) for g in gains}
    # choose on means over neurons: the median of a few dozen neurons jumps
    # between neighbouring gains, the mean is a smooth curve
    best = min(gains, key=lambda g: (round(mean[g] + mean_vpd[g], 6), abs(g - 1.0)))
    at1 = med.get(1.0)
    if at1 is None:
        at1 = calibrate_event_gain(
            rates_per_bin, spike_times_s, neurons, fs_hz, kernel, [1.0], epsilon, seed_mass
        ).error_rate_at_1
    return EventCalibration(
        gain=best,
        error_rate_by_gain=med,
        mean_error_rate_by_gain=mean,
        mean_vpd_by_gain=mean_vpd,
        error_rate_at_1=float(at1),
        n_neurons=len(er[gains[0]]),
        events_per_spike=float(np.median([np.mean(v) for v in per_spike[best].values()])),
        calibrated_on=calibrated_on,
        epsilon_per_bin=float(epsilon),
        seed_mass=seed_mass,
    )


def events_seed_mass(card: dict | None, config: SpikeTrainConfig | None = None) -> float | None:
    """The greedy seed rule a model's events use (spikes, or None for the pure MSE rule).

    The card's ``events.seed_mass`` when it has one; else ``None`` for models
    trained on noise- and rate-matched windows (seeding puts events in noise:
    docs/benchmarks.md) and :data:`DEFAULT_SEED_MASS` for the others.

    Parameters
    ----------
    card : dict or None
        Model card.
    config : SpikeTrainConfig, optional
        The training configuration (when the card has no calibration yet).

    Returns
    -------
    float or None
    """
    ev = (card or {}).get("events")
    if isinstance(ev, dict) and "seed_mass" in ev:
        return ev["seed_mass"]
    matched = (
        bool(config.noise_matched)
        if config is not None
        else bool(((card or {}).get("training") or {}).get("noise_matching", {}).get("enabled"))
    )
    return None if matched else DEFAULT_SEED_MASS


def calibrate_on_traces(
    network,
    traces: Sequence,
    method: str,
    window: int,
    card: dict,
    scale: float = 1.0,
    offset: float = 0.0,
    predictions: Sequence[np.ndarray] | None = None,
    calibrated_on: str = "validation neurons",
    gains: Sequence[float] = DEFAULT_GAINS,
    seed_mass: float | None = DEFAULT_SEED_MASS,
) -> EventCalibration:
    """Run ``network`` over paired traces and calibrate its event gain.

    Parameters
    ----------
    network : torch.nn.Module
        Trained network in eval mode.
    traces : sequence of PairedTrace
        Held-out recordings at the model rate (see
        :class:`calcium_forge.inference.training.data.PairedTrace`).
    method : {"ens2", "s2s"}
        Network kind.
    window : int
        ENS² window (samples).
    card : dict
        Model card (its target smoothing gives the estimator's kernel).
    scale, offset : float
        Output calibration of the model (S2S), applied before clipping at 0.
    predictions : sequence of numpy.ndarray, optional
        Raw network outputs already computed for ``traces`` (skips inference).
    calibrated_on : str
        Description stored with the result.
    gains : sequence of float
        Gains to try.
    seed_mass : float or None
        Greedy seed rule the events will be estimated with (stored in the card).

    Returns
    -------
    EventCalibration
    """

    fs = float(traces[0].fs_hz) if traces else float(card.get("fs_hz", 60.0))
    rates = []
    for i, t in enumerate(traces):
        out = (
            predictions[i]
            if predictions is not None
            else predict_trace(network, t.dff, method, window, fs_hz=t.fs_hz)
        )
        r = spikes_per_bin(np.asarray(out, dtype=np.float64), scale, offset)
        r[~np.isfinite(t.dff)] = 0.0
        rates.append(r)
    return calibrate_event_gain(
        rates,
        [t.spike_times_s for t in traces],
        [t.neuron for t in traces],
        fs,
        event_kernel(card, method, fs),
        gains=gains,
        seed_mass=seed_mass,
        calibrated_on=calibrated_on,
    )


def calibrate_saved_model(
    model,
    data_dir,
    out=None,
    gains: Sequence[float] = DEFAULT_GAINS,
    seed_mass: float | str | None = "card",
) -> EventCalibration:
    """Calibrate the event gain of a saved model on its own validation neurons.

    The training datasets, the validation share and the seed are read from the
    model card, so the validation neurons are the ones the model was
    early-stopped on and never trained on.

    Parameters
    ----------
    model : str or path
        Shipped model name or model file (``.pt`` with its ``.json`` card).
    data_dir : path
        Folder holding the Cascade ground-truth dataset folders named in the card.
    out : path, optional
        Where to write the model with the calibrated card (``.pt`` + ``.json``);
        default: do not write.
    gains : sequence of float
        Gains to try.
    seed_mass : float, None or "card"
        Greedy seed rule; ``"card"`` keeps the rule of the card's current
        calibration (:func:`events_seed_mass`).

    Returns
    -------
    EventCalibration
    """
    from pathlib import Path

    from ...errors import MissingFileError
    from ..registry import load_model, save_model

    loaded = load_model(model)
    card = dict(loaded.card)
    training = card.get("training") or {}
    names = training.get("datasets") or []
    config_dict = dict(training.get("config") or {})
    if not names or not config_dict:
        raise InvalidInputError(
            f"model {model!r}: its card lists no training datasets or training config, so its "
            "validation neurons are unknown; calibrate it with calibrate_on_traces instead."
        )
    if config_dict.get("kernel_samples") is not None:
        config_dict["kernel_samples"] = tuple(config_dict["kernel_samples"])
    known = set(SpikeTrainConfig.__dataclass_fields__)
    config = SpikeTrainConfig(**{k: v for k, v in config_dict.items() if k in known})
    root = Path(data_dir)
    folders = [root / n for n in names]
    missing = [str(f) for f in folders if not f.is_dir()]
    if missing:
        raise MissingFileError(
            f"model {model!r} was trained on datasets missing from data_dir={str(root)!r}: "
            f"{missing[:3]}{' ...' if len(missing) > 3 else ''}; point data_dir at the Cascade "
            "ground-truth folder."
        )
    data = load_training_data(folders, config)
    train_ids, val_ids = split_by_neuron(data, config.val_fraction, seed=config.seed)
    use = set(val_ids) if val_ids else set(train_ids)
    traces = [t for t in data.traces if t.neuron in use]
    network = loaded.network.eval()
    cal = calibrate_on_traces(
        network,
        traces,
        loaded.method,
        int(loaded.window),
        card,
        float(card.get("output_scale", 1.0)),
        float(card.get("output_offset", 0.0)),
        calibrated_on="validation neurons" if val_ids else "training neurons (no validation)",
        gains=gains,
        seed_mass=events_seed_mass(card, config) if seed_mass == "card" else seed_mass,
    )
    if out is not None:
        card["events"] = cal.to_card()
        save_model(network, card, out)
    return cal
