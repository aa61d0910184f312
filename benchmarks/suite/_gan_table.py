"""The CalciumGAN table: generators scored against the held-out half, each score beside its floor.

A recording is split in halves; models are trained (or fitted) on the first
half. Every model is scored by :func:`calcium_forge.evaluation.evaluate_synthetic`
against the second half twice: at the model's window (independent windows,
T frames; real windows every 64 frames) and at 30-s windows of one long
sample (``sample_long`` for a GAN; real windows every 5 s). The floor is the
first half scored against the second the same way (``floor=``); memorisation
compares with the first half (the training data).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

LONG_S = 30.0
#: (column title, score key); "mean corr" and "memorisation" are values, not distances.
COLUMNS = [
    ("KL rate", "kl_rate"),
    ("KL rate/neuron", "kl_rate_per_neuron_mean"),
    ("KL corr (spikes)", "kl_corr_spikes"),
    ("KL corr (dF/F)", "kl_corr_dff"),
    ("KL vRD", "kl_vrd"),
    ("KL vRD/neuron", "kl_vrd_per_neuron_mean"),
    ("corr-matrix dist (dF/F)", "corr_matrix_distance_dff"),
    ("rate error/neuron", "rate_error_mean"),
    ("KL synchrony", "kl_synchrony"),
]


@dataclass
class Generator:
    """A model to score: ``windows(n, T, seed)`` -> (n, T, N), ``long(frames, seed)`` -> (N, L)."""

    name: str
    window: int
    windows: Callable[[int, int, int], np.ndarray]
    long: Callable[[int, int], np.ndarray]


def _windows(traces: np.ndarray, t: int, stride: int) -> np.ndarray:
    from calcium_forge.synthesis.windows import make_windows

    return make_windows(np.asarray(traces, np.float32), t, stride)


def score(gen: Generator, first: np.ndarray, second: np.ndarray, fs_hz: float, seed: int = 0):
    """{window label: (SynthesisReport, CPU seconds)} at the model's window and at 30 s."""
    from calcium_forge.evaluation.synthetic import evaluate_synthetic

    out = {}
    t_long = round(LONG_S * fs_hz)
    for label, t, stride in (
        (f"{gen.window / fs_hz:.1f} s", gen.window, 64),
        (f"{LONG_S:.0f} s (long)", t_long, int(5 * fs_hz)),
    ):
        c0 = time.process_time()
        ref = _windows(second, t, stride)
        if t == gen.window:
            syn = gen.windows(len(ref), t, seed)
        else:
            syn = _windows(gen.long(second.shape[1], seed), t, stride)
        rep = evaluate_synthetic(
            ref,
            syn,
            fs_hz=fs_hz,
            floor=_windows(first, t, stride),
            training=_windows(first, t, max(1, t // 4)),
            held_out=ref,
            max_windows=None,
            seed=seed,
            names=("held-out half", gen.name),
        )
        out[label] = (rep, time.process_time() - c0)
    return out


def _cell(value: float, floor: float) -> str:
    ratio = value / floor if floor > 0 else float("nan")
    mark = "**" if ratio > 1.5 else ""
    return f"{value:.3g} ({mark}{ratio:.1f}×{mark})"


def table(scored: dict[str, dict]) -> str:
    """One Markdown table: per window length, the floor row then every model with its ratios."""
    head = ["model", "window", "mean corr dF/F (real)"] + [c for c, _ in COLUMNS]
    head += ["memorisation", "flags > 1.5× floor", "eval CPU s"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    labels = list(next(iter(scored.values())))
    for label in labels:
        for i, (name, per_window) in enumerate(scored.items()):
            rep, cpu_s = per_window[label]
            s = rep.summary()
            if i == 0:  # the floor row of this window length
                fl = rep.floor_scores
                cells = ["real-vs-real floor", label, f"{s['mean_corr_dff_real']:.4f}"]
                cells += [f"{fl[k]:.3g}" for _, k in COLUMNS] + ["", "", ""]
                lines.append("| " + " | ".join(cells) + " |")
            mc, mr = s["mean_corr_dff_synthetic"], s["mean_corr_dff_real"]
            cells = [name, label, f"{mc:.4f} ({mc / mr:.1f}× real)"]
            cells += [_cell(rep.scores[k], rep.floor_scores[k]) for _, k in COLUMNS]
            flags = [f for f in rep.flags() if f in dict(COLUMNS).values() or f.startswith("mem")]
            cells += [f"{rep.memorisation_score:.2f}", str(len(flags)), f"{cpu_s:.0f}"]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def gan_generator(name: str, path: str) -> Generator:
    """A saved CalciumGAN (model file, shipped name or checkpoint) as a :class:`Generator`."""
    from calcium_forge.errors import ModelError
    from calcium_forge.synthesis.calciumgan import CalciumGAN
    from calcium_forge.synthesis.train import model_from_checkpoint

    try:
        model = CalciumGAN.load(path)
    except ModelError:  # a training checkpoint, e.g. a learning-curve snapshot
        model = model_from_checkpoint(path)

    def windows(n: int, t: int, seed: int) -> np.ndarray:
        return model.sample_windows(n, seed=seed)

    def long(frames: int, seed: int) -> np.ndarray:
        return np.asarray(model.sample_long(frames, seed=seed).traces)

    return Generator(name, model.config.window, windows, long)


def dg_generators(first: np.ndarray, fs_hz: float, window: int) -> list[Generator]:
    """The DG baselines fitted to ``first``: paper calcium model, and fitted forward model."""
    from calcium_forge.synthesis.baseline import DGBaseline
    from calcium_forge.synthesis.calcium import spikes_to_calcium

    fitted = DGBaseline.fit(first, fs_hz=fs_hz)

    def paper_long(frames: int, seed: int) -> np.ndarray:
        spikes = fitted.dg.sample(frames, seed=seed).T
        return spikes_to_calcium(spikes, fs_hz, seed=seed + 1)

    def paper_windows(n: int, t: int, seed: int) -> np.ndarray:
        y = paper_long(n * t, seed)
        return np.ascontiguousarray(y.reshape(y.shape[0], n, t).transpose(1, 2, 0))

    return [
        Generator("DG (paper calcium model)", window, paper_windows, paper_long),
        Generator(
            "DG + forward model fitted",
            window,
            lambda n, t, seed: fitted.sample_windows(n, t, seed),
            lambda frames, seed: fitted.sample_traces(frames, seed),
        ),
    ]
