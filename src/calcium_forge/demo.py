"""The main job on the bundled sample data: ``calcium-forge demo``.

Headless, CPU only, about a minute on a quiet 2-core machine (ENS² in its
``fast`` mode; ``mode="exact"`` is about eight times slower). It runs the whole
round trip on data shipped inside the package, names every stage in its
progress records and writes every output and figure (about 35 MB) to one
folder:

1. the real hippocampus Suite2P recording (20 ROIs, 10 min at 30 Hz) →
   neuropil-corrected dF/F (suite2p's 'maximin' baseline);
2. spike inference with the shipped ENS² model and with OASIS → rates and
   events (``.npz`` and ``.csv``) and a traces/rates/events figure and raster;
3. a ground-truth check: a synthetic two-photon population with known spikes
   (dichotomized-Gaussian spike trains through a GCaMP-like forward model) →
   ENS² and OASIS scored with the paper metrics (Corr, ER, ...);
4. CalciumGAN: the shipped hippocampus model samples a population recording
   as long as the real one, evaluated against the real data (KL divergences,
   Fréchet distance, spectra, memorisation) with figures;
5. a 10 s synthetic two-photon movie of the sampled traces on the real ROIs,
   cropped to the ROIs and binned 2 x 2 (ImageJ TIFF, uint16 photon counts,
   written by :func:`calcium_forge.io.write_stack`).

Every file is written atomically; ``summary.md`` lists them with the headline
numbers.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import InvalidInputError
from .io import atomic
from .progress import Progress, drain
from .recording import Recording
from .results import SpikeInference

if TYPE_CHECKING:
    from .evaluation.synthetic import SynthesisReport
    from .synthesis.calciumgan import CalciumGAN

#: Stages of the demo, in order; each Progress names the one running.
N_STEPS = 8
#: Frames of the synthetic movie (10 s at 30 Hz) and its spatial binning (pixels per side).
MOVIE_FRAMES, MOVIE_BIN = 300, 2


@dataclass
class DemoResult:
    """What :func:`run_demo` produced.

    Parameters
    ----------
    out_dir : Path
        Output folder.
    files : list of Path
        Every file written, in order.
    spike_metrics : dict
        Ground-truth check: method → median metrics over neurons.
    synthesis : dict
        CalciumGAN vs real: headline numbers of the SynthesisReport.
    event_check : dict
        Why ENS² and OASIS call different numbers of events on the recording:
        events/s of each, the recording's median ν, ENS²'s events/s in white
        noise of that ν, and each method's events per true spike on cells with
        known spikes degraded to that ν (:func:`_stage_event_check`).
    timings_s : dict
        Wall time per stage, s.
    """

    out_dir: Path
    files: list[Path] = field(default_factory=list)
    spike_metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    synthesis: dict[str, float] = field(default_factory=dict)
    timings_s: dict[str, float] = field(default_factory=dict)
    event_check: dict[str, float] = field(default_factory=dict)


def _median_metrics(rec: Recording, res: SpikeInference) -> dict[str, float]:
    from .evaluation.spikes import evaluate_spikes

    rows = [
        evaluate_spikes(rec.spike_times[i], res, roi=i, eval_fs_hz=60.0).as_dict()
        for i in range(rec.n_rois)
        if rec.spike_times is not None and len(rec.spike_times[i]) > 0
    ]
    keys = ["corr", "vrd", "error", "bias", "vpd", "er", "corr_25hz"]
    return {k: float(np.nanmedian([np.nan if r[k] is None else r[k] for r in rows])) for k in keys}


@dataclass
class _Run:
    """What every stage of the demo shares: the options, the result it fills, a stopwatch."""

    out: Path
    quick: bool
    mode: str
    seed: int
    result: DemoResult
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

    def write_text(self, name: str, text: str) -> Path:
        """Write ``out/name`` atomically and record it."""
        return self.add(atomic.write_text(self.out / name, text))

    def save_figure(self, fig: Any, name: str) -> Path:
        """Save a matplotlib figure to ``out/name`` (110 dpi) atomically; record it."""
        path = self.out / name
        with atomic.atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=110, bbox_inches="tight", format=path.suffix.lstrip("."))
        return self.add(path)


def _relay(
    gen: Generator[Progress, None, Any], step: int, label: str
) -> Generator[Progress, None, Any]:
    """Pass on a sub-job's progress as stage ``step`` of the demo, named ``label (i/n)``."""
    while True:
        try:
            p = next(gen)
        except StopIteration as stop:
            return stop.value
        count = f" ({p.step}/{p.total})" if p.total else ""
        yield Progress(step, N_STEPS, f"{label}{count}")


