"""NWB (Neurodata Without Borders) read/write for ROI traces (needs the ``nwb`` extra).

Writing puts, in the ``ophys`` processing module: an ``ImageSegmentation``
with one ``PlaneSegmentation`` (ROI ``pixel_mask`` from ``labels``, columns
``iscell`` and, when known, ragged ``spike_times`` (ground truth, s),
``events`` (inferred, s) and, for inferred results, each ROI's ``noise_level``
(ν, % / √Hz) and ``spike_model`` (the model it was given); ROIs without a
footprint (no ``labels``) get an all-zero 1 x 1 ``image_mask``); a ``DfOverF``
(dF/F) or ``Fluorescence`` (raw)
container holding the ``RoiResponseSeries`` (+ ``Neuropil``); a
``SpikeRate`` container for inferred rates; the mean image as a
``GrayscaleImage`` in ``SummaryImages``. calcium-forge's ``meta`` (as JSON),
``kind`` and the label image size go to ``NWBFile.notes``.

Reading takes the first ``RoiResponseSeries`` of ``DfOverF``, else of
``Fluorescence`` (not the neuropil), else any, in any processing module;
labels come from ``pixel_mask`` or ``image_mask`` (highest weight wins
overlaps).
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from .._version import __version__
from ..errors import FileFormatError, InvalidInputError, require
from ..recording import Recording
from ..results import SpikeInference
from ._common import check_fs, check_fs_matches, json_safe
from .atomic import atomic_path
from .limits import require_regular_file

__all__ = ["read_nwb", "write_nwb"]

_UNITS = {"dff": "dF/F (fraction)", "raw": "a.u.", "rate": "spikes/s"}


def _pixel_masks(labels: np.ndarray | None, n_rois: int) -> list[list[tuple[int, int, float]]]:
    masks: list[list[tuple[int, int, float]]] = []
    for i in range(n_rois):
        y, x = np.nonzero(labels == i + 1)
        masks.append([(int(a), int(b), 1.0) for a, b in zip(x, y, strict=True)])  # NWB: (x, y, w)
    return masks


def _split(obj: Any, path: Path) -> tuple[SpikeInference | None, Recording | None]:
    """(result, recording) of what is written; a Recording has no result."""
    if isinstance(obj, SpikeInference):
        return obj, obj.recording
    if isinstance(obj, Recording):
        return None, obj
    raise InvalidInputError(
        f"write({str(path)!r}): expected a Recording or SpikeInference; got {type(obj).__name__}."
    )


def _notes(rec: Recording | None, result: SpikeInference | None) -> dict[str, Any]:
    """calcium-forge's own notes (kind, labels size, meta, model card) for ``NWBFile.notes``."""
    meta = dict(rec.meta) if rec is not None else {}
    notes: dict[str, Any] = {
        "writer": f"calcium-forge {__version__}",
        "kind": rec.kind if rec is not None else None,
        "labels_shape": None if rec is None or rec.labels is None else list(rec.labels.shape),
        "source": None if rec is None else rec.source,
        "meta": {k: v for k, v in meta.items() if not isinstance(v, np.ndarray) or v.size < 10000},
    }
    ragged = {
        "spike_times": None if rec is None else rec.spike_times,
        "events": None if result is None else result.events,
    }
    notes["empty_columns"] = [
        k for k, v in ragged.items() if v is not None and not any(np.size(e) for e in v)
    ]
    if result is not None:
        notes["method"] = result.method
        notes["model_card"] = result.model_card
        notes["result_meta"] = result.meta
    return notes


def _start_time(rec: Recording | None, given: datetime | None) -> datetime:
    """``given``, else ``meta["session_start_time"]`` (ISO string), else now (UTC)."""
    if given is not None:
        return given
    start = rec.meta.get("session_start_time") if rec is not None else None
    return datetime.fromisoformat(start) if isinstance(start, str) else datetime.now(UTC)


