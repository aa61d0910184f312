"""Human-readable summaries of what a file holds (used by ``calcium-forge info``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ..recording import Recording

__all__ = ["describe", "summarize_recording"]


def summarize_recording(rec: Recording) -> dict[str, Any]:
    """Key facts of a Recording as a flat dict (JSON-friendly values).

    Parameters
    ----------
    rec : Recording
        The recording to summarise.

    Returns
    -------
    dict
        ``name``, ``kind``, ``n_rois``, ``n_frames``, ``fs_hz``, ``duration_s``,
        ``n_cells`` (iscell), ``labels_shape``, ``neuropil``, ``nan_frames``
        (total NaN values), ``nan_stretches_s`` (if reported), ``spikes``
        (ground-truth count) and ``spike_rate_hz`` (mean), plus reader notes.
    """
    nan_values = int(np.isnan(rec.traces).sum())
    out: dict[str, Any] = {
        "name": rec.name,
        "reader": rec.meta.get("reader"),
        "kind": rec.kind,
        "n_rois": rec.n_rois,
        "n_frames": rec.n_frames,
        "fs_hz": rec.fs_hz,
        "duration_s": rec.duration_s,
        "n_cells": int(np.sum(rec.iscell)),
        "labels_shape": None if rec.labels is None else list(rec.labels.shape),
        "neuropil": rec.neuropil is not None,
        "mean_image": rec.mean_image is not None,
        "nan_values": nan_values,
        "value_range": [float(np.nanmin(rec.traces)), float(np.nanmax(rec.traces))]
        if nan_values < rec.traces.size
        else None,
    }
    for key in ("fs_hz_source", "nan_stretches_s", "events_clock", "dataset"):
        if key in rec.meta:
            out[key] = rec.meta[key]
    if "events_outside_s" in rec.meta:
        out["spikes_outside_dropped"] = len(rec.meta["events_outside_s"])
    if rec.spike_times is not None:
        n = int(sum(s.size for s in rec.spike_times))
        out["spikes"] = n
        out["spike_rate_hz"] = n / (rec.n_rois * rec.duration_s)
    return out


def _fmt_rec(s: dict[str, Any]) -> list[str]:
    lines = [
        f"  {s['name']}: {s['kind']} traces, {s['n_rois']} ROI(s) x {s['n_frames']} frames at "
        f"{s['fs_hz']:.6g} Hz ({s['duration_s']:.1f} s)"
        + (f" [fs from {s['fs_hz_source']}]" if s.get("fs_hz_source") else ""),
        f"    cells (iscell): {s['n_cells']}/{s['n_rois']}; labels: "
        + ("x".join(map(str, s["labels_shape"])) if s["labels_shape"] else "none")
        + f"; neuropil: {'yes' if s['neuropil'] else 'no'}; mean image: "
        + ("yes" if s["mean_image"] else "no"),
    ]
    if s["value_range"] is not None:
        lines.append(f"    values: {s['value_range'][0]:.4g} .. {s['value_range'][1]:.4g}")
    nan_line = f"    NaN values: {s['nan_values']}"
    if s.get("nan_stretches_s"):
        st = s["nan_stretches_s"]
        shown = ", ".join(f"{a:.2f}-{b:.2f} s" for a, b in st[:5])
        nan_line += f" in {len(st)} stretch(es): {shown}" + (" ..." if len(st) > 5 else "")
    lines.append(nan_line)
    if "spikes" in s:
        extra = ""
        if s.get("spikes_outside_dropped"):
            extra = f"; {s['spikes_outside_dropped']} outside the recording dropped"
        if s.get("events_clock"):
            extra += f"; clock: {s['events_clock']}"
        lines.append(f"    ground-truth spikes: {s['spikes']} ({s['spike_rate_hz']:.3g} Hz){extra}")
    return lines


def describe(path: str | os.PathLike[str], fs_hz: float | None = None) -> str:
    """Describe a file or folder: reader, shapes, frame rate, ROIs, NaNs, spikes.

    Parameters
    ----------
    path : str or os.PathLike
        Anything :func:`calcium_forge.io.read` or :func:`~calcium_forge.io.read_stack`
        opens.
    fs_hz : float, optional
        Frame rate (Hz) for formats that do not store it.

    Returns
    -------
    str
        Several lines of text.
    """
    from . import detect_format, read, read_result, read_stack

    fmt = detect_format(path)
    p = Path(path)
    lines = [f"{p}", f"  reader: {fmt}"]
    if fmt == "tiff":
        stack = read_stack(p, fs_hz=fs_hz)
        fs = "unknown (pass --fs)" if stack.fs_hz is None else f"{stack.fs_hz:.6g} Hz"
        lines.append(
            f"  image stack: {stack.n_frames} frames of {stack.shape[1]} x {stack.shape[2]} "
            f"pixels, {stack.dtype}; frame rate {fs}"
            + (f" [from {stack.meta['fs_hz_source']}]" if stack.meta.get("fs_hz_source") else "")
        )
        lines.append(
            f"  TIFF kind: {stack.meta.get('kind')}, axes {stack.meta.get('axes')}"
            + (f", channels {stack.meta['n_channels']}" if "n_channels" in stack.meta else "")
            + (f", planes {stack.meta['n_planes']}" if "n_planes" in stack.meta else "")
        )
        return "\n".join(lines)
    options = {} if fs_hz is None else {"fs_hz": fs_hz}
    if fmt == "npz":
        from .traces import _open_npz

        z = _open_npz(p)
        if "cf_object" in z and str(z["cf_object"]) == "SpikeInference":
            res = read_result(p)
            n_ev = None if res.events is None else int(sum(e.size for e in res.events))
            lines.append(
                f"  spike inference ({res.method}): {res.n_rois} ROI(s) x {res.n_frames} frames "
                f"at {res.fs_hz:.6g} Hz; events: {'none' if n_ev is None else n_ev}; model: "
                f"{res.model_card.get('name', '?')}"
            )
            if res.recording is not None:
                lines += _fmt_rec(summarize_recording(res.recording))
            return "\n".join(lines)
    result = read(p, **options)
    recs = result if isinstance(result, list) else [result]
    if len(recs) > 1:
        lines.append(f"  {len(recs)} recordings")
    for rec in recs:
        lines += _fmt_rec(summarize_recording(rec))
    return "\n".join(lines)