def _infer(
    run: _Run, rec: Recording, method: str, step: int, what: str
) -> Generator[Progress, None, SpikeInference]:
    """One method on ``rec`` with its progress named "ENS² on 20 ROIs of ..."."""
    from .demo_figures import METHOD_NAMES
    from .inference import iter_infer_spikes

    label = f"{METHOD_NAMES.get(method, method)} on {rec.n_rois} {what}"
    yield Progress(step, N_STEPS, label)
    mode = run.mode if method == "ens2" else "exact"
    return (yield from _relay(iter_infer_spikes(rec, method=method, mode=mode), step, label))


def _stage_dff(run: _Run) -> tuple[Recording, Recording]:
    """1. The bundled hippocampus recording -> dF/F; (full, shown) where shown is 100 s if quick."""
    from . import datasets, io, signal

    raw = datasets.load_hippocampus()
    full = signal.to_dff(raw)
    dff = full.crop(0, int(100 * full.fs_hz)) if run.quick else full  # quick: first 100 s
    run.add(io.write(dff, run.out / "hippocampus_dff.npz"))
    run.lap("load + dF/F")
    return full, dff


def _stage_inference(
    run: _Run, dff: Recording
) -> Generator[Progress, None, tuple[SpikeInference, SpikeInference]]:
    """2-3. ENS² and OASIS on the real recording: rates and events (.npz, .csv) and figures."""
    from . import io
    from .demo_figures import inference_figure, raster_figure, sharpest_rois

    what = f"ROIs ({dff.duration_s:g} s at {dff.fs_hz:g} Hz)"
    ens2 = yield from _infer(run, dff, "ens2", 1, what)
    run.lap("ENS² inference")
    oasis = yield from _infer(run, dff, "oasis", 2, what)
    run.lap("OASIS inference")
    for r in (ens2, oasis):
        run.add(io.write(r, run.out / f"hippocampus_spikes_{r.method}.npz"))
        run.add(io.write(r, run.out / f"hippocampus_spikes_{r.method}.csv"))
    rois = sharpest_rois(dff, 4)
    run.save_figure(inference_figure(dff, [ens2, oasis], rois), "inference.png")
    run.save_figure(raster_figure(ens2, f"{dff.name}: ENS² spike events"), "raster_ens2.png")
    return ens2, oasis


def _stage_ground_truth(run: _Run) -> Generator[Progress, None, tuple[np.ndarray, Recording]]:
    """4. ENS² and OASIS scored on a synthetic population with known spikes.

    Returns the population's (Y, X) ROI labels (the movie's fallback ROIs) and
    its noise-free recording.
    """
    from .demo_figures import ground_truth_figure
    from .synthesis.movie import make_synthetic_stack

    gt_stack = make_synthetic_stack(
        shape=(96, 96),
        n_cells=8 if run.quick else 20,
        n_frames=1800 if run.quick else 9000,
        fs_hz=30.0,
        seed=run.seed,
        lazy=True,
    )
    gt = gt_stack.recording
    noise = np.random.default_rng(run.seed).normal(0.0, 0.03, gt.traces.shape).astype(np.float32)
    gt_noisy = Recording(
        traces=gt.traces + noise,
        fs_hz=gt.fs_hz,
        spike_times=gt.spike_times,
        labels=gt.labels,
        meta={"name": "synthetic ground truth"},
    )
    what = f"synthetic cells with known spikes ({gt.duration_s:g} s)"
    gt_results = [
        (yield from _infer(run, gt_noisy, "ens2", 3, what)),
        (yield from _infer(run, gt_noisy, "oasis", 3, what)),
    ]
    metrics = run.result.spike_metrics
    for r in gt_results:
        metrics[r.method] = _median_metrics(gt_noisy, r)
    run.save_figure(ground_truth_figure(gt_noisy, gt_results, 0), "ground_truth_check.png")
    run.write_text("ground_truth_metrics.json", json.dumps(metrics, indent=2, default=float))
    run.lap("ground-truth check")
    return gt_stack.labels, gt