def _ophys_module(nwb: Any, fs_hz: float) -> tuple[Any, Any]:
    """Create the device, imaging plane and ``ophys`` module; return (module, plane)."""
    from pynwb.ophys import OpticalChannel

    device = nwb.create_device(name="Microscope", description="unknown")
    channel = OpticalChannel(name="OpticalChannel", description="unknown", emission_lambda=np.nan)
    plane = nwb.create_imaging_plane(
        name="ImagingPlane",
        optical_channel=channel,
        imaging_rate=float(fs_hz),
        description="imaging plane",
        device=device,
        excitation_lambda=np.nan,
        indicator="unknown",
        location="unknown",
    )
    ophys = nwb.create_processing_module(name="ophys", description="optical physiology")
    return ophys, plane


def _per_roi_inference(
    result: SpikeInference | None, n_rois: int
) -> dict[str, tuple[str, list[Any]]]:
    """ROI-table columns of an inference: column → (description, one value per ROI).

    ``noise_level`` (ν, % / √Hz) and ``spike_model`` (the model each ROI got:
    ``meta["roi_model"]`` when models differ per ROI, else ``meta["model"]``).
    """
    if result is None:
        return {}
    meta = result.meta or {}
    cols: dict[str, tuple[str, list[Any]]] = {}
    nu = meta.get("noise_level")
    if nu is not None and len(nu) == n_rois:
        values = [float("nan") if v is None else float(v) for v in nu]
        cols["noise_level"] = ("noise level nu of the dF/F, % per sqrt(Hz)", values)
    models = meta.get("roi_model")
    if models is None and meta.get("model") is not None:
        models = [str(meta["model"])] * n_rois
    if models is not None and len(models) == n_rois:
        cols["spike_model"] = ("spike-inference model this ROI was given", [str(m) for m in models])
    return cols


def _add_rois(
    ophys: Any, plane: Any, rec: Recording | None, result: SpikeInference | None, n_rois: int
) -> Any:
    """The ROI table (masks, iscell, spike times, events); return the all-ROIs region."""
    from pynwb.ophys import ImageSegmentation

    seg = ImageSegmentation(name="ImageSegmentation")
    ophys.add(seg)
    ps = seg.create_plane_segmentation(
        name="PlaneSegmentation", description="ROIs", imaging_plane=plane
    )
    iscell = rec.iscell if rec is not None else np.ones(n_rois, dtype=bool)
    ps.add_column(name="iscell", description="cell classifier decision")
    labels = None if rec is None else rec.labels
    masks = _pixel_masks(labels, n_rois) if labels is not None else None
    for i in range(n_rois):
        row: dict[str, Any] = {"iscell": bool(iscell[i])}
        if masks is not None and all(masks):
            row["pixel_mask"] = masks[i]
        else:  # no footprint known: an all-zero 1 x 1 image mask (read back as "no labels")
            row["image_mask"] = np.zeros((1, 1), dtype=np.float32)
        ps.add_roi(**row)
    if rec is not None and rec.spike_times is not None:
        _add_ragged(ps, "spike_times", "ground-truth spike times (s)", rec.spike_times)
    if result is not None and result.events is not None:
        _add_ragged(ps, "events", "inferred spike times (s)", result.events)
    for name, (description, values) in _per_roi_inference(result, n_rois).items():
        ps.add_column(name=name, description=description, data=values)
    return ps.create_roi_table_region(region=list(range(n_rois)), description="all ROIs")


def _add_ragged(ps: Any, name: str, description: str, values: list[np.ndarray]) -> None:
    """A ragged float64 column (one array per ROI, any of them empty) of the ROI table."""
    flat = np.concatenate([np.asarray(v, dtype=np.float64).ravel() for v in values])
    if flat.size == 0:  # hdmf cannot store an all-empty ragged column: notes["empty_columns"]
        return
    ends = np.cumsum([np.size(v) for v in values]).astype(np.int64).tolist()
    ps.add_column(name=name, description=description, data=flat, index=ends)


