"""Reader for Suite2P output folders (suite2p 0.x and 1.x).

A *plane folder* (``.../suite2p/plane0``) holds ``F.npy`` (required),
``Fneu.npy``, ``spks.npy``, ``iscell.npy``, ``stat.npy`` and either ``ops.npy``
(0.x, also written by 1.x when ``save_ops_orig``) or ``settings.npy`` +
``db.npy`` (+ ``reg_outputs.npy``, ``detect_outputs.npy``) (1.x). A *suite2p
folder* holds ``plane*/`` sub-folders and reads as a list, one Recording per
plane. Pickled files go through :mod:`calcium_forge.io.safe_pickle`.
"""

from __future__ import annotations

import datetime
import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from .._blocks import take_rows
from ..errors import FileFormatError, InvalidInputError, MissingFileError
from ..recording import Recording
from ._common import check_fs, require_finite
from .limits import check_allocation, require_regular_file
from .safe_pickle import load_npy

__all__ = [
    "find_planes",
    "is_suite2p_folder",
    "is_suite2p_plane",
    "labels_from_stat",
    "read_suite2p",
    "read_suite2p_plane",
]

READER = "suite2p"
#: Values of the readers' ``rois`` option: the cells iscell.npy marks, or every ROI.
ROI_SELECTIONS = ("cells", "all")
_PLANE_FILES = ("F.npy", "Fneu.npy", "spks.npy", "stat.npy", "iscell.npy", "ops.npy")
_OPS_FILES = ("ops.npy", "db.npy", "settings.npy", "reg_outputs.npy", "detect_outputs.npy")
#: ops entries copied into ``meta["suite2p_ops"]`` (small scalars only)
_OPS_KEEP = (
    "fs",
    "tau",
    "Ly",
    "Lx",
    "nframes",
    "nplanes",
    "nchannels",
    "diameter",
    "neucoeff",
    "baseline",
    "win_baseline",
    "sig_baseline",
    "prctile_baseline",
    "suite2p_version",
    "version",
    "date_proc",
    "save_path",
    "data_path",
    "tiff_list",
    "file_list",
)


def is_suite2p_plane(path: str | os.PathLike[str]) -> bool:
    """True if ``path`` is a folder holding any Suite2P plane file (F, stat, ops...).

    Parameters
    ----------
    path : str or os.PathLike
        Folder to test.

    Returns
    -------
    bool
        Whether it holds ``F.npy``, ``Fneu.npy``, ``spks.npy``, ``stat.npy``,
        ``iscell.npy`` or ``ops.npy``.
    """
    p = Path(path)
    return p.is_dir() and any((p / f).is_file() for f in _PLANE_FILES)


def find_planes(path: str | os.PathLike[str]) -> list[Path]:
    """Plane folders under a Suite2P output folder, in plane order.

    Accepts a ``suite2p/`` folder holding ``plane0``, ``plane1``... or a folder
    that contains a ``suite2p/`` folder. ``combined/`` is skipped (it merges
    the planes). Returns ``[]`` when there is none.

    Parameters
    ----------
    path : str or os.PathLike
        A ``suite2p/`` folder or the folder holding it.

    Returns
    -------
    list of pathlib.Path
        The ``plane<N>`` folders, sorted by N.
    """
    p = Path(path)
    if not p.is_dir():
        return []
    if (p / "suite2p").is_dir() and not any(p.glob("plane*")):
        p = p / "suite2p"
    planes = [d for d in p.glob("plane*") if d.is_dir() and re.fullmatch(r"plane\d+", d.name)]
    planes = [d for d in planes if is_suite2p_plane(d)]
    return sorted(planes, key=lambda d: int(d.name[5:]))


def is_suite2p_folder(path: str | os.PathLike[str]) -> bool:
    """True if ``path`` is a plane folder or a folder of plane folders.

    Parameters
    ----------
    path : str or os.PathLike
        Folder to test.

    Returns
    -------
    bool
        :func:`is_suite2p_plane` or :func:`find_planes` finds something.
    """
    return is_suite2p_plane(path) or bool(find_planes(path))


