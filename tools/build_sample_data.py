"""Build ``src/calcium_forge/data/hippocampus_suite2p.npz`` from the shared Suite2P output.

Usage::

    python tools/build_sample_data.py [../shared/data/suite2p_hippocampus/plane0]

Reads F, Fneu, spks, iscell and stat (ROI pixels ypix/xpix/lam/med; through
the restricted unpickler) and writes them, values unchanged (float32 as
published), into one ``np.savez_compressed`` archive inside the package.
Fails if the archive exceeds 5 MB.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from calcium_forge.io.atomic import atomic_path
from calcium_forge.io.safe_pickle import load_npy

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = ROOT.parent / "shared" / "data" / "suite2p_hippocampus" / "plane0"
TARGET = ROOT / "src" / "calcium_forge" / "data" / "hippocampus_suite2p.npz"
MAX_BYTES = 5 * 1024 * 1024


def build(source: Path = DEFAULT_SOURCE, target: Path = TARGET) -> Path:
    """Write the sample archive; return its path."""
    F = np.load(source / "F.npy", allow_pickle=False)
    Fneu = np.load(source / "Fneu.npy", allow_pickle=False)
    spks = np.load(source / "spks.npy", allow_pickle=False)
    iscell = np.load(source / "iscell.npy", allow_pickle=False)
    stat = load_npy(source / "stat.npy")
    for name, arr in (("F", F), ("Fneu", Fneu), ("spks", spks)):
        if arr.dtype != np.float32:
            raise SystemExit(f"{name}.npy is {arr.dtype}, expected float32 (values unchanged)")
    ypix = [np.asarray(s["ypix"]) for s in stat]
    offsets = np.zeros(len(stat) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([y.size for y in ypix])
    arrays = {
        "F": F,
        "Fneu": Fneu,
        "spks": spks,
        "iscell": iscell.astype(np.float64),
        "ypix": np.concatenate(ypix).astype(np.int32),
        "xpix": np.concatenate([np.asarray(s["xpix"]) for s in stat]).astype(np.int32),
        "lam": np.concatenate([np.asarray(s["lam"], dtype=np.float32) for s in stat]),
        "pix_offsets": offsets,
        "med": np.array([np.asarray(s["med"], dtype=np.float64) for s in stat]),
        "fs_hz": np.float64(30.0),
    }
    with atomic_path(target) as tmp:
        np.savez_compressed(tmp, **arrays)
    size = target.stat().st_size
    print(f"wrote {target} ({size / 1e6:.2f} MB)")
    if size > MAX_BYTES:
        target.unlink()
        raise SystemExit(f"sample data is {size} bytes > 5 MB limit; removed")
    return target


if __name__ == "__main__":
    build(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_SOURCE)