def _add_series(
    ophys: Any, region: Any, rec: Recording | None, result: SpikeInference | None, fs_hz: float
) -> None:
    """Traces (+ neuropil, mean image) of the recording and the inferred rates."""
    import pynwb
    from pynwb.base import Images
    from pynwb.image import GrayscaleImage
    from pynwb.ophys import DfOverF, Fluorescence

    def series(name: str, data: np.ndarray, unit: str, comments: str) -> Any:
        return pynwb.ophys.RoiResponseSeries(
            name=name,
            data=np.ascontiguousarray(data.T),
            rois=region,
            unit=unit,
            rate=float(fs_hz),
            comments=comments,
        )

    if rec is not None:
        container = (
            DfOverF(name="DfOverF")
            if rec.kind == "dff"
            else Fluorescence(name="Fluorescence" if rec.kind == "raw" else "SpikeRate")
        )
        container.add_roi_response_series(
            series(
                "RoiResponseSeries", rec.traces, _UNITS[rec.kind], f"calcium-forge kind={rec.kind}"
            )
        )
        if rec.neuropil is not None:
            container.add_roi_response_series(
                series("Neuropil", rec.neuropil, _UNITS["raw"], "calcium-forge neuropil")
            )
        ophys.add(container)
        if rec.mean_image is not None:
            ophys.add(
                Images(
                    name="SummaryImages",
                    images=[GrayscaleImage(name="mean", data=rec.mean_image)],
                    description="summary images",
                )
            )
    if result is not None:
        rate = Fluorescence(name="InferredSpikeRate")
        rate.add_roi_response_series(
            series("RoiResponseSeries", result.rate_hz, _UNITS["rate"], "calcium-forge kind=rate")
        )
        ophys.add(rate)


def write_nwb(
    obj: Recording | SpikeInference,
    path: str | os.PathLike[str],
    session_description: str = "calcium imaging traces written by calcium-forge",
    identifier: str | None = None,
    session_start_time: datetime | None = None,
) -> Path:
    """Write a Recording (or a SpikeInference and its input) to an NWB file (atomic).

    Parameters
    ----------
    obj : Recording or SpikeInference
        What to write. A SpikeInference writes its rates (``SpikeRate``, spikes/s),
        its events (s) and, when attached, its input recording.
    path : str or os.PathLike
        Destination ``.nwb``.
    session_description : str
        ``NWBFile.session_description``.
    identifier : str, optional
        ``NWBFile.identifier`` (default: a random UUID).
    session_start_time : datetime.datetime, optional
        ``NWBFile.session_start_time`` (default: ``meta["session_start_time"]``
        (ISO string) or now, UTC).

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    pynwb = require("pynwb", "nwb", "Writing NWB files")
    path = Path(path)
    result, rec = _split(obj, path)
    n_rois = rec.n_rois if rec is not None else result.n_rois  # type: ignore[union-attr]
    fs = rec.fs_hz if rec is not None else result.fs_hz  # type: ignore[union-attr]
    nwb = pynwb.NWBFile(
        session_description=session_description,
        identifier=identifier or str(uuid.uuid4()),
        session_start_time=_start_time(rec, session_start_time),
        notes=json.dumps(json_safe(_notes(rec, result))),
    )
    ophys, plane = _ophys_module(nwb, fs)
    region = _add_rois(ophys, plane, rec, result, n_rois)
    _add_series(ophys, region, rec, result, fs)
    with atomic_path(path) as tmp:
        with pynwb.NWBHDF5IO(str(tmp), "w") as io:
            io.write(nwb)
    return path


def _pixel_array(mask: Any) -> np.ndarray:
    """(n, 3) float array of (x, y, weight) from a pixel_mask row (structured or plain)."""
    m = np.asarray(mask)
    if m.size == 0:
        return np.zeros((0, 3))
    if m.dtype.names:
        x, y, w = (m[n] for n in m.dtype.names[:3])
        return np.stack([x, y, w], axis=1).astype(np.float64)
    return m.astype(np.float64).reshape(-1, 3)


def _labels(ps: Any, idx: np.ndarray, shape: tuple[int, int] | None) -> np.ndarray | None:
    cols = ps.colnames
    if "image_mask" in cols:
        masks = np.asarray(ps["image_mask"].data[:])[idx]
        weights = np.concatenate([np.zeros((1, *masks.shape[1:])), masks], axis=0)
        if not (masks > 0).any():
            return None
        labels = np.argmax(weights, axis=0).astype(np.int32)
        labels[weights.max(axis=0) <= 0] = 0
        return labels
    if "pixel_mask" in cols:
        per_roi = [_pixel_array(ps["pixel_mask"][int(i)]) for i in idx]
        if not any(m.size for m in per_roi):
            return None
        allp = np.concatenate(per_roi)
        if shape is None:
            shape = (int(allp[:, 1].max()) + 1, int(allp[:, 0].max()) + 1)
        from .suite2p import labels_from_stat

        stat = [
            {"xpix": m[:, 0].astype(int), "ypix": m[:, 1].astype(int), "lam": m[:, 2]}
            for m in per_roi
        ]
        return labels_from_stat(stat, shape, "PlaneSegmentation.pixel_mask")
    return None


def _read_notes(nwb: Any) -> dict[str, Any]:
    """calcium-forge's JSON notes of the file ({} for files written by others)."""
    if not nwb.notes:
        return {}
    try:
        return json.loads(nwb.notes)
    except (TypeError, ValueError):
        return {}