def plane_frame_rate(path: str | os.PathLike[str], fs_hz: float | None = None) -> float:
    """Frame rate of a plane folder, without reading its traces.

    Parameters
    ----------
    path : path
        The plane folder (holding ``F.npy`` and ``ops.npy`` or ``settings.npy``).
    fs_hz : float, optional
        Frame rate (Hz) used when the folder does not store one.

    Returns
    -------
    float
        ``fs`` from the folder's ops/settings, else ``fs_hz``, in Hz.

    Raises
    ------
    InvalidInputError
        When neither the folder nor ``fs_hz`` gives a valid frame rate.
    """
    folder = Path(path)
    ops, _files, origin = _load_ops(folder)
    if "fs" in ops:
        return check_fs(ops["fs"], f"{folder / origin['fs']} (fs)")
    if fs_hz is not None:
        return check_fs(fs_hz, f"{folder} (fs_hz option)")
    raise _no_frame_rate(folder)


def _load_mapped(path: Path) -> np.ndarray | None:
    """A plain numeric ``.npy`` as a read-only memory map, or None (then read it normally).

    Large planes are never copied into memory by the reader: the traces are
    read from the file cache block by block where they are used.
    """
    require_regular_file(path, path.name)  # a FIFO or device would hang the open below
    try:
        with open(path, "rb") as fh:
            version = np.lib.format.read_magic(fh)
            if version == (1, 0):
                _, _, dtype = np.lib.format.read_array_header_1_0(fh)
            else:
                _, _, dtype = np.lib.format.read_array_header_2_0(fh)
        if dtype.hasobject:
            return None
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError, EOFError):
        return None  # load_npy names what is wrong with the file
    return arr if arr.size else None


def _load_numeric(path: Path, name: str, mapped: bool = False) -> np.ndarray:
    arr = _load_mapped(path) if mapped else None
    if arr is None:
        arr = load_npy(path)
    if arr.dtype.hasobject:
        raise FileFormatError(
            f"{path}: {name} must be a numeric array but holds Python objects "
            f"(dtype {arr.dtype}). Re-export it from suite2p."
        )
    if arr.dtype.kind not in "biuf":
        raise FileFormatError(
            f"{path}: {name} must hold real numbers; got dtype {arr.dtype} (text, complex or "
            "dates). Re-export it from suite2p."
        )
    return arr


def _load_dict(path: Path) -> dict[str, Any]:
    obj = load_npy(path)
    if isinstance(obj, np.ndarray) and obj.dtype.hasobject and obj.shape == ():
        obj = obj.item()
    if not isinstance(obj, dict):
        raise FileFormatError(
            f"{path}: expected a pickled dict (suite2p ops/settings), got "
            f"{type(obj).__name__}. The file is not a suite2p options file."
        )
    return obj


def _load_ops(folder: Path) -> tuple[dict[str, Any], list[str], dict[str, str]]:
    """Merge ops.npy or db/settings/reg_outputs/detect_outputs the way suite2p's GUI does.

    Returns the merged dict, the files used and, per key, the file it came from.
    """
    if (folder / "ops.npy").is_file():
        ops = _load_dict(folder / "ops.npy")
        return ops, ["ops.npy"], dict.fromkeys(ops, "ops.npy")
    ops: dict[str, Any] = {}
    used: list[str] = []
    origin: dict[str, str] = {}
    for name in ("db.npy", "settings.npy", "reg_outputs.npy", "detect_outputs.npy"):
        if (folder / name).is_file():
            used.append(name)
            part = _load_dict(folder / name)
            ops.update(part)
            origin.update(dict.fromkeys(part, name))
    return ops, used, origin


