"""Signal processing on traces: neuropil correction, baseline, dF/F, resampling, noise.

All functions work on the last axis (frames) of float arrays ``(..., n_frames)``
and accept NaN for missing frames: NaN stretches are bridged by linear
interpolation for the filters and put back (as NaN) in the output.

The 'maximin' baseline reproduces ``suite2p.extraction.dcnv.preprocess``
(suite2p 1.1): Gaussian smoothing (σ = ``sig_baseline`` frames, kernel cut at
``round(3σ)``, edges replicated), then a running minimum and a running maximum
over ``int(win_baseline_s * fs_hz)`` frames (made odd, centred, edges replicated).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

from ._blocks import release_pages, row_blocks, rows_per_block
from .errors import InvalidInputError
from .recording import Recording, check_fs

__all__ = [
    "RAW_BASELINE_RULE",
    "baseline_maximin",
    "baseline_percentile",
    "bridge_nans",
    "dff",
    "neuropil_correct",
    "noise_level",
    "resample",
    "to_dff",
    "warn_dff_flags",
]


def _as_float(x: np.ndarray, name: str) -> np.ndarray:
    a = np.asarray(x)
    if not np.issubdtype(a.dtype, np.number) or np.iscomplexobj(a):
        raise InvalidInputError(f"{name} must be a real numeric array; got dtype {a.dtype}.")
    if a.ndim == 0:
        raise InvalidInputError(f"{name} must have a frame axis; got a scalar.")
    a = a.astype(np.float64, copy=False)
    if np.isinf(a).any():
        raise InvalidInputError(
            f"{name} contains {int(np.isinf(a).sum())} infinite value(s); use NaN for gaps."
        )
    return a


def bridge_nans(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Fill NaN stretches by linear interpolation along the last axis.

    Parameters
    ----------
    x : numpy.ndarray
        Traces (..., n_frames).

    Returns
    -------
    filled : numpy.ndarray
        float64 copy without NaN (leading/trailing NaN take the nearest value;
        an all-NaN trace becomes zeros).
    mask : numpy.ndarray
        bool, True where ``x`` was NaN.
    """
    a = np.array(x, dtype=np.float64)
    mask = np.isnan(a)
    if not mask.any():
        return a, mask
    flat = a.reshape(-1, a.shape[-1])
    fmask = mask.reshape(-1, a.shape[-1])
    idx = np.arange(a.shape[-1])
    for row, m in zip(flat, fmask, strict=True):
        if m.all():
            row[:] = 0.0
        elif m.any():
            row[m] = np.interp(idx[m], idx[~m], row[~m])
    return a, mask


def neuropil_correct(F: np.ndarray, Fneu: np.ndarray, coeff: float = 0.7) -> np.ndarray:
    """Neuropil-corrected fluorescence ``F - coeff * Fneu``.

    Parameters
    ----------
    F, Fneu : numpy.ndarray
        ROI and neuropil fluorescence (a.u.), same shape (..., n_frames).
    coeff : float
        Neuropil coefficient (suite2p default 0.7), in [0, 1.5].

    Returns
    -------
    numpy.ndarray
        float32, same shape.
    """
    f = np.asarray(F, dtype=np.float32)
    fn = np.asarray(Fneu, dtype=np.float32)
    if f.shape != fn.shape:
        raise InvalidInputError(
            f"neuropil_correct: F has shape {f.shape} but Fneu has {fn.shape}; they must match."
        )
    c = float(coeff)
    if not np.isfinite(c) or not 0.0 <= c <= 1.5:
        raise InvalidInputError(
            f"neuropil_correct: coeff must lie in [0, 1.5] (suite2p uses 0.7); got {coeff!r}."
        )
    return f - np.float32(c) * fn