@dataclass
class _Series:
    """The ``RoiResponseSeries`` a reader takes the traces from.

    Parameters
    ----------
    rank : int
        0 ``DfOverF``, 1 ``Fluorescence``, 2 other, 3 spike rates.
    container_name : str
        Name of the container holding it.
    series : pynwb.ophys.RoiResponseSeries
        The series.
    container : object
        The container (its ``Neuropil`` series is read too).
    """

    rank: int
    container_name: str
    series: Any
    container: Any


def _pick_series(nwb: Any, path: Path) -> _Series:
    """First series of DfOverF, else Fluorescence (not the neuropil), else any."""
    candidates: list[_Series] = []
    for mod in nwb.processing.values():
        for cname, container in mod.data_interfaces.items():
            srs = getattr(container, "roi_response_series", None)
            if not srs:
                continue
            rank = {"DfOverF": 0, "Fluorescence": 1}.get(type(container).__name__, 2)
            if cname in ("SpikeRate", "InferredSpikeRate"):
                rank = 3
            for sname, s in srs.items():
                if sname.lower() != "neuropil":
                    candidates.append(_Series(rank, cname, s, container))
    if not candidates:
        raise FileFormatError(
            f"{path}: the NWB file has no RoiResponseSeries (DfOverF/Fluorescence) in its "
            "processing modules; there are no ROI traces to read."
        )
    candidates.sort(key=lambda c: c.rank)
    return candidates[0]


def _series_rate(series: Any, fs_hz: float | None, path: Path) -> float:
    """Frame rate (Hz) from the series' ``rate`` or timestamps, else the ``fs_hz`` option."""
    if series.rate is not None:
        fs_file = float(series.rate)
    elif series.timestamps is not None:
        ts = np.asarray(series.timestamps[:])
        fs_file = 1.0 / float(np.median(np.diff(ts)))
    else:
        fs_file = None
    if fs_file is not None:
        check_fs_matches(fs_file, fs_hz, f"{path} (fs_hz option)")
    if fs_hz is None and fs_file is None:
        raise InvalidInputError(
            f"{path}: series {series.name!r} has neither rate nor timestamps; pass fs_hz."
        )
    return check_fs(fs_hz if fs_hz is not None else fs_file, str(path))


def _series_kind(picked: _Series) -> str:
    """``dff``/``raw``/``rate`` from calcium-forge's series comment, else the container."""
    kind = {0: "dff", 1: "raw", 3: "rate"}.get(picked.rank, "dff")
    comments = str(getattr(picked.series, "comments", "") or "")
    if "calcium-forge kind=" in comments:
        kind = comments.split("calcium-forge kind=")[1].split()[0]
    return kind if kind in ("dff", "raw", "rate") else "dff"


