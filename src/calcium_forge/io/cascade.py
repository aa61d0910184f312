"""Reader for Cascade ground-truth ``.mat`` files (struct ``CAttached``).

Each file holds one neuron; ``CAttached`` is a single struct or an array of
structs (several recordings of that neuron). Fields used: ``fluo_time`` (s),
``fluo_mean`` (dF/F of the soma ROI) and ``events_AP`` (spike times in units of
1e-4 s, on the clock of ``fluo_time``).

Handling of the irregularities found in the published database (documented
behaviour, reported in ``Recording.meta``):

* structs without ``fluo_time``/``fluo_mean`` (electrophysiology only) are
  skipped and listed in ``meta["skipped_structs"]``;
* NaN frames are kept as NaN; their stretches are listed as
  ``meta["nan_stretches_s"]`` = [(start_s, stop_s), ...] (seconds from the
  first frame, stop exclusive) and their times are filled on the frame grid;
* a ``fluo_time`` shorter than ``fluo_mean`` (two files of DS04/DS05) is
  extended on the regular frame grid (``meta["fluo_time_extended"]``) with a
  :class:`~calcium_forge.errors.SuspectInputWarning`; a longer one is cut to
  the trace; a ``fluo_time`` that does not increase is refused;
* fields that are not numbers (text, structs) are refused, naming the field;
* ``events_AP`` is normally on the clock of ``fluo_time``. In some datasets
  (e.g. DS21) ``fluo_time`` starts long after zero while the spikes count from
  the first frame. When the first frame time is > 1 s, both clocks are tried:
  the one that leaves fewer spikes outside the recording wins, and on a tie the
  one with the larger spike-triggered dF/F rise (mean over 300 ms after the
  spike minus the mean over 5 frames before); ``meta["events_clock"]`` says
  which was used ("fluo_time" or "first_frame");
* spikes outside the imaged interval [first frame, last frame + 1/fs) are
  dropped and listed in ``meta["events_outside_s"]`` (``events_outside="drop"``,
  the default) or raise (``events_outside="error"``). When more than half of a
  recording's spikes fall outside, the units or the pairing of spikes and
  traces are wrong, and the reader always raises.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import FileFormatError, InvalidInputError, SuspectInputWarning
from ..recording import Recording

__all__ = ["EVENT_UNIT_S", "nan_stretches", "read_cascade"]

READER = "cascade"
#: unit of ``events_AP`` in seconds
EVENT_UNIT_S = 1e-4


def nan_stretches(trace: np.ndarray, fs_hz: float) -> list[tuple[float, float]]:
    """Stretches of consecutive NaN frames as (start_s, stop_s), stop exclusive.

    Parameters
    ----------
    trace : numpy.ndarray
        1-D trace.
    fs_hz : float
        Frame rate in Hz (frame k starts at k / fs_hz seconds).

    Returns
    -------
    list of (float, float)
        ``(start_s, stop_s)`` of each NaN stretch in seconds from the first
        frame, stop exclusive; empty when the trace has no NaN. (Plain pairs,
        not a dataclass: the list is stored as is in ``Recording.meta`` and
        must stay JSON-friendly.)
    """
    isnan = np.isnan(np.asarray(trace, dtype=np.float64))
    if not isnan.any():
        return []
    d = np.diff(np.concatenate([[0], isnan.astype(np.int8), [0]]))
    starts = np.flatnonzero(d == 1)
    stops = np.flatnonzero(d == -1)
    return [(float(a / fs_hz), float(b / fs_hz)) for a, b in zip(starts, stops, strict=True)]


def _spike_rise(y: np.ndarray, fs_hz: float, rel_s: np.ndarray) -> float:
    """Mean spike-triggered dF/F rise: 300 ms after minus 5 frames before each spike."""
    k = np.round(np.asarray(rel_s) * fs_hz).astype(np.int64)
    n_after = max(1, round(0.3 * fs_hz))
    k = k[(k >= 5) & (k < y.size - n_after - 1)]
    if k.size == 0:
        return -np.inf
    after = np.arange(1, n_after + 1)
    before = np.arange(-5, 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN windows
        post = np.nanmean(y[k[:, None] + after], axis=1)
        rise = post - np.nanmean(y[k[:, None] + before], axis=1)
    rise = rise[np.isfinite(rise)]
    return float(rise.mean()) if rise.size else -np.inf


def _frame_grid(t: np.ndarray, n: int, where: str) -> tuple[np.ndarray, float, dict[str, Any]]:
    """Frame times for ``n`` frames from a (possibly NaN-holed / short) ``fluo_time``."""
    info: dict[str, Any] = {}
    t = _as_numbers(t, "fluo_time", where)
    if t.size > n:
        info["fluo_time_cut"] = int(t.size - n)
        t = t[:n]
    finite = np.isfinite(t)
    if finite.sum() < 2:
        raise FileFormatError(
            f"{where}: fluo_time has fewer than two finite values; the frame rate cannot be "
            "determined."
        )
    k = np.flatnonzero(finite)
    dt = np.diff(t[k]) / np.diff(k)
    step = float(np.median(dt))
    if not np.isfinite(step) or step <= 0:
        raise FileFormatError(
            f"{where}: fluo_time does not increase (median frame interval {step!r} s); "
            "it must be the frame times in seconds."
        )
    full = np.empty(n, dtype=np.float64)
    full[: t.size] = t
    if t.size < n:
        info["fluo_time_extended"] = int(n - t.size)
        warnings.warn(
            f"{where}: fluo_time has {t.size} time stamps for {n} fluo_mean samples; the "
            f"last {n - t.size} frame times were extended on the regular grid "
            f"({1 / step:.4g} Hz). Check that fluo_time and fluo_mean belong together.",
            SuspectInputWarning,
            stacklevel=4,
        )
    missing = np.ones(n, dtype=bool)
    missing[k] = False
    if missing.any():
        # fill holes (NaN) and the missing tail on the regular grid anchored at the finite times
        full[missing] = np.interp(np.flatnonzero(missing), k, t[k], left=np.nan, right=np.nan)
        head = np.flatnonzero(missing & (np.arange(n) < k[0]))
        tail = np.flatnonzero(missing & (np.arange(n) > k[-1]))
        full[head] = t[k[0]] - (k[0] - head) * step
        full[tail] = t[k[-1]] + (tail - k[-1]) * step
    return full, step, info


def _as_numbers(value: Any, field: str, where: str) -> np.ndarray:
    """A ``CAttached`` field as a flat float64 array, or a FileFormatError naming the field."""
    arr = np.asarray(value)
    if arr.dtype.kind not in "biuf" and not (arr.dtype.kind == "O" and arr.size == 0):
        raise FileFormatError(
            f"{where}: {field} must hold numbers; got {arr.dtype} ({str(value)[:40]!r}). "
            f"Store {field} as a numeric vector in the .mat file."
        )
    return arr.astype(np.float64).ravel()


def _load_cattached(path: Path) -> np.ndarray:
    """The ``CAttached`` structs of a ``.mat`` file, as a flat object array."""
    import scipy.io

    try:
        mat = scipy.io.loadmat(path, squeeze_me=True, struct_as_record=False)
    except NotImplementedError as exc:  # v7.3 (HDF5) files
        raise FileFormatError(
            f"{path}: MATLAB v7.3 (HDF5) files are not supported ({exc}). Re-save it in "
            "MATLAB with save(..., '-v7')."
        ) from exc
    except Exception as exc:
        raise FileFormatError(
            f"{path}: not a readable MATLAB .mat file ({type(exc).__name__}: {exc})."
        ) from exc
    if "CAttached" not in mat:
        names = sorted(k for k in mat if not k.startswith("__"))
        raise FileFormatError(
            f"{path}: no 'CAttached' struct in this .mat file (variables: "
            f"{', '.join(names) or 'none'}). Cascade ground-truth files store their recordings "
            "in CAttached (fluo_time, fluo_mean, events_AP)."
        )
    return np.atleast_1d(mat["CAttached"]).ravel()


@dataclass
class _Events:
    """Spike times of one struct placed on the frame clock.

    Parameters
    ----------
    times_s : numpy.ndarray
        Spike times in seconds from the first frame (all of them, inside or not).
    outside : numpy.ndarray
        bool, True for spikes outside ``[0, duration)``.
    raw_s : numpy.ndarray
        The finite ``events_AP`` in seconds on their own clock.
    clock : str
        ``"fluo_time"`` or ``"first_frame"``.
    """

    times_s: np.ndarray
    outside: np.ndarray
    raw_s: np.ndarray
    clock: str


def _place_events(
    s: Any, y: np.ndarray, fs: float, t0: float, duration: float, where: str
) -> _Events:
    """Put ``events_AP`` on the clock of the frames (see the module docs for the rule)."""
    ev = _as_numbers(getattr(s, "events_AP", np.zeros(0)), "events_AP", where)
    ev_raw = ev[np.isfinite(ev)] * EVENT_UNIT_S
    ev = ev_raw - t0
    outside = (ev < 0) | (ev >= duration)
    clock = "fluo_time"
    if t0 > 1.0 and ev_raw.size:
        outside_ff = (ev_raw < 0) | (ev_raw >= duration)
        n_ff, n_ft = int(outside_ff.sum()), int(outside.sum())
        if n_ff < n_ft or (n_ff == n_ft and _spike_rise(y, fs, ev_raw) > _spike_rise(y, fs, ev)):
            ev, outside, clock = ev_raw, outside_ff, "first_frame"
    return _Events(times_s=ev, outside=outside, raw_s=ev_raw, clock=clock)


def _check_outside(
    events: _Events, events_outside: str, where: str, t0: float, duration: float
) -> None:
    """Raise when spikes fall outside and that is refused (or more than half do)."""
    ev, n_out = events.times_s, int(events.outside.sum())
    if n_out and (events_outside == "error" or n_out > 0.5 * ev.size):
        why = (
            "more than half of them, so the spike times do not belong to these frames or "
            "are not in units of 1e-4 s"
            if n_out > 0.5 * ev.size
            else "events_outside='error' was requested"
        )
        raise FileFormatError(
            f"{where}: {n_out} of {ev.size} spikes (events_AP) fall outside the recording "
            f"[{t0:.3f}, {t0 + duration:.3f}) s ({why}). Check events_AP (1e-4 s units) and "
            "fluo_time, or read with events_outside='drop'."
        )


def _read_struct(
    s: Any, idx: int, n_structs: int, path: Path, events_outside: str
) -> Recording | None:
    """One ``CAttached`` struct as a Recording; None when it holds no imaging data."""
    fields = set(getattr(s, "_fieldnames", []) or [])
    if not {"fluo_time", "fluo_mean"} <= fields:
        return None
    where = f"{path} (CAttached[{idx}])"
    y = _as_numbers(s.fluo_mean, "fluo_mean", where)
    if y.size < 2:
        return None
    if np.isinf(y).any():
        raise FileFormatError(f"{where}: fluo_mean contains infinite values.")
    t, step, info = _frame_grid(np.asarray(s.fluo_time), y.size, where)
    fs = 1.0 / step
    t0 = float(t[0])
    duration = y.size * step
    events = _place_events(s, y, fs, t0, duration, where)
    _check_outside(events, events_outside, where, t0, duration)
    meta: dict[str, Any] = {
        "reader": READER,
        "dataset": path.parent.name,
        "struct_index": idx,
        "n_structs": n_structs,
        "first_frame_time_s": t0,
        "nan_stretches_s": nan_stretches(y, fs),
        "n_nan_frames": int(np.isnan(y).sum()),
        "events_clock": events.clock,
        "events_outside_s": events.raw_s[events.outside].tolist(),
        "name": f"{path.stem}#{idx}" if n_structs > 1 else path.stem,
        **info,
    }
    return Recording(
        traces=y[None, :],
        fs_hz=fs,
        kind="dff",
        spike_times=[events.times_s[~events.outside]],
        source=str(path),
        meta=meta,
    )


def read_cascade(path: str | os.PathLike[str], events_outside: str = "drop") -> list[Recording]:
    """Read a Cascade ground-truth ``.mat`` file: one Recording per recording.

    Parameters
    ----------
    path : str or os.PathLike
        A MATLAB v5 ``.mat`` file with a ``CAttached`` struct (or struct array).
    events_outside : {"drop", "error"}
        What to do with spikes outside the imaged interval (see module docs).

    Returns
    -------
    list of Recording
        ``kind="dff"``, one ROI each; ``fs_hz`` = 1 / median frame interval;
        ``spike_times`` in seconds from the first frame; ``meta`` holds
        ``reader``, ``dataset`` (parent folder name), ``struct_index``,
        ``first_frame_time_s``, ``events_clock``, ``nan_stretches_s``, ``n_nan_frames``,
        ``events_outside_s`` and the grid repairs, if any.

    Raises
    ------
    FileFormatError
        If the file is not a MATLAB file, has no ``CAttached``, no usable
        recording, or spikes that do not fit the recording.
    """
    from .limits import require_regular_file

    path = require_regular_file(path, "Cascade .mat")
    if events_outside not in ("drop", "error"):
        raise InvalidInputError(
            f"events_outside must be 'drop' or 'error'; got {events_outside!r}."
        )
    structs = _load_cattached(path)
    recordings: list[Recording] = []
    skipped: list[int] = []
    for idx, s in enumerate(structs):
        rec = _read_struct(s, idx, int(structs.size), path, events_outside)
        if rec is None:
            skipped.append(idx)
        else:
            recordings.append(rec)
    if not recordings:
        raise FileFormatError(
            f"{path}: CAttached holds {structs.size} struct(s) but none has both fluo_time and "
            "fluo_mean with at least two frames; there is no imaging data to read."
        )
    for r in recordings:
        r.meta["skipped_structs"] = skipped
    return recordings
