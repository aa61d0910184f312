"""Trace files: ``.npy`` (array), ``.npz`` (calcium-forge format or a plain
archive of arrays) and ``.csv`` (rows = ROIs).

The calcium-forge ``.npz`` format (``cf_format == "calcium-forge"``,
``cf_format_version == 1``) stores a :class:`~calcium_forge.Recording` or a
:class:`~calcium_forge.results.SpikeInference` without pickles:

========================  ==============================================
key                       content
========================  ==============================================
cf_format, _version       "calcium-forge", 1
cf_package_version        version of calcium-forge that wrote the file
cf_object                 "Recording" or "SpikeInference"
traces                    float32 (n_rois, n_frames)
fs_hz, kind               frame rate (Hz), "dff" | "raw" | "rate"
iscell                    bool (n_rois,)
neuropil                  float32, same shape as traces (optional)
labels, mean_image        int32 / float32 (Y, X) (optional)
spike_times_flat/offsets  ground-truth spikes (s), flat + offsets (n_rois + 1)
source, meta_json         source path, ``meta`` as JSON
meta_array__<key>         numeric arrays of ``meta`` (e.g. suite2p ``spks``)
rate_hz                   SpikeInference: float32 (n_rois, n_frames), spikes/s
events_flat/offsets       SpikeInference: events (s), flat + offsets
method, model_card_json   SpikeInference: method name, model card as JSON
recording__<key>          SpikeInference: its input Recording (keys above)
========================  ==============================================
"""

from __future__ import annotations

import io
import json
import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from .._blocks import BLOCK_BUDGET_BYTES, release_pages, row_blocks, rows_per_block
from .._version import __version__
from ..errors import FileFormatError, InvalidInputError
from ..recording import Recording
from ..results import SpikeInference
from ._common import check_fs, check_fs_matches, json_dumps, require_finite
from .atomic import atomic_path
from .limits import check_allocation, require_regular_file
from .safe_pickle import load_npy

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "read_csv",
    "read_npy",
    "read_npz",
    "read_result_npz",
    "write_csv",
    "write_npz",
]

FORMAT_NAME = "calcium-forge"
FORMAT_VERSION = 1
_TRACE_KEYS = ("traces", "dff", "F", "f", "data", "rate_hz")
_FS_KEYS = ("fs_hz", "fs", "frame_rate", "sampling_rate")


