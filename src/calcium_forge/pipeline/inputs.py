"""What the movie-to-spikes pipeline checks before any work: movie, frame rate, output folder."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import InvalidInputError
from ..io import atomic

__all__ = [
    "METHOD_NAMES",
    "MovieInfo",
    "check_pipeline_inputs",
    "check_suite2p_output",
    "movie_info",
]

#: Display names of the inference methods, for progress messages.
METHOD_NAMES = {"ens2": "ENS²", "s2s": "S2S", "cascade": "Cascade", "oasis": "OASIS"}


@dataclass(frozen=True)
class MovieInfo:
    """What the pipeline knows of a movie before running anything.

    Attributes
    ----------
    path : pathlib.Path
        The TIFF file.
    n_frames : int
        Number of frames.
    shape_yx : (int, int)
        Field of view (Ly, Lx), pixels.
    fs_hz : float
        Frame rate, Hz.
    fs_source : str
        Where the rate comes from (``"--fs / fs_hz option"`` or the TIFF metadata).
    """

    path: Path
    n_frames: int
    shape_yx: tuple[int, int]
    fs_hz: float
    fs_source: str

    def describe(self) -> str:
        """``movie.tif (128 x 128 px, 2000 frames at 30 Hz)``."""
        return (
            f"{self.path.name} ({self.shape_yx[0]} x {self.shape_yx[1]} px, "
            f"{self.n_frames} frames at {self.fs_hz:g} Hz)"
        )


def movie_info(movie: str | os.PathLike[str], fs_hz: float | None = None) -> MovieInfo:
    """Shape and frame rate of a TIFF movie, checked before any work starts.

    Parameters
    ----------
    movie : str or os.PathLike
        TIFF stack (T, Y, X).
    fs_hz : float, optional
        Frame rate, Hz; default: the TIFF's metadata.

    Returns
    -------
    MovieInfo

    Raises
    ------
    InvalidInputError
        When the frame rate is unknown (no ``fs_hz``, none in the file) or
        outside 2–1000 Hz (:func:`~calcium_forge.inference.matching.check_frame_rate`);
        the message asks for ``--fs``.
    MissingFileError, FileFormatError
        When ``movie`` is missing or not a TIFF stack.
    """
    from ..inference.matching import check_frame_rate
    from ..io import read_stack

    path = Path(movie)
    stack = read_stack(path, fs_hz=fs_hz)
    if stack.fs_hz is None:
        raise InvalidInputError(
            f"{path}: the TIFF stores no frame rate; give it with --fs HZ (fs_hz=...), "
            "e.g. --fs 30."
        )
    source = "--fs / fs_hz option" if fs_hz is not None else "TIFF metadata"
    try:
        check_frame_rate(float(stack.fs_hz))
    except InvalidInputError:
        raise InvalidInputError(
            f"{path}: frame rate {stack.fs_hz:g} Hz ({source}) is outside 2–1000 Hz, the "
            "range of calcium imaging; give the right rate with --fs HZ (fs_hz=...)."
        ) from None
    n_frames, ly, lx = (int(n) for n in stack.shape)
    return MovieInfo(path, n_frames, (ly, lx), float(stack.fs_hz), source)


def check_suite2p_output(out_dir: str | os.PathLike[str], what: str = "--out") -> Path:
    """Check that ``out_dir`` can take a new Suite2P run (before it starts).

    Parameters
    ----------
    out_dir : str or os.PathLike
        Output folder; Suite2P writes ``out_dir/suite2p/plane0``.
    what : str
        The argument's name in messages.

    Returns
    -------
    pathlib.Path
        ``out_dir``.

    Raises
    ------
    InvalidInputError
        When it is a file, not writable, or already holds a Suite2P output.
    """
    out = atomic.check_output_dir(out_dir, what)
    plane = out / "suite2p" / "plane0"
    if plane.is_dir() and any(plane.iterdir()):
        raise InvalidInputError(
            f"{what} {str(out)!r} already holds a Suite2P output ({plane}); choose another "
            "folder or remove it (Suite2P would mix the two runs)."
        )
    return out


def check_pipeline_inputs(
    movie: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    fs_hz: float | None = None,
    method: str = "ens2",
) -> MovieInfo:
    """Everything :func:`iter_run_pipeline` checks before it starts.

    Parameters
    ----------
    movie, out_dir, fs_hz, method
        As in :func:`iter_run_pipeline`.

    Returns
    -------
    MovieInfo

    Raises
    ------
    CalciumForgeError
        Unknown method, unreadable movie, unknown or implausible frame rate,
        an output folder that cannot take the run, no suite2p installed.
    """
    from ..errors import MissingDependencyError

    if method not in METHOD_NAMES:
        raise InvalidInputError(
            f"method {method!r} is not one of {', '.join(METHOD_NAMES)}; choose one of them."
        )
    info = movie_info(movie, fs_hz)
    check_suite2p_output(out_dir)
    import importlib.util

    if importlib.util.find_spec("suite2p") is None:
        raise MissingDependencyError(
            "running Suite2P needs the suite2p package; install it with "
            "pip install 'calcium-forge[suite2p]'."
        )
    return info