def labels_from_stat(
    stat: np.ndarray | list[dict[str, Any]],
    shape: tuple[int, int] | None,
    source: str = "stat.npy",
) -> np.ndarray:
    """Paint Suite2P ROIs into an int32 label image (0 = background, i+1 = ROI i).

    Parameters
    ----------
    stat : sequence of dict
        Suite2P ``stat`` entries with ``ypix``, ``xpix`` and optionally ``lam``
        (pixel weights; 1 when missing).
    shape : (int, int) or None
        Image size (Ly, Lx) in pixels; ``None`` takes it from the ROI extents
        (max pixel index + 1).
    source : str
        File name for error messages.

    Returns
    -------
    numpy.ndarray
        int32 (Ly, Lx). Where ROIs overlap, the ROI with the highest ``lam`` at
        that pixel wins (ties: the higher ROI index).
    """
    ys, xs, lams, ids = [], [], [], []
    for i, s in enumerate(stat):
        if not isinstance(s, dict) or "ypix" not in s or "xpix" not in s:
            raise FileFormatError(
                f"{source}: ROI {i} has no 'ypix'/'xpix' pixel lists (got "
                f"{type(s).__name__}). stat.npy must be suite2p's list of ROI dicts."
            )
        y = np.asarray(s["ypix"]).ravel()
        x = np.asarray(s["xpix"]).ravel()
        lam = np.asarray(s.get("lam", np.ones(y.size)), dtype=np.float64).ravel()
        if not (y.size == x.size == lam.size):
            raise FileFormatError(
                f"{source}: ROI {i} has {y.size} ypix, {x.size} xpix and {lam.size} lam values;"
                " they must have the same length."
            )
        if y.size and (not np.issubdtype(y.dtype, np.number) or y.min() < 0 or x.min() < 0):
            raise FileFormatError(f"{source}: ROI {i} has negative or non-numeric pixel indices.")
        ys.append(y.astype(np.int64))
        xs.append(x.astype(np.int64))
        lams.append(lam)
        ids.append(np.full(y.size, i + 1, dtype=np.int32))
    y = np.concatenate(ys) if ys else np.zeros(0, np.int64)
    x = np.concatenate(xs) if xs else np.zeros(0, np.int64)
    lam = np.concatenate(lams) if lams else np.zeros(0)
    roi = np.concatenate(ids) if ids else np.zeros(0, np.int32)
    if shape is None:
        shape = (int(y.max()) + 1 if y.size else 1, int(x.max()) + 1 if x.size else 1)
    ly, lx = int(shape[0]), int(shape[1])
    if y.size and (y.max() >= ly or x.max() >= lx):
        raise FileFormatError(
            f"{source}: ROI pixels reach ({y.max()}, {x.max()}) but the image is {ly} x {lx} "
            "(from ops Ly/Lx). stat.npy and ops.npy do not belong together."
        )
    check_allocation(
        (ly, lx),
        np.int32,
        f"the label image (Ly x Lx = {ly} x {lx})",
        source,
        "Ly/Lx in ops.npy do not fit this recording; fix them or remove ops.npy's Ly/Lx.",
    )
    labels = np.zeros((ly, lx), dtype=np.int32)
    if y.size:
        order = np.lexsort((roi, lam))[::-1]  # highest lam first (ties: highest ROI)
        flat = (y * lx + x)[order]
        _, first = np.unique(flat, return_index=True)
        labels.ravel()[flat[first]] = roi[order][first]
    return labels


def _read_traces(folder: Path) -> np.ndarray:
    """``F.npy``: finite 2-D (n_rois, n_frames); a missing file names what is there."""
    f_path = folder / "F.npy"
    if not f_path.exists():
        present = sorted(p.name for p in folder.glob("*.npy"))
        raise MissingFileError(
            f"{folder}: this Suite2P plane folder has no F.npy (found: "
            f"{', '.join(present) or 'no .npy files'}). F.npy holds the fluorescence traces and "
            "is required; point to a complete suite2p plane folder."
        )
    F = _load_numeric(f_path, "F.npy", mapped=True)
    if F.ndim != 2:
        raise FileFormatError(
            f"{f_path}: F.npy must be 2-D (n_rois, n_frames); got shape {F.shape}."
        )
    require_finite(F, "F.npy", str(f_path))
    return F


