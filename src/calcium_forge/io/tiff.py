"""Lazy TIFF stacks (multi-page, ImageJ hyperstack, OME-TIFF, ScanImage) via tifffile.

The pixel data are never read when a stack is opened: tifffile exposes the
first series as a zarr store (``TiffFile.aszarr``, the store behind
``tifffile.imread(path, aszarr=True)``, built from the IFDs parsed once) and
``Stack.data`` is the zarr array (indexing it reads only the frames asked
for). When a channel/plane must be selected or ScanImage pages
de-interleaved, the zarr array is wrapped in a dask array so that this stays
lazy (dask comes with the ``distributed`` extra). Only the TIFF structure
(IFDs) is parsed; for uniform series tifffile parses just the first page.

Frame rate (Hz), in order: the ``fs_hz`` argument; ScanImage
``SI.hRoiManager.scanVolumeRate`` (per plane) or ``scanFrameRate`` (from the
ScanImage header or from ``key = value`` lines in the frame description /
Software tag); ImageJ ``finterval`` (s) or ``fps``; OME ``TimeIncrement`` (with
its unit). ``Stack.meta["fs_hz_source"]`` says which was used.

Writing: :func:`write_stack` is the one TIFF stack writer (ImageJ hyperstack,
frame rate as ``finterval``, one frame at a time, atomic) and
:func:`write_labels` the one label-image writer. Dtype policy: movies are
float32 (``dtype="uint16"`` only for integer images), label images uint16.

Size: about 600 lines, over the house's ~500, because both directions of the
one format live here: what the writer stores (ImageJ ``finterval``, axes
``TYX``) is what the reader parses, and the round trip is tested as one.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CalciumForgeError, FileFormatError, InvalidInputError
from ._common import check_fs
from .atomic import atomic_path
from .limits import check_allocation, require_regular_file

__all__ = [
    "STACK_DTYPES",
    "Stack",
    "frame_rate_from_metadata",
    "read_tiff_stack",
    "write_labels",
    "write_stack",
]

#: Pixel types :func:`write_stack` writes: float32 (default, any intensities)
#: and uint16 (integer-valued images in 0..65535). Both are ImageJ types.
STACK_DTYPES = ("float32", "uint16")
_UINT16_MAX = 65535
_UINT16_STACK_FIX = "Write intensities with dtype='float32' (the default) instead."
_UINT16_LABELS_FIX = "Labels are ROI numbers: 0 = background, i + 1 = ROI i (at most 65535 ROIs)."

_SI_RATE = re.compile(
    r"(?:scanimage\.)?SI\d*\.hRoiManager\.(scanVolumeRate|scanFrameRate)\s*=\s*([0-9.eE+-]+)"
)
_SI_SLICES = re.compile(
    r"(?:scanimage\.)?SI\d*\.hStackManager\.(?:actualNumSlices|numSlices)\s*=\s*(\d+)"
)
_SI_CHANNELS = re.compile(r"(?:scanimage\.)?SI\d*\.hChannels\.channelSave\s*=\s*\[?([0-9 ;,]+)\]?")
_SI3_RATE = re.compile(r"state\.acq\.frameRate\s*=\s*([0-9.eE+-]+)")
_OME_UNITS = {"s": 1.0, "ms": 1e-3, "µs": 1e-6, "us": 1e-6, "ns": 1e-9, "min": 60.0, "h": 3600.0}


_DAMAGE = re.compile(r"invalid page offset|corrupt|truncat|invalid .*offset|unexpected end", re.I)


class _LogCollector(logging.Handler):
    """A logging handler that records tifffile's warnings (damage reports)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        """Keep the record's message (logging.Handler hook)."""
        self.messages.append(record.getMessage())


@dataclass
class Stack:
    """A (T, Y, X) image stack opened lazily.

    Parameters
    ----------
    data : array-like
        Lazy (T, Y, X) array: a zarr array, or a dask array when a
        channel/plane was selected or ScanImage pages de-interleaved. Index
        it (``data[t]``) or call ``numpy.asarray`` on a slice to read pixels.
    fs_hz : float or None
        Frame rate in Hz (per plane), None when unknown.
    meta : dict
        ``reader`` ("tiff"), ``kind`` (imagej/ome/scanimage/shaped/...),
        ``axes`` of the file, ``fs_hz_source``, ``n_channels``, ``n_planes``,
        ``channel``, ``plane``.
    source : str
        The file.
    """

    data: Any
    fs_hz: float | None
    meta: dict[str, Any] = field(default_factory=dict)
    source: str | None = None

    @property
    def shape(self) -> tuple[int, int, int]:
        """(n_frames, height, width)."""
        return tuple(int(s) for s in self.data.shape)  # type: ignore[return-value]

    @property
    def n_frames(self) -> int:
        """Number of frames T."""
        return int(self.data.shape[0])

    @property
    def dtype(self) -> np.dtype:
        """Pixel dtype."""
        return np.dtype(self.data.dtype)

    def frame(self, t: int) -> np.ndarray:
        """Read frame ``t`` as a numpy array (Y, X).

        Raises
        ------
        FileFormatError
            When the frame's bytes cannot be decoded (a damaged file).
        """
        try:
            return np.asarray(self.data[t])
        except IndexError:
            raise
        except Exception as exc:  # zarr/tifffile decoding errors on damaged pages
            raise FileFormatError(
                f"{self.source}: frame {t} cannot be read ({type(exc).__name__}: {exc}); the "
                "TIFF is damaged. Re-copy or re-export the file."
            ) from exc

    def __repr__(self) -> str:
        fs = "unknown" if self.fs_hz is None else f"{self.fs_hz:g} Hz"
        name = Path(self.source).name if self.source else "stack"
        return f"Stack({name!r}, shape={self.shape}, dtype={self.dtype}, fs={fs})"


def _text_metadata(tif: Any) -> str:
    page = tif.pages.first
    parts = []
    for tag in ("ImageDescription", "Software", "Artist"):
        t = page.tags.get(tag)
        if t is not None and isinstance(t.value, str):
            parts.append(t.value)
    return "\n".join(parts)


def frame_rate_from_metadata(tif: Any) -> tuple[float | None, str | None, dict[str, Any]]:
    """Frame rate (Hz) found in the metadata of an open ``tifffile.TiffFile``.

    Returns
    -------
    fs_hz : float or None
    source : str or None
        Where it came from (e.g. ``"ScanImage SI.hRoiManager.scanVolumeRate"``).
    extra : dict
        ScanImage ``n_planes``/``n_channels`` when found.
    """
    extra: dict[str, Any] = {}
    si_text = ""
    if getattr(tif, "is_scanimage", False):
        frame_data = (tif.scanimage_metadata or {}).get("FrameData", {})
        si_text = "\n".join(f"{k} = {v}" for k, v in frame_data.items())
    si_text += "\n" + _text_metadata(tif)
    rates = dict(_SI_RATE.findall(si_text))
    m_si3 = _SI3_RATE.search(si_text)
    m = _SI_SLICES.search(si_text)
    if m:
        extra["n_planes"] = int(m.group(1))
    m = _SI_CHANNELS.search(si_text)
    if m:
        extra["n_channels"] = len(re.findall(r"\d+", m.group(1)))
    if rates or m_si3 or "n_planes" in extra or "n_channels" in extra:
        extra["scanimage"] = True
    if rates:
        key = "scanVolumeRate" if "scanVolumeRate" in rates else "scanFrameRate"
        return float(rates[key]), f"ScanImage SI.hRoiManager.{key}", extra
    if m_si3:
        return float(m_si3.group(1)), "ScanImage state.acq.frameRate", extra
    ij = tif.imagej_metadata if getattr(tif, "is_imagej", False) else None
    if ij:
        if ij.get("finterval"):
            return 1.0 / float(ij["finterval"]), "ImageJ finterval", extra
        if ij.get("fps"):
            return float(ij["fps"]), "ImageJ fps", extra
    if getattr(tif, "is_ome", False) and tif.ome_metadata:
        m = re.search(r'TimeIncrement="([0-9.eE+-]+)"', tif.ome_metadata)
        if m and float(m.group(1)) > 0:
            u = re.search(r'TimeIncrementUnit="([^"]+)"', tif.ome_metadata)
            scale = _OME_UNITS.get(u.group(1) if u else "s", 1.0)
            return 1.0 / (float(m.group(1)) * scale), "OME TimeIncrement", extra
    return None, None, extra


def _lazy(zarr_array: Any, feature: str) -> Any:
    """Wrap a zarr array in dask so that indexing and reshaping stay lazy."""
    from ..errors import require

    da = require("dask.array", "distributed", feature)
    return da.from_zarr(zarr_array)


def _select_tyx(
    zarr_array: Any,
    axes: str,
    shape: tuple[int, ...],
    file_axes: str,
    path: Path,
    channel: int,
    plane: int,
    meta: dict[str, Any],
) -> Any:
    """Reduce a series to (T, Y, X): select channel/plane, drop singleton axes."""
    index: list[Any] = []
    keep_axes = ""
    for ax, n in zip(axes, shape, strict=True):
        if ax in "YX":
            index.append(slice(None))
            keep_axes += ax
        elif ax in ("C", "Z"):
            which = channel if ax == "C" else plane
            meta["n_channels" if ax == "C" else "n_planes"] = n
            if not 0 <= which < n:
                raise InvalidInputError(
                    f"{path}: {'channel' if ax == 'C' else 'plane'}={which} but the file has "
                    f"{n} along axis {ax} (0..{n - 1})."
                )
            index.append(which)
        elif n == 1:
            index.append(0)
        else:
            index.append(slice(None))
            keep_axes += "T"
    if keep_axes.count("T") > 1:
        raise FileFormatError(
            f"{path}: cannot tell which axis is time among {file_axes} {shape}; expected "
            "one non-spatial axis (T) besides channels (C) and planes (Z)."
        )
    if "T" not in keep_axes:
        raise FileFormatError(
            f"{path}: this is a single 2-D image (axes {file_axes}, shape {shape}), but a "
            "stack of frames (T, Y, X) is needed."
        )
    if any(not isinstance(i, slice) for i in index):
        return _lazy(zarr_array, f"Selecting a channel/plane of {path} lazily")[tuple(index)]
    return zarr_array


def _scanimage_pages(
    zarr_array: Any, path: Path, n_ch: int, n_pl: int, channel: int, plane: int
) -> Any:
    """ScanImage order: pages are (volume, slice, channel); keep one plane and channel.

    tifffile's own interpretation of the axes is ignored: the pages are taken in
    acquisition order and de-interleaved with ``numSlices`` and ``channelSave``
    from the ScanImage metadata.
    """
    if not (0 <= channel < n_ch and 0 <= plane < n_pl):
        raise InvalidInputError(
            f"{path}: channel={channel}, plane={plane} out of range for {n_ch} channel(s), "
            f"{n_pl} plane(s) (ScanImage metadata)."
        )
    ny, nx = int(zarr_array.shape[-2]), int(zarr_array.shape[-1])
    flat = zarr_array
    if zarr_array.ndim != 3:
        flat = _lazy(zarr_array, f"Reading ScanImage file {path}").reshape(-1, ny, nx)
    n_pages = int(flat.shape[0])
    per_volume = n_ch * n_pl
    if per_volume == 1:
        return flat
    if n_pages % per_volume:
        raise FileFormatError(
            f"{path}: ScanImage metadata announce {n_pl} plane(s) x {n_ch} channel(s) but the "
            f"file has {n_pages} pages, not a multiple of {per_volume}. The file is incomplete."
        )
    if flat is zarr_array:
        flat = _lazy(zarr_array, f"De-interleaving ScanImage file {path}")
    return flat.reshape((n_pages // per_volume, n_pl, n_ch, ny, nx))[:, plane, channel]


def _check_complete(tif: Any, series: Any, path: Path) -> None:
    """Raise if the file ends before the image data of the series does."""
    size = os.path.getsize(path)
    end = 0
    if series.dataoffset is not None:
        end = int(series.dataoffset) + int(series.nbytes)
    else:
        for page in (series.pages[0], series.pages[-1]):
            if page is None:
                continue
            offs, counts = page.dataoffsets, page.databytecounts
            if offs:
                end = max(end, max(int(o) + int(c) for o, c in zip(offs, counts, strict=True)))
    if end > size:
        raise FileFormatError(
            f"{path}: the TIFF is truncated: its image data should extend to byte {end:,} but "
            f"the file has {size:,} bytes. The copy or acquisition was interrupted; re-copy the "
            "file."
        )


def _first_series(tif: Any, problems: _LogCollector, path: Path) -> Any:
    """The first image series of an open TIFF, refusing damaged, empty or RGB files."""
    series_list = tif.series
    damaged = [m for m in problems.messages if _DAMAGE.search(m)]
    if damaged:
        raise FileFormatError(
            f"{path}: the TIFF is truncated or damaged (tifffile: {damaged[0].strip()}). "
            "The copy or acquisition was interrupted; re-copy the file."
        )
    ij = tif.imagej_metadata if tif.is_imagej else None
    if ij and int(ij.get("images", 0)) > len(tif.pages) and series_list:
        s0 = series_list[0]
        if s0.dataoffset is None:
            raise FileFormatError(
                f"{path}: the TIFF is truncated: ImageJ metadata announce {ij['images']} "
                f"images but only {len(tif.pages)} page(s) are readable. Re-copy the file."
            )
    if not series_list:
        raise FileFormatError(f"{path}: the TIFF holds no image series (empty stack).")
    series = tif.series[0]
    axes = series.axes.upper()
    shape = tuple(int(s) for s in series.shape)
    if 0 in shape or series.size == 0:
        raise FileFormatError(f"{path}: the TIFF image stack is empty (shape {shape}).")
    if "S" in axes and shape[axes.index("S")] > 1:
        raise FileFormatError(
            f"{path}: the TIFF holds RGB/multi-sample pixels (axes {series.axes}, shape "
            f"{shape}); calcium imaging stacks must be grayscale. Export one channel."
        )
    _check_complete(tif, series, path)
    return series


def _open_zarr(store: Any, path: Path) -> Any:
    """The zarr array behind tifffile's store (level 0 of a multiscale group)."""
    import zarr

    try:
        zarr_array = zarr.open(store, mode="r")
    except Exception as exc:  # pragma: no cover - depends on zarr version
        raise FileFormatError(
            f"{path}: tifffile could not expose the data lazily ({exc})."
        ) from exc
    if hasattr(zarr_array, "keys") and not hasattr(zarr_array, "shape"):  # multiscale group
        zarr_array = zarr_array["0"]
    return zarr_array


