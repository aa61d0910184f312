"""From a two-photon movie to spikes in one call: Suite2P, dF/F, spike inference, figures.

>>> from calcium_forge.pipeline import run_pipeline
>>> res = run_pipeline("movie.tif", "out", fs_hz=30.0)       # doctest: +SKIP
>>> print(res.summary())                                       # doctest: +SKIP

:func:`iter_run_pipeline` is the generator form: it yields a
:class:`~calcium_forge.progress.Progress` naming each stage ("Suite2P on
movie.tif (128 x 128 px, 2000 frames)", "dF/F on 62 cells", "ENS² on 62
ROIs"...) and returns a :class:`PipelineResult`. Everything it will write is
checked before any work starts (:func:`check_pipeline_inputs`). The output
folder holds ``suite2p/plane0`` (Suite2P's own files), ``dff.npz``,
``spikes.npz`` (a :class:`~calcium_forge.results.SpikeInference`), the figures
``rois.png``, ``raster.png`` and ``traces.png``, and ``summary.md`` /
``summary.json``. The command line runs it as ``calcium-forge run``.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Generator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..io import atomic
from ..progress import Progress, drain
from ..recording import Recording
from ..results import SpikeInference
from .inputs import METHOD_NAMES, MovieInfo, check_pipeline_inputs, check_suite2p_output, movie_info

__all__ = [
    "METHOD_NAMES",
    "MovieInfo",
    "PipelineResult",
    "check_pipeline_inputs",
    "check_suite2p_output",
    "iter_run_pipeline",
    "movie_info",
    "run_pipeline",
]

#: Stages of :func:`iter_run_pipeline`.
N_STAGES = 5


@dataclass
class PipelineResult:
    """What :func:`run_pipeline` produced.

    Attributes
    ----------
    out_dir : pathlib.Path
        Output folder.
    plane : pathlib.Path
        Suite2P's ``plane0`` folder.
    movie : MovieInfo
        The input movie.
    n_rois : int
        ROIs Suite2P found.
    n_cells : int
        Of them, ROIs its classifier marks as cells (``iscell``).
    n_analysed : int
        ROIs taken through dF/F and spike inference (the cells by default).
    raw_baseline_rois : list of int
        Analysed ROIs whose dF/F :func:`~calcium_forge.signal.to_dff` took
        relative to the raw F's baseline (their neuropil-corrected baseline is
        not positive), as rows of ``dff.npz``.
    method : str
        Spike-inference method.
    n_events : int
        Spike events inferred over all analysed ROIs.
    events_per_s : float
        Mean event rate per analysed ROI, events/s.
    timings_s : dict
        Wall time per stage, s.
    files : list of pathlib.Path
        Every file written by calcium-forge (Suite2P's own files are in ``plane``).
    """

    out_dir: Path
    plane: Path
    movie: MovieInfo
    n_rois: int = 0
    n_cells: int = 0
    n_analysed: int = 0
    raw_baseline_rois: list[int] = field(default_factory=list)
    method: str = "ens2"
    n_events: int = 0
    events_per_s: float = 0.0
    timings_s: dict[str, float] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)

    def summary(self) -> str:
        """A few lines for the terminal: ROIs, cells, events/s and the time of each stage."""
        name = METHOD_NAMES.get(self.method, self.method)
        lines = [
            f"{self.movie.describe()} -> {self.out_dir}",
            f"  Suite2P: {self.n_rois} ROIs, {self.n_cells} cells (iscell); "
            f"{self.n_analysed} analysed",
            f"  {name}: {self.n_events} events, {self.events_per_s:.3f} events/s per ROI",
            "  time: "
            + ", ".join(f"{k} {v:.1f} s" for k, v in self.timings_s.items())
            + f" (total {sum(self.timings_s.values()):.1f} s)",
        ]
        if self.raw_baseline_rois:
            lines.insert(
                2,
                f"  dF/F: ROI(s) {self.raw_baseline_rois} relative to the raw F's baseline "
                "(their neuropil-corrected baseline is not positive)",
            )
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (paths as strings)."""
        d = asdict(self)
        d["out_dir"], d["plane"] = str(self.out_dir), str(self.plane)
        d["movie"] = {**asdict(self.movie), "path": str(self.movie.path)}
        d["files"] = [str(p) for p in self.files]
        return d


def _suite2p_counts(plane: Path) -> tuple[int, int]:
    """(ROIs, cells) Suite2P found in ``plane`` (from ``iscell.npy``, else ``F.npy``)."""
    from ..io.safe_pickle import load_npy

    ic = plane / "iscell.npy"
    if ic.is_file():
        iscell = np.asarray(load_npy(ic))
        col = iscell[:, 0] if iscell.ndim == 2 else iscell
        return int(col.size), int(np.count_nonzero(col))
    n = int(np.load(plane / "F.npy", mmap_mode="r").shape[0])
    return n, n


@dataclass
class _Run:
    """What the stages share: the result being filled and a stopwatch."""

    result: PipelineResult
    clock: float = field(default_factory=time.perf_counter)

    def lap(self, name: str) -> None:
        """Record the wall time (s) since the previous lap as stage ``name``."""
        now = time.perf_counter()
        self.result.timings_s[name] = round(now - self.clock, 2)
        self.clock = now

    def add(self, path: Path) -> Path:
        """Record a written file; return it."""
        self.result.files.append(path)
        return path


def _stage_dff(run: _Run, rois: str | None) -> Recording:
    """Suite2P's plane -> dF/F of the selected ROIs (the reader's default: the cells)."""
    from ..io import read, write
    from ..signal import to_dff

    res = run.result
    options = {} if rois is None else {"rois": rois}
    raw = read(res.plane, fs_hz=res.movie.fs_hz, **options)
    dff = to_dff(raw)
    res.n_analysed = dff.n_rois
    res.raw_baseline_rois = [int(i) for i in dff.meta.get("dff", {}).get("raw_baseline_rois", [])]
    run.add(write(dff, res.out_dir / "dff.npz"))
    return dff


def _stage_inference(
    run: _Run, dff: Recording, options: dict[str, Any]
) -> Generator[Progress, None, SpikeInference]:
    """dF/F -> spikes, forwarding the inference's progress under this stage's name."""
    from ..inference import iter_infer_spikes
    from ..io import write

    res = run.result
    label = f"{METHOD_NAMES[res.method]} on {dff.n_rois} ROIs"
    gen = iter_infer_spikes(dff, method=res.method, **options)
    while True:
        try:
            p = next(gen)
        except StopIteration as stop:
            spikes: SpikeInference = stop.value
            break
        yield Progress(2, N_STAGES, f"{label}: {p.message}" if p.message else label)
    run.add(write(spikes, res.out_dir / "spikes.npz"))
    n_ev = sum(e.size for e in spikes.events or [])
    res.n_events = int(n_ev)
    duration_s = dff.n_frames / dff.fs_hz
    res.events_per_s = float(n_ev / max(dff.n_rois * duration_s, 1e-12))
    return spikes


def _stage_figures(run: _Run, dff: Recording, spikes: SpikeInference) -> None:
    """``rois.png``, ``raster.png`` and ``traces.png``."""
    from . import figures

    out = run.result.out_dir
    run.add(figures.save_png(figures.roi_figure(dff), out / "rois.png"))
    run.add(figures.save_png(figures.event_raster_figure(spikes), out / "raster.png"))
    run.add(figures.save_png(figures.traces_figure(dff, spikes), out / "traces.png"))


def _stage_summary(run: _Run) -> None:
    """``summary.md`` and ``summary.json``."""
    res = run.result
    md = res.out_dir / "summary.md"
    js = res.out_dir / "summary.json"
    res.files += [md, js]
    files = "".join(f"- `{p.relative_to(res.out_dir)}`\n" for p in res.files)
    text = (
        f"# calcium-forge run\n\n```\n{res.summary()}\n```\n\n## Files\n\n"
        f"- `{res.plane.relative_to(res.out_dir)}/`: Suite2P's output\n{files}"
    )
    atomic.write_text(md, text)
    atomic.write_text(js, json.dumps(res.to_dict(), indent=2) + "\n")


def iter_run_pipeline(
    movie: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    fs_hz: float | None = None,
    *,
    method: str = "ens2",
    rois: str | None = None,
    tau_s: float = 1.0,
    diameter_px: float = 0.0,
    registration: bool = True,
    **inference_options: Any,
) -> Generator[Progress, None, PipelineResult]:
    """Movie -> Suite2P ROIs -> dF/F -> spikes -> figures, yielding each stage.

    Parameters
    ----------
    movie : str or os.PathLike
        TIFF stack (T, Y, X).
    out_dir : str or os.PathLike
        Output folder (created); must not hold a Suite2P output already.
    fs_hz : float, optional
        Frame rate, Hz; default the TIFF's metadata (an error when it has none).
    method : {"ens2", "s2s", "cascade", "oasis"}
        Spike-inference method (default ENS²,
        :func:`~calcium_forge.inference.infer_spikes`' default).
    rois : {"cells", "all"}, optional
        Which Suite2P ROIs to analyse; default (None) the reader's default,
        the ROIs ``iscell`` marks as cells.
    tau_s : float
        Indicator decay time, s (Suite2P ``tau``).
    diameter_px : float
        Cell diameter, pixels; 0 chooses it from the field of view.
    registration : bool
        Motion-correct first (block size from the field of view).
    **inference_options
        Passed to :func:`~calcium_forge.inference.iter_infer_spikes`
        (``model``, ``mode``, ``device``, ``num_threads``, ``event_gain``...).

    Returns
    -------
    PipelineResult
        Also written to ``summary.md`` and ``summary.json``.
    """
    from ..io.suite2p_run import run_suite2p

    info = check_pipeline_inputs(movie, out_dir, fs_hz, method)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    plane = out / "suite2p" / "plane0"
    run = _Run(PipelineResult(out_dir=out, plane=plane, movie=info, method=method))
    yield Progress(0, N_STAGES, f"Suite2P on {info.describe()}")
    run.result.plane = run_suite2p(
        info.path, out, info.fs_hz, tau_s=tau_s, diameter_px=diameter_px,
        registration=registration,
    )  # fmt: skip
    run.result.n_rois, run.result.n_cells = _suite2p_counts(run.result.plane)
    run.lap("Suite2P")
    which = "ROIs" if rois == "all" else "cells"
    yield Progress(1, N_STAGES, f"dF/F on {run.result.n_cells} {which}")
    dff = _stage_dff(run, rois)
    run.lap("dF/F")
    yield Progress(2, N_STAGES, f"{METHOD_NAMES[method]} on {dff.n_rois} ROIs")
    spikes = yield from _stage_inference(run, dff, inference_options)
    run.lap("spikes")
    yield Progress(3, N_STAGES, f"figures of {dff.n_rois} ROIs")
    _stage_figures(run, dff, spikes)
    run.lap("figures")
    yield Progress(4, N_STAGES, "summary")
    _stage_summary(run)
    yield Progress(N_STAGES, N_STAGES, "done")
    return run.result


def run_pipeline(
    movie: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    fs_hz: float | None = None,
    *,
    progress_bar: bool = False,
    **options: Any,
) -> PipelineResult:
    """Run :func:`iter_run_pipeline` to the end.

    Parameters
    ----------
    movie, out_dir, fs_hz
        As in :func:`iter_run_pipeline`.
    progress_bar : bool
        Show a tqdm bar.
    **options
        Keyword options of :func:`iter_run_pipeline`.

    Returns
    -------
    PipelineResult
    """
    return drain(
        iter_run_pipeline(movie, out_dir, fs_hz, **options),
        progress_bar=progress_bar,
        desc="calcium-forge run",
    )
