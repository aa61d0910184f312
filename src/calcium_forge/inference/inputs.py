"""The dF/F a user gives to spike inference: read from a Recording or an array, and checked.

:func:`dff_input` accepts a :class:`~calcium_forge.recording.Recording`
(``kind="raw"`` is converted to dF/F, ``kind="rate"`` refused) or an array
with its frame rate; :func:`check_rois` refuses ROIs nothing can be inferred
from (all NaN, infinite, constant) and returns the gap mask.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import InvalidInputError
from ..recording import Recording, check_fs

__all__ = ["DffInput", "check_rois", "dff_input"]


@dataclass
class DffInput:
    """Checked input of spike inference.

    Attributes
    ----------
    traces : numpy.ndarray
        float32 (n_rois, n_frames) dF/F (fraction), NaN in gaps.
    fs_hz : float
        Frame rate (Hz).
    recording : Recording or None
        The Recording the traces came from, if any.
    """

    traces: np.ndarray
    fs_hz: float
    recording: Recording | None


def dff_input(data: Any, fs_hz: float | None) -> DffInput:
    """The dF/F to infer spikes from, checked: a Recording or an array with its frame rate.

    Parameters
    ----------
    data : Recording or numpy.ndarray
        dF/F (fraction), (n_rois, n_frames) or (n_frames,); a Recording of
        kind ``"raw"`` is converted with :func:`calcium_forge.signal.to_dff`,
        one of kind ``"rate"`` is refused.
    fs_hz : float or None
        Frame rate in Hz; required for arrays, must agree with a Recording's.

    Returns
    -------
    DffInput

    Raises
    ------
    InvalidInputError
        Missing or contradictory frame rate, non-numeric or wrongly shaped
        data, or a rate recording.
    """
    rec = None
    if isinstance(data, Recording):
        rec = data
        if fs_hz is not None and not np.isclose(float(fs_hz), rec.fs_hz):
            raise InvalidInputError(
                f"fs_hz={fs_hz!r} contradicts the recording's frame rate {rec.fs_hz:g} Hz; "
                "leave fs_hz=None for a Recording."
            )
        if rec.kind == "raw":
            from ..signal import to_dff

            rec_dff = to_dff(rec)
            traces = rec_dff.traces
        elif rec.kind == "rate":
            raise InvalidInputError(
                f"recording {rec.name!r} holds spike rates (kind='rate'), not fluorescence; "
                "infer spikes from a dF/F or raw recording."
            )
        else:
            traces = rec.traces
        return DffInput(np.asarray(traces, dtype=np.float32), float(rec.fs_hz), rec)
    if fs_hz is None:
        raise InvalidInputError(
            "fs_hz is required when data is an array (got fs_hz=None); pass the frame rate "
            "in Hz, e.g. infer_spikes(traces, fs_hz=30.0), or give a Recording."
        )
    fs = check_fs(fs_hz)
    arr = np.asarray(data)
    if not np.issubdtype(arr.dtype, np.number) or np.iscomplexobj(arr):
        raise InvalidInputError(f"data must be real dF/F numbers; got dtype {arr.dtype}.")
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2:
        raise InvalidInputError(
            f"data must be (n_rois, n_frames) or (n_frames,) dF/F; got shape {arr.shape}."
        )
    return DffInput(arr.astype(np.float32, copy=False), fs, None)


def check_rois(traces: np.ndarray, rows_per_chunk: int = 64) -> np.ndarray:
    """Refuse all-NaN, infinite and constant ROIs; return the NaN mask.

    Works on blocks of ROIs so that the temporaries stay small for large inputs.

    Parameters
    ----------
    traces : numpy.ndarray
        (n_rois, n_frames) dF/F (fraction).
    rows_per_chunk : int
        ROIs checked at a time.

    Returns
    -------
    numpy.ndarray
        bool (n_rois, n_frames), True where the dF/F is NaN (a gap); a
        read-only all-False view (no memory) when there is no gap.

    Raises
    ------
    InvalidInputError
        No frames or ROIs, infinite values, or an all-NaN or constant ROI.
    """
    if traces.shape[1] == 0 or traces.shape[0] == 0:
        raise InvalidInputError(f"data has no frames or no ROIs (shape {traces.shape}).")
    inf_rows: list[int] = []
    all_nan: list[int] = []
    const: list[int] = []
    any_nan = False
    for r0 in range(0, traces.shape[0], rows_per_chunk):
        block = traces[r0 : r0 + rows_per_chunk]
        bnan = np.isnan(block)
        any_nan = any_nan or bool(bnan.any())
        inf_rows += (r0 + np.nonzero(np.isinf(block).any(axis=1))[0]).tolist()
        all_nan += (r0 + np.nonzero(bnan.all(axis=1))[0]).tolist()
        with np.errstate(all="ignore"):
            hi = np.max(np.where(bnan, -np.inf, block), axis=1)
            lo = np.min(np.where(bnan, np.inf, block), axis=1)
        const += (r0 + np.nonzero((hi == lo) & ~bnan.all(axis=1))[0]).tolist()
    if inf_rows:
        raise InvalidInputError(
            f"dF/F contains infinite values (ROIs {inf_rows[:5]}); replace them with NaN (gaps)."
        )
    if all_nan:
        raise InvalidInputError(
            f"ROI(s) {all_nan[:10]} are entirely NaN; drop them "
            "(e.g. recording.select(...)) before inferring spikes."
        )
    if const:
        value = float(np.nanmax(traces[const[0]]))
        raise InvalidInputError(
            f"ROI(s) {const[:10]} have a constant dF/F trace (value {value:g}); there is "
            "nothing to infer. Drop them or check the trace extraction."
        )
    if not any_nan:  # no gap: a read-only all-False view, no (n_rois, n_frames) array
        return np.broadcast_to(np.False_, traces.shape)
    return np.isnan(traces)