def _events_per_s(res: SpikeInference) -> float:
    """Mean events per second per ROI."""
    return float(np.mean([len(e) for e in res.events or []]) / (res.rate_hz.shape[1] / res.fs_hz))


def _stage_event_check(
    run: _Run, dff: Recording, ens2: SpikeInference, oasis: SpikeInference, gt: Recording
) -> Generator[Progress, None, None]:
    """4b. Why the two methods call different numbers of events on the recording.

    At the recording's own median noise level ν: ENS²'s events in white noise
    (are its extra events noise?) and both methods' events per true spike on
    the synthetic cells with noise added to that ν (who misses spikes?).
    """
    from .inference import infer_spikes
    from .inference.noise_floor import white_noise_dff
    from .signal import noise_level

    nu = float(np.nanmedian(ens2.meta.get("noise_level") or noise_level(dff.traces, dff.fs_hz)))
    yield Progress(3, N_STEPS, f"event check at the recording's noise level (nu {nu:.1f})")
    noise = white_noise_dff(dff.fs_hz, nu, 4, 120.0, run.seed)
    in_noise = infer_spikes(noise, fs_hz=dff.fs_hz, mode=run.mode)
    rng = np.random.default_rng(run.seed + 1)
    sd = nu * np.sqrt(gt.fs_hz) / 95.39
    degraded = Recording(
        traces=(gt.traces + rng.normal(0.0, sd, gt.traces.shape)).astype(np.float32),
        fs_hz=gt.fs_hz,
    )
    n_true = sum(len(t) for t in gt.spike_times)
    check = {
        "ens2_events_per_s": _events_per_s(ens2),
        "oasis_events_per_s": _events_per_s(oasis),
        "median_nu": nu,
        "ens2_events_per_s_in_noise": sum(len(e) for e in in_noise.events) / (4 * 120.0),
    }
    for method in ("ens2", "oasis"):
        kw = {"mode": run.mode} if method == "ens2" else {}
        res = infer_spikes(degraded, method=method, **kw)
        check[f"{method}_events_per_true_spike"] = sum(len(e) for e in res.events) / n_true
    run.result.event_check = check
    run.write_text("event_check.json", json.dumps(check, indent=2))
    run.lap("event check")