def _read_like_traces(folder: Path, name: str, F: np.ndarray, why: str) -> np.ndarray | None:
    """``Fneu.npy``/``spks.npy``: same shape as F and finite, or None when absent."""
    path = folder / name
    if not path.is_file():
        return None
    arr = _load_numeric(path, name, mapped=True)
    if arr.shape != F.shape:
        raise FileFormatError(
            f"{path}: {name} has shape {arr.shape} but F.npy has {F.shape}; {why}."
        )
    require_finite(arr, name, str(path))
    return arr


def _read_iscell(folder: Path, n_rois: int, meta: dict[str, Any]) -> np.ndarray | None:
    """``iscell.npy`` column 0 as bool (column 1 -> ``meta["cell_probability"]``), or None."""
    path = folder / "iscell.npy"
    if not path.is_file():
        return None
    ic = _load_numeric(path, "iscell.npy")
    if not (ic.shape == (n_rois,) or (ic.ndim == 2 and ic.shape[0] == n_rois)):
        raise FileFormatError(
            f"{path}: iscell.npy has shape {ic.shape}; expected "
            f"({n_rois}, 2) or ({n_rois},) for the {n_rois} ROIs of F.npy."
        )
    if ic.ndim == 2:
        if ic.shape[1] > 1:
            meta["cell_probability"] = ic[:, 1].astype(np.float32)
        ic = ic[:, 0]
    return ic.astype(bool)


def _small_ops(ops: dict[str, Any]) -> dict[str, Any]:
    """The :data:`_OPS_KEEP` entries of ``ops`` that are scalars, strings, lists or dates."""
    return {
        k: (v.item() if isinstance(v, np.generic) else v)
        for k, v in ops.items()
        if k in _OPS_KEEP and (np.isscalar(v) or isinstance(v, (str, list, tuple, datetime.date)))
    }


def _ops_int(ops: dict[str, Any], key: str, folder: Path) -> int:
    """``ops[key]`` as a positive int (image sizes), or a FileFormatError naming the value."""
    value = ops[key]
    try:
        n = int(value)
        ok = n > 0 and float(value) == n
    except (TypeError, ValueError, OverflowError):
        ok = False
    if not ok:
        raise FileFormatError(
            f"{folder}: ops {key}={value!r} is not a positive whole number of pixels; fix "
            f"{key} in ops.npy (or remove it to size the image from the ROI pixels)."
        )
    return n


def _read_labels(
    folder: Path, n_rois: int, ops: dict[str, Any], meta: dict[str, Any]
) -> np.ndarray | None:
    """Label image painted from ``stat.npy`` (size from ops Ly/Lx), or None when absent."""
    path = folder / "stat.npy"
    if not path.is_file():
        return None
    shape = None
    if "Ly" in ops and "Lx" in ops:
        shape = (_ops_int(ops, "Ly", folder), _ops_int(ops, "Lx", folder))
    stat = list(np.atleast_1d(load_npy(path)))
    if len(stat) != n_rois:
        raise FileFormatError(
            f"{path}: stat.npy describes {len(stat)} ROIs but F.npy has "
            f"{n_rois} rows; they must come from the same suite2p run."
        )
    labels = labels_from_stat(stat, shape, str(path))
    meta["roi_centers_yx"] = [
        [float(v) for v in np.asarray(s.get("med", [np.nan, np.nan])).ravel()[:2]] for s in stat
    ]
    meta["image_shape_source"] = "ops Ly/Lx" if shape else "ROI pixel extents"
    return labels


def _read_mean_image(
    folder: Path, ops: dict[str, Any], ops_files: list[str], labels: np.ndarray | None
) -> np.ndarray | None:
    """ops ``meanImg`` as float32 (it must match the label image), or None."""
    if not (isinstance(ops.get("meanImg"), np.ndarray) and ops["meanImg"].ndim == 2):
        return None
    mean_image = ops["meanImg"].astype(np.float32)
    if labels is not None and mean_image.shape != labels.shape:
        raise FileFormatError(
            f"{folder}: meanImg in {'/'.join(ops_files)} is {mean_image.shape} but the ROI "
            f"label image is {labels.shape}; the files do not belong together."
        )
    return mean_image