def _choose_fs(
    fs_hz: float | None,
    found_fs: float | None,
    fs_source: str | None,
    path: Path,
    meta: dict[str, Any],
) -> float | None:
    """The frame rate (Hz): the ``fs_hz`` option, else the metadata's; notes the source in meta."""
    if fs_hz is not None:
        meta["fs_hz_source"] = "fs_hz option"
        if found_fs is not None:
            meta["fs_hz_in_metadata"] = found_fs
        return check_fs(fs_hz, f"{path} (fs_hz option)")
    meta["fs_hz_source"] = fs_source if found_fs is not None else None
    return None if found_fs is None else check_fs(found_fs, f"{path} ({fs_source})")


def read_tiff_stack(
    path: str | os.PathLike[str],
    fs_hz: float | None = None,
    channel: int = 0,
    plane: int = 0,
) -> Stack:
    """Open a TIFF as a lazy (T, Y, X) :class:`Stack`.

    Parameters
    ----------
    path : str or os.PathLike
        TIFF file.
    fs_hz : float, optional
        Frame rate (Hz); overrides the metadata.
    channel, plane : int
        Which channel / z-plane to keep when the file holds several (ImageJ
        hyperstack ``C``/``Z`` axes, or ScanImage interleaved channels/slices).

    Raises
    ------
    FileFormatError
        Truncated or unreadable file, empty stack, 2-D image, RGB data.
    InvalidInputError
        ``fs_hz`` ≤ 0, or ``channel``/``plane`` out of range.
    """
    import tifffile

    path = require_regular_file(path, "TIFF stack")
    problems = _LogCollector()
    logger = logging.getLogger("tifffile")
    logger.addHandler(problems)
    propagate, logger.propagate = logger.propagate, False
    try:
        tif = tifffile.TiffFile(path)
    except Exception as exc:
        logger.removeHandler(problems)
        logger.propagate = propagate
        raise FileFormatError(
            f"{path}: not a readable TIFF ({type(exc).__name__}: {exc}). The file may be "
            "truncated or damaged."
        ) from exc
    try:
        series = _first_series(tif, problems, path)
        axes = series.axes.upper()
        shape = tuple(int(s) for s in series.shape)
        found_fs, fs_source, extra = frame_rate_from_metadata(tif)
        kind = series.kind
        dtype = np.dtype(series.dtype)
        is_imagej = bool(getattr(tif, "is_imagej", False))
        # the zarr store reuses the parsed IFDs (tifffile reopens the file on read)
        store = tif.aszarr(series=0)
    except CalciumForgeError:
        raise
    except Exception as exc:  # tifffile's parsers fail in many ways on damaged headers
        raise FileFormatError(
            f"{path}: the TIFF's structure is damaged ({type(exc).__name__}: {exc}). Re-copy "
            "or re-export the file."
        ) from exc
    finally:
        tif.close()
        logger.removeHandler(problems)
        logger.propagate = propagate
    n_spatial = sum(1 for a in axes if a in "YX")
    if len(shape) <= 2 or n_spatial == len(shape):
        raise FileFormatError(
            f"{path}: this is a single 2-D image (shape {shape}), not a stack "
            "of frames (T, Y, X) is needed. Pass the multi-page TIFF of the movie."
        )

    _check_pixels(dtype, shape, axes, path)
    zarr_array = _open_zarr(store, path)
    meta: dict[str, Any] = {"reader": "tiff", "kind": kind, "axes": series.axes}
    n_ch, n_pl = int(extra.get("n_channels", 1)), int(extra.get("n_planes", 1))
    if extra.get("scanimage") and not is_imagej:
        data = _scanimage_pages(zarr_array, path, n_ch, n_pl, channel, plane)
        meta.update(n_channels=n_ch, n_planes=n_pl, interleaved="scanimage")
    else:
        data = _select_tyx(zarr_array, axes, shape, series.axes, path, channel, plane, meta)
    meta["channel"] = channel
    meta["plane"] = plane
    fs = _choose_fs(fs_hz, found_fs, fs_source, path, meta)
    return Stack(data=data, fs_hz=fs, meta=meta, source=str(path))