def baseline_maximin(
    F: np.ndarray, fs_hz: float, win_baseline_s: float = 60.0, sig_baseline: float = 10.0
) -> np.ndarray:
    """Suite2P 'maximin' baseline: Gaussian smoothing, running min, then running max.

    Parameters
    ----------
    F : numpy.ndarray
        Fluorescence (..., n_frames), e.g. neuropil-corrected F (a.u.).
    fs_hz : float
        Frame rate in Hz.
    win_baseline_s : float
        Window of the min and max filters in seconds (suite2p ``win_baseline``).
    sig_baseline : float
        Standard deviation of the Gaussian smoothing in FRAMES (suite2p
        ``sig_baseline``); 0 disables the smoothing.

    Returns
    -------
    numpy.ndarray
        float64 baseline F0, same shape (NaN where ``F`` is NaN).
    """
    from scipy.ndimage import correlate1d, maximum_filter1d, minimum_filter1d

    fs = check_fs(fs_hz)
    if not np.isfinite(win_baseline_s) or win_baseline_s <= 0:
        raise InvalidInputError(f"win_baseline_s must be > 0 s; got {win_baseline_s!r}.")
    if not np.isfinite(sig_baseline) or sig_baseline < 0:
        raise InvalidInputError(f"sig_baseline must be >= 0 frames; got {sig_baseline!r}.")
    a, mask = bridge_nans(_as_float(F, "F"))
    win = int(win_baseline_s * fs)
    win += 1 if win % 2 == 0 else 0
    if sig_baseline > 0:
        gwid = int(np.round(sig_baseline * 3))
        g = np.exp(-(np.arange(-gwid, gwid + 1, dtype=np.float64) ** 2) / (2 * sig_baseline**2))
        a = correlate1d(a, g / g.sum(), axis=-1, mode="nearest")
    a = minimum_filter1d(a, size=win, axis=-1, mode="nearest")
    a = maximum_filter1d(a, size=win, axis=-1, mode="nearest")
    a[mask] = np.nan
    return a