def _mean_image(nwb: Any) -> np.ndarray | None:
    """The ``mean`` image of a ``SummaryImages`` container (last module wins), or None."""
    mean_image = None
    for mod in nwb.processing.values():
        imgs = mod.data_interfaces.get("SummaryImages")
        if imgs is not None and "mean" in imgs.images:
            mean_image = np.asarray(imgs.images["mean"].data[:], dtype=np.float32)
    return mean_image


def _ragged_column(
    ps: Any, column: str, idx: np.ndarray, notes: dict[str, Any]
) -> list[np.ndarray] | None:
    """Per-ROI float64 arrays of a ragged ROI-table column (spike times, s), or None."""
    if column not in ps.colnames:
        if column in notes.get("empty_columns", []):
            return [np.zeros(0) for _ in idx]
        return None
    return [np.asarray(ps[column][int(i)], dtype=np.float64) for i in idx]


def read_nwb(path: str | os.PathLike[str], fs_hz: float | None = None) -> Recording:
    """Read ROI traces from an NWB file.

    Parameters
    ----------
    path : str or os.PathLike
        ``.nwb`` file (HDF5).
    fs_hz : float, optional
        Frame rate (Hz), only for series without ``rate``/timestamps; a value
        contradicting the stored rate raises.

    Returns
    -------
    Recording
        ``kind`` from the container (``DfOverF`` → dff, ``Fluorescence`` →
        raw, ``SpikeRate``/``InferredSpikeRate`` → rate) or from
        calcium-forge's notes; neuropil, labels, iscell, ground-truth spike
        times (s) and mean image when present.
    """
    pynwb = require("pynwb", "nwb", "Reading NWB files")
    path = require_regular_file(path, "NWB file")
    try:
        io = pynwb.NWBHDF5IO(str(path), "r")
        nwb = io.read()
    except Exception as exc:
        raise FileFormatError(
            f"{path}: not a readable NWB file ({type(exc).__name__}: {exc})."
        ) from exc
    try:
        notes = _read_notes(nwb)
        picked = _pick_series(nwb, path)
        series = picked.series
        data = np.asarray(series.data[:], dtype=np.float32)
        traces = data.T if data.ndim == 2 else data[None, :]
        fs = _series_rate(series, fs_hz, path)
        kind = _series_kind(picked)
        neuropil = None
        srs = picked.container.roi_response_series
        if "Neuropil" in srs:
            neuropil = np.asarray(srs["Neuropil"].data[:], dtype=np.float32).T
        ps = series.rois.table
        idx = np.asarray(series.rois.data[:], dtype=np.int64)
        shape = tuple(notes["labels_shape"]) if notes.get("labels_shape") else None
        mean_image = _mean_image(nwb)
        if shape is None and mean_image is not None:
            shape = mean_image.shape
        labels = _labels(ps, idx, shape)
        iscell = (
            np.asarray(ps["iscell"].data[:], dtype=bool)[idx] if "iscell" in ps.colnames else None
        )
        meta = dict(notes.get("meta", {}))
        meta.update(
            reader="nwb",
            nwb_series=f"{picked.container_name}/{series.name}",
            nwb_identifier=nwb.identifier,
        )
        events = _ragged_column(ps, "events", idx, notes)
        if events is not None:
            meta["events"] = events
        for column in ("noise_level", "spike_model"):
            if column in ps.colnames:
                values = list(ps[column].data[:])
                meta[column] = [values[i] for i in idx]
        return Recording(
            traces=traces,
            fs_hz=fs,
            kind=kind,
            neuropil=neuropil,
            labels=labels,
            mean_image=mean_image
            if labels is None or mean_image is None or mean_image.shape == labels.shape
            else None,
            iscell=iscell,
            spike_times=_ragged_column(ps, "spike_times", idx, notes),
            source=str(path),
            meta=meta,
        )
    finally:
        io.close()