# ----------------------------------------------------------------------------- helpers
def _ragged_to_flat(seq: list[np.ndarray] | None) -> tuple[np.ndarray, np.ndarray] | None:
    if seq is None:
        return None
    arrays = [np.asarray(s, dtype=np.float64).ravel() for s in seq]
    offsets = np.zeros(len(arrays) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([a.size for a in arrays])
    flat = np.concatenate(arrays) if arrays else np.zeros(0)
    return flat, offsets


def _flat_to_ragged(flat: np.ndarray, offsets: np.ndarray) -> list[np.ndarray]:
    return [flat[offsets[i] : offsets[i + 1]].copy() for i in range(len(offsets) - 1)]


def _recording_arrays(rec: Recording, prefix: str = "") -> dict[str, np.ndarray]:
    out: dict[str, Any] = {
        "traces": rec.traces,
        "fs_hz": np.float64(rec.fs_hz),
        "kind": np.str_(rec.kind),
        "iscell": rec.iscell,
        "source": np.str_(rec.source or ""),
    }
    for name in ("neuropil", "labels", "mean_image"):
        value = getattr(rec, name)
        if value is not None:
            out[name] = value
    flat = _ragged_to_flat(rec.spike_times)
    if flat is not None:
        out["spike_times_flat"], out["spike_times_offsets"] = flat
    meta_json: dict[str, Any] = {}
    for key, value in rec.meta.items():
        if (
            isinstance(value, np.ndarray)
            and not value.dtype.hasobject
            and (np.issubdtype(value.dtype, np.number) or value.dtype == bool)
        ):
            out[f"meta_array__{key}"] = value
        else:
            meta_json[key] = value
    out["meta_json"] = np.str_(json_dumps(meta_json))
    return {prefix + k: v for k, v in out.items()}


def _recording_from_arrays(z: Any, path: Path, prefix: str = "") -> Recording:
    def get(key: str, default: Any = None) -> Any:
        return z[prefix + key] if prefix + key in z else default

    meta = json.loads(str(get("meta_json", "{}")))
    plen = len(prefix + "meta_array__")
    for key in z:
        if key.startswith(prefix + "meta_array__"):
            meta[key[plen:]] = z[key]
    spikes = None
    if prefix + "spike_times_flat" in z:
        spikes = _flat_to_ragged(get("spike_times_flat"), get("spike_times_offsets"))
    source = str(get("source", "")) or str(path)
    return Recording(
        traces=get("traces"),
        fs_hz=float(get("fs_hz")),
        kind=str(get("kind", "dff")),
        neuropil=get("neuropil"),
        labels=get("labels"),
        mean_image=get("mean_image"),
        iscell=get("iscell"),
        spike_times=spikes,
        source=source,
        meta=meta,
    )


def _check_members(z: Any, path: Path) -> None:
    """Refuse members whose .npy header declares more than the available memory."""
    for name in z.zip.namelist():
        with z.zip.open(name) as fh:
            try:
                version = np.lib.format.read_magic(fh)
                read_header = (
                    np.lib.format.read_array_header_1_0
                    if version == (1, 0)
                    else np.lib.format.read_array_header_2_0
                )
                shape, _, dtype = read_header(fh)
            except Exception:  # not an .npy member: numpy reports it when it is read
                continue
        check_allocation(shape, dtype, f"entry {name!r}", str(path))


def _open_npz(path: Path) -> Any:
    require_regular_file(path, ".npz archive")
    try:
        z = np.load(path, allow_pickle=False)
    except Exception as exc:
        raise FileFormatError(
            f"{path}: not a readable .npz archive ({type(exc).__name__}: {exc})."
        ) from exc
    if not hasattr(z, "files"):
        raise FileFormatError(f"{path}: expected an .npz archive, found a single array.")
    try:
        _check_members(z, path)
        return {k: z[k] for k in z.files}
    except FileFormatError:
        raise
    except ValueError as exc:  # object arrays need pickles: refused
        raise FileFormatError(
            f"{path}: the archive holds pickled Python objects ({exc}); calcium-forge never "
            "unpickles .npz content. Store plain numeric arrays."
        ) from exc
    except Exception as exc:
        raise FileFormatError(
            f"{path}: the .npz archive is damaged ({type(exc).__name__}: {exc})."
        ) from exc
    finally:
        z.close()


def _is_ours(z: dict[str, Any]) -> bool:
    return "cf_format" in z and str(z["cf_format"]) == FORMAT_NAME


# ----------------------------------------------------------------------------- npz
def write_npz(obj: Recording | SpikeInference, path: str | os.PathLike[str]) -> Path:
    """Write a Recording or SpikeInference as a calcium-forge ``.npz`` (atomic, compressed).

    Parameters
    ----------
    obj : Recording or SpikeInference
        What to store.
    path : str or os.PathLike
        Destination, ending in ``.npz``.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    path = Path(path)
    arrays: dict[str, Any] = {
        "cf_format": np.str_(FORMAT_NAME),
        "cf_format_version": np.int64(FORMAT_VERSION),
        "cf_package_version": np.str_(__version__),
    }
    if isinstance(obj, SpikeInference):
        arrays["cf_object"] = np.str_("SpikeInference")
        arrays["rate_hz"] = obj.rate_hz
        arrays["rate_shape"] = np.asarray(obj.rate_hz.shape, dtype=np.int64)
        arrays["fs_hz"] = np.float64(obj.fs_hz)
        arrays["method"] = np.str_(obj.method)
        arrays["model_card_json"] = np.str_(json_dumps(obj.model_card))
        arrays["meta_json"] = np.str_(json_dumps(obj.meta))
        flat = _ragged_to_flat(obj.events)
        if flat is not None:
            arrays["events_flat"], arrays["events_offsets"] = flat
        if obj.recording is not None:
            arrays.update(_recording_arrays(obj.recording, prefix="recording__"))
    elif isinstance(obj, Recording):
        arrays["cf_object"] = np.str_("Recording")
        arrays.update(_recording_arrays(obj))
    else:
        raise InvalidInputError(
            f"write({str(path)!r}): can only write a Recording or a SpikeInference; got "
            f"{type(obj).__name__}."
        )
    with atomic_path(path) as tmp:
        save_npz(tmp, arrays)
    return path


def save_npz(path: str | os.PathLike[str], arrays: dict[str, Any]) -> None:
    """Write ``arrays`` as a compressed ``.npz`` at exactly ``path``, large arrays in row blocks.

    The file is what :func:`numpy.savez_compressed` writes, but nothing is
    appended to the name, and a large 2-D array is written a block of rows at
    a time, so a memory-mapped input (the Suite2P reader's traces) is never
    held in memory whole (its pages are released after each block).

    Parameters
    ----------
    path : str or os.PathLike
        File to write (any name; callers write to a temporary path).
    arrays : dict of str to array-like
        Arrays by key (``key.npy`` inside the archive).
    """
    import zipfile

    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as zf:
        for key, value in arrays.items():
            arr = np.asanyarray(value)
            with zf.open(f"{key}.npy", "w", force_zip64=True) as fh:
                if arr.ndim != 2 or arr.dtype.hasobject or arr.nbytes < BLOCK_BUDGET_BYTES:
                    np.lib.format.write_array(fh, np.asarray(arr), allow_pickle=True)
                    continue
                arr = np.asarray(arr)
                header = np.lib.format.header_data_from_array_1_0(arr)
                header["fortran_order"] = False
                np.lib.format.write_array_header_2_0(fh, header)
                per_row = max(arr.shape[1] * arr.itemsize, 1)
                for r0, r1 in row_blocks(arr.shape[0], rows_per_block(arr.shape[0], per_row)):
                    fh.write(np.ascontiguousarray(arr[r0:r1]).tobytes())
                    release_pages(arr)


def read_result_npz(path: str | os.PathLike[str]) -> SpikeInference:
    """Read a SpikeInference written by :func:`write_npz`.

    Parameters
    ----------
    path : str or os.PathLike
        A calcium-forge ``.npz`` holding a SpikeInference.

    Returns
    -------
    SpikeInference
        Rates (spikes/s), events (s), method, model card, meta and, when it was
        stored, the input Recording.

    Raises
    ------
    FileFormatError
        If the file is not a calcium-forge ``.npz`` holding a SpikeInference.
    """
    path = Path(path)
    z = _open_npz(path)
    if not _is_ours(z) or str(z.get("cf_object")) != "SpikeInference":
        raise FileFormatError(
            f"{path}: not a calcium-forge spike-inference file (cf_object="
            f"{z.get('cf_object')!s}). Use calcium_forge.read() for recordings."
        )
    _check_version(z, path)
    events = None
    if "events_flat" in z:
        events = _flat_to_ragged(z["events_flat"], z["events_offsets"])
    rec = _recording_from_arrays(z, path, "recording__") if "recording__traces" in z else None
    _check_result_shape(z, path, events, rec)
    return SpikeInference(
        rate_hz=z["rate_hz"],
        events=events,
        method=str(z["method"]),
        fs_hz=float(z["fs_hz"]),
        model_card=json.loads(str(z["model_card_json"])),
        recording=rec,
        meta=json.loads(str(z["meta_json"])),
    )


def _check_result_shape(
    z: dict[str, Any], path: Path, events: list[np.ndarray] | None, rec: Recording | None
) -> None:
    """Refuse a result whose ``rate_hz`` was cut short or does not match what it stores."""
    rate = np.asarray(z["rate_hz"])
    shape = tuple(int(n) for n in np.shape(rate))
    expected, why = None, ""
    if "rate_shape" in z:
        expected, why = tuple(int(n) for n in np.ravel(z["rate_shape"])), "its stored rate_shape"
    elif rec is not None:
        expected, why = tuple(rec.traces.shape), "the stored input recording"
    if expected is not None and shape != expected:
        raise FileFormatError(
            f"{path}: rate_hz has shape {shape} but {why} says {expected}; the file was cut "
            "short or damaged. Re-run the inference to write it again."
        )
    if events is not None and shape and len(shape) == 2:
        fs = float(z["fs_hz"])
        last = max((float(np.max(e)) for e in events if np.size(e)), default=-np.inf)
        if len(events) != shape[0] or last >= shape[1] / fs + 1.0 / fs:
            raise FileFormatError(
                f"{path}: rate_hz ({shape[0]} ROIs x {shape[1]} frames at {fs:g} Hz) does not "
                f"cover the stored events ({len(events)} ROIs, last at {last:.3f} s); the file "
                "was cut short or damaged. Re-run the inference to write it again."
            )


def _check_version(z: dict[str, Any], path: Path) -> None:
    version = int(z.get("cf_format_version", 0))
    if version > FORMAT_VERSION:
        raise FileFormatError(
            f"{path}: written with calcium-forge npz format version {version} (by calcium-forge "
            f"{z.get('cf_package_version')!s}); this version reads up to {FORMAT_VERSION}. "
            "Upgrade calcium-forge."
        )


def read_npz(path: str | os.PathLike[str], fs_hz: float | None = None) -> Recording:
    """Read a ``.npz``: the calcium-forge format, or a plain archive of trace arrays.

    Parameters
    ----------
    path : str or os.PathLike
        The archive.
    fs_hz : float, optional
        Frame rate (Hz) for plain archives without an ``fs_hz``/``fs`` entry.

    Returns
    -------
    Recording
        A SpikeInference file reads as its rates (``kind="rate"``, events in
        ``meta["events"]``); use :func:`read_result_npz` for the full result.
    """
    path = Path(path)
    z = _open_npz(path)
    if _is_ours(z):
        _check_version(z, path)
        check_fs_matches(float(z["fs_hz"]), fs_hz, f"{path} (fs_hz option)")
        try:
            if str(z.get("cf_object")) == "SpikeInference":
                res = read_result_npz(path)
                rec = res.as_recording()
                rec.source = str(path)
                if res.events is not None:
                    rec.meta["events"] = res.events
                return rec
            return _recording_from_arrays(z, path)
        except KeyError as exc:
            raise FileFormatError(
                f"{path}: calcium-forge .npz is missing the entry {exc}; the file is damaged."
            ) from exc
    key = next((k for k in _TRACE_KEYS if k in z), None)
    if key is None:
        key = _guess_traces_key(z, path)
    traces = np.asarray(z[key])
    if traces.ndim not in (1, 2) or not np.issubdtype(traces.dtype, np.number):
        raise FileFormatError(
            f"{path}: entry {key!r} must be a numeric (n_rois, n_frames) array; got "
            f"{traces.dtype} {traces.shape}."
        )
    require_finite(traces, f"entry {key!r}", str(path), allow_nan=True)
    fs_key = next((k for k in _FS_KEYS if k in z), None)
    if fs_hz is None and fs_key is None:
        raise InvalidInputError(
            f"{path}: no frame rate stored (no {'/'.join(_FS_KEYS)} entry). Pass it, e.g. "
            "read(path, fs_hz=30.0)."
        )
    fs = check_fs(fs_hz if fs_hz is not None else z[fs_key], str(path))
    return Recording(
        traces=traces,
        fs_hz=fs,
        kind="dff",
        source=str(path),
        meta={"reader": "npz", "traces_key": key},
    )


def _guess_traces_key(z: dict[str, Any], path: Path) -> str:
    """The one unnamed array that can be traces; refuses a choice among several (warns on one)."""
    import warnings

    from ..errors import SuspectInputWarning

    others = [k for k in z if k not in _FS_KEYS]
    two_d = [k for k in others if np.ndim(z[k]) == 2]
    if len(two_d) != 1 or len(others) != 1:
        raise FileFormatError(
            f"{path}: cannot tell which array holds the traces (entries: "
            f"{', '.join(sorted(z)) or 'none'}; none is named {'/'.join(_TRACE_KEYS)}). Name "
            "the traces 'traces' (n_rois, n_frames) and the frame rate 'fs_hz'."
        )
    warnings.warn(
        f"{path}: no entry named {'/'.join(_TRACE_KEYS)}; reading the only array, "
        f"{two_d[0]!r} {np.shape(z[two_d[0]])}, as the traces (n_rois, n_frames). Name it "
        "'traces' to silence this warning.",
        SuspectInputWarning,
        stacklevel=3,
    )
    return two_d[0]


# ----------------------------------------------------------------------------- npy
def read_npy(
    path: str | os.PathLike[str], fs_hz: float | None = None, kind: str = "dff"
) -> Recording:
    """Read a ``.npy`` array (n_rois, n_frames) or (n_frames,) as a Recording.

    Parameters
    ----------
    path : str or os.PathLike
        The array file.
    fs_hz : float
        Frame rate in Hz (a bare array does not store it): required.
    kind : {"dff", "raw", "rate"}
        What the values are.

    Returns
    -------
    Recording
        The array as traces (a 1-D array is one ROI); ``meta["reader"] = "npy"``.
    """
    path = Path(path)
    arr = load_npy(path)
    if arr.dtype.hasobject or not np.issubdtype(arr.dtype, np.number):
        raise FileFormatError(f"{path}: expected a numeric array of traces; got dtype {arr.dtype}.")
    if arr.ndim not in (1, 2) or arr.size == 0:
        raise FileFormatError(
            f"{path}: traces must be a non-empty (n_rois, n_frames) or (n_frames,) array; got "
            f"shape {arr.shape}."
        )
    require_finite(arr, "the array", str(path), allow_nan=True)
    if fs_hz is None:
        raise InvalidInputError(
            f"{path}: a .npy array does not store the frame rate. Pass it, e.g. "
            "read(path, fs_hz=30.0) or `--fs 30`."
        )
    return Recording(
        traces=arr,
        fs_hz=check_fs(fs_hz, f"{path} (fs_hz option)"),
        kind=kind,
        source=str(path),
        meta={"reader": "npy"},
    )


# ----------------------------------------------------------------------------- csv
_HEADER_RE = re.compile(r"(\w+)\s*=\s*([^;,\s]+)")


def _parse_csv_rows(text: str, path: Path) -> np.ndarray:
    """Slow, precise CSV parsing: raises FileFormatError naming the bad line/column."""
    rows: list[tuple[int, list[str]]] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        fields = re.split(r"\s*[,;\t]\s*|\s+", stripped)
        rows.append((lineno, [f for f in fields if f != ""]))
    expected = len(rows[0][1])
    bad = [(ln, len(r)) for ln, r in rows if len(r) != expected][:5]
    if bad:
        raise FileFormatError(
            f"{path}: ragged CSV: line {rows[0][0]} has {expected} values but "
            + ", ".join(f"line {ln} has {n}" for ln, n in bad)
            + ". Every row (one ROI) needs one value per frame."
        )
    for ln, r in rows:
        for col, v in enumerate(r, start=1):
            try:
                float(v)
            except ValueError:
                raise FileFormatError(
                    f"{path}: line {ln}, column {col}: {v!r} is not a number. The CSV must "
                    "hold only numbers (one row per ROI); put headers in '#' comment lines."
                ) from None
    return np.array([[float(v) for v in r] for _, r in rows], dtype=np.float64)


def read_csv(path: str | os.PathLike[str], fs_hz: float | None = None) -> Recording:
    """Read a CSV of traces: one row per ROI, one column per frame.

    Lines starting with ``#`` are comments; ``key=value`` pairs in them are
    read (``fs_hz``, ``kind``), as written by :func:`write_csv`. Delimiters:
    comma, semicolon, tab or spaces. ``nan`` marks missing frames.

    Parameters
    ----------
    path : str or os.PathLike
        The CSV file.
    fs_hz : float, optional
        Frame rate in Hz; overrides the header, required without it.

    Returns
    -------
    Recording
        float64 traces (n_rois, n_frames), ``kind`` from the header (default
        dff); ``meta["csv_header"]`` holds the header's ``key=value`` pairs.
    """
    path = require_regular_file(path, "CSV")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise FileFormatError(f"{path}: not a UTF-8 text file ({exc}).") from exc
    header: dict[str, str] = {}
    first_data = None
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            header.update(dict(_HEADER_RE.findall(stripped)))
        elif stripped and first_data is None:
            first_data = stripped
    if first_data is None:
        raise FileFormatError(f"{path}: the CSV holds no data rows.")
    delimiter = next((d for d in (",", ";", "\t") if d in first_data), None)
    try:  # fast C parser; on any problem the line-by-line parser below says what is wrong
        traces = np.loadtxt(
            io.StringIO(text), comments="#", delimiter=delimiter, dtype=np.float64, ndmin=2
        )
    except ValueError:
        traces = _parse_csv_rows(text, path)
    require_finite(traces, "the CSV values", str(path), allow_nan=True)
    if fs_hz is None and "fs_hz" not in header:
        raise InvalidInputError(
            f"{path}: the CSV does not state the frame rate (no '# fs_hz=...' line). Pass it, "
            "e.g. read(path, fs_hz=30.0) or `--fs 30`."
        )
    fs = check_fs(fs_hz if fs_hz is not None else header["fs_hz"], str(path))
    kind = header.get("kind", "dff")
    if kind not in ("dff", "raw", "rate"):
        raise FileFormatError(f"{path}: header kind={kind!r} is not dff, raw or rate.")
    return Recording(
        traces=traces,
        fs_hz=fs,
        kind=kind,
        source=str(path),
        meta={"reader": "csv", "csv_header": header},
    )


def write_csv(obj: Recording | SpikeInference, path: str | os.PathLike[str]) -> Path:
    """Write traces (or inferred rates) as CSV: rows = ROIs, with a ``# fs_hz=`` header line.

    Parameters
    ----------
    obj : Recording or SpikeInference
        A SpikeInference writes its rates (``kind=rate``, spikes/s).
    path : str or os.PathLike
        Destination ``.csv``.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    path = Path(path)
    if isinstance(obj, SpikeInference):
        traces, fs, kind, extra = obj.rate_hz, obj.fs_hz, "rate", f"; method={obj.method}"
    elif isinstance(obj, Recording):
        traces, fs, kind, extra = obj.traces, obj.fs_hz, obj.kind, ""
    else:
        raise InvalidInputError(
            f"write({str(path)!r}): can only write a Recording or a SpikeInference; got "
            f"{type(obj).__name__}."
        )
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(
                f"# calcium-forge {__version__} traces: rows = ROIs, columns = frames; "
                f"fs_hz={fs!r}; kind={kind}; n_rois={traces.shape[0]}; "
                f"n_frames={traces.shape[1]}{extra}\n"
            )
            np.savetxt(fh, traces, delimiter=",", fmt="%.9g")
    return path
