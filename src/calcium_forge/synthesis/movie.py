"""Synthetic two-photon movies (T, Y, X) from ROI footprints and traces.

Expected photons per pixel and frame::

    lam(t, x) = background(x) + neuropil(x) * (1 + eta(t))
                + sum_i w_i(x) * F0_i * max(1 + dff_i(t), 0)

``background`` is a smooth vignetted image, ``neuropil`` a blurred haze whose
time course ``eta(t)`` follows the population's mean activity (scaled by
``neuropil_coupling``) plus a slow drift, ``w_i`` a soft soma profile (1 at the
centre, 0.6 at the rim) inside ROI i, and ``F0_i`` the cell's resting
brightness. The recorded value is ``gain * Poisson(lam) + N(0, read_noise^2)``
(Poisson–Gaussian noise). Frames are generated on demand from a per-frame seed
(:class:`SyntheticMovie` is a lazy array), so a long movie never has to fit in
memory and any frame is reproducible.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import ndimage

from ..errors import InvalidInputError
from ..progress import Progress, ProgressGen, drain
from ..recording import Recording

__all__ = [
    "MovieParams",
    "SyntheticMovie",
    "SyntheticStack",
    "iter_render_movie",
    "make_synthetic_stack",
    "random_somata",
    "render_movie",
]


@dataclass
class MovieParams:
    """Imaging parameters of the renderer (photon units unless stated).

    Parameters
    ----------
    cell_brightness : float
        Mean resting photons per soma pixel per frame (F0, varied ±30 % per cell).
    background : float
        Mean background photons per pixel per frame.
    neuropil : float
        Mean neuropil haze photons per pixel per frame.
    neuropil_coupling : float
        How strongly the haze follows the population's mean dF/F.
    neuropil_sigma_px : float
        Spatial blur of the haze (pixels).
    gain : float
        Detector gain (output units per photon).
    read_noise : float
        Gaussian read-noise standard deviation (output units).
    offset : float
        Constant detector offset (output units).
    """

    cell_brightness: float = 40.0
    background: float = 10.0
    neuropil: float = 15.0
    neuropil_coupling: float = 0.5
    neuropil_sigma_px: float = 6.0
    gain: float = 1.0
    read_noise: float = 2.0
    offset: float = 100.0


def random_somata(
    shape: tuple[int, int],
    n_cells: int,
    radius_px: tuple[float, float] = (4.0, 7.0),
    seed: int | None = 0,
    max_tries: int = 2000,
) -> np.ndarray:
    """A label image of non-overlapping elliptical somata.

    Parameters
    ----------
    shape : (int, int)
        Image size (Y, X) in pixels.
    n_cells : int
        Number of cells wanted (fewer if they do not fit).
    radius_px : (float, float)
        Range of soma radii in pixels.
    seed : int or None
        Random seed.
    max_tries : int
        Placement attempts.

    Returns
    -------
    numpy.ndarray
        int32 (Y, X); 0 = background, i + 1 = cell i.
    """
    rng = np.random.default_rng(seed)
    ny, nx = shape
    labels = np.zeros(shape, np.int32)
    yy, xx = np.mgrid[0:ny, 0:nx]
    k = 0
    for _ in range(max_tries):
        if k >= n_cells:
            break
        r = rng.uniform(*radius_px)
        cy, cx = rng.uniform(r + 1, ny - r - 1), rng.uniform(r + 1, nx - r - 1)
        ecc = rng.uniform(0.75, 1.0)
        ang = rng.uniform(0, np.pi)
        dy, dx = yy - cy, xx - cx
        u = dx * np.cos(ang) + dy * np.sin(ang)
        v = -dx * np.sin(ang) + dy * np.cos(ang)
        mask = (u / r) ** 2 + (v / (r * ecc)) ** 2 <= 1.0
        grown = ndimage.binary_dilation(mask, iterations=2)
        if mask.sum() < 5 or (labels[grown] > 0).any():
            continue
        k += 1
        labels[mask] = k
    return labels


def _footprints(labels: np.ndarray) -> np.ndarray:
    """Soft weights in (0, 1] inside each ROI: 1 at the centre, 0.6 at the rim."""
    w = np.zeros(labels.shape, np.float32)
    for idx, sl in enumerate(ndimage.find_objects(labels), start=1):
        if sl is None:
            continue
        m = labels[sl] == idx
        d = ndimage.distance_transform_edt(m)
        dmax = max(float(d.max()), 1.0)
        w[sl][m] = (0.6 + 0.4 * d[m] / dmax).astype(np.float32)
    return w


class SyntheticMovie:
    """A lazily rendered (T, Y, X) float32 movie (numpy-like indexing).

    Only the frames asked for are computed; ``np.asarray(movie)`` renders all.
    """

    def __init__(
        self,
        labels: np.ndarray,
        traces: np.ndarray,
        params: MovieParams | None = None,
        seed: int | None = 0,
    ) -> None:
        labels = np.asarray(labels)
        traces = np.asarray(traces, np.float32)
        if labels.ndim != 2:
            raise InvalidInputError(f"labels must be a 2-D (Y, X) image; got {labels.shape}.")
        if traces.ndim != 2:
            raise InvalidInputError(f"traces must be (n_rois, n_frames); got {traces.shape}.")
        n_rois = int(labels.max())
        if n_rois > traces.shape[0]:
            raise InvalidInputError(
                f"labels reference {n_rois} ROIs but traces have {traces.shape[0]} rows; give "
                "one trace per label value 1..max."
            )
        self.labels = labels.astype(np.int32)
        self.traces = np.nan_to_num(traces, nan=0.0)
        self.params = params or MovieParams()
        self.seed = 0 if seed is None else int(seed)
        p = self.params
        rng = np.random.default_rng([self.seed, 2**31])
        ny, nx = labels.shape
        yy, xx = np.mgrid[0:ny, 0:nx]
        r2 = ((yy - ny / 2) / ny) ** 2 + ((xx - nx / 2) / nx) ** 2
        vignette = 1.0 - 0.8 * r2
        texture = ndimage.gaussian_filter(rng.standard_normal(labels.shape), 3.0)
        texture = 1 + 0.3 * texture / (texture.std() + 1e-12)
        self.background = (p.background * vignette * texture).clip(0).astype(np.float32)
        haze = ndimage.gaussian_filter(rng.standard_normal(labels.shape), p.neuropil_sigma_px)
        haze = 1 + 0.5 * haze / (haze.std() + 1e-12)
        self.neuropil_image = (p.neuropil * vignette * haze).clip(0).astype(np.float32)
        self.weights = _footprints(self.labels)
        self.f0 = (p.cell_brightness * rng.uniform(0.7, 1.3, traces.shape[0])).astype(np.float32)
        n_t = traces.shape[1]
        drift = ndimage.gaussian_filter1d(rng.standard_normal(n_t), max(n_t / 20, 1.0))
        drift = 0.05 * drift / (np.abs(drift).max() + 1e-12)
        pop = self.traces[:n_rois].mean(0) if n_rois else np.zeros(n_t, np.float32)
        self.eta = (p.neuropil_coupling * pop + drift).astype(np.float32)
        self._lbl_flat = self.labels.ravel()

    shape = property(lambda self: (self.traces.shape[1], *self.labels.shape))
    dtype = np.dtype(np.float32)
    ndim = 3

    def __len__(self) -> int:
        return self.shape[0]

    @property
    def size(self) -> int:
        """Number of elements."""
        return int(np.prod(self.shape))

    def expected_frame(self, t: int) -> np.ndarray:
        """Noise-free expected photons of frame ``t`` (Y, X)."""
        gain_cell = np.concatenate([[0.0], self.f0 * np.maximum(1.0 + self.traces[:, t], 0.0)])
        cells = gain_cell[self._lbl_flat].reshape(self.labels.shape) * self.weights
        return self.background + self.neuropil_image * (1.0 + self.eta[t]) + cells

    def frame(self, t: int) -> np.ndarray:
        """Rendered frame ``t`` with Poisson–Gaussian noise (float32 (Y, X))."""
        n = self.shape[0]
        if not -n <= t < n:
            raise IndexError(f"frame {t} out of range for a movie of {n} frames")
        t = t % n
        p = self.params
        rng = np.random.default_rng([self.seed, t])
        lam = np.maximum(self.expected_frame(t), 0.0)
        out = p.offset + p.gain * rng.poisson(lam) + p.read_noise * rng.standard_normal(lam.shape)
        return out.astype(np.float32)

    def __getitem__(self, key: Any) -> np.ndarray:
        if not isinstance(key, tuple):
            key = (key,)
        tkey, rest = key[0], key[1:]
        if tkey is Ellipsis:
            tkey, rest = slice(None), key
        if isinstance(tkey, (int, np.integer)):
            return self.frame(int(tkey))[rest] if rest else self.frame(int(tkey))
        frames = np.arange(self.shape[0])[tkey]
        stack = np.stack([self.frame(int(t)) for t in np.atleast_1d(frames)])
        return stack[(slice(None), *rest)] if rest else stack

    def __array__(self, dtype=None, copy=None):
        arr = self[:]
        return arr.astype(dtype) if dtype is not None else arr

    def __repr__(self) -> str:
        return f"SyntheticMovie(shape={self.shape}, seed={self.seed})"


def iter_render_movie(
    labels: np.ndarray,
    traces: np.ndarray,
    params: MovieParams | None = None,
    seed: int | None = 0,
    chunk_frames: int = 100,
) -> ProgressGen[np.ndarray]:
    """Render the full movie chunk by chunk, yielding progress (see :func:`render_movie`)."""
    movie = SyntheticMovie(labels, traces, params, seed)
    n = movie.shape[0]
    out = np.empty(movie.shape, np.float32)
    for start in range(0, n, chunk_frames):
        stop = min(n, start + chunk_frames)
        out[start:stop] = movie[start:stop]
        yield Progress(stop, n, "rendering frames")
    return out


def render_movie(
    labels: np.ndarray,
    traces: np.ndarray,
    params: MovieParams | None = None,
    seed: int | None = 0,
    lazy: bool = False,
    progress_bar: bool = False,
) -> np.ndarray | SyntheticMovie:
    """Render a two-photon-like movie from ROI labels and traces.

    Parameters
    ----------
    labels : numpy.ndarray
        int (Y, X) label image; 0 = background, i + 1 = ROI i.
    traces : numpy.ndarray
        (n_rois, T) dF/F traces (fractions), e.g. ``Recording.traces`` of real or
        synthetic data.
    params : MovieParams, optional
        Brightness and noise parameters.
    seed : int or None
        Seed of the background and the per-frame noise.
    lazy : bool
        Return a :class:`SyntheticMovie` that renders frames on demand
        (memory-bounded) instead of a full array.
    progress_bar : bool
        Show a progress bar while rendering a full array.

    Returns
    -------
    numpy.ndarray or SyntheticMovie
        float32 (T, Y, X).
    """
    if lazy:
        return SyntheticMovie(labels, traces, params, seed)
    return drain(
        iter_render_movie(labels, traces, params, seed),
        progress_bar=progress_bar,
        desc="synthetic movie",
    )


@dataclass
class SyntheticStack:
    """A synthetic movie with its ground truth.

    Parameters
    ----------
    movie : numpy.ndarray or SyntheticMovie
        (T, Y, X) float32 frames.
    labels : numpy.ndarray
        int32 (Y, X) ground-truth ROIs.
    recording : Recording
        Ground-truth noise-free dF/F traces, ``spike_times`` (s), labels and the
        expected mean image.
    meta : dict
        Generator settings.
    """

    movie: Any
    labels: np.ndarray
    recording: Recording
    meta: dict = field(default_factory=dict)

    @property
    def spike_times(self) -> list[np.ndarray]:
        """Ground-truth spike times per ROI (s)."""
        return self.recording.spike_times or []


def make_synthetic_stack(
    shape: tuple[int, int] = (128, 128),
    n_cells: int = 20,
    n_frames: int = 600,
    fs_hz: float = 30.0,
    *,
    traces: Recording | np.ndarray | None = None,
    labels: np.ndarray | None = None,
    params: MovieParams | None = None,
    rates_hz: tuple[float, float] = (0.2, 2.0),
    seed: int | None = 0,
    lazy: bool = False,
) -> SyntheticStack:
    """A synthetic two-photon stack with ground-truth ROIs and spikes.

    By default, random somata get correlated DG spike trains rendered as
    GCaMP-like dF/F (AR(2): rise 50 ms, decay 0.7 s, 0.3 dF/F per spike, mild
    saturation); pass ``traces`` (a Recording, e.g. CalciumGAN samples, or an
    (n, T) array) and/or ``labels`` to use your own.

    Parameters
    ----------
    shape : (int, int)
        Image size (Y, X) in pixels.
    n_cells : int
        Number of somata (when ``labels`` is None).
    n_frames : int
        Frames (when ``traces`` is None).
    fs_hz : float
        Frame rate in Hz.
    traces : Recording or numpy.ndarray, optional
        dF/F traces to render (rows beyond the number of ROIs are ignored).
    labels : numpy.ndarray, optional
        ROI label image (default: random somata).
    params : MovieParams, optional
        Brightness and noise.
    rates_hz : (float, float)
        Firing-rate range of the default DG spikes.
    seed : int or None
        Random seed.
    lazy : bool
        Return the movie as a lazy :class:`SyntheticMovie`.

    Returns
    -------
    SyntheticStack
    """
    s_lab, s_dg, s_mov = (
        int(x.generate_state(1)[0]) for x in np.random.SeedSequence(seed).spawn(3)
    )
    labels = _stack_labels(labels, shape, n_cells, s_lab)
    n_rois = int(labels.max())
    tr, fs_hz, spike_times = _stack_traces(traces, n_rois, n_frames, fs_hz, rates_hz, s_dg)
    params = params or MovieParams()
    movie = render_movie(labels, tr, params, seed=s_mov, lazy=True)
    rec = Recording(
        traces=tr,
        fs_hz=fs_hz,
        kind="dff",
        labels=labels,
        mean_image=_expected_mean_image(movie, labels, params),
        spike_times=spike_times,
        meta={"name": "synthetic_stack", "seed": seed},
    )
    return SyntheticStack(
        movie=movie if lazy else np.asarray(movie),
        labels=labels,
        recording=rec,
        meta={"params": params.__dict__.copy(), "seed": seed, "fs_hz": fs_hz},
    )


def _stack_labels(
    labels: np.ndarray | None, shape: tuple[int, int], n_cells: int, seed: int
) -> np.ndarray:
    """The ROI label image: ``labels`` (int32), or ``n_cells`` random somata."""
    if labels is None:
        _check_room(shape, n_cells)
        labels = random_somata(shape, n_cells, seed=seed)
        placed = int(labels.max())
        if placed < n_cells:
            import warnings

            from ..errors import SuspectInputWarning

            warnings.warn(
                f"make_synthetic_stack: only {placed} of n_cells={n_cells} somata fit without "
                f"overlap in {shape[0]} x {shape[1]} pixels; the movie has {placed} ROIs. Ask "
                "for fewer cells or a larger image.",
                SuspectInputWarning,
                stacklevel=3,
            )
    labels = np.asarray(labels, np.int32)
    if int(labels.max()) == 0:
        raise InvalidInputError("make_synthetic_stack: the label image has no ROI.")
    return labels


#: Pixels one soma needs: a disc of the largest radius (7 px) plus its 2-px margin.
_SOMA_AREA_PX = np.pi * 9.0**2
#: Smallest image side that holds one soma of the largest radius (7 px) inside a 1-px border.
_MIN_SIDE_PX = 17


def _check_room(shape: Any, n_cells: Any) -> None:
    """Refuse image sizes and cell counts random somata cannot satisfy."""
    try:
        ny, nx = (int(v) for v in shape)
        n = int(n_cells)
    except (TypeError, ValueError):
        raise InvalidInputError(
            f"make_synthetic_stack: shape={shape!r} must be two pixel counts (Y, X) and "
            f"n_cells={n_cells!r} a whole number."
        ) from None
    if min(ny, nx) < _MIN_SIDE_PX or n < 1:
        raise InvalidInputError(
            f"make_synthetic_stack: shape=({ny}, {nx}), n_cells={n}: the image must be at least "
            f"{_MIN_SIDE_PX} x {_MIN_SIDE_PX} pixels (one soma of radius 7 px) and n_cells >= 1."
        )
    capacity = int(ny * nx / _SOMA_AREA_PX)
    if n > max(capacity, 1):
        raise InvalidInputError(
            f"make_synthetic_stack: n_cells={n} somata cannot fit in {ny} x {nx} pixels (room for "
            f"about {max(capacity, 1)}: each needs ~{_SOMA_AREA_PX:.0f} px). Ask for at most "
            f"{max(capacity, 1)} cells or a larger image."
        )


def _stack_traces(
    traces: Recording | np.ndarray | None,
    n_rois: int,
    n_frames: int,
    fs_hz: float,
    rates_hz: tuple[float, float],
    seed: int,
) -> tuple[np.ndarray, float, list[np.ndarray] | None]:
    """(traces, frame rate in Hz, spike times in s or None) for the first ``n_rois`` ROIs.

    Without ``traces``: correlated DG spike trains rendered as GCaMP-like dF/F
    (AR(2): rise 50 ms, decay 0.7 s, 0.3 dF/F per spike, mild saturation).
    """
    from .calcium import CalciumModel, make_dg_dataset

    spike_times = None
    if traces is None:
        model = CalciumModel(
            decay_s=0.7, rise_s=0.05, amplitude=0.3, noise_sigma=0.0, saturation_kd=3.0, hill_n=1.0
        )
        rec = make_dg_dataset(
            n_rois, n_frames / fs_hz, fs_hz, calcium=model, rates_hz=rates_hz, seed=seed
        )
        tr, spike_times = rec.traces, rec.spike_times
    elif isinstance(traces, Recording):
        tr, fs_hz, spike_times = traces.traces, traces.fs_hz, traces.spike_times
    else:
        tr = np.asarray(traces, np.float32)
    if tr.shape[0] < n_rois:
        raise InvalidInputError(
            f"make_synthetic_stack: {tr.shape[0]} traces for {n_rois} ROIs; give at least one "
            "trace per ROI."
        )
    if spike_times is not None:
        spike_times = spike_times[:n_rois]
    return tr[:n_rois], fs_hz, spike_times


def _expected_mean_image(movie: SyntheticMovie, labels: np.ndarray, params: MovieParams):
    """The noise-free resting image (background + neuropil + cells at F0), float32 output units."""
    mean_image = (
        movie.background
        + movie.neuropil_image
        + np.concatenate([[0.0], movie.f0])[labels] * movie.weights
    ) * params.gain + params.offset
    return mean_image.astype(np.float32)
