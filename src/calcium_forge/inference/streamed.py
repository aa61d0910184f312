"""Spike inference over a recording too large for RAM: ROI blocks in, ROI blocks out.

The input dF/F is read ``roi_block`` rows at a time (plain file reads from a
``.npy``, so the page cache does not count in the process's RSS; or slices of
any array-like: zarr, h5py, memmap); each block goes through
:func:`calcium_forge.inference.infer_spikes` (ROIs are independent for every
method, so the result equals one call on the whole array); the rates are
appended to the ``rate_hz`` member of a calcium-forge ``.npz`` written as a
stream. Peak memory is one block plus the engine's working memory,
independent of the number of ROIs and of the output size.
"""

from __future__ import annotations

import json
import os
import time
import zipfile
from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InvalidInputError
from ..progress import Progress, drain
from .api import DEFAULT_MODE


@dataclass
class StreamedInference:
    """Summary of :func:`infer_spikes_streamed` (the arrays stay on disk).

    Parameters
    ----------
    path : pathlib.Path
        The calcium-forge ``.npz`` written (read it with
        :func:`calcium_forge.io.read_result` or ``numpy.load(mmap_mode=...)``
        is not possible for zip members; use ``io.read_result``).
    n_rois, n_frames : int
        Shape of ``rate_hz``.
    fs_hz : float
        Frame rate (Hz) of the input and of the rates.
    method : str
        Inference method.
    n_events : int
        Total number of spike events (0 when events were not requested).
    roi_block : int
        ROIs per block.
    seconds : float
        Wall time, seconds.
    meta : dict
        Model card and per-stage timings.
    """

    path: Path
    n_rois: int
    n_frames: int
    fs_hz: float
    method: str
    n_events: int
    roi_block: int
    seconds: float
    meta: dict[str, Any] = field(default_factory=dict)


