"""Run suite2p on one TIFF stack in its own process.

suite2p imports opencv, which segfaults next to a Qt viewer, so the
**Run Suite2P** widget starts this module with ``python -m`` and reads the
output folder when it exits::

    python -m calcium_forge.io.suite2p_run movie.tif OUT --fs-hz 30 --tau 1.0

It prints one line per pipeline stage; the exit code is 0 on success, 1 with
a one-line message on stderr otherwise. Results land in ``OUT/suite2p/plane0``.

From Python, :func:`run_suite2p` does the same run in the calling process
(only where no Qt viewer lives); :func:`main` is a thin argparse front end
to it.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import CalciumForgeError

__all__ = [
    "FieldSettings",
    "Suite2PRunError",
    "build_settings",
    "field_settings",
    "main",
    "movie_shape",
    "run_suite2p",
]


class Suite2PRunError(CalciumForgeError):
    """suite2p raised, or finished without writing ``F.npy``; the message names the movie."""


#: suite2p's non-rigid block size (px) for large fields of view
DEFAULT_BLOCK_PX = 128
#: suite2p's default cell diameter (px)
DEFAULT_DIAMETER_PX = 12.0
#: the smallest non-rigid block (px): below it phase correlation has too little texture
MIN_BLOCK_PX = 32


@dataclass(frozen=True)
class FieldSettings:
    """suite2p settings that follow the field of view.

    Attributes
    ----------
    shape_yx : (int, int)
        Field of view (Ly, Lx), pixels.
    nonrigid : bool
        Non-rigid registration (off when the field cannot hold two blocks of
        :data:`MIN_BLOCK_PX` along each axis).
    block_px : (int, int)
        Non-rigid block size (y, x), pixels.
    diameter_px : float
        Expected cell diameter, pixels.
    """

    shape_yx: tuple[int, int]
    nonrigid: bool
    block_px: tuple[int, int]
    diameter_px: float

    def describe(self) -> str:
        """One line: the field, the registration blocks and the diameter."""
        reg = (
            f"non-rigid blocks {self.block_px[0]}x{self.block_px[1]} px"
            if self.nonrigid
            else "rigid registration only"
        )
        return (
            f"field {self.shape_yx[0]}x{self.shape_yx[1]} px: {reg}, "
            f"cell diameter {self.diameter_px:g} px"
        )


def _block_px(length: int) -> int:
    """The largest power of two <= min(128, length / 2): at least 2 blocks along the axis."""
    half = min(DEFAULT_BLOCK_PX, length // 2)
    return 1 << (max(half, 1).bit_length() - 1)


def field_settings(shape_yx: tuple[int, int], diameter_px: float = 0.0) -> FieldSettings:
    """suite2p block size and cell diameter for a field of view.

    suite2p 1.x fails inside non-rigid registration when a block is as large as
    the field (one block per axis: "Input and output sizes should be greater
    than 0"), and its 128 px default block fills a 128 x 128 field. Blocks are
    therefore the largest power of two no larger than 128 px or half the field
    (64 px for 128 px, 128 px from 256 px up); a field shorter than
    ``2 * MIN_BLOCK_PX`` (64 px) along an axis is registered rigidly only. The
    cell diameter, unless given, is suite2p's 12 px, capped at an eighth of the
    shorter side (at least 4 px) so that a small field still holds cells.

    Parameters
    ----------
    shape_yx : (int, int)
        Field of view (Ly, Lx), pixels.
    diameter_px : float
        Expected cell diameter, pixels; 0 or less chooses it from the field.

    Returns
    -------
    FieldSettings
    """
    ly, lx = int(shape_yx[0]), int(shape_yx[1])
    block = (_block_px(ly), _block_px(lx))
    nonrigid = min(block) >= MIN_BLOCK_PX
    if diameter_px <= 0:
        diameter_px = max(4.0, min(DEFAULT_DIAMETER_PX, min(ly, lx) / 8.0))
    return FieldSettings((ly, lx), nonrigid, block, float(diameter_px))


def build_settings(
    fs_hz: float,
    tau_s: float,
    diameter_px: float,
    do_registration: bool,
    shape_yx: tuple[int, int] | None = None,
) -> dict[str, Any]:
    """suite2p ``settings`` for a CPU run (nested dict of suite2p 1.x).

    Parameters
    ----------
    fs_hz : float
        Frame rate of the movie, Hz (suite2p ``fs``).
    tau_s : float
        Decay time of the calcium indicator, s (suite2p ``tau``).
    diameter_px : float
        Expected cell diameter, pixels; 0 or less keeps suite2p's default, or
        chooses it from ``shape_yx`` (:func:`field_settings`) when given.
    do_registration : bool
        Run motion registration first.
    shape_yx : (int, int), optional
        Field of view (Ly, Lx), pixels: the non-rigid block size and the cell
        diameter follow it (:func:`field_settings`). None keeps suite2p's defaults.

    Returns
    -------
    dict
        ``suite2p.default_settings()`` with these values and ``torch_device="cpu"``.
    """
    import suite2p

    settings = suite2p.default_settings()
    settings["torch_device"] = "cpu"
    settings["fs"] = float(fs_hz)
    settings["tau"] = float(tau_s)
    if shape_yx is not None:
        field = field_settings(shape_yx, diameter_px)
        diameter_px = field.diameter_px
        reg = settings.setdefault("registration", {})
        reg["nonrigid"] = field.nonrigid
        reg["block_size"] = list(field.block_px)
    if diameter_px > 0:
        settings["diameter"] = [float(diameter_px), float(diameter_px)]
    settings["run"]["do_registration"] = int(bool(do_registration))
    return settings


def movie_shape(movie_path: str | os.PathLike[str]) -> tuple[int, int, int]:
    """(frames, Ly, Lx) of a TIFF movie, read from its header (no pixel is loaded).

    Parameters
    ----------
    movie_path : str or os.PathLike
        TIFF stack (T, Y, X).

    Returns
    -------
    (int, int, int)
        Number of frames and field of view in pixels.
    """
    from . import read_stack

    stack = read_stack(movie_path, fs_hz=1.0)  # the rate is not needed for the shape
    return tuple(int(n) for n in stack.shape)  # type: ignore[return-value]


def run_suite2p(
    movie_path: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    fs_hz: float,
    tau_s: float = 1.0,
    diameter_px: float = 0.0,
    registration: bool = True,
) -> Path:
    """Run the suite2p pipeline (CPU, one plane, one channel) on one TIFF stack.

    Runs in the calling process: suite2p imports opencv, which must not share
    a process with a Qt viewer (the napari widget therefore starts this module
    as ``python -m calcium_forge.io.suite2p_run``). Prints one line before and
    one after the run.

    Parameters
    ----------
    movie_path : str or os.PathLike
        TIFF stack (T, Y, X).
    out_dir : str or os.PathLike
        Output folder; suite2p writes ``<out_dir>/suite2p/plane0`` (created).
    fs_hz : float
        Frame rate of the movie, Hz.
    tau_s : float
        Decay time of the calcium indicator, s (default 1.0).
    diameter_px : float
        Expected cell diameter, pixels (default 0: chosen from the field of
        view, :func:`field_settings`).
    registration : bool
        Run motion registration first (default True). The non-rigid block
        size follows the field of view (:func:`field_settings`).

    Returns
    -------
    pathlib.Path
        The ``plane0`` folder, readable with :func:`calcium_forge.io.read`.

    Raises
    ------
    Suite2PRunError
        When suite2p raises, or finishes without writing ``F.npy`` (no ROI found).
    """
    import suite2p

    tiff, out = Path(movie_path), Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    db = {
        "data_path": [str(tiff.parent)],
        "file_list": [tiff.name],
        "save_path0": str(out),
        "save_folder": "suite2p",
        "nplanes": 1,
        "nchannels": 1,
    }
    shape_yx = movie_shape(tiff)[1:]
    settings = build_settings(fs_hz, tau_s, diameter_px, registration, shape_yx=shape_yx)
    field = field_settings(shape_yx, diameter_px).describe()
    print(f"suite2p {suite2p.version}: {tiff} -> {out}", flush=True)
    print(field, flush=True)
    try:
        suite2p.run_s2p(db=db, settings=settings)
    except Exception as exc:
        raise Suite2PRunError(
            f"suite2p failed on {tiff} ({field}): {type(exc).__name__}: {exc}. Check that the "
            "movie is frames x Y x X with a few hundred frames or more; try --no-registration "
            "or another --diameter."
        ) from exc
    plane = out / "suite2p" / "plane0"
    if not (plane / "F.npy").is_file():
        raise Suite2PRunError(
            f"suite2p finished on {tiff} but wrote no {plane / 'F.npy'}: it found no ROI. Try "
            "another --diameter (cell size in pixels) or a longer movie."
        )
    print(f"done: {plane}", flush=True)
    return plane


def run(
    tiff: Path, out_dir: Path, fs_hz: float, tau_s: float, diameter_px: float, reg: bool
) -> Path:
    """Deprecated alias of :func:`run_suite2p` (positional ``reg`` = ``registration``).

    Parameters
    ----------
    tiff, out_dir, fs_hz, tau_s, diameter_px
        As in :func:`run_suite2p` (``tiff`` is ``movie_path``).
    reg : bool
        Run motion registration first.

    Returns
    -------
    pathlib.Path
        The ``plane0`` folder.
    """
    warnings.warn(
        "calcium_forge.io.suite2p_run.run is deprecated; use run_suite2p(movie_path, out_dir, "
        "fs_hz, tau_s=..., diameter_px=..., registration=...)",
        DeprecationWarning,
        stacklevel=2,
    )
    return run_suite2p(tiff, out_dir, fs_hz, tau_s, diameter_px, reg)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point (``python -m calcium_forge.io.suite2p_run``).

    Parameters
    ----------
    argv : list of str, optional
        Arguments without the program name (default: ``sys.argv[1:]``):
        ``TIFF OUT_DIR --fs-hz HZ [--tau S] [--diameter PX] [--no-registration]``.

    Returns
    -------
    int
        Exit code: 0 on success, 1 (after a one-line ``suite2p failed: ...``
        message on stderr) when the run raised.
    """
    p = argparse.ArgumentParser(
        prog="python -m calcium_forge.io.suite2p_run",
        description="Run suite2p on one TIFF stack (results in OUT_DIR/suite2p/plane0).",
    )
    p.add_argument("tiff", type=Path, help="TIFF stack (T, Y, X)")
    p.add_argument("out_dir", type=Path, help="output folder (suite2p/plane0 is created in it)")
    p.add_argument("--fs-hz", type=float, required=True, help="frame rate, Hz")
    p.add_argument("--tau", type=float, default=1.0, help="indicator decay time, s")
    p.add_argument("--diameter", type=float, default=0.0, help="cell diameter, px (0 = default)")
    p.add_argument("--no-registration", action="store_true", help="skip motion registration")
    args = p.parse_args(argv)
    try:
        run_suite2p(
            args.tiff,
            args.out_dir,
            args.fs_hz,
            tau_s=args.tau,
            diameter_px=args.diameter,
            registration=not args.no_registration,
        )
    except Exception as exc:
        print(f"suite2p failed: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
