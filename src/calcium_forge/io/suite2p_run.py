"""Run suite2p on one TIFF stack in its own process.

suite2p imports opencv, which segfaults next to a Qt viewer, so the
**Run Suite2P** widget starts this module with ``python -m`` and reads the
output folder when it exits::

    python -m calcium_forge.io.suite2p_run movie.tif OUT --fs-hz 30 --tau 1.0

It prints one line per pipeline stage; the exit code is 0 on success, 1 with
a one-line message on stderr otherwise. Results land in ``OUT/suite2p/plane0``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def build_settings(fs_hz: float, tau_s: float, diameter_px: float, do_registration: bool) -> dict:
    """suite2p ``settings`` for a CPU run (nested dict of suite2p 1.x)."""
    import suite2p

    settings = suite2p.default_settings()
    settings["torch_device"] = "cpu"
    settings["fs"] = float(fs_hz)
    settings["tau"] = float(tau_s)
    if diameter_px > 0:
        settings["diameter"] = [float(diameter_px), float(diameter_px)]
    settings["run"]["do_registration"] = int(bool(do_registration))
    return settings


def run(
    tiff: Path, out_dir: Path, fs_hz: float, tau_s: float, diameter_px: float, reg: bool
) -> Path:
    """Run the suite2p pipeline on ``tiff``; return the ``plane0`` folder."""
    import suite2p

    out_dir.mkdir(parents=True, exist_ok=True)
    db = {
        "data_path": [str(tiff.parent)],
        "file_list": [tiff.name],
        "save_path0": str(out_dir),
        "save_folder": "suite2p",
        "nplanes": 1,
        "nchannels": 1,
    }
    print(f"suite2p {suite2p.version}: {tiff} -> {out_dir}", flush=True)
    suite2p.run_s2p(db=db, settings=build_settings(fs_hz, tau_s, diameter_px, reg))
    plane = out_dir / "suite2p" / "plane0"
    if not (plane / "F.npy").is_file():
        raise RuntimeError(f"suite2p finished but wrote no {plane / 'F.npy'} (no ROI found?)")
    print(f"done: {plane}", flush=True)
    return plane


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit code."""
    p = argparse.ArgumentParser(prog="python -m calcium_forge.io.suite2p_run")
    p.add_argument("tiff", type=Path, help="TIFF stack (T, Y, X)")
    p.add_argument("out_dir", type=Path, help="output folder (suite2p/plane0 is created in it)")
    p.add_argument("--fs-hz", type=float, required=True, help="frame rate, Hz")
    p.add_argument("--tau", type=float, default=1.0, help="indicator decay time, s")
    p.add_argument("--diameter", type=float, default=0.0, help="cell diameter, px (0 = default)")
    p.add_argument("--no-registration", action="store_true", help="skip motion registration")
    args = p.parse_args(argv)
    try:
        run(args.tiff, args.out_dir, args.fs_hz, args.tau, args.diameter, not args.no_registration)
    except Exception as exc:
        print(f"suite2p failed: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
