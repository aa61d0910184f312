"""Why do CalciumGAN neurons co-fluctuate? Targeted checks on a saved model.

Prints, for the held-out second half of the hippocampus recording and for
windows sampled from MODEL (T = the model's window):

1. mean pairwise dF/F correlation of the raw generator output ([0, 1]) and
   after the min/max scaling (Pearson r is invariant to a per-neuron affine
   map, so these must agree: the scaling is not the cause);
2. at 30-s windows: ``sample_long`` (crossfaded) against the same windows laid
   end to end without crossfades (is the crossfade the cause?);
3. the correlation split by time scale: 0.5-s Gaussian-smoothed traces
   ("slow"), the remainder ("fast") and frame-to-frame differences;
4. the share of the fast power that is phase-locked to t mod stride**depth
   (chance: 1 / stride**depth), the transposed-convolution pattern that gives
   spectral peaks at multiples of fs / stride**depth;
5. whether one latent dimension drives the common mode (max R² of a latent
   coordinate against each window's common-mode power).

Usage::

    python benchmarks/experiments/calciumgan_cofiring_causes.py [MODEL]
"""

from __future__ import annotations

import sys

import numpy as np


def _windows(x: np.ndarray, t: int) -> np.ndarray:
    return np.lib.stride_tricks.sliding_window_view(x, t, axis=1)[:, ::t].transpose(1, 2, 0)


def main() -> None:
    import torch
    from scipy.ndimage import gaussian_filter1d

    torch.set_num_threads(1)
    from calcium_forge.datasets import hippocampus_dff
    from calcium_forge.evaluation.cofiring import pairwise_trace_correlations
    from calcium_forge.synthesis.calciumgan import CalciumGAN

    def mc(w: np.ndarray) -> float:
        return float(np.nanmean(pairwise_trace_correlations(w)))

    model = CalciumGAN.load(sys.argv[1] if len(sys.argv) > 1 else "calciumgan-hippocampus")
    cfg = model.config
    t, period = cfg.window, cfg.stride**cfg.depth
    rec = hippocampus_dff()
    tr = np.asarray(rec.traces, np.float64)
    real = _windows(tr[:, tr.shape[1] // 2 :], t)
    with torch.no_grad():
        z = torch.randn(300, cfg.latent_dim, generator=torch.Generator().manual_seed(0))
        noise = torch.zeros(300, cfg.n_neurons, t) if cfg.neuron_noise else None
        raw = model.generator(z, noise).numpy().astype(np.float64)
    syn = model.scaling.inverse(raw)
    print(
        f"1. mean dF/F corr, {t}-frame windows: real {mc(real):.4f}; generator [0, 1] "
        f"{mc(raw):.4f}; scaled {mc(syn):.4f}"
    )
    long_t = round(30 * rec.fs_hz)
    crossfaded = np.asarray(model.sample_long(9000, seed=1).traces, np.float64)
    laid = model.sample_windows(9000 // t + 1, seed=1).transpose(2, 0, 1).reshape(cfg.n_neurons, -1)
    print(
        f"2. 30-s windows: real {mc(_windows(tr[:, tr.shape[1] // 2 :], long_t)):.4f}; "
        f"sample_long {mc(_windows(crossfaded, long_t)):.4f}; "
        f"windows end to end {mc(_windows(laid, long_t)):.4f}"
    )
    for name, w in (("real", real), ("synthetic", syn)):
        slow = gaussian_filter1d(w, 0.5 * rec.fs_hz, axis=1)
        fast = w - slow
        print(
            f"3. {name}: slow {mc(slow):.4f}, fast {mc(fast):.4f}, "
            f"differences {mc(np.diff(w, axis=1)):.4f}"
        )
        f = fast / (fast.std(1, keepdims=True) + 1e-12)
        locked = f.reshape(len(w), t // period, period, w.shape[2]).mean(1)
        share = float((np.tile(locked, (1, t // period, 1)) ** 2).mean() / (f**2).mean())
        print(
            f"4. {name}: share of fast power locked to t mod {period}: {share:.3f} "
            f"(chance {1 / period:.3f})"
        )
    zs = (raw - raw.mean(1, keepdims=True)) / (raw.std(1, keepdims=True) + 1e-9)
    cm = zs.mean(2).var(1)
    r2 = max(np.corrcoef(z[:, i].numpy(), cm)[0, 1] ** 2 for i in range(cfg.latent_dim))
    print(f"5. common-mode power per window: max R² of one latent coordinate {r2:.3f}")


if __name__ == "__main__":
    main()
