"""Correlation matching: fine-tune a trained CalciumGAN so its neurons co-fluctuate like real ones.

A WGAN critic sees pairwise statistics only weakly (a mean pairwise dF/F
correlation of 0.05 instead of 0.008 barely moves its score), so a GAN can
match every single-neuron statistic while its neurons co-fluctuate several
times as much as real ones. This fine-tune adds what the critic misses, as
minibatch feature matching (Salimans et al. 2016) on pairwise statistics:

``L = w * sum_k mean_pairs (E_batch[f_k(G(z))] - E_real[f_k(x)])**2
+ w_s * mean_(neurons, freqs) (log P_G - log P_real)**2
+ mean ((G(z, 0) - G_0(z)) / sigma_n)**2``

with f = the within-window Pearson correlations of every neuron pair, of the
traces, of their frame-to-frame differences and of their 0.5-s means (fast
and slow co-fluctuation), and their squares (so that both the mean and the
spread over windows are matched); G_0 is the generator before fine-tuning,
whose output anchors everything else (rates, event shapes), in units of each
neuron's noise level sigma_n (median absolute frame-to-frame difference of the
training windows / (0.6745 sqrt 2)). P are the mean periodograms of each
neuron (in the model's [0, 1] units): matching them can remove the narrow
peaks that transposed convolutions leave at multiples of fs / stride**depth.
Correlations are invariant to the per-neuron min/max scaling, so their targets
are computed on the training windows in trace units.

The generator gets per-neuron output noise (``GANConfig.neuron_noise``) when
it has none, so that fast fluctuations can become independent across neurons.
A model with ``GANConfig.observation_noise`` keeps it: the statistics are
matched on its noisy output and the anchor compares noise-free signals.
Torch is imported lazily.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field

import numpy as np

from ..errors import InvalidInputError
from ..progress import Progress, ProgressGen, drain
from .calciumgan import CalciumGAN
from .gan_networks import GANConfig, build_generator, pairwise_correlations
from .windows import diff_noise_sd

__all__ = ["CorrelationMatchResult", "iter_match_correlations", "match_correlations"]


@dataclass
class CorrelationMatchResult:
    """Outcome of :func:`match_correlations`.

    Parameters
    ----------
    model : CalciumGAN
        The fine-tuned model (a copy; the input model is not changed).
    history : dict
        Per step: ``loss_corr`` (squared correlation error, dimensionless) and
        ``loss_anchor`` (mean squared deviation from the original generator in
        units of each neuron's noise level), ``loss_spectrum``.
    steps : int
        Steps done.
    cpu_seconds : float
        CPU time of the fine-tune in s.
    """

    model: CalciumGAN
    history: dict[str, list[float]] = field(default_factory=dict)
    steps: int = 0
    cpu_seconds: float = 0.0


def _features(x, pool: int):
    """(B, 6P) pair features of windows (B, T, N): correlations of the traces, their
    differences and their ``pool``-frame means, and the squares of all three."""
    torch = __import__("torch")
    slow = torch.nn.functional.avg_pool1d(x.transpose(1, 2), pool).transpose(1, 2)
    c = [pairwise_correlations(x), pairwise_correlations(x.diff(dim=1))]
    c.append(pairwise_correlations(slow))
    return torch.cat([*c, *(v * v for v in c)], dim=1)


def _log_spectra(x):
    """(N, F) log mean periodogram per neuron of windows (B, T, N) (Hann taper, mean removed)."""
    torch = __import__("torch")
    t = x.shape[1]
    taper = torch.hann_window(t, periodic=False, dtype=x.dtype)[None, :, None]
    f = torch.fft.rfft((x - x.mean(dim=1, keepdim=True)) * taper, dim=1)
    return torch.log((f.real**2 + f.imag**2).mean(0).T[:, 1:] + 1e-10)


def _grid_peaks(log_spectra, period: int):
    """(N, K) log power at the harmonics of T/period bins over their neighbours (2-3 bins off).

    ``log_spectra`` is (N, F) without the 0 Hz bin, so bin b of the rfft is column b - 1.
    """
    torch = __import__("torch")
    f = log_spectra.shape[1]
    t = 2 * f  # T (even)
    step = t // period
    rows = []
    for b in range(step, f - 3, step):
        side = log_spectra[:, [b - 4, b - 3, b + 1, b + 2]].mean(1)
        rows.append(log_spectra[:, b - 1] - side)
    return torch.stack(rows, 1) if rows else log_spectra[:, :0]


def _with_neuron_noise(model: CalciumGAN):
    """A trainable copy of the generator, with per-neuron output noise added when absent."""
    torch = __import__("torch")
    if model.config.neuron_noise:
        return copy.deepcopy(model.generator), model.config
    config = GANConfig.from_dict({**model.config.to_dict(), "neuron_noise": True})
    gen = build_generator(config)
    gen.load_state_dict(model.generator.state_dict(), strict=False)
    with torch.no_grad():  # start (almost) silent: softplus(-6) = 0.0025 logit units
        gen.noise_scale.fill_(-6.0)
    return gen, config


def iter_match_correlations(
    model: CalciumGAN,
    windows: np.ndarray,
    *,
    steps: int = 300,
    batch_size: int = 64,
    lr: float = 1e-4,
    weight: float = 1000.0,
    spectrum_weight: float = 0.0,
    grid_weight: float = 0.0,
    seed: int = 0,
    progress_every: int = 10,
) -> ProgressGen[CorrelationMatchResult]:
    """Fine-tune ``model`` so its pairwise statistics match ``windows``, yielding progress.

    Parameters
    ----------
    model : CalciumGAN
        A trained model (not modified).
    windows : numpy.ndarray
        (M, T, N) real training windows (trace units; T and N as the model's).
    steps : int
        Adam steps.
    batch_size : int
        Generated windows per step.
    lr : float
        Adam learning rate.
    weight : float
        Weight w of the correlation term against the anchor MSE (dimensionless).
    spectrum_weight : float
        Weight w_s of the log-spectrum term (dimensionless; 0 = off). It also
        pulls the noise level up to the data's, which raises OASIS spike rates
        of this recording's models, so it is off by default.
    grid_weight : float
        Weight of the up-sampling-grid term: the squared difference, per
        neuron, of the log power at the harmonics of fs / stride**depth over
        that of their neighbouring frequencies (generated vs data; 0 = off).
    seed : int
        Seed of the latent draws and noise.
    progress_every : int
        Yield progress every this many steps.

    Yields
    ------
    Progress
        ``values``: loss_corr, loss_spectrum, loss_anchor.

    Returns
    -------
    CorrelationMatchResult
    """
    import torch

    w = np.asarray(windows, np.float32)
    if w.ndim != 3 or w.shape[1:] != (model.config.window, model.config.n_neurons):
        raise InvalidInputError(
            f"match_correlations: windows must be (M, {model.config.window}, "
            f"{model.config.n_neurons}) like the model's; got {w.shape}."
        )
    if steps < 1 or batch_size < 2:
        raise InvalidInputError(f"need steps >= 1 and batch_size >= 2; got {steps}, {batch_size}.")
    c0 = time.process_time()
    gen0 = model.generator.eval()
    gen, config = _with_neuron_noise(model)
    gen.train()
    with torch.no_grad():
        pool = max(2, round(0.5 * model.fs_hz))
        chunks = [torch.from_numpy(w[i : i + 256]) for i in range(0, len(w), 256)]
        target = torch.cat([_features(c, pool) for c in chunks]).mean(0)
        w01 = torch.from_numpy(np.asarray(model.scaling.forward(w), np.float32))
        spec_target = _log_spectra(w01)
        period = model.config.stride**model.config.depth
        grid_target = _grid_peaks(spec_target, period)
        sigma = torch.from_numpy(diff_noise_sd(w01.numpy()))[None, None, :]
    rng = torch.Generator().manual_seed(int(seed))
    opt = torch.optim.Adam(gen.parameters(), lr=lr, betas=(0.5, 0.999))
    history: dict[str, list[float]] = {
        "loss_corr": [],
        "loss_spectrum": [],
        "loss_grid": [],
        "loss_anchor": [],
    }
    shape = (batch_size, config.n_neurons, config.window)
    for step in range(1, steps + 1):
        z = torch.randn(batch_size, config.latent_dim, generator=rng)
        obs = False  # observation noise (if the model has it) is drawn here, seeded
        if config.observation_noise:
            obs = torch.randn((batch_size, config.window, config.n_neurons), generator=rng)
        x = gen(z, torch.randn(shape, generator=rng), obs)
        loss_corr = ((_features(x, pool).mean(0) - target) ** 2).mean()
        log_spec = _log_spectra(x)
        loss_spec = ((log_spec - spec_target) ** 2).mean()
        loss_grid = ((_grid_peaks(log_spec, period) - grid_target) ** 2).mean()
        with torch.no_grad():
            x0 = gen0(z, torch.zeros(shape) if model.config.neuron_noise else None, False)
        loss_anchor = (((gen(z, torch.zeros(shape), False) - x0) / sigma) ** 2).mean()
        opt.zero_grad(set_to_none=True)
        loss = weight * loss_corr + spectrum_weight * loss_spec + grid_weight * loss_grid
        (loss + loss_anchor).backward()
        opt.step()
        history["loss_corr"].append(float(loss_corr.detach()))
        history["loss_spectrum"].append(float(loss_spec.detach()))
        history["loss_grid"].append(float(loss_grid.detach()))
        history["loss_anchor"].append(float(loss_anchor.detach()))
        if step % progress_every == 0 or step == steps:
            yield Progress(
                step,
                steps,
                "correlation matching",
                {k: v[-1] for k, v in history.items()},
            )
    gen.eval()
    settings = {
        "steps": steps,
        "weight": weight,
        "spectrum_weight": spectrum_weight,
        "grid_weight": grid_weight,
        "lr": lr,
    }
    card = {**model.card, "correlation_matching": settings}
    tuned = CalciumGAN(
        config, model.scaling, model.fs_hz, generator=gen, card=card, kind=model.kind
    )
    return CorrelationMatchResult(tuned, history, steps, time.process_time() - c0)


def match_correlations(
    model: CalciumGAN, windows: np.ndarray, progress_bar: bool = False, **kwargs
) -> CorrelationMatchResult:
    """Headless :func:`iter_match_correlations` (same arguments; optional tqdm bar).

    Parameters
    ----------
    model : CalciumGAN
        A trained model (not modified).
    windows : numpy.ndarray
        (M, T, N) real training windows (trace units).
    progress_bar : bool
        Show a tqdm bar.
    **kwargs
        ``steps``, ``batch_size``, ``lr``, ``weight``, ``spectrum_weight``, ``seed``,
        ``progress_every``.

    Returns
    -------
    CorrelationMatchResult
    """
    return drain(
        iter_match_correlations(model, windows, **kwargs),
        progress_bar=progress_bar,
        desc="correlation matching",
    )
