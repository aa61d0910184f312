"""Figures of the synthetic-vs-real report (:class:`~.synthetic.SynthesisReport`).

Each function draws one figure on a matplotlib Agg canvas (no pyplot, so it is
safe from GUI threads); matplotlib is imported inside the functions.
:meth:`~.synthetic.SynthesisReport.save_figures` writes them as
``raster.png``, ``histograms.png``, ``spectra.png`` and (with co-firing
statistics) ``cofiring.png``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .cofiring import CoFiring
from .population import PopulationStats

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "cofiring_figure",
    "histogram_figure",
    "raster_figure",
    "save_png",
    "spectrum_figure",
]

#: Colours of the two sets (real, synthetic).
COLORS = ("tab:blue", "tab:orange")


def _spike_words(settings: dict | None) -> dict[str, str]:
    """How the spikes were found and binned, in words, from a report's ``settings``."""
    st = settings or {}
    thr = st.get("spike_threshold_sn", 1.0)
    return {
        "spikes": f"OASIS AR(1) spikes (amplitude > {thr:g} noise SD)",
        "bin": f"{1000 * st.get('corr_bin_s', 0.1):.0f}-ms bins",
        "tau": f"τ = {st.get('vr_tau_s', 0.5):g} s",
    }


def _agg_subplots(
    ncols: int, figsize_in: tuple[float, float], **subplot_kw: Any
) -> tuple[Figure, Any]:
    """A Figure on an Agg canvas and its ``fig.subplots(1, ncols, **subplot_kw)`` axes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize_in)
    FigureCanvasAgg(fig)  # Agg canvas: no pyplot, safe from GUI threads
    axes = fig.subplots(1, ncols, **subplot_kw)
    return fig, axes


def raster_figure(
    real: PopulationStats,
    synthetic: PopulationStats,
    fs_hz: float,
    names: tuple[str, str] = ("real", "synthetic"),
    settings: dict | None = None,
) -> Figure:
    """Raster of the inferred spikes of window 0 of each set, side by side.

    Parameters
    ----------
    real, synthetic : PopulationStats
        Statistics whose ``spikes`` (bool (M, N, T)) are drawn.
    fs_hz : float
        Frame rate in Hz (x axis in s).
    names : (str, str)
        Titles of the two panels.
    settings : dict, optional
        The report's settings (spike threshold), named in the title.

    Returns
    -------
    matplotlib.figure.Figure
        10 x 4.4 inch figure with two panels (every neuron numbered from 1, vs time in s).
    """
    words = _spike_words(settings)
    fig, axes = _agg_subplots(2, (10, 4.4), sharey=True)
    for ax, st, label, color in (
        (axes[0], real, names[0], COLORS[0]),
        (axes[1], synthetic, names[1], COLORS[1]),
    ):
        spikes = st.spikes[0]
        for j in range(spikes.shape[0]):
            ts = np.flatnonzero(spikes[j]) / fs_hz
            ax.vlines(ts, j + 0.6, j + 1.4, color=color, linewidth=1)  # neurons from 1
        window_s = spikes.shape[1] / fs_hz
        ax.set_title(f"{label}: first window ({window_s:.1f} s)", fontsize=10)
        ax.set_xlabel("time (s)")
        ax.set_ylabel("neuron")
        ax.yaxis.set_tick_params(labelleft=True)
    _integer_ticks(axes[0], real.spikes.shape[1])
    fig.suptitle(f"{words['spikes']}; each tick one spike frame", fontsize=10)
    fig.tight_layout()
    return fig


def histogram_figure(
    real: PopulationStats,
    synthetic: PopulationStats,
    kl_rate: float,
    kl_corr: float,
    kl_vrd: float,
    names: tuple[str, str] = ("real", "synthetic"),
    settings: dict | None = None,
) -> Figure:
    """Overlaid histograms of firing rate, pairwise correlation and van Rossum distance.

    Parameters
    ----------
    real, synthetic : PopulationStats
        The two sets' statistics (rates in spikes/s; correlation and van Rossum
        distance dimensionless); NaNs are left out.
    kl_rate, kl_corr, kl_vrd : float
        KL(real || synthetic) in nats, shown in the panel titles.
    names : (str, str)
        Legend labels of the two sets.
    settings : dict, optional
        The report's settings (spike threshold, bin width, van Rossum τ), named
        in the labels.

    Returns
    -------
    matplotlib.figure.Figure
        13 x 4.2 inch figure with three density histograms on 30 shared bins.
    """
    w = _spike_words(settings)
    fig, axes = _agg_subplots(3, (13, 4.2))
    panels = (
        ("rates_hz", "firing rate per neuron and window", "rate (spikes/s)", "per spikes/s"),
        ("corr", f"pairwise spike correlation ({w['bin']})", "Pearson r", "per unit r"),
        (
            "vrd",
            f"pairwise van Rossum distance ({w['tau']})",
            "distance (dimensionless)",
            "per unit",
        ),
    )
    for ax, (key, stat, label, per), kl in zip(
        axes, panels, (kl_rate, kl_corr, kl_vrd), strict=True
    ):
        x = np.asarray(getattr(real, key)).ravel()
        y = np.asarray(getattr(synthetic, key)).ravel()
        x, y = x[np.isfinite(x)], y[np.isfinite(y)]
        if x.size and y.size:
            edges = np.linspace(min(x.min(), y.min()), max(x.max(), y.max()) + 1e-12, 31)
            ax.hist(x, edges, density=True, alpha=0.6, label=names[0], color=COLORS[0])
            ax.hist(y, edges, density=True, alpha=0.6, label=names[1], color=COLORS[1])
        ax.set_xlabel(label, fontsize=9)
        ax.set_ylabel(f"probability density ({per})")
        ax.set_title(f"{stat}\nKL(real ‖ synthetic) = {kl:.3g} nats", fontsize=9)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", ncol=2, frameon=False)
    fig.suptitle(w["spikes"], y=0.02, va="bottom", fontsize=8, color="0.3")
    fig.tight_layout(rect=(0, 0.04, 1, 0.9))
    return fig


def spectrum_figure(
    freqs_hz: np.ndarray,
    psd_real: np.ndarray,
    psd_synthetic: np.ndarray,
    log_spectral_distance_db: float,
    names: tuple[str, str] = ("real", "synthetic"),
    trace_unit: str = "dF/F",
) -> Figure:
    """Log-log plot of the two mean power spectra (the 0 Hz bin left out).

    Parameters
    ----------
    freqs_hz : numpy.ndarray
        (F,) frequencies in Hz.
    psd_real, psd_synthetic : numpy.ndarray
        (F,) mean power spectral densities (Welch) in (trace unit)²/Hz.
    log_spectral_distance_db : float
        Their log-spectral distance in dB, shown in the title.
    names : (str, str)
        Legend labels of the two sets.
    trace_unit : str
        Unit of the traces, shown in the y label (dF/F as a fraction by default).

    Returns
    -------
    matplotlib.figure.Figure
        5.5 x 4 inch figure.
    """
    fig, ax = _agg_subplots(1, (5.5, 4))
    ax.loglog(freqs_hz[1:], psd_real[1:], label=names[0], color=COLORS[0])
    ax.loglog(freqs_hz[1:], psd_synthetic[1:], label=names[1], color=COLORS[1])
    ax.set_xlabel("frequency (Hz)")
    ax.set_ylabel(f"mean power spectral density\n(({trace_unit})²/Hz)")
    ax.set_title(
        f"mean power spectrum (Welch) of each neuron's trace\n"
        f"log-spectral distance {log_spectral_distance_db:.2f} dB (RMS)",
        fontsize=10,
    )
    ax.legend(loc="lower left", fontsize=8)
    fig.tight_layout()
    return fig


def _integer_ticks(ax: Any, n: int) -> None:
    """Neuron axis ticks at whole neurons 1..n (every neuron up to 20, else ~20 labels)."""
    step = max(1, int(np.ceil(n / 20)))
    ax.set_yticks(np.arange(1, n + 1, step))


def cofiring_figure(
    real: CoFiring,
    synthetic: CoFiring,
    scores: dict[str, float],
    names: tuple[str, str] = ("real", "synthetic"),
    settings: dict | None = None,
) -> Figure:
    """Co-firing: pairwise dF/F correlations, both mean correlation matrices, synchrony.

    Parameters
    ----------
    real, synthetic : CoFiring
        Co-firing statistics of the two sets (:mod:`.cofiring`).
    scores : dict of str to float
        The report's distances (``kl_corr_dff`` in nats,
        ``corr_matrix_distance_dff`` and ``kl_synchrony`` in nats), shown in
        the titles.
    names : (str, str)
        Labels of the two sets.
    settings : dict, optional
        The report's settings (spike threshold, bin width), named in the synchrony panel.

    Returns
    -------
    matplotlib.figure.Figure
        17 x 4.4 inch figure with four panels.
    """
    w = _spike_words(settings)
    fig, axes = _agg_subplots(4, (17, 4.4))
    x, y = real.corr_dff.ravel(), synthetic.corr_dff.ravel()
    x, y = x[np.isfinite(x)], y[np.isfinite(y)]
    if x.size and y.size:
        edges = np.linspace(min(x.min(), y.min()), max(x.max(), y.max()) + 1e-12, 41)
        for v, label, color in ((x, names[0], COLORS[0]), (y, names[1], COLORS[1])):
            ax_label = f"{label} (mean {v.mean():.3f})"
            axes[0].hist(v, edges, density=True, alpha=0.6, label=ax_label, color=color)
    axes[0].set_xlabel("pairwise dF/F correlation per window (Pearson r)")
    axes[0].set_ylabel("probability density (per unit r)")
    axes[0].set_title(
        "pairwise dF/F correlation\n"
        f"KL(real ‖ synthetic) = {scores.get('kl_corr_dff', np.nan):.3g} nats",
        fontsize=10,
    )
    axes[0].legend(fontsize=7, loc="upper right")
    n = real.n_neurons
    lim = max(0.05, float(np.nanmax(np.abs(real.matrix() - np.eye(n)))))
    for ax, cf, label in ((axes[1], real, names[0]), (axes[2], synthetic, names[1])):
        im = ax.imshow(
            cf.matrix() - np.eye(n),
            vmin=-lim,
            vmax=lim,
            cmap="RdBu_r",
            extent=(0.5, n + 0.5, n + 0.5, 0.5),
        )
        ax.set_title(f"{label}\nmean dF/F correlation per pair (Pearson r)", fontsize=10)
        ax.set_xlabel("neuron")
        ax.set_ylabel("neuron")
        _integer_ticks(ax, n)
        ax.set_xticks(np.arange(1, n + 1, max(1, int(np.ceil(n / 10)))))
    fig.colorbar(im, ax=axes[2], label="Pearson r (diagonal blanked)", fraction=0.046, pad=0.04)
    axes[2].set_title(
        f"{names[1]}\nmean dF/F correlation per pair (Pearson r)\n"
        f"RMS difference to real: {scores.get('corr_matrix_distance_dff', np.nan):.3f}",
        fontsize=10,
    )
    k = np.arange(n + 1)
    for cf, label, color, dx in (
        (real, names[0], COLORS[0], -0.2),
        (synthetic, names[1], COLORS[1], 0.2),
    ):
        axes[3].bar(k + dx, cf.synchrony / cf.synchrony.sum(), 0.4, label=label, color=color)
    axes[3].set_yscale("log")
    axes[3].legend(fontsize=7)
    axes[3].set_xlabel(f"neurons with a spike in the bin ({w['bin']})")
    axes[3].set_ylabel("fraction of bins")
    axes[3].set_title(
        f"population synchrony (OASIS spikes)\nKL(real ‖ synthetic) = "
        f"{scores.get('kl_synchrony', np.nan):.3g} nats",
        fontsize=10,
    )
    fig.tight_layout()
    return fig


def save_png(fig: Figure, path: str | Path, dpi: int = 100) -> Path:
    """Write a figure as PNG atomically (no partial file on failure).

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure (with a canvas, e.g. from the functions above).
    path : str or Path
        Destination file; its folder must exist.
    dpi : int
        Resolution in dots per inch.

    Returns
    -------
    Path
        ``path``.
    """
    from ..io.atomic import atomic_path

    p = Path(path)
    with atomic_path(p) as tmp:
        fig.savefig(tmp, dpi=dpi, format="png")
    return p
