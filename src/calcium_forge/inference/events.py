"""Spike events from a spike rate: the ENS² greedy estimator, vectorised.

ENS² (Zhou et al. 2023, "Estimation of spike events from spike-rate
predictions") turns a predicted spike rate into discrete spike times:

1. fragments of the rate above a small threshold ``epsilon`` are found
   (runs longer than 500 bins are cut into pieces of 500, as in the
   authors' code, so dense firing costs linear time);
2. each fragment starts with an empty spike vector, or with one spike at its
   peak when the fragment's rate sums to at least ``seed_mass`` spikes (0.5
   in the authors' released code: "at least one spike is included when the
   probability is over 0.5"; without it a broad, low bump carrying most of
   a spike never receives one, since a spike only lowers the MSE where the
   rate reaches about half the kernel's peak);
3. one spike is added at the bin where it most lowers the MSE between the
   smoothed spike vector (spike vector convolved with the training smoothing
   kernel, truncated to the fragment) and the predicted rate;
4. step 3 repeats until no addition lowers the MSE.

Adding a spike at bin ``k`` to the current estimate changes the summed
squared error by ``-(2 <r, K_k> - ||K_k||^2)`` where ``r`` is the residual
(rate minus current estimate) and ``K_k`` the kernel centred at ``k``
(restricted to the fragment). So the decrease ``Δ_k`` for *every* bin is
one correlation of the residual with the kernel; after a spike is placed at
``k*`` only the correlations within ``±(kernel width)`` of ``k*`` change and
are updated locally. Fragments are independent, so one iteration places one
spike in every fragment that still improves; all fragments of all ROIs are
processed together in flat arrays (finished fragments are compacted away).
The result is identical to running the paper's loop fragment by fragment.

Spike times are the centres of the chosen bins: bin ``k`` is centred on the
sample time ``k/fs`` (as the training targets are binned), so its spike is at
``k/fs``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from ..errors import InvalidInputError
from ..spiketrains import gaussian_kernel, gaussian_kernel_ms, gaussian_window

#: Default fragment threshold, spikes per bin (see :func:`greedy_spike_counts`).
DEFAULT_EPSILON_PER_BIN = 0.01

#: Default seed mass, spikes: a fragment carrying at least this many spikes gets one.
DEFAULT_SEED_MASS = 0.5

#: Longest fragment, bins; longer runs above epsilon are cut into pieces of this length
#: (the authors' code forces an estimate every 500 data points).
DEFAULT_MAX_FRAGMENT_BINS = 500


@dataclass
class GreedyEvents:
    """Spike events estimated from a rate by the greedy algorithm.

    Parameters
    ----------
    counts : numpy.ndarray
        int32 (n_rois, n_bins) number of spikes placed in each bin.
    n_iterations : int
        Greedy iterations run (max spikes placed in a single fragment).
    n_fragments : int
        Number of fragments above ``epsilon`` over all ROIs.
    """

    counts: np.ndarray
    n_iterations: int
    n_fragments: int

    def spike_times(self, fs_hz: float) -> list[np.ndarray]:
        """Spike times per ROI at bin centres ``k/fs_hz``.

        A bin with ``n`` spikes repeats its time ``n`` times.

        Parameters
        ----------
        fs_hz : float
            Rate of the bins (Hz).

        Returns
        -------
        list of numpy.ndarray
            float64 spike times (s from the first bin), one array per ROI.
        """
        out = []
        for row in self.counts:
            idx = np.repeat(np.arange(row.size), row)
            out.append(idx / float(fs_hz))
        return out


def find_fragments(
    rate: np.ndarray, epsilon: float, max_len: int | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Runs of ``rate > epsilon`` per row: (row, start, stop) arrays (stop exclusive).

    Runs longer than ``max_len`` bins are cut into consecutive pieces of
    ``max_len`` bins (the last one shorter).
    """
    above = rate > epsilon
    n_rows, n = above.shape
    padded = np.zeros((n_rows, n + 2), dtype=np.int8)
    padded[:, 1:-1] = above
    d = np.diff(padded, axis=1)
    r_start, c_start = np.nonzero(d == 1)
    _r_stop, c_stop = np.nonzero(d == -1)
    # np.nonzero is row-major, so starts and stops pair up in order.
    if max_len is not None and r_start.size:
        max_len = int(max_len)
        n_pieces = -(-(c_stop - c_start) // max_len)
        if (n_pieces > 1).any():
            piece = _ragged_arange(n_pieces)
            r_start = np.repeat(r_start, n_pieces)
            stop = np.repeat(c_stop, n_pieces)
            c_start = np.repeat(c_start, n_pieces) + piece * max_len
            c_stop = np.minimum(c_start + max_len, stop)
    return r_start, c_start, c_stop


def greedy_spike_counts(
    rate_per_bin: np.ndarray,
    kernel: np.ndarray,
    epsilon: float = DEFAULT_EPSILON_PER_BIN,
    max_iterations: int = 100_000,
    max_flat_bins: int = 1 << 20,
    seed_mass: float | None = DEFAULT_SEED_MASS,
    max_fragment_bins: int | None = DEFAULT_MAX_FRAGMENT_BINS,
    min_fragment_mass: float | np.ndarray | None = None,
) -> GreedyEvents:
    """ENS² greedy spike events from a rate (spikes per bin), vectorised.

    Parameters
    ----------
    rate_per_bin : numpy.ndarray
        (n_rois, n_bins) or (n_bins,) predicted rate in spikes per bin (i.e.
        spikes/s divided by the sampling rate). NaN is treated as 0.
    kernel : numpy.ndarray
        The smoothing kernel the rate was trained against (odd length, sums
        to 1), e.g. ``gaussian_kernel(0.025 * 60)`` for ENS² at 60 Hz.
    epsilon : float
        Fragment threshold in spikes per bin: bins with rate ``<= epsilon``
        never receive spikes and separate fragments (the paper's ε).
    max_iterations : int
        Safety cap on greedy iterations.
    max_flat_bins : int
        Fragments are processed in groups whose flat layout (fragments plus
        separating gaps) has at most this many bins (one fragment longer than
        that forms a group of its own): memory stays bounded (~15 float64
        arrays of this size) for any number of ROIs and any duration.
    seed_mass : float or None
        A fragment whose rate sums to at least this many spikes starts with
        one spike at its (first) maximum before the greedy additions, as in
        the authors' code (0.5). ``None``: start every fragment empty.
    max_fragment_bins : int or None
        Runs above ``epsilon`` longer than this many bins are cut into
        independent pieces of this length, as the authors' code does every
        500 data points. Each greedy iteration scans every active fragment, so
        without a cap one long run (dense firing, where the rate never drops
        below ``epsilon``) costs its length times its spike count. ``None``:
        no cap (the paper's description).
    min_fragment_mass : float, numpy.ndarray or None
        Fragments whose rate sums to fewer spikes than this (one value, or one
        per row) receive none: the bumps a network draws in pure noise of a
        row's noise level (see :mod:`calcium_forge.inference.noise_floor`).
        ``None`` (default): every fragment is estimated.

    Returns
    -------
    GreedyEvents
        Spike counts per bin and iteration statistics.
    """
    rate = np.asarray(rate_per_bin, dtype=np.float64)
    if rate.ndim == 1:
        rate = rate[None, :]
    if rate.ndim != 2:
        raise InvalidInputError(f"rate_per_bin must be 1-D or 2-D; got shape {rate.shape}.")
    kernel = np.asarray(kernel, dtype=np.float64).ravel()
    if kernel.size % 2 != 1:
        raise InvalidInputError(f"kernel must have odd length; got {kernel.size}.")
    rate = np.nan_to_num(rate, nan=0.0)
    n_rows, n_bins = rate.shape
    counts = np.zeros((n_rows, n_bins), dtype=np.int32)
    if max_fragment_bins is not None and int(max_fragment_bins) < 1:
        raise InvalidInputError(
            f"max_fragment_bins must be a positive number of bins or None; got {max_fragment_bins}."
        )
    rows, starts, stops = find_fragments(rate, epsilon, max_fragment_bins)
    if min_fragment_mass is not None and rows.size:
        rows, starts, stops = _heavy_fragments(rate, rows, starts, stops, min_fragment_mass)
    n_frag = int(rows.size)
    if n_frag == 0:
        return GreedyEvents(counts=counts, n_iterations=0, n_fragments=0)

    h = kernel.size // 2
    lengths = (stops - starts).astype(np.int64)
    # group consecutive fragments so that each group's flat layout stays small
    sizes = lengths + 3 * h
    group = np.floor_divide(np.cumsum(sizes) - sizes, max(int(max_flat_bins), 1))
    cuts = np.concatenate([[0], np.nonzero(np.diff(group))[0] + 1, [n_frag]])
    n_iter = 0
    for a, b in itertools.pairwise(cuts):
        it = _greedy_core(
            rate, rows[a:b], starts[a:b], stops[a:b], kernel, counts, max_iterations, seed_mass
        )
        n_iter = max(n_iter, it)
    return GreedyEvents(counts=counts, n_iterations=int(n_iter), n_fragments=n_frag)


def _greedy_core(
    rate: np.ndarray,
    rows: np.ndarray,
    starts: np.ndarray,
    stops: np.ndarray,
    kernel: np.ndarray,
    counts: np.ndarray,
    max_iterations: int,
    seed_mass: float | None = None,
) -> int:
    """Greedy estimation on a group of fragments; writes into ``counts``; returns iterations."""
    h = kernel.size // 2
    # Flat layout: fragments separated by 3h zeros (residual 0, mask 0), so a
    # kernel centred in one fragment never reaches another one.
    lengths = (stops - starts).astype(np.int64)
    gap = 3 * h  # room for the local correlation update (k* +- 2h, kernel +- h)
    offsets = gap + np.concatenate([[0], np.cumsum(lengths + gap)[:-1]])
    total = int(offsets[-1] + lengths[-1] + gap)
    local = _ragged_arange(lengths)
    flat_idx = np.repeat(offsets, lengths) + local
    src_row = np.repeat(rows, lengths)
    src_col = np.repeat(starts, lengths) + local
    resid = np.zeros(total)
    resid[flat_idx] = rate[src_row, src_col]
    mask = np.zeros(total)
    mask[flat_idx] = 1.0
    # corr[k] = <r, K_k> = sum_j r[k + j] kernel[j + h]; norm2[k] = ||K_k on the fragment||^2
    corr = np.correlate(resid, kernel, mode="same")
    norm2 = np.correlate(mask, kernel**2, mode="same")
    placed = np.zeros(total, dtype=np.int32)

    active = np.arange(rows.size)
    offs = np.arange(-h, h + 1)
    offs2 = np.arange(-2 * h, 2 * h + 1)

    def place(picks: np.ndarray) -> None:
        placed[picks] += 1
        # residual update r -= K_k restricted to the fragment (picks of different
        # fragments never overlap thanks to the gaps)
        pos = picks[:, None] + offs[None, :]
        resid[pos] -= kernel[None, :] * mask[pos]
        # local correlation update on k* +- 2h
        pos2 = (picks[:, None] + offs2[None, :]).ravel()
        corr[pos2] = (resid[pos2[:, None] + offs[None, :]] * kernel[None, :]).sum(axis=1)

    if seed_mass is not None:
        seg_starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        vals = resid[flat_idx]
        mass = np.add.reduceat(vals, seg_starts)
        seg_max = np.maximum.reduceat(vals, seg_starts)
        where_max = np.where(vals == np.repeat(seg_max, lengths), np.arange(vals.size), vals.size)
        first = np.minimum.reduceat(where_max, seg_starts)
        seeded = mass >= float(seed_mass)
        if seeded.any():
            place(flat_idx[first[seeded]])
    n_iter = 0
    while active.size and n_iter < max_iterations:
        a_len = lengths[active]
        cand_idx = np.repeat(offsets[active], a_len) + _ragged_arange(a_len)
        delta = 2.0 * corr[cand_idx] - norm2[cand_idx]
        seg_starts = np.concatenate([[0], np.cumsum(a_len)[:-1]])
        seg_max = np.maximum.reduceat(delta, seg_starts)
        improve = seg_max > 1e-12
        if not improve.any():
            break
        n_iter += 1
        # first bin attaining the maximum in each fragment
        where_max = np.where(delta == np.repeat(seg_max, a_len), np.arange(delta.size), delta.size)
        first = np.minimum.reduceat(where_max, seg_starts)
        place(cand_idx[first[improve]])
        active = active[improve]

    counts[src_row, src_col] = placed[flat_idx]
    return n_iter


def fragment_masses(
    rate: np.ndarray, rows: np.ndarray, starts: np.ndarray, stops: np.ndarray
) -> np.ndarray:
    """Spikes carried by each fragment: the rate (spikes per bin) summed over it.

    Parameters
    ----------
    rate : numpy.ndarray
        (n_rows, n_bins) rate, spikes per bin.
    rows, starts, stops : numpy.ndarray
        Fragments as row, first bin and stop bin (exclusive).

    Returns
    -------
    numpy.ndarray
        float64 (n_fragments,), spikes.
    """
    lengths = (stops - starts).astype(np.int64)
    if lengths.size == 0:
        return np.zeros(0)
    local = _ragged_arange(lengths)
    vals = rate[np.repeat(rows, lengths), np.repeat(starts, lengths) + local]
    return np.add.reduceat(vals, np.concatenate([[0], np.cumsum(lengths)[:-1]]))


def _heavy_fragments(
    rate: np.ndarray, rows: np.ndarray, starts: np.ndarray, stops: np.ndarray, min_mass
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The fragments whose rate sums to at least their row's ``min_mass`` spikes."""
    m = np.broadcast_to(np.asarray(min_mass, dtype=np.float64), (rate.shape[0],))
    if not np.all(np.isfinite(m)) or (m < 0).any():
        raise InvalidInputError(
            "min_fragment_mass must be non-negative numbers of spikes (one, or one per row) or "
            f"None; got {np.asarray(min_mass)}."
        )
    keep = fragment_masses(rate, rows, starts, stops) >= m[rows]
    return rows[keep], starts[keep], stops[keep]


def _ragged_arange(lengths: np.ndarray) -> np.ndarray:
    """Concatenated ``arange(n)`` for every ``n`` in ``lengths``."""
    lengths = np.asarray(lengths, dtype=np.int64)
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    seg_start = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    return np.arange(total, dtype=np.int64) - np.repeat(seg_start, lengths)


def greedy_spike_counts_reference(
    rate_per_bin: np.ndarray,
    kernel: np.ndarray,
    epsilon: float = DEFAULT_EPSILON_PER_BIN,
    seed_mass: float | None = DEFAULT_SEED_MASS,
    max_fragment_bins: int | None = DEFAULT_MAX_FRAGMENT_BINS,
) -> np.ndarray:
    """The paper's greedy loop written plainly (slow; for tests).

    Parameters
    ----------
    rate_per_bin : numpy.ndarray
        (n_bins,) rate in spikes per bin.
    kernel : numpy.ndarray
        Odd-length smoothing kernel.
    epsilon : float
        Fragment threshold, spikes per bin.
    seed_mass, max_fragment_bins : float or None, int or None
        See :func:`greedy_spike_counts`.

    Returns
    -------
    numpy.ndarray
        int32 (n_bins,) spike counts.
    """
    rate = np.nan_to_num(np.asarray(rate_per_bin, dtype=np.float64).ravel())
    kernel = np.asarray(kernel, dtype=np.float64).ravel()
    h = kernel.size // 2
    out = np.zeros(rate.size, dtype=np.int32)
    _, starts, stops = find_fragments(rate[None, :], epsilon, max_fragment_bins)
    for a, b in zip(starts, stops, strict=True):
        pd = rate[a:b]
        est = np.zeros(b - a)
        if seed_mass is not None and pd.sum() >= seed_mass:
            est[int(np.argmax(pd))] = 1
        smooth0 = np.convolve(est, kernel, mode="full")[h : h + b - a]
        err = np.sum((smooth0 - pd) ** 2)
        while True:
            best, best_k = err, -1
            for k in range(b - a):
                trial = est.copy()
                trial[k] += 1
                smooth = np.zeros(b - a)
                for m in np.nonzero(trial)[0]:
                    for j in range(-h, h + 1):
                        if 0 <= m + j < b - a:
                            smooth[m + j] += trial[m] * kernel[j + h]
                e = np.sum((smooth - pd) ** 2)
                if e < best - 1e-12:
                    best, best_k = e, k
            if best_k < 0:
                break
            est[best_k] += 1
            err = best
        out[a:b] = est.astype(np.int32)
    return out


def event_kernel(card: dict, method: str, fs_model_hz: float) -> np.ndarray:
    """The target smoothing kernel of a model: from its card, else the paper's.

    Parameters
    ----------
    card : dict
        The model card (its ``target_smoothing`` or ``smoothing`` entry is used).
    method : str
        ``"ens2"`` or ``"s2s"``; decides the default when the card names none.
    fs_model_hz : float
        The model's sampling rate, Hz.

    Returns
    -------
    numpy.ndarray
        Unit-sum float64 kernel in model samples: the card's Gaussian window
        (``width_samples``/``sd_samples``) or Gaussian (``sigma_ms``); else
        S2S's 11-sample window with sd 5, or ENS²'s σ = 25 ms Gaussian.
    """
    sm = card.get("target_smoothing") or card.get("smoothing") or {}
    if isinstance(sm, dict):
        if sm.get("kind") == "gaussian_window" and "width_samples" in sm:
            return gaussian_window(int(sm["width_samples"]), float(sm["sd_samples"]))
        if "sigma_ms" in sm:
            return gaussian_kernel_ms(float(sm["sigma_ms"]), fs_model_hz)
    if method == "s2s":  # S2S: Gaussian window of 11 samples, sd 5 (at 100 Hz)
        return gaussian_window(11, 5.0)
    return gaussian_kernel(0.025 * fs_model_hz)  # ENS²: sigma 25 ms
