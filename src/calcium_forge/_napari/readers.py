"""napari readers: tiff stacks, Suite2P folders, Cascade ``.mat``, ``.npz``, NWB.

Each ``get_*_reader(path)`` returns ``None`` for paths that are not its own
(never raises) and otherwise a function that reads the file with
:mod:`calcium_forge.io` and converts it with :mod:`._napari.layers`. A file
that looks like ours but cannot be read gives a napari error notification with
the core's message and opens nothing (napari's "null layer" sentinel), rather
than a traceback.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import CalciumForgeError, FileFormatError, InvalidInputError
from ..recording import Recording
from ..results import SpikeInference
from . import layers as L

ReaderFunction = Callable[[Any], list[Any]]
NULL_LAYER: list[Any] = [(None,)]
#: Frame rate assumed for Suite2P folders that do not store one (with a warning), Hz.
FALLBACK_FS_HZ = 30.0


def _one_path(path: Any) -> str | None:
    if isinstance(path, list | tuple):
        if len(path) != 1:
            return None
        path = path[0]
    try:
        return os.fspath(path)
    except TypeError:
        return None


def notify_error(message: str) -> None:
    """Show ``message`` as a napari error notification (print when napari is absent)."""
    try:
        from napari.utils.notifications import show_error
    except ImportError:  # pragma: no cover - napari extra not installed
        print(message)
        return
    show_error(message)


def notify_warning(message: str) -> None:
    """Show ``message`` as a napari warning notification."""
    try:
        from napari.utils.notifications import show_warning
    except ImportError:  # pragma: no cover
        print(message)
        return
    show_warning(message)


def frame_rate_notice(path: str, fs_hz: float | None) -> str | None:
    """The notice asking for the frame rate of an opened file, or None when it is plausible.

    Parameters
    ----------
    path : str
        The file or folder opened (named in the notice).
    fs_hz : float or None
        The frame rate it records, Hz (None: unknown).

    Returns
    -------
    str or None
        A message for a warning notification when the rate is unknown or outside
        :data:`calcium_forge.inference.matching.MIN_FS_HZ` ..
        :data:`~calcium_forge.inference.matching.MAX_FS_HZ`.
    """
    from ..inference.matching import MAX_FS_HZ, MIN_FS_HZ

    where = (
        "enter the true rate in the 'frame rate (Hz)' field of the widget you use (Extract "
        "traces, Run Suite2P, Infer spikes)"
    )
    if fs_hz is None:
        return (
            f"{path}: the frame rate is unknown (the file does not record it); the time axis "
            f"counts frames until you give it. Please {where}."
        )
    if not MIN_FS_HZ <= float(fs_hz) <= MAX_FS_HZ:
        return (
            f"{path}: the recorded frame rate {float(fs_hz):g} Hz is implausible for calcium "
            f"imaging (outside {MIN_FS_HZ:g}–{MAX_FS_HZ:g} Hz). Please check it and {where}."
        )
    return None


def ask_frame_rate(path: str, fs_hz: float | None) -> None:
    """Show :func:`frame_rate_notice` as a warning notification when there is one."""
    notice = frame_rate_notice(path, fs_hz)
    if notice is not None:
        notify_warning(notice)


def _guarded(read: Callable[[str], list[Any]]) -> ReaderFunction:
    """Wrap a reader: a CalciumForgeError/OSError becomes a notification."""

    def reader(path: Any) -> list[Any]:
        p = _one_path(path)
        try:
            return read(p)
        except (CalciumForgeError, OSError, ValueError) as exc:
            notify_error(f"calcium-forge could not open {p}: {exc}")
            return NULL_LAYER

    reader.__name__ = read.__name__
    reader.__doc__ = read.__doc__
    return reader


# ------------------------------------------------------------------ layers
def recording_to_layers(rec: Recording | SpikeInference, name: str | None = None) -> list[Any]:
    """Layers for anything :func:`calcium_forge.io.read` returns.

    A raw recording (F + neuropil) is shown as dF/F (``signal.to_dff``); the
    raw recording is kept in the traces layer's metadata as ``"raw"``.
    """
    if isinstance(rec, SpikeInference):
        out = []
        if rec.recording is not None:
            out += recording_to_layers(rec.recording, name=name)
        return out + L.inference_layers(rec, name=name)
    if rec.kind == "raw":
        from ..signal import to_dff

        return L.recording_layers(to_dff(rec), name=name, raw=rec)
    if rec.kind == "rate":
        return [L.traces_layer(rec, name=name, kind="rate")]
    return L.recording_layers(rec, name=name)


def _many(objs: Any, path: str, check_rate: bool = True) -> list[Any]:
    if not isinstance(objs, list | tuple):
        objs = [objs]
    out: list[Any] = []
    if check_rate:
        for fs in dict.fromkeys(float(o.fs_hz) for o in objs if hasattr(o, "fs_hz")):
            ask_frame_rate(path, fs)
    for i, obj in enumerate(objs):
        name = None
        if len(objs) > 1:
            base = obj.name if isinstance(obj, Recording) else Path(path).stem
            name = (
                base
                if isinstance(obj, Recording) and base != Path(path).name
                else (f"{Path(path).stem}[{i}]")
            )
        out += recording_to_layers(obj, name=name)
    return out


# ------------------------------------------------------------------ tiff
def _read_tiff(path: str) -> list[Any]:
    """Read a tiff stack lazily as an Image (n_frames, Y, X) with time scale 1/fs s."""
    from ..io import read_stack

    stack = read_stack(path)
    if stack.data.ndim >= 3:
        ask_frame_rate(path, stack.fs_hz)
    return [
        L.stack_layer(
            stack.data, stack.fs_hz, name=Path(path).stem, recording=stack, source=str(path)
        )
    ]


def get_tiff_reader(path: Any) -> ReaderFunction | None:
    """Reader for ``*.tif``/``*.tiff`` stacks, or None."""
    p = _one_path(path)
    if p is None or not p.lower().endswith((".tif", ".tiff")) or not os.path.isfile(p):
        return None
    return _guarded(_read_tiff)


# ------------------------------------------------------------------ suite2p
def is_suite2p_folder(path: str | os.PathLike) -> bool:
    """True for a Suite2P ``plane*`` folder or a folder holding ``plane*``/``suite2p``."""
    from ..io.suite2p import is_suite2p_folder as _is_s2p

    try:
        return os.path.isdir(path) and _is_s2p(path)
    except OSError:
        return False


def _read_suite2p(path: str) -> list[Any]:
    """Read a Suite2P folder: mean image, ROIs (Labels) and dF/F traces per plane."""
    from ..io import read

    try:
        return _many(read(path), path)
    except InvalidInputError as exc:
        if "fs_hz" not in str(exc):
            raise
    recs = read(path, fs_hz=FALLBACK_FS_HZ)
    notify_warning(
        f"{path}: the Suite2P folder does not record its frame rate (no ops.npy fs); "
        f"assumed {FALLBACK_FS_HZ:g} Hz (suite2p GUI data default). Please enter the true rate "
        "in 'Infer spikes' (frame rate field) or read it with calcium_forge.read(path, fs_hz=...)."
    )
    return _many(recs, path, check_rate=False)


def get_suite2p_reader(path: Any) -> ReaderFunction | None:
    """Reader for Suite2P ``plane*``/``suite2p`` folders, or None."""
    p = _one_path(path)
    if p is None or not is_suite2p_folder(p):
        return None
    return _guarded(_read_suite2p)


# ------------------------------------------------------------------ cascade
def is_cascade_mat(path: str | os.PathLike) -> bool:
    """True for a MATLAB file holding a Cascade ``CAttached`` struct."""
    p = os.fspath(path)
    if not p.lower().endswith(".mat") or not os.path.isfile(p):
        return False
    try:
        from scipy.io import whosmat

        return any(name == "CAttached" for name, _, _ in whosmat(p))
    except Exception:
        return False


def _read_mat(path: str) -> list[Any]:
    """Read a Cascade ground-truth file: dF/F traces and ground-truth spikes."""
    from ..io import read

    return _many(read(path), path)


def get_mat_reader(path: Any) -> ReaderFunction | None:
    """Reader for Cascade ground-truth ``*.mat`` files, or None."""
    p = _one_path(path)
    if p is None or not is_cascade_mat(p):
        return None
    return _guarded(_read_mat)


# ------------------------------------------------------------------ npz
def is_calcium_forge_npz(path: str | os.PathLike) -> bool:
    """True for an ``.npz`` written by calcium-forge (it holds a ``cf_format`` entry).

    A file with the ``.npz`` extension that is not a readable zip archive is
    claimed too, so that opening it explains what is wrong with it.
    """
    p = os.fspath(path)
    if not p.lower().endswith(".npz") or not os.path.isfile(p):
        return False
    try:
        with zipfile.ZipFile(p) as zf:
            names = {n.removesuffix(".npy") for n in zf.namelist()}
    except (OSError, zipfile.BadZipFile):
        return True
    return "cf_format" in names


def _read_npz(path: str) -> list[Any]:
    """Read a calcium-forge ``.npz``: a Recording, or a spike inference with its input."""
    import numpy as np

    from ..io import read, read_result

    try:
        with np.load(path, allow_pickle=False) as z:
            obj_type = str(z["cf_object"]) if "cf_object" in z.files else "Recording"
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise FileFormatError(
            f"{path}: not a readable .npz archive ({exc}). The file is damaged or not an npz."
        ) from exc
    if obj_type == "SpikeInference":
        return _many(read_result(path), path)
    return _many(read(path), path)


def get_npz_reader(path: Any) -> ReaderFunction | None:
    """Reader for calcium-forge ``*.npz`` files, or None."""
    p = _one_path(path)
    if p is None or not is_calcium_forge_npz(p):
        return None
    return _guarded(_read_npz)


# ------------------------------------------------------------------ nwb
def _read_nwb(path: str) -> list[Any]:
    """Read the ROI responses of an NWB file (needs the ``nwb`` extra)."""
    from ..io import read

    return _many(read(path), path)


def get_nwb_reader(path: Any) -> ReaderFunction | None:
    """Reader for ``*.nwb`` files, or None."""
    p = _one_path(path)
    if p is None or not p.lower().endswith(".nwb") or not os.path.isfile(p):
        return None
    return _guarded(_read_nwb)