def _no_frame_rate(folder: Path) -> InvalidInputError:
    """The error for a plane folder that stores no frame rate and got no ``fs_hz``."""
    return InvalidInputError(
        f"{folder}: the Suite2P folder has no ops.npy/settings.npy, so the frame rate is "
        "unknown. Pass it explicitly, e.g. read(path, fs_hz=30.0) or `--fs 30` on the "
        "command line."
    )


def _plane_fs(
    folder: Path,
    ops: dict[str, Any],
    origin: dict[str, str],
    fs_hz: float | None,
    meta: dict[str, Any],
) -> float:
    """Frame rate (Hz) of a plane being read: the ``fs_hz`` option, else ops ``fs``."""
    if fs_hz is not None:
        fs = check_fs(fs_hz, f"{folder} (fs_hz option)")
        meta["fs_hz_source"] = "fs_hz option"
        if "fs" in ops:
            meta["fs_hz_in_ops"] = float(ops["fs"])
        return fs
    if "fs" in ops:
        meta["fs_hz_source"] = f"{origin['fs']} fs"
        return check_fs(ops["fs"], f"{folder / origin['fs']} (fs)")
    raise _no_frame_rate(folder)


def _plane_name(folder: Path) -> str:
    """``<experiment>/<plane>``: the folder above ``suite2p/`` (or the parent) and the plane."""
    parent = folder.resolve().parent
    experiment = parent.parent.name if parent.name == "suite2p" else parent.name
    return f"{experiment}/{folder.name}" if experiment else folder.name


def _check_rois_option(rois: str) -> None:
    if rois not in ROI_SELECTIONS:
        raise InvalidInputError(
            f"rois must be one of {ROI_SELECTIONS} ('cells': the ROIs iscell.npy marks as "
            f"cells, 'all': every ROI of F.npy); got {rois!r}."
        )


def _select_cells(rec: Recording, folder: Path) -> Recording:
    """The ROIs ``iscell`` marks as cells, with their per-ROI metadata.

    ``meta["roi_indices"]`` keeps each row's index in the plane's files.
    """
    keep = np.flatnonzero(rec.iscell)
    if keep.size == 0:
        raise InvalidInputError(
            f"{folder / 'iscell.npy'}: no ROI of the {rec.n_rois} is marked as a cell. Read "
            "every ROI with rois='all' (command line: --all-rois), or re-run the classifier."
        )
    sub = rec.select(keep)  # copies the cells' rows of F and Fneu into memory, in blocks
    for name in ("spks", "cell_probability"):
        if isinstance(sub.meta.get(name), np.ndarray):
            sub.meta[name] = take_rows(sub.meta[name], keep)
    if "roi_centers_yx" in sub.meta:
        sub.meta["roi_centers_yx"] = [sub.meta["roi_centers_yx"][i] for i in keep]
    sub.meta["roi_indices"] = keep.tolist()
    return sub


