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
from pathlib import Path
from typing import Any

__all__ = ["build_settings", "main", "run_suite2p"]


def build_settings(
    fs_hz: float, tau_s: float, diameter_px: float, do_registration: bool
) -> dict[str, Any]:
    """suite2p ``settings`` for a CPU run (nested dict of suite2p 1.x).

    Parameters
    ----------
    fs_hz : float
        Frame rate of the movie, Hz (suite2p ``fs``).
    tau_s : float
        Decay time of the calcium indicator, s (suite2p ``tau``).
    diameter_px : float
        Expected cell diameter, pixels; 0 or less keeps suite2p's default.
    do_registration : bool
        Run motion registration first.

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
    if diameter_px > 0:
        settings["diameter"] = [float(diameter_px), float(diameter_px)]
    settings["run"]["do_registration"] = int(bool(do_registration))
    return settings


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
        Expected cell diameter, pixels (default 0: suite2p's default).
    registration : bool
        Run motion registration first (default True).

    Returns
    -------
    pathlib.Path
        The ``plane0`` folder, readable with :func:`calcium_forge.io.read`.

    Raises
    ------
    RuntimeError
        When suite2p finishes without writing ``F.npy`` (no ROI found).
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
    print(f"suite2p {suite2p.version}: {tiff} -> {out}", flush=True)
    suite2p.run_s2p(db=db, settings=build_settings(fs_hz, tau_s, diameter_px, registration))
    plane = out / "suite2p" / "plane0"
    if not (plane / "F.npy").is_file():
        raise RuntimeError(f"suite2p finished but wrote no {plane / 'F.npy'} (no ROI found?)")
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
