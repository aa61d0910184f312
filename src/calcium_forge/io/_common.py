"""Small helpers shared by the readers and writers (not public API)."""

from __future__ import annotations

import datetime
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from .._blocks import count_nonfinite
from ..errors import InvalidInputError
from ..recording import check_fs

__all__ = ["check_fs", "check_fs_matches", "json_dumps", "json_safe", "require_finite"]


def check_fs_matches(stored_hz: float, given_hz: float | None, where: str) -> None:
    """Refuse an ``fs_hz`` option that contradicts a rate the file stores with its times.

    Formats whose frame times are tied to other timed data (Cascade spike
    times, calcium-forge ``.npz`` and NWB files) cannot take a different frame
    rate: that would shift every spike. ``given_hz`` equal to the stored rate
    (within 0.1 %) or None is accepted.

    Parameters
    ----------
    stored_hz : float
        Frame rate the file stores, Hz.
    given_hz : float or None
        The ``fs_hz`` option, Hz.
    where : str
        File or argument named in the error message.

    Raises
    ------
    InvalidInputError
        When ``given_hz`` differs from ``stored_hz`` by more than 0.1 %.
    """
    if given_hz is None:
        return
    given = check_fs(given_hz, where)
    if abs(given - stored_hz) > 1e-3 * stored_hz:
        raise InvalidInputError(
            f"{where}: the file stores its frame rate ({stored_hz:.6g} Hz) together with its "
            f"frame/spike times; fs_hz={given_hz!r} contradicts it. Drop the fs_hz option, or "
            "resample the traces with calcium_forge.signal.resample."
        )


def require_finite(array: np.ndarray, what: str, where: str, allow_nan: bool = False) -> None:
    """Raise :class:`InvalidInputError` if ``array`` holds inf (or NaN, unless allowed).

    Parameters
    ----------
    array : numpy.ndarray
        Values to check.
    what : str
        What the array is (e.g. ``"F.npy"``), for the message.
    where : str
        File the array came from.
    allow_nan : bool
        Whether NaN (missing frames) is acceptable.
    """
    a = np.asarray(array)
    if not np.issubdtype(a.dtype, np.floating):
        return
    n_inf, n_nan = count_nonfinite(a)  # a block of rows at a time (memory-mapped files too)
    if n_inf:
        raise InvalidInputError(
            f"{where}: {what} contains {n_inf} infinite value(s); infinities are never "
            "accepted. Replace them with finite values (or NaN for missing frames)."
        )
    if not allow_nan:
        if n_nan:
            raise InvalidInputError(
                f"{where}: {what} contains {n_nan} NaN value(s), which this format does not "
                "allow. Fill or remove the missing values before loading."
            )


def json_safe(obj: Any, max_array_size: int = 10_000) -> Any:
    """Convert ``obj`` to something :func:`json.dumps` accepts.

    numpy scalars become Python numbers, arrays up to ``max_array_size``
    elements become (nested) lists, larger arrays a short description string,
    paths become strings; dict keys become strings.

    Parameters
    ----------
    obj : object
        Anything (dicts, sequences, numpy values, paths, dates...).
    max_array_size : int
        Largest array (elements) stored as a list.

    Returns
    -------
    object
        Nested dicts/lists of str, int, float, bool and None (non-finite floats
        as their ``repr``; unknown objects as their ``repr``).
    """
    if isinstance(obj, dict):
        return {str(k): json_safe(v, max_array_size) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [json_safe(v, max_array_size) for v in obj]
    if isinstance(obj, np.ndarray):
        if obj.dtype.hasobject or obj.size > max_array_size:
            return f"<array shape={list(obj.shape)} dtype={obj.dtype} not stored>"
        return json_safe(obj.tolist(), max_array_size)
    if isinstance(obj, np.generic):
        return json_safe(obj.item(), max_array_size)
    if isinstance(obj, float) and not np.isfinite(obj):
        return repr(obj)  # "nan", "inf": JSON has no literal for them
    if isinstance(obj, (str, int, float, bool)) or obj is None:
        return obj
    if isinstance(obj, (Path, os.PathLike)):
        return str(obj)
    if isinstance(obj, (datetime.date, datetime.time)):
        return obj.isoformat()
    if isinstance(obj, complex):
        return [obj.real, obj.imag]
    return repr(obj)


def json_dumps(obj: Any) -> str:
    """``json.dumps(json_safe(obj))``.

    Parameters
    ----------
    obj : object
        Anything :func:`json_safe` accepts.

    Returns
    -------
    str
        The JSON text.
    """
    return json.dumps(json_safe(obj))