def baseline_percentile(
    F: np.ndarray, fs_hz: float, window_s: float = 60.0, percentile: float = 8.0
) -> np.ndarray:
    """Sliding-percentile baseline.

    The percentile of the (NaN-ignoring) window of ``window_s`` seconds centred
    on each frame. For speed it is evaluated every ``max(1, window // 50)``
    frames and linearly interpolated in between (the window changes by at most
    2 % between evaluation points).

    Parameters
    ----------
    F : numpy.ndarray
        Fluorescence (..., n_frames).
    fs_hz : float
        Frame rate in Hz.
    window_s : float
        Window length in seconds (clipped to the recording length).
    percentile : float
        Percentile in [0, 100].

    Returns
    -------
    numpy.ndarray
        float64 baseline, same shape (NaN where ``F`` is NaN).
    """
    fs = check_fs(fs_hz)
    if not 0.0 <= float(percentile) <= 100.0:
        raise InvalidInputError(f"percentile must lie in [0, 100]; got {percentile!r}.")
    if not np.isfinite(window_s) or window_s <= 0:
        raise InvalidInputError(f"window_s must be > 0 s; got {window_s!r}.")
    a = _as_float(F, "F")
    mask = np.isnan(a)
    n = a.shape[-1]
    win = min(n, max(1, round(window_s * fs)))
    half = win // 2
    step = max(1, win // 50)
    centres = np.unique(np.concatenate([np.arange(0, n, step), [n - 1]]))
    padded = np.concatenate(
        [np.full((*a.shape[:-1], half), np.nan), a, np.full((*a.shape[:-1], half), np.nan)],
        axis=-1,
    )
    windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * half + 1, axis=-1)
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            # a slice of the centres at a time: the gathered windows stay near 32 MB
            rows = max(1, a.size // max(n, 1))
            per_centre = rows * windows.shape[-1] * 8
            step_c = max(1, (32 * 2**20) // per_centre)
            vals = np.concatenate(
                [
                    np.nanpercentile(windows[..., centres[c : c + step_c], :], percentile, axis=-1)
                    for c in range(0, centres.size, step_c)
                ],
                axis=-1,
            )
    out = np.empty_like(a)
    flat_out = out.reshape(-1, n)
    flat_vals = vals.reshape(-1, centres.size)
    for i in range(flat_out.shape[0]):
        v = flat_vals[i]
        ok = np.isfinite(v)
        flat_out[i] = np.interp(np.arange(n), centres[ok], v[ok]) if ok.any() else np.nan
    out[mask] = np.nan
    return out


def dff(F: np.ndarray, F0: np.ndarray, denominator: np.ndarray | None = None) -> np.ndarray:
    """dF/F as a fraction: ``(F - F0) / F0``, or ``(F - F0) / denominator``.

    Parameters
    ----------
    F, F0 : numpy.ndarray
        Fluorescence and its baseline (same shape, or broadcastable), a.u.
    denominator : numpy.ndarray, optional
        Baseline to divide by instead of ``F0`` (a.u., broadcastable), e.g.
        the baseline of the raw F for ROIs whose neuropil-corrected baseline
        is not positive (see :func:`to_dff`). NaN gives NaN.

    Returns
    -------
    numpy.ndarray
        float32 dF/F (NaN where any input is NaN).

    Raises
    ------
    InvalidInputError
        If the baseline divided by is <= 0 anywhere (dF/F is undefined there);
        the message lists the affected ROIs (rows).
    """
    f = _as_float(F, "F")
    f0 = _as_float(F0, "F0")
    den = f0 if denominator is None else _as_float(denominator, "denominator")
    with np.errstate(invalid="ignore"):
        bad = den <= 0
    if bad.any():
        rows = np.unique(np.nonzero(bad.reshape(-1, bad.shape[-1]) if bad.ndim else bad)[0])
        raise InvalidInputError(
            f"dff: the baseline F0 is <= 0 for ROI(s) {rows[:10].tolist()}"
            f"{' ...' if rows.size > 10 else ''} (min {np.nanmin(den):.4g}); dF/F is undefined "
            "there. Use a smaller neuropil coefficient or exclude these ROIs."
        )
    with np.errstate(invalid="ignore"):
        return ((f - f0) / den).astype(np.float32)


#: The rule :func:`to_dff` applies to ROIs whose neuropil-corrected baseline is not positive.
RAW_BASELINE_RULE = (
    "raw-F baseline: dF/F = (F_corr - F0_corr) / F0_raw, where F0_raw is the baseline of the "
    "fluorescence before neuropil subtraction"
)


@dataclass
class _DffBlocks:
    """ROIs (rows) that took the raw-F baseline, and those whose dF/F is undefined (NaN)."""

    raw_baseline: list[int]
    undefined: list[int]


def _baseline_fn(
    baseline: str, fs_hz: float, win_baseline_s: float, sig_baseline: float, percentile: float
) -> Callable[[np.ndarray], np.ndarray]:
    """The baseline of the chosen method with its parameters bound (checked once)."""
    if baseline == "maximin":
        return lambda x: baseline_maximin(x, fs_hz, win_baseline_s, sig_baseline)
    if baseline == "percentile":
        return lambda x: baseline_percentile(x, fs_hz, win_baseline_s, percentile)
    raise InvalidInputError(
        f"to_dff: baseline must be 'maximin' or 'percentile'; got {baseline!r}."
    )


def _dff_rows(
    F: np.ndarray,
    Fneu: np.ndarray | None,
    coeff: float,
    base: Callable,
    row0: int,
    flags: _DffBlocks,
) -> np.ndarray:
    """dF/F (float32) of a block of ROIs; ROIs whose corrected baseline is not positive
    are divided by their raw-F baseline (rows recorded in ``flags``, offset ``row0``)."""
    f = np.asarray(F, dtype=np.float32)
    fc = f if Fneu is None else neuropil_correct(f, Fneu, coeff)
    f0 = base(fc)
    with np.errstate(invalid="ignore"):
        bad = np.any(f0 <= 0, axis=-1)
    if not bad.any():
        return dff(fc, f0)
    den = f0.copy()
    den[bad] = base(f[bad]) if Fneu is not None else np.nan
    with np.errstate(invalid="ignore"):
        undefined = np.any(den <= 0, axis=-1) | (bad & np.all(np.isnan(den), axis=-1))
    den[undefined] = np.nan
    flags.raw_baseline += (row0 + np.flatnonzero(bad & ~undefined)).tolist()
    flags.undefined += (row0 + np.flatnonzero(undefined)).tolist()
    return dff(fc, f0, den)


def _dff_bytes_per_row(n_frames: int) -> float:
    """Bytes of float64 temporaries one ROI needs in :func:`to_dff` (filters, dF/F).

    About twelve float64 copies of the trace; the percentile baseline gathers
    its windows in slices of about 32 MB on top (see :func:`baseline_percentile`).
    """
    return 12.0 * 8 * n_frames


def _roi_list(rows: list[int], limit: int = 10) -> str:
    shown = ", ".join(str(r) for r in rows[:limit])
    return shown + (f" and {len(rows) - limit} more" if len(rows) > limit else "")


def warn_dff_flags(name: str, raw_baseline_rois: list[int], undefined_rois: list[int]) -> None:
    """The one warning of :func:`to_dff` naming the ROIs that took the raw-F baseline or got NaN.

    Code that converts a recording a block at a time (streamed inference)
    collects the ROIs of every block and warns once with this.

    Parameters
    ----------
    name : str
        The recording's name, for the message.
    raw_baseline_rois : list of int
        ROIs whose dF/F uses :data:`RAW_BASELINE_RULE`.
    undefined_rois : list of int
        ROIs without a positive baseline even in the raw F (dF/F NaN).
    """
    import warnings

    parts = []
    if raw_baseline_rois:
        parts.append(
            f"{len(raw_baseline_rois)} ROI(s) [{_roi_list(raw_baseline_rois)}] have a "
            "neuropil-corrected baseline that is not positive (bright neuropil); their dF/F "
            f"uses the {RAW_BASELINE_RULE} (meta['dff']['raw_baseline_rois'])"
        )
    if undefined_rois:
        parts.append(
            f"{len(undefined_rois)} ROI(s) [{_roi_list(undefined_rois)}] have no positive "
            "baseline even in the raw F; their dF/F is NaN (meta['dff']['undefined_rois']); "
            "exclude them with recording.select(...)"
        )
    if parts:
        warnings.warn(f"to_dff({name!r}): " + "; ".join(parts) + ".", UserWarning, stacklevel=3)


def to_dff(
    recording: Recording,
    neuropil_coeff: float = 0.7,
    baseline: Literal["maximin", "percentile"] = "maximin",
    win_baseline_s: float = 60.0,
    sig_baseline: float = 10.0,
    percentile: float = 8.0,
    block_rois: int | None = None,
) -> Recording:
    """Turn a raw recording into dF/F (suite2p-style preprocessing), a block of ROIs at a time.

    ``F_corr = F - neuropil_coeff * Fneu`` (if the recording has a neuropil),
    ``F0 = baseline(F_corr)``, ``dF/F = (F_corr - F0) / F0``.

    **ROIs whose neuropil-corrected baseline is not positive** (bright
    neuropil makes ``F - 0.7 Fneu`` go to or below zero somewhere) are not an
    error: their dF/F is taken relative to the baseline of the raw F
    (:data:`RAW_BASELINE_RULE`), ``(F_corr - F0_corr) / F0_raw``, the change
    of the corrected signal as a fraction of the ROI's total resting
    fluorescence. They are listed in ``meta["dff"]["raw_baseline_rois"]`` and
    one warning names them. ROIs without a positive baseline even in the raw F
    get NaN (``meta["dff"]["undefined_rois"]``, in the same warning).

    Memory: the output is one preallocated float32 array; the ROIs are
    processed ``block_rois`` at a time, so the float64 temporaries scale with
    the block, not the recording. Read-only memory-mapped inputs (as the
    Suite2P reader gives) are read block by block and their pages released.

    Parameters
    ----------
    recording : Recording
        ``kind="raw"``; a ``kind="dff"`` recording is returned unchanged.
    neuropil_coeff : float
        Neuropil coefficient (0.7 as in suite2p).
    baseline : {"maximin", "percentile"}
        Baseline method.
    win_baseline_s : float
        Baseline window in seconds (both methods).
    sig_baseline : float
        Gaussian σ in frames (maximin).
    percentile : float
        Percentile (percentile method).
    block_rois : int, optional
        ROIs per block (>= 1). Default: as many as fit in
        :data:`calcium_forge._blocks.BLOCK_BUDGET_BYTES` of temporaries. The
        result does not depend on it.

    Returns
    -------
    Recording
        ``kind="dff"`` float32 dF/F (fraction), ``neuropil=None``, other
        fields kept; ``meta["dff"]`` records the parameters, ``"f0_rule"``,
        ``"raw_baseline_rois"`` and ``"undefined_rois"`` (ROI indices).
    """
    if not isinstance(recording, Recording):
        raise InvalidInputError(f"to_dff expects a Recording; got {type(recording).__name__}.")
    if recording.kind == "dff":
        return recording
    if recording.kind != "raw":
        raise InvalidInputError(
            f"to_dff: recording {recording.name!r} holds {recording.kind!r} values; dF/F can "
            "only be computed from raw fluorescence (kind='raw')."
        )
    base = _baseline_fn(baseline, recording.fs_hz, win_baseline_s, sig_baseline, percentile)
    F, neu = recording.traces, recording.neuropil
    if neu is not None and neuropil_coeff:
        neuropil_correct(F[:1, :1], neu[:1, :1], neuropil_coeff)  # checks the coefficient
    else:
        neu = None
    n_rois, n_frames = F.shape
    if block_rois is None:
        block_rois = rows_per_block(n_rois, _dff_bytes_per_row(n_frames))
    elif (
        isinstance(block_rois, bool)
        or not isinstance(block_rois, (int, np.integer))
        or (block_rois < 1)
    ):
        raise InvalidInputError(f"to_dff: block_rois must be an integer >= 1; got {block_rois!r}.")
    values = np.empty((n_rois, n_frames), dtype=np.float32)
    flags = _DffBlocks([], [])
    try:
        for r0, r1 in row_blocks(n_rois, int(block_rois)):
            values[r0:r1] = _dff_rows(
                F[r0:r1], None if neu is None else neu[r0:r1], neuropil_coeff, base, r0, flags
            )
            release_pages(F)
            if neu is not None:
                release_pages(neu)
    except InvalidInputError as exc:
        raise InvalidInputError(f"to_dff({recording.name!r}): {exc}") from None
    warn_dff_flags(recording.name, flags.raw_baseline, flags.undefined)
    meta = dict(recording.meta)
    meta["dff"] = {
        "neuropil_coeff": float(neuropil_coeff) if neu is not None else 0.0,
        "baseline": baseline,
        "win_baseline_s": float(win_baseline_s),
        "sig_baseline_frames": float(sig_baseline),
        "percentile": float(percentile),
        "f0_rule": RAW_BASELINE_RULE,
        "raw_baseline_rois": flags.raw_baseline,
        "undefined_rois": flags.undefined,
    }
    return replace(recording, traces=values, kind="dff", neuropil=None, meta=meta)


def resample(
    traces: np.ndarray, fs_in_hz: float, fs_out_hz: float, dtype: type = np.float32
) -> np.ndarray:
    """Fourier resampling along the last axis (``scipy.signal.resample``).

    The output has ``round(n_frames * fs_out_hz / fs_in_hz)`` samples; sample
    k is at time k / fs_out_hz. NaN stretches are bridged linearly before
    resampling and set back to NaN afterwards (an output sample is NaN when
    the nearest input frame was NaN).

    Parameters
    ----------
    traces : numpy.ndarray
        (..., n_frames).
    fs_in_hz, fs_out_hz : float
        Input and output rates in Hz.
    dtype : numpy dtype
        Output dtype (float32 for inference, float64 for training data); the
        computation is float64 either way.

    Returns
    -------
    numpy.ndarray
        (..., n_out) of ``dtype``.
    """
    from scipy.signal import resample as _resample

    fs_in = check_fs(fs_in_hz, name="fs_in_hz")
    fs_out = check_fs(fs_out_hz, name="fs_out_hz")
    a, mask = bridge_nans(_as_float(traces, "traces"))
    n = a.shape[-1]
    if fs_in == fs_out:
        out = a.copy()
    else:
        n_out = round(n * fs_out / fs_in)
        if n_out < 1:
            raise InvalidInputError(
                f"resample: {n} frames at {fs_in:g} Hz give no sample at {fs_out:g} Hz."
            )
        out = _resample(a, n_out, axis=-1)
        if mask.any():
            idx = np.clip(np.round(np.arange(n_out) * fs_in / fs_out).astype(np.int64), 0, n - 1)
            out[mask[..., idx]] = np.nan
        return out.astype(dtype, copy=False)
    out[mask] = np.nan
    return out.astype(dtype, copy=False)


def noise_level(dff_traces: np.ndarray, fs_hz: float) -> np.ndarray:
    """Standardised noise level ν (Cascade / ENS² definition), in % / √Hz.

    ``ν = median(|Δ dF/F|) / √fs × 100`` per trace, with dF/F as a fraction;
    NaN frames are ignored.

    Parameters
    ----------
    dff_traces : numpy.ndarray
        dF/F (..., n_frames), fraction.
    fs_hz : float
        Frame rate in Hz.

    Returns
    -------
    numpy.ndarray
        float64 (...,): one ν per trace (NaN if a trace has < 2 finite frames).
    """
    fs = check_fs(fs_hz)
    a = np.asarray(dff_traces)
    if a.ndim < 2:
        return _noise_rows(a, fs)
    flat = a.reshape(-1, a.shape[-1])
    out = np.empty(flat.shape[0], dtype=np.float64)
    # a block of rows at a time: the float64 differences stay small for long recordings
    for r0, r1 in row_blocks(flat.shape[0], rows_per_block(flat.shape[0], 32.0 * a.shape[-1])):
        out[r0:r1] = _noise_rows(flat[r0:r1], fs)
        release_pages(a)
    return out.reshape(a.shape[:-1])


def _noise_rows(x: np.ndarray, fs: float) -> np.ndarray:
    """ν (% / √Hz) of each trace of ``x`` (NaN frames ignored)."""
    import warnings

    a = _as_float(x, "dff_traces")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmedian(np.abs(np.diff(a, axis=-1)), axis=-1) / np.sqrt(fs) * 100.0
