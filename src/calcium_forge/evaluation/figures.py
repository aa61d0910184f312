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

    Returns
    -------
    matplotlib.figure.Figure
        10 x 4 inch figure with two panels (neurons numbered from 1, integer ticks, vs time in s).
    """
    from matplotlib.ticker import MaxNLocator

    fig, axes = _agg_subplots(2, (10, 4), sharey=True)
    for ax, st, label, color in (
        (axes[0], real, names[0], COLORS[0]),
        (axes[1], synthetic, names[1], COLORS[1]),
    ):
        spikes = st.spikes[0]
        for j in range(spikes.shape[0]):
            ts = np.flatnonzero(spikes[j]) / fs_hz
            ax.vlines(ts, j + 0.6, j + 1.4, color=color, linewidth=1)  # neurons from 1
        window_s = spikes.shape[1] / fs_hz
        ax.set_title(
            f"{label}\nOASIS spikes (AR(1), > 1 noise SD), first window ({window_s:.1f} s)"
        )
        ax.set_xlabel("time (s)")
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes[0].set_ylabel("neuron")
    _integer_ticks(axes[0], real.spikes.shape[1])
    fig.tight_layout()
    return fig


def histogram_figure(
    real: PopulationStats,
    synthetic: PopulationStats,
    kl_rate: float,
    kl_corr: float,
    kl_vrd: float,
    names: tuple[str, str] = ("real", "synthetic"),
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

    Returns
    -------
    matplotlib.figure.Figure
        13 x 3.6 inch figure with three density histograms on 30 shared bins.
    """
    fig, axes = _agg_subplots(3, (13, 3.9))
    for ax, key, label, ylabel, kl in (
        (axes[0], "rates_hz", "firing rate (spikes/s)", "density (per spikes/s)", kl_rate),
        (axes[1], "corr", "pairwise correlation", "density", kl_corr),
        (axes[2], "vrd", "van Rossum distance (dimensionless)", "density", kl_vrd),
    ):
        x = np.asarray(getattr(real, key)).ravel()
        y = np.asarray(getattr(synthetic, key)).ravel()
        x, y = x[np.isfinite(x)], y[np.isfinite(y)]
        if x.size and y.size:
            edges = np.linspace(min(x.min(), y.min()), max(x.max(), y.max()) + 1e-12, 31)
            ax.hist(x, edges, density=True, alpha=0.6, label=names[0], color=COLORS[0])
            ax.hist(y, edges, density=True, alpha=0.6, label=names[1], color=COLORS[1])
        ax.set_xlabel(label)
        ax.set_ylabel(ylabel)
        ax.set_title(f"{label.split(' (')[0]}: KL(real ‖ synthetic) = {kl:.3g} nats", fontsize=9)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", ncol=2, frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 0.9))
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
    ax.set_title(f"mean spectra; log-spectral distance {log_spectral_distance_db:.2f} dB")
    ax.legend(loc="lower left", fontsize=8)
    fig.tight_layout()
    return fig


def _integer_ticks(ax: Any, n: int) -> None:
    """Neuron axis ticks at whole neurons 1..n (at most ~10 labels)."""
    step = max(1, int(np.ceil(n / 10)))
    ax.set_yticks(np.arange(1, n + 1, step))


def cofiring_figure(
    real: CoFiring,
    synthetic: CoFiring,
    scores: dict[str, float],
    names: tuple[str, str] = ("real", "synthetic"),
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

    Returns
    -------
    matplotlib.figure.Figure
        16 x 3.8 inch figure with four panels.
    """
    fig, axes = _agg_subplots(4, (16, 3.8))
    x, y = real.corr_dff.ravel(), synthetic.corr_dff.ravel()
    x, y = x[np.isfinite(x)], y[np.isfinite(y)]
    if x.size and y.size:
        edges = np.linspace(min(x.min(), y.min()), max(x.max(), y.max()) + 1e-12, 41)
        for v, label, color in ((x, names[0], COLORS[0]), (y, names[1], COLORS[1])):
            ax_label = f"{label} (mean {v.mean():.3f})"
            axes[0].hist(v, edges, density=True, alpha=0.6, label=ax_label, color=color)
    axes[0].set_xlabel("pairwise dF/F correlation (per window)")
    axes[0].set_ylabel("probability density")
    axes[0].set_title(f"KL(real || synthetic) = {scores.get('kl_corr_dff', np.nan):.3g} nats")
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
        ax.set_title(f"{label}: mean dF/F correlation")
        ax.set_xlabel("neuron")
        ax.set_ylabel("neuron")
        _integer_ticks(ax, n)
        ax.set_xticks(ax.get_yticks())
    fig.colorbar(im, ax=axes[2], label="Pearson r (diagonal blanked)")
    axes[2].set_title(
        f"{names[1]}: mean dF/F correlation\n"
        f"(RMS difference {scores.get('corr_matrix_distance_dff', np.nan):.3f})",
        fontsize=9,
    )
    k = np.arange(n + 1)
    for cf, label, color, dx in (
        (real, names[0], COLORS[0], -0.2),
        (synthetic, names[1], COLORS[1], 0.2),
    ):
        axes[3].bar(k + dx, cf.synchrony / cf.synchrony.sum(), 0.4, label=label, color=color)
    axes[3].set_yscale("log")
    axes[3].legend(fontsize=7)
    axes[3].set_xlabel("neurons with a spike in the bin")
    axes[3].set_ylabel("fraction of bins")
    axes[3].set_title(f"synchrony: KL = {scores.get('kl_synchrony', np.nan):.3g} nats", fontsize=10)
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
