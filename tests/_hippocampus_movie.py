"""A two-photon test movie built from a real Suite2P recording (no real raw movie ships).

No installed or PyPI package we can use ships a raw two-photon movie, so the
movie that the Suite2P runner, ``calcium-forge suite2p`` and ``calcium-forge
run`` are tested on is rebuilt from the real Suite2P output of a mouse
hippocampus recording bundled with the package
(:func:`calcium_forge.datasets.load_hippocampus`, the same arrays as
``shared/data/suite2p_hippocampus``):

- the 20 real ROI footprints (from ``stat.npy``), cut out of the 466 x 469
  field of view and laid on a 5 x 4 grid in a small field of view (128 x 128
  by default) with their shapes unchanged;
- each ROI's real fluorescence F over ``n_frames`` frames at 30 Hz, as
  F / median(F) - 1, rendered by :func:`calcium_forge.synthesis.make_synthetic_stack`
  with a neuropil haze, background, Poisson shot noise and read noise;
- a small rigid motion: a smooth random walk of up to ``max_shift_px`` pixels,
  each frame shifted with sub-pixel interpolation.

What is real: footprints and activity. What is not: the placement, the
neuropil, the noise and the motion.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import ndimage

FS_HZ = 30.0


@dataclass
class HippocampusMovie:
    """A written test movie: its TIFF, frame rate (Hz), ground-truth labels and shifts (px)."""

    path: Path
    fs_hz: float
    labels: np.ndarray
    shifts_yx: np.ndarray


def grid_labels(labels: np.ndarray, shape: tuple[int, int], cols: int = 5) -> np.ndarray:
    """Every ROI of ``labels`` cut out and centred in one cell of a grid over ``shape``."""
    n = int(labels.max())
    rows = -(-n // cols)
    out = np.zeros(shape, np.int32)
    cy, cx = shape[0] / rows, shape[1] / cols
    for i, sl in enumerate(ndimage.find_objects(labels)):
        mask = labels[sl] == i + 1
        r, c = divmod(i, cols)
        y0 = round(cy * (r + 0.5) - mask.shape[0] / 2)
        x0 = round(cx * (c + 0.5) - mask.shape[1] / 2)
        out[y0 : y0 + mask.shape[0], x0 : x0 + mask.shape[1]][mask] = i + 1
    return out


def rigid_walk(n_frames: int, max_shift_px: float, seed: int) -> np.ndarray:
    """(n_frames, 2) smooth random-walk shifts (y, x) in pixels, within ``max_shift_px``."""
    rng = np.random.default_rng(seed)
    steps = ndimage.gaussian_filter1d(rng.standard_normal((n_frames, 2)), 5.0, axis=0)
    walk = np.cumsum(steps, axis=0)
    walk -= walk.mean(axis=0)
    return (max_shift_px * walk / max(np.abs(walk).max(), 1e-9)).astype(np.float32)


def write_hippocampus_movie(
    path: Path,
    n_frames: int = 1000,
    shape: tuple[int, int] = (128, 128),
    max_shift_px: float = 2.0,
    start_frame: int = 0,
    seed: int = 0,
) -> HippocampusMovie:
    """Write the test movie (int16 TIFF, no frame rate stored) and return what it holds."""
    import tifffile

    from calcium_forge.datasets import load_hippocampus
    from calcium_forge.synthesis.movie import make_synthetic_stack

    rec = load_hippocampus()
    labels = grid_labels(rec.labels, shape)
    f = rec.traces[:, start_frame : start_frame + n_frames].astype(np.float64)
    dff = f / np.median(f, axis=1, keepdims=True) - 1.0
    stack = make_synthetic_stack(
        traces=dff.astype(np.float32), labels=labels, fs_hz=FS_HZ, seed=seed
    )
    shifts = rigid_walk(n_frames, max_shift_px, seed)
    movie = np.empty((n_frames, *shape), np.int16)
    for t in range(n_frames):
        frame = ndimage.shift(stack.movie[t], shifts[t], order=1, mode="nearest")
        movie[t] = np.clip(np.rint(frame), -32768, 32767)
    tifffile.imwrite(path, movie, photometric="minisblack")
    return HippocampusMovie(Path(path), FS_HZ, labels, shifts)
