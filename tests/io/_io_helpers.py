"""Helpers for the io tests: small Suite2P folders and Cascade files written on the fly."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def make_stat(n_rois: int, shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Suite2P-like stat: square ROIs with random lam, at distinct positions."""
    stat = []
    for i in range(n_rois):
        y0 = 2 + (i * 7) % (shape[0] - 8)
        x0 = 2 + (i * 11) % (shape[1] - 8)
        yy, xx = np.mgrid[y0 : y0 + 5, x0 : x0 + 5]
        stat.append(
            {
                "ypix": yy.ravel().astype(np.int64),
                "xpix": xx.ravel().astype(np.int64),
                "lam": rng.uniform(0.1, 1.0, 25).astype(np.float32),
                "med": [y0 + 2, x0 + 2],
                "npix": 25,
                "radius": np.float64(2.5),
            }
        )
    return np.array(stat, dtype=object)


def write_plane(
    folder: Path,
    rng: np.random.Generator,
    n_rois: int = 4,
    n_frames: int = 300,
    shape: tuple[int, int] = (40, 50),
    ops: dict | None = None,
    settings_style: bool = False,
) -> Path:
    """Write a minimal but complete Suite2P plane folder; return it."""
    folder.mkdir(parents=True, exist_ok=True)
    F = (200 + 20 * rng.standard_normal((n_rois, n_frames))).astype(np.float32)
    np.save(folder / "F.npy", F)
    np.save(folder / "Fneu.npy", (0.5 * F + 5).astype(np.float32))
    np.save(folder / "spks.npy", np.abs(rng.standard_normal((n_rois, n_frames))).astype(np.float32))
    iscell = np.stack([np.arange(n_rois) % 2 == 0, rng.uniform(size=n_rois)], axis=1)
    np.save(folder / "iscell.npy", iscell.astype(np.float64))
    np.save(folder / "stat.npy", make_stat(n_rois, shape, rng), allow_pickle=True)
    if ops is not None:
        if settings_style:
            settings = {"fs": ops["fs"], "tau": 1.0, "io": {"save_mat": False}}
            db = {"Ly": shape[0], "Lx": shape[1], "nframes": n_frames, "save_path": str(folder)}
            reg = {"meanImg": rng.uniform(size=shape).astype(np.float32)}
            np.save(folder / "settings.npy", np.array(settings, dtype=object), allow_pickle=True)
            np.save(folder / "db.npy", np.array(db, dtype=object), allow_pickle=True)
            np.save(folder / "reg_outputs.npy", np.array(reg, dtype=object), allow_pickle=True)
        else:
            full = {"Ly": shape[0], "Lx": shape[1], "meanImg": rng.uniform(size=shape), **ops}
            np.save(folder / "ops.npy", np.array(full, dtype=object), allow_pickle=True)
    return folder


def write_cascade_mat(path: Path, structs: list[dict]) -> Path:
    """Write a CAttached struct (array) like the Cascade ground-truth files."""
    import scipy.io

    if len(structs) == 1:
        value = structs[0]
    else:
        value = np.empty((1, len(structs)), dtype=object)
        for i, s in enumerate(structs):
            value[0, i] = s
    scipy.io.savemat(path, {"CAttached": value})
    return path