class _NpyRows:
    """Read row blocks of a C-ordered 2-D ``.npy`` with plain reads (no mmap, no full load)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        with open(path, "rb") as fh:
            version = np.lib.format.read_magic(fh)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
            else:
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
            self.offset = fh.tell()
        if len(shape) != 2 or fortran or dtype.hasobject:
            raise InvalidInputError(
                f"{path}: streamed inference needs a C-ordered 2-D numeric array (n_rois, "
                f"n_frames); got shape {shape}, fortran_order={fortran}, dtype={dtype}."
            )
        self.shape = (int(shape[0]), int(shape[1]))
        self.dtype = dtype

    def __getitem__(self, rows: slice) -> np.ndarray:
        r0, r1, _ = rows.indices(self.shape[0])
        n = self.shape[1]
        with open(self.path, "rb") as fh:
            fh.seek(self.offset + r0 * n * self.dtype.itemsize)
            block = np.fromfile(fh, dtype=self.dtype, count=(r1 - r0) * n)
        return block.reshape(r1 - r0, n)


class DffRows:
    """dF/F computed row block by row block from raw F (and neuropil) row sources.

    Every step of :func:`calcium_forge.signal.to_dff` is per ROI, so any block
    equals the same rows of the whole-recording dF/F. ROIs that take the raw-F
    baseline rule (or get NaN) are collected with their indices in the whole
    recording, and :meth:`warn_flags` warns once for all blocks.

    Parameters
    ----------
    f, fneu : array-like
        Raw F and neuropil (a.u.), (n_rois, n_frames), sliceable by rows
        (arrays, read-only memory maps, :class:`_NpyRows`); ``fneu`` may be None.
    fs_hz : float
        Frame rate, Hz.
    neuropil_coeff : float
        Neuropil coefficient (suite2p's default 0.7).
    baseline : str
        Baseline method of :func:`calcium_forge.signal.to_dff`.
    name, source : str
        Recording name (for the warning) and where the traces come from.
    where : tuple of (str, str), optional
        What F and the neuropil are called and which file holds them, for
        error messages (default ``("F", source)``, ``("Fneu", source)``).

    Attributes
    ----------
    shape : tuple of int
        (n_rois, n_frames).
    read_s, preprocess_s : float
        Seconds spent reading and computing dF/F so far.
    raw_baseline_rois, undefined_rois : list of int
        ROIs (whole-recording indices) flagged by :func:`~calcium_forge.signal.to_dff` so far.
    """

    def __init__(
        self, f: Any, fneu: Any, fs_hz: float, neuropil_coeff: float = 0.7,
        baseline: str = "maximin", name: str = "", source: str = "",
        where: tuple[tuple[str, str], tuple[str, str]] | None = None,
    ) -> None:  # fmt: skip
        self.f, self.fneu = f, fneu
        self.where = where or (("F", source), ("Fneu", source))
        self.shape = (int(f.shape[0]), int(f.shape[1]))
        self.fs_hz = float(fs_hz)
        self.neuropil_coeff = float(neuropil_coeff)
        self.baseline = baseline
        self.name, self.source = name, source
        self.read_s = 0.0
        self.preprocess_s = 0.0
        self.raw_baseline_rois: list[int] = []
        self.undefined_rois: list[int] = []

    @classmethod
    def from_recording(
        cls, rec: Any, neuropil_coeff: float = 0.7, baseline: str = "maximin"
    ) -> DffRows:
        """The dF/F rows of a raw :class:`~calcium_forge.recording.Recording`."""
        return cls(rec.traces, rec.neuropil, rec.fs_hz, neuropil_coeff, baseline,
                   name=rec.name, source=rec.source or "")  # fmt: skip

    def __getitem__(self, rows: slice) -> np.ndarray:
        import warnings

        from ..io._common import require_finite
        from ..recording import Recording
        from ..signal import to_dff

        r0 = rows.indices(self.shape[0])[0]
        t0 = time.perf_counter()
        f = self.f[rows]
        require_finite(f, *self.where[0])
        neu = None
        if self.fneu is not None:
            neu = self.fneu[rows]
            require_finite(neu, *self.where[1])
        t1 = time.perf_counter()
        rec = Recording(f, self.fs_hz, kind="raw", neuropil=neu, source=self.source or None)
        with warnings.catch_warnings():  # one warning for every block: warn_flags
            warnings.filterwarnings("ignore", message=r"to_dff\(", category=UserWarning)
            out = to_dff(rec, neuropil_coeff=self.neuropil_coeff, baseline=self.baseline)
        self.raw_baseline_rois += [r0 + i for i in out.meta["dff"]["raw_baseline_rois"]]
        self.undefined_rois += [r0 + i for i in out.meta["dff"]["undefined_rois"]]
        self.read_s += t1 - t0
        self.preprocess_s += time.perf_counter() - t1
        return out.traces

    @property
    def dff_meta(self) -> dict[str, Any]:
        """The rule and the flagged ROIs, as ``meta["dff"]`` of :func:`to_dff` has them."""
        from ..signal import RAW_BASELINE_RULE

        return {
            "neuropil_coeff": self.neuropil_coeff if self.fneu is not None else 0.0,
            "baseline": self.baseline,
            "f0_rule": RAW_BASELINE_RULE,
            "raw_baseline_rois": list(self.raw_baseline_rois),
            "undefined_rois": list(self.undefined_rois),
        }

    def warn_flags(self) -> None:
        """Warn once, naming every flagged ROI of the blocks read so far."""
        from ..signal import warn_dff_flags

        warn_dff_flags(self.name, self.raw_baseline_rois, self.undefined_rois)


class Suite2PDffRows(DffRows):
    """dF/F of a Suite2P plane computed row block by row block from ``F.npy``/``Fneu.npy``.

    Only the requested ROIs are read (plain reads, no mmap); see :class:`DffRows`.

    Parameters
    ----------
    plane : path
        Suite2P plane folder.
    fs_hz : float
        Frame rate, Hz.
    neuropil_coeff : float
        Neuropil coefficient (suite2p's default 0.7).
    baseline : str
        Baseline method of :func:`calcium_forge.signal.to_dff`.
    """

    def __init__(self, plane: Path, fs_hz: float, neuropil_coeff: float, baseline: str) -> None:
        from ..errors import FileFormatError

        self.plane = Path(plane)
        f = _NpyRows(self.plane / "F.npy")
        neu = self.plane / "Fneu.npy"
        fneu = _NpyRows(neu) if neu.is_file() else None
        if fneu is not None and fneu.shape != f.shape:
            raise FileFormatError(
                f"{neu}: Fneu.npy has shape {fneu.shape} but F.npy has {f.shape}; "
                "the files do not belong together."
            )
        where = (("F.npy", str(self.plane / "F.npy")), ("Fneu.npy", str(neu)))
        super().__init__(f, fneu, fs_hz, neuropil_coeff, baseline, name=self.plane.name,
                         source=str(self.plane), where=where)  # fmt: skip


def _open_traces(traces: Any) -> Any:
    if isinstance(traces, str | os.PathLike):
        path = Path(traces)
        if not path.is_file():
            from ..errors import MissingFileError

            raise MissingFileError(f"traces file {path} does not exist.")
        if path.suffix != ".npy":
            raise InvalidInputError(
                f"{path}: streamed inference reads a .npy (n_rois, n_frames) dF/F array, or "
                "any array-like you open yourself (zarr, h5py); convert the file first."
            )
        return _NpyRows(path)
    if not (hasattr(traces, "shape") and hasattr(traces, "__getitem__")) or len(traces.shape) != 2:
        raise InvalidInputError(
            f"traces must be a .npy path or a 2-D array-like (n_rois, n_frames); got "
            f"{type(traces).__name__} with shape {getattr(traces, 'shape', None)}."
        )
    return traces


def _member(zf: zipfile.ZipFile, name: str, array: np.ndarray) -> None:
    with zf.open(f"{name}.npy", "w", force_zip64=True) as fh:
        np.lib.format.write_array(fh, np.asanyarray(array), allow_pickle=False)


def _output_path(out_path: str | os.PathLike, roi_block: int) -> Path:
    """The ``.npz`` to write, after checking ``roi_block`` (ROIs) and the suffix."""
    if roi_block < 1:
        raise InvalidInputError(f"roi_block must be >= 1; got {roi_block}.")
    out = Path(out_path)
    if out.suffix != ".npz":
        raise InvalidInputError(f"out_path must end in .npz; got {out}.")
    return out


def _loaded_model(method: str, model: Any) -> Any:
    """ENS²/S2S: the model loaded once for every block (by name, path or default)."""
    if method in ("ens2", "s2s") and (model is None or isinstance(model, str | os.PathLike)):
        from .api import DEFAULT_MODELS
        from .registry import load_model

        model = load_model(DEFAULT_MODELS[method] if model is None else model)
    return model


@dataclass
class _Blocks:
    """What the block loop keeps besides the rates it streams to disk.

    Parameters
    ----------
    events : list of numpy.ndarray
        Spike-event times (s) of every ROI so far, in ROI order.
    counts : list of int
        Number of events of every ROI so far.
    card : dict
        Model card of the last block.
    meta : list of dict
        ``{"rois": [r0, r1], "timing": ...}`` of every block.
    """

    events: list[np.ndarray] = field(default_factory=list)
    counts: list[int] = field(default_factory=list)
    card: dict[str, Any] = field(default_factory=dict)
    meta: list[dict[str, Any]] = field(default_factory=list)


def _stream_rates(
    fh: Any, src: Any, roi_block: int, infer_kwargs: dict[str, Any], blocks: _Blocks
) -> Generator[Progress, None, None]:
    """Infer ``roi_block`` rows of ``src`` at a time; append their float32 rates to ``fh``."""
    from .api import infer_spikes

    n_rois = int(src.shape[0])
    method, events = infer_kwargs["method"], infer_kwargs["events"]
    for r0 in range(0, n_rois, roi_block):
        r1 = min(n_rois, r0 + roi_block)
        block = np.ascontiguousarray(src[r0:r1], dtype=np.float32)
        res = infer_spikes(block, **infer_kwargs)
        fh.write(np.ascontiguousarray(res.rate_hz, dtype=np.float32).tobytes())
        if events:
            blocks.events.extend(res.events)
            blocks.counts.extend(len(e) for e in res.events)
        blocks.card = res.model_card
        blocks.meta.append({"rois": [r0, r1], "timing": res.meta.get("timing")})
        del block, res
        yield Progress(r1, n_rois, f"{method} streamed inference", {"rois": r1})


def _write_scalars(
    zf: zipfile.ZipFile, fs_hz: float, method: str, card: dict[str, Any], meta: dict[str, Any]
) -> None:
    """The members that make the zip a calcium-forge SpikeInference ``.npz``."""
    from .._version import __version__

    scalars = {
        "cf_format": np.str_("calcium-forge"),
        "cf_format_version": np.int64(1),
        "cf_package_version": np.str_(__version__),
        "cf_object": np.str_("SpikeInference"),
        "fs_hz": np.float64(fs_hz),
        "method": np.str_(method),
        "model_card_json": np.str_(json.dumps(card, default=str)),
        "meta_json": np.str_(json.dumps(meta, default=str)),
    }
    for name, value in scalars.items():
        _member(zf, name, np.asarray(value))


def _write_events(zf: zipfile.ZipFile, n_rois: int, blocks: _Blocks) -> None:
    """The events of every ROI as one flat array (s) and ROI offsets into it."""
    offsets = np.zeros(n_rois + 1, dtype=np.int64)
    offsets[1:] = np.cumsum(blocks.counts)
    ev = np.concatenate(blocks.events) if blocks.events else np.zeros(0, np.float64)
    _member(zf, "events_flat", ev.astype(np.float64))
    _member(zf, "events_offsets", offsets)


def iter_infer_spikes_streamed(
    traces: Any,
    out_path: str | os.PathLike,
    fs_hz: float,
    *,
    roi_block: int = 100,
    method: str = "ens2",
    model: Any = None,
    events: bool = True,
    mode: str = DEFAULT_MODE,
    **infer_options: Any,
) -> Generator[Progress, None, StreamedInference]:
    """Infer spikes for a recording larger than RAM, ``roi_block`` ROIs at a time (generator).

    :func:`infer_spikes_streamed` is the drained form.

    Parameters
    ----------
    traces : path or array-like
        dF/F (fraction), (n_rois, n_frames): a ``.npy`` file (read block by
        block with plain reads) or an array-like supporting row slices (zarr,
        h5py dataset, memmap, :class:`DffRows`, :class:`Suite2PDffRows`).
    out_path : path
        Output calcium-forge ``.npz`` (SpikeInference without the input
        recording), written as a stream through a temporary file.
    fs_hz : float
        Frame rate in Hz.
    roi_block : int
        ROIs per block; peak memory grows with it.
    method, model, events, mode, **infer_options
        As in :func:`calcium_forge.inference.infer_spikes`.

    Yields
    ------
    Progress
        One per block (``step``/``total`` count ROIs).

    Returns
    -------
    StreamedInference
        Where the result is and its size; the arrays stay on disk.
    """
    from ..io.atomic import atomic_path

    src = _open_traces(traces)
    n_rois, n_frames = (int(s) for s in src.shape)
    out = _output_path(out_path, roi_block)
    model = _loaded_model(method, model)
    t_start = time.perf_counter()
    infer_kwargs = dict(
        fs_hz=fs_hz, method=method, model=model, events=events, mode=mode, **infer_options
    )
    blocks = _Blocks()
    rate_header = {"descr": np.lib.format.dtype_to_descr(np.dtype(np.float32)),
                   "fortran_order": False, "shape": (n_rois, n_frames)}  # fmt: skip
    with atomic_path(out) as tmp:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
            with zf.open("rate_hz.npy", "w", force_zip64=True) as fh:
                np.lib.format.write_array_header_2_0(fh, rate_header)
                yield from _stream_rates(fh, src, roi_block, infer_kwargs, blocks)
            meta = {"streamed": {"roi_block": roi_block, "blocks": blocks.meta}, "mode": mode}
            if isinstance(src, DffRows):  # raw input: the dF/F rule and its flagged ROIs
                meta["dff"] = src.dff_meta
            _write_scalars(zf, fs_hz, method, blocks.card, meta)
            if events:
                _write_events(zf, n_rois, blocks)
    if isinstance(src, DffRows):
        src.warn_flags()
    return StreamedInference(
        path=out,
        n_rois=n_rois,
        n_frames=n_frames,
        fs_hz=float(fs_hz),
        method=method,
        n_events=int(sum(blocks.counts)),
        roi_block=int(roi_block),
        seconds=time.perf_counter() - t_start,
        meta={"model_card": blocks.card, **meta},
    )


def infer_spikes_streamed(
    traces: Any,
    out_path: str | os.PathLike,
    fs_hz: float,
    *,
    roi_block: int = 100,
    method: str = "ens2",
    model: Any = None,
    events: bool = True,
    mode: str = DEFAULT_MODE,
    progress_bar: bool = False,
    **infer_options: Any,
) -> StreamedInference:
    """Infer spikes for a recording larger than RAM, ``roi_block`` ROIs at a time.

    Re-exported by :mod:`calcium_forge.distributed`, beside :func:`batch_infer`.

    Parameters
    ----------
    traces : path or array-like
        dF/F (fraction), (n_rois, n_frames): a ``.npy`` file (read block by
        block with plain reads) or an array-like supporting row slices (zarr,
        h5py dataset, memmap).
    out_path : path
        Output calcium-forge ``.npz`` (SpikeInference without the input
        recording), written as a stream through a temporary file.
    fs_hz : float
        Frame rate in Hz.
    roi_block : int
        ROIs per block; peak memory grows with it (one block of input, its
        rates, and the engine's working memory).
    method, model, events, mode, **infer_options
        As in :func:`calcium_forge.inference.infer_spikes`.
    progress_bar : bool
        Show a tqdm bar.

    Returns
    -------
    StreamedInference
        Where the result is and its size; the arrays are not returned.
    """
    gen = iter_infer_spikes_streamed(
        traces,
        out_path,
        fs_hz,
        roi_block=roi_block,
        method=method,
        model=model,
        events=events,
        mode=mode,
        **infer_options,
    )
    return drain(gen, progress_bar=progress_bar, desc=f"{method} streamed inference")
