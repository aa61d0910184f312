"""Does a CalciumGAN keep each neuron's large transients? OASIS event rates by height.

For the first half of the hippocampus recording (the training data) and for
windows sampled from each MODEL (as many as the first half has, T = 256), every
window and neuron is deconvolved with OASIS (AR(1), L1) with the noise level
sn and decay time estimated per neuron on the first half, and the rate (Hz) of
deconvolved amplitudes above 1, 2, 4 and 8 sn is printed per neuron. With
``--clean`` the models are also sampled without their observation noise, which
shows which events come from the generated signal and which from the noise.

A model whose events at 1 sn match the data but whose rates above 4 sn are
near zero has replaced a neuron's rare large transients by noise crossings;
its per-neuron statistics then depend on the noise level the evaluator
estimates (see docs/benchmarks.md, "CalciumGAN").

Usage::

    python benchmarks/experiments/calciumgan_transients.py MODEL [MODEL ...] [--clean]
"""

from __future__ import annotations

import argparse

import numpy as np

THRESHOLDS_SN = (1, 2, 4, 8)


def event_rates(windows: np.ndarray, sn: np.ndarray, decay_s: np.ndarray, fs_hz: float):
    """(len(THRESHOLDS_SN), N) rate in Hz of deconvolved amplitudes above each threshold."""
    from calcium_forge.evaluation.population import deconvolved_amplitudes

    amps = deconvolved_amplitudes(windows, fs_hz, sn, decay_s)  # (M, N, T), sn units
    seconds = amps.shape[0] * amps.shape[2] / fs_hz
    return np.array([(amps > th).sum(axis=(0, 2)) / seconds for th in THRESHOLDS_SN])


def main() -> None:
    import torch

    torch.set_num_threads(1)
    from calcium_forge.datasets import hippocampus_dff
    from calcium_forge.evaluation.population import estimate_decay_s, estimate_noise
    from calcium_forge.synthesis.calciumgan import CalciumGAN
    from calcium_forge.synthesis.windows import make_windows

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("models", nargs="+", metavar="MODEL", help="model file or shipped name")
    ap.add_argument("--clean", action="store_true", help="also sample without observation noise")
    args = ap.parse_args()
    rec = hippocampus_dff()
    first = np.asarray(rec.traces[:, : rec.n_frames // 2], np.float32)
    real = make_windows(first, 256, 64)
    sn, decay = estimate_noise(real), estimate_decay_s(real, rec.fs_hz)
    sets = {"real first half": real}
    for path in args.models:
        model = CalciumGAN.load(path)
        sets[path] = model.sample_windows(len(real), seed=0)
        if args.clean:
            sets[f"{path} (no observation noise)"] = model.sample_windows(
                len(real), seed=0, observation_noise=False
            )
    np.set_printoptions(precision=2, suppress=True, linewidth=200)
    for name, w in sets.items():
        rates = event_rates(w, sn, decay, rec.fs_hz)
        print(name)
        for th, row in zip(THRESHOLDS_SN, rates, strict=True):
            silent = int((row < 0.01).sum())
            print(f"  > {th} sn, Hz per neuron: {row}  (neurons below 0.01 Hz: {silent})")


if __name__ == "__main__":
    main()