def _stage_calciumgan(run: _Run, full: Recording) -> tuple[CalciumGAN, Recording]:
    """5. The shipped CalciumGAN samples half as many frames as the real recording."""
    from . import io
    from .synthesis import CalciumGAN

    gan = CalciumGAN.load("hippocampus")
    synthetic = gan.sample_long(full.n_frames // 2, seed=run.seed)
    synthetic.meta["name"] = "CalciumGAN hippocampus"
    run.add(io.write(synthetic, run.out / "calciumgan_synthetic.npz"))
    run.lap("CalciumGAN sampling")
    return gan, synthetic


def _stage_synthesis_report(
    run: _Run, full: Recording, gan: CalciumGAN, synthetic: Recording
) -> SynthesisReport:
    """6. Real vs synthetic: the SynthesisReport (markdown and figures)."""
    from .evaluation.synthetic import evaluate_synthetic

    # Compare with the block the model never saw, and check for memorised windows
    # against the block it was trained on (both recorded in its model card).
    train_span = gan.card.get("train_frames")
    held_span = gan.card.get("held_out_frames")
    training = held_out = None
    real = full
    if train_span and held_span:
        training = full.crop(*train_span)
        held_out = real = full.crop(*held_span)
    report = evaluate_synthetic(
        real,
        synthetic,
        training=training,
        held_out=held_out,
        floor=training,  # the real-vs-real floor beside every distance
        seed=run.seed,
        names=("real hippocampus (held out)", "CalciumGAN"),
    )
    run.result.synthesis = report.summary()
    run.write_text("synthesis_report.md", report.to_markdown())
    run.result.files.extend(report.save_figures(run.out / "synthesis_figures"))
    run.lap("synthesis evaluation")
    return report


def movie_labels(labels: np.ndarray, bin_px: int = MOVIE_BIN) -> np.ndarray:
    """The ROI label image cropped to its ROIs and subsampled ``bin_px`` x ``bin_px``.

    Parameters
    ----------
    labels : numpy.ndarray
        int (Y, X) labels, 0 = background, i + 1 = ROI i.
    bin_px : int
        Keep every ``bin_px``-th pixel in each direction.

    Returns
    -------
    numpy.ndarray
        The smaller label image (ROI ids unchanged); ``labels`` when it has no ROI.
    """
    ys, xs = np.nonzero(labels)
    if ys.size == 0:
        return labels
    return labels[ys.min() : ys.max() + 1 : bin_px, xs.min() : xs.max() + 1 : bin_px]


def _stage_movie(
    run: _Run, dff: Recording, synthetic: Recording, fallback_labels: np.ndarray
) -> None:
    """7. A 10 s synthetic movie of the sampled traces on the real ROIs (ImageJ TIFF).

    The ROI map is cropped to its ROIs and subsampled 2 x 2, which keeps the file near 20 MB.
    """
    from . import io
    from .synthesis.movie import render_movie

    labels = movie_labels(dff.labels if dff.labels is not None else fallback_labels)
    n_movie = 150 if run.quick else MOVIE_FRAMES
    movie = render_movie(labels, synthetic.traces[: int(labels.max()), :n_movie], seed=run.seed)
    counts = np.clip(movie, 0, 65535).astype(np.uint16)  # photon counts: uint16 halves the file
    run.add(
        io.write_stack(run.out / "synthetic_movie.tif", counts, fs_hz=dff.fs_hz, dtype="uint16")
    )
    run.lap("synthetic movie")


def _stage_summary(
    run: _Run,
    dff: Recording,
    ens2: SpikeInference,
    oasis: SpikeInference,
    report: SynthesisReport,
) -> None:
    """8. ``summary.md``: headline numbers and the list of files."""
    run.write_text(
        "summary.md", _summary_markdown(run.result, dff, ens2, oasis, report.to_markdown())
    )


def _prepare_out_dir(out_dir: str | Path) -> Path:
    """The output folder, created; refuse a path that is a file."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InvalidInputError(
            f"demo --out {str(out)!r} is a file, not a folder. Pass a folder path."
        )
    out.mkdir(parents=True, exist_ok=True)
    return out


def iter_demo(
    out_dir: str | Path = "demo_output",
    *,
    quick: bool = False,
    mode: str = "fast",
    seed: int = 0,
) -> Generator[Progress, None, DemoResult]:
    """Run the demo, yielding progress; returns a :class:`DemoResult`.

    Parameters
    ----------
    out_dir : str or Path
        Folder for every output (created if missing).
    quick : bool
        Smaller ground-truth population and movie (for tests / slow machines).
    mode : {"fast", "exact"}
        ENS² engine mode: ``"fast"`` (stride 8, the default here) or ``"exact"``
        (stride 1 as in the ENS² paper, about eight times slower).
    seed : int
        Seed of every random step.

    Yields
    ------
    Progress
        ``step`` = stages done out of ``N_STEPS``; ``message`` names the running
        stage and, for spike inference, its ROI count and how many are done.
    """
    out = _prepare_out_dir(out_dir)
    run = _Run(out=out, quick=quick, mode=mode, seed=seed, result=DemoResult(out_dir=out))
    yield Progress(0, N_STEPS, "hippocampus sample -> dF/F")
    full, dff = _stage_dff(run)
    ens2, oasis = yield from _stage_inference(run, dff)
    gt_labels, gt = yield from _stage_ground_truth(run)
    yield from _stage_event_check(run, dff, ens2, oasis, gt)
    n_syn = full.n_frames // 2
    yield Progress(4, N_STEPS, f"CalciumGAN samples ({n_syn} frames x {full.n_rois} neurons)")
    gan, synthetic = _stage_calciumgan(run, full)
    yield Progress(5, N_STEPS, "real vs synthetic evaluation (OASIS on both, KL, spectra)")
    report = _stage_synthesis_report(run, full, gan, synthetic)
    n_movie = 150 if quick else MOVIE_FRAMES
    yield Progress(6, N_STEPS, f"synthetic movie ({n_movie} frames)")
    _stage_movie(run, dff, synthetic, gt_labels)
    yield Progress(7, N_STEPS, "summary.md")
    _stage_summary(run, dff, ens2, oasis, report)
    yield Progress(N_STEPS, N_STEPS, "done")
    return run.result


def _summary_markdown(
    res: DemoResult, dff: Recording, ens2: SpikeInference, oasis: SpikeInference, gan_md: str
) -> str:
    lines = [
        "# calcium-forge demo",
        "",
        f"Input: bundled hippocampus Suite2P recording, {dff.n_rois} ROIs x {dff.n_frames} "
        f"frames at {dff.fs_hz:g} Hz ({dff.duration_s / 60:.1f} min).",
        "",
        "## Spike inference on the real recording",
        "",
        "| method | model | mean events per ROI | mean rate (spikes/s) |",
        "|---|---|---:|---:|",
    ]
    for r in (ens2, oasis):
        n_ev = np.mean([len(e) for e in r.events or []])
        lines.append(
            f"| {r.method} | {r.model_card.get('name', '-')} | {n_ev:.1f} | "
            f"{float(np.nanmean(r.rate_hz)):.3f} |"
        )
    lines += _event_check_lines(res.event_check, dff)
    lines += [
        "",
        "## Ground-truth check (synthetic population with known spikes)",
        "",
        "Median over neurons, rates compared at 60 Hz with 25 ms Gaussian smoothing. "
        "The population is simulated with a GCaMP-like forward model close to OASIS's own "
        "autoregressive model, so OASIS is on home ground here. On held-out recordings with "
        "electrophysiology ground truth the default ENS\u00b2 model beats OASIS on Corr at "
        "every frame rate (7.5-60 Hz) and noise level (nu 2-8) measured "
        "(docs/benchmarks.md, 'Slower and noisier recordings').",
        "",
        "| method | Corr | vRD | Error | Bias | VPD | ER | Corr @25 Hz |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for m, d in res.spike_metrics.items():
        lines.append(
            f"| {m} | {d['corr']:.3f} | {d['vrd']:.3f} | {d['error']:.3f} | {d['bias']:.3f} "
            f"| {d['vpd']:.3f} | {d['er']:.3f} | {d['corr_25hz']:.3f} |"
        )
    lines += ["", "## CalciumGAN vs the real recording", "", gan_md, "## Timings (s)", ""]
    lines += [f"- {k}: {v:.1f}" for k, v in res.timings_s.items()]
    lines += ["", "## Files", ""]
    lines += [f"- `{p.relative_to(res.out_dir)}`" for p in res.files]
    return "\n".join(lines) + "\n"


def _event_check_lines(check: dict, dff: Recording) -> list[str]:
    """The summary's explanation of the two event rates, from :func:`_stage_event_check`."""
    if not check:
        return []
    ratio = check["ens2_events_per_s"] / max(check["oasis_events_per_s"], 1e-12)
    nu = check["median_nu"]
    return [
        "",
        f"ENS\u00b2 calls {check['ens2_events_per_s']:.2f} events/s per ROI, OASIS "
        f"{check['oasis_events_per_s']:.2f} ({ratio:.1f}x). Why, at this recording's median "
        f"noise level (nu = {nu:.1f} %/sqrt(Hz), {dff.fs_hz:g} Hz):",
        "",
        f"- In white noise of that level ENS\u00b2 calls {check['ens2_events_per_s_in_noise']:.3f} "
        "events/s, so its extra events are not noise.",
        f"- On the synthetic cells with known spikes and noise added to that level, ENS\u00b2 "
        f"finds {check['ens2_events_per_true_spike']:.2f} events per true spike and OASIS "
        f"{check['oasis_events_per_true_spike']:.2f}: OASIS keeps only events above 3 noise "
        "SDs and misses most single spikes in this noise (on held-out electrophysiology "
        "ground truth at 30 Hz, nu 4-8, OASIS's rates sum to 9-21 % of the true spikes: "
        "docs/benchmarks.md, 'Slower and noisier recordings').",
        "- Event check: `event_check.json`.",
    ]


def run_demo(
    out_dir: str | Path = "demo_output",
    *,
    quick: bool = False,
    mode: str = "fast",
    seed: int = 0,
    progress_bar: bool = False,
    callback: Callable[[Progress], None] | None = None,
) -> DemoResult:
    """Run the demo to the end (see :func:`iter_demo`).

    ``progress_bar`` shows a tqdm bar naming the running stage; ``callback`` is
    called with every :class:`Progress`.
    """
    return drain(
        iter_demo(out_dir, quick=quick, mode=mode, seed=seed),
        progress_bar=progress_bar,
        desc="calcium-forge demo",
        callback=callback,
    )