def _check_pixels(dtype: np.dtype, shape: tuple[int, ...], axes: str, path: Path) -> None:
    """Refuse complex pixels and frames larger than the available memory (before reading)."""
    if dtype.kind == "c":
        raise FileFormatError(
            f"{path}: the TIFF holds complex pixels ({dtype}); calcium-forge reads real "
            "intensities only and would lose the imaginary part. Save the magnitude (abs) or the "
            "real part as a real-valued TIFF."
        )
    frame = [n for n, a in zip(shape, axes, strict=False) if a in "YXS"] or list(shape[-2:])
    check_allocation(frame, dtype, "one frame of the TIFF", str(path))


# ------------------------------------------------------------------ writing
def _stack_dtype(dtype: Any) -> np.dtype:
    """The output dtype, one of :data:`STACK_DTYPES`."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        dt = None
    if dt is None or dt.name not in STACK_DTYPES:
        raise InvalidInputError(
            f"write_stack: dtype={dtype!r} is not supported; use dtype='float32' (intensities, "
            "the default) or dtype='uint16' (integer images in 0..65535)."
        )
    return dt


def _cast(frame: Any, dt: np.dtype, what: str, uint16_fix: str) -> np.ndarray:
    """``frame`` as ``dt``, refusing values that would not survive the cast.

    ``what`` names the argument in messages (e.g. ``"write_stack: movie frame 3"``);
    ``uint16_fix`` is the advice when values do not fit uint16.
    """
    a = np.asarray(frame)
    if a.dtype.kind not in "biuf":
        raise InvalidInputError(
            f"{what} has dtype {a.dtype}; expected real numbers. Convert it to float "
            "(e.g. numpy.abs of a complex image) first."
        )
    if dt == np.float32:
        with np.errstate(over="ignore", invalid="ignore"):
            out = a.astype(np.float32)
        bad = int(out.size - np.count_nonzero(np.isfinite(out)))
        if bad:
            raise InvalidInputError(
                f"{what} holds {bad} non-finite value(s) (NaN/inf, or beyond the float32 "
                "range); a TIFF stack needs finite pixels. Replace them first, e.g. "
                "numpy.nan_to_num(movie)."
            )
        return out
    if a.dtype.kind == "f" and not np.isfinite(a).all():
        raise InvalidInputError(
            f"{what} holds non-finite value(s) (NaN/inf), which uint16 cannot store. {uint16_fix}"
        )
    if a.size and (a.min() < 0 or a.max() > _UINT16_MAX or (a.dtype.kind == "f" and (a % 1).any())):
        raise InvalidInputError(
            f"{what} has values in [{a.min()}, {a.max()}] that are not all integers in "
            f"0..{_UINT16_MAX}, so uint16 would change them. {uint16_fix}"
        )
    return a.astype(np.uint16)


def _frames(movie: Any, dt: np.dtype, progress_bar: bool, desc: str) -> Iterator[np.ndarray]:
    """The frames of ``movie`` one at a time, checked and cast (a lazy movie stays lazy)."""
    n = int(np.shape(movie)[0])
    bar = None
    if progress_bar:
        from tqdm.auto import tqdm

        bar = tqdm(total=n, desc=desc, unit="frame")
    try:
        for t in range(n):
            yield _cast(movie[t], dt, f"write_stack: movie frame {t}", _UINT16_STACK_FIX)
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()


def write_stack(
    path: str | os.PathLike[str],
    movie: Any,
    fs_hz: float | None = None,
    *,
    dtype: str = "float32",
    progress_bar: bool = False,
) -> Path:
    """Write a (T, Y, X) movie as an ImageJ TIFF stack, one frame at a time, atomically.

    :func:`calcium_forge.io.read_stack` reads it back: the same pixels (cast
    to ``dtype``) and the frame rate (ImageJ ``finterval``, s).

    Parameters
    ----------
    path : str or os.PathLike
        Output file (``.tif``); its folder must exist. Written through a
        temporary file: on any failure nothing is left at ``path``.
    movie : array-like
        (n_frames, Y, X) pixels: a numpy array or a lazy array indexable by
        frame (zarr, dask, :class:`~calcium_forge.synthesis.movie.SyntheticMovie`),
        read one frame at a time. A single frame is written as a 2-D image,
        which ``read_stack`` refuses (it needs a stack).
    fs_hz : float, optional
        Frame rate in Hz, stored as ``finterval = 1 / fs_hz`` s; not stored when None.
    dtype : {"float32", "uint16"}
        Pixel type on disk: float32 (default) for intensities; uint16 only for
        integer images whose values are all in 0..65535 (refused otherwise).
    progress_bar : bool
        Show a tqdm bar (frames written) on stderr.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    InvalidInputError
        ``movie`` not 3-D or empty, non-real or non-finite pixels, values that
        do not fit ``dtype``, an unknown ``dtype``, ``fs_hz`` not > 0.
    MissingFileError
        The folder of ``path`` does not exist.
    """
    import tifffile

    dt = _stack_dtype(dtype)
    shape = tuple(int(n) for n in np.shape(movie))
    if len(shape) != 3 or 0 in shape:
        raise InvalidInputError(
            f"write_stack: movie has shape {shape}; expected a non-empty 3-D (n_frames, Y, X) "
            "stack. Add a frame axis to a single image (movie[None]) or select one "
            "channel/plane of a hyperstack."
        )
    metadata: dict[str, Any] = {"axes": "TYX"}
    if fs_hz is not None:
        metadata["finterval"] = 1.0 / check_fs(fs_hz, "write_stack")
    final = Path(path)
    frames = _frames(movie, dt, progress_bar, f"writing {final.name}")
    with atomic_path(final) as tmp:
        tifffile.imwrite(tmp, frames, shape=shape, dtype=dt, imagej=True, metadata=metadata)
    return final


def write_labels(path: str | os.PathLike[str], labels: Any) -> Path:
    """Write a (Y, X) ROI label image (0 = background, i + 1 = ROI i) as a uint16 TIFF.

    Parameters
    ----------
    path : str or os.PathLike
        Output file (``.tif``); written atomically.
    labels : array-like
        (Y, X) non-negative integers up to 65535.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    InvalidInputError
        ``labels`` not 2-D, or values that are not integers in 0..65535.
    """
    import tifffile

    a = np.asarray(labels)
    if a.ndim != 2 or a.size == 0:
        raise InvalidInputError(
            f"write_labels: labels has shape {a.shape}; expected a non-empty 2-D (Y, X) image "
            "(0 = background, i + 1 = ROI i). Write movies with write_stack."
        )
    out = _cast(a, np.dtype(np.uint16), "write_labels: labels", _UINT16_LABELS_FIX)
    final = Path(path)
    with atomic_path(final) as tmp:
        tifffile.imwrite(tmp, out)
    return final