def read_suite2p_plane(
    path: str | os.PathLike[str], fs_hz: float | None = None, rois: str = "cells"
) -> Recording:
    """Read one Suite2P plane folder into a raw Recording.

    F, Fneu and spks are memory-mapped (read-only), not copied into memory;
    code that processes them (:func:`calcium_forge.signal.to_dff`, spike
    inference, the writers) reads them a block of ROIs at a time. Selecting the
    cells copies their rows into memory (when some ROIs are not cells).

    Parameters
    ----------
    path : str or os.PathLike
        The plane folder (holding ``F.npy``).
    fs_hz : float, optional
        Frame rate per plane in Hz. Overrides the ``fs`` of ops/settings;
        required when the folder has no ops/settings file.
    rois : {"cells", "all"}
        ``"cells"`` (default): the ROIs ``iscell.npy`` marks as cells (all
        ROIs when there is no ``iscell.npy``); ``"all"``: every ROI.
        ``meta["roi_indices"]`` gives each row's index in the plane's files.

    Returns
    -------
    Recording
        ``kind="raw"``: ``traces`` = F, ``neuropil`` = Fneu, ``iscell`` from
        ``iscell.npy`` (column 0), ``labels`` painted from ``stat.npy``,
        ``mean_image`` = ops ``meanImg`` when present. ``meta`` holds
        ``reader``, ``suite2p_files``, ``cell_probability``, ``spks``
        (deconvolved activity, float32 (n_rois, n_frames)) when present,
        ``suite2p_ops`` (small ops entries), ``fs_hz_source`` and
        ``roi_centers_yx`` (``med`` of each ROI, pixels).

    Raises
    ------
    MissingFileError
        If ``F.npy`` is absent.
    FileFormatError, InvalidInputError, UnsafePickleError
        On inconsistent shapes, non-finite values, unsafe pickles, missing frame rate.
    """
    _check_rois_option(rois)
    folder = Path(path)
    F = _read_traces(folder)
    n_rois = F.shape[0]
    files = ["F.npy"]
    meta: dict[str, Any] = {"reader": READER}
    Fneu = _read_like_traces(
        folder, "Fneu.npy", F, "neuropil traces must match the ROI traces one to one"
    )
    if Fneu is not None:
        files.append("Fneu.npy")
    spks = _read_like_traces(folder, "spks.npy", F, "they must match")
    if spks is not None:
        meta["spks"] = spks.astype(np.float32, copy=False)
        files.append("spks.npy")
    iscell = _read_iscell(folder, n_rois, meta)
    if iscell is not None:
        files.append("iscell.npy")
    ops, ops_files, origin = _load_ops(folder)
    files += ops_files
    meta["suite2p_ops"] = _small_ops(ops)
    labels = _read_labels(folder, n_rois, ops, meta)
    if labels is not None:
        files.append("stat.npy")
    mean_image = _read_mean_image(folder, ops, ops_files, labels)
    fs = _plane_fs(folder, ops, origin, fs_hz, meta)
    meta["suite2p_files"] = files
    meta["name"] = _plane_name(folder)
    meta["roi_selection"] = rois
    rec = Recording(
        traces=F.astype(np.float32, copy=False),
        fs_hz=fs,
        kind="raw",
        neuropil=None if Fneu is None else Fneu.astype(np.float32, copy=False),
        labels=labels,
        mean_image=mean_image,
        iscell=iscell,
        source=str(folder),
        meta=meta,
    )
    if rois == "cells" and not rec.iscell.all():
        return _select_cells(rec, folder)
    meta["roi_indices"] = list(range(n_rois))
    return rec


def read_suite2p(
    path: str | os.PathLike[str], fs_hz: float | None = None, rois: str = "cells"
) -> Recording | list[Recording]:
    """Read a Suite2P plane folder (one Recording) or a folder of planes (a list).

    Parameters
    ----------
    path : str or os.PathLike
        ``.../plane0`` or ``.../suite2p`` (or its parent).
    fs_hz : float, optional
        Frame rate per plane in Hz (required when no ops/settings are saved).
    rois : {"cells", "all"}
        The cells ``iscell.npy`` marks (default) or every ROI; see
        :func:`read_suite2p_plane`.

    Returns
    -------
    Recording or list of Recording
        One Recording for a plane folder; a list (plane order) for a folder of planes.
    """
    _check_rois_option(rois)
    p = Path(path)
    if not p.is_dir():
        raise MissingFileError(f"{p}: no such Suite2P folder. Check the path.")
    if is_suite2p_plane(p):
        return read_suite2p_plane(p, fs_hz=fs_hz, rois=rois)
    planes = find_planes(p)
    if not planes:
        raise FileFormatError(
            f"{p}: this folder is not a Suite2P output: it holds neither F.npy/stat.npy/ops.npy "
            "nor plane*/ sub-folders. Point to suite2p/plane0 or to the suite2p folder."
        )
    return [read_suite2p_plane(d, fs_hz=fs_hz, rois=rois) for d in planes]
