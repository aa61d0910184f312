"""The ``calcium-forge`` command line: argparse sub-commands that call the core.

Each sub-command is a ``_register_<name>(subparsers)`` function that adds its
parser and sets ``func``; :data:`COMMANDS` lists them. Nothing here computes:
it parses arguments, calls the library and prints.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from ._version import __version__
from .errors import CalciumForgeError


def _register_version(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("version", help="print the version and exit")
    p.set_defaults(func=lambda args: print(__version__) or 0)


def _register_batch_infer(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "batch-infer",
        help="infer spikes for many recordings on dask.distributed (resumable)",
        description="One output DIR/<name>.npz per input and DIR/manifest.json (inputs, "
        "checksums, versions, status). Re-running skips finished inputs; a failing input "
        "is reported and does not stop the others. Exit code 1 when an input failed.",
    )
    p.add_argument(
        "inputs",
        nargs="+",
        metavar="INPUT",
        help="Suite2P plane folders, .npz/.mat/.nwb/.csv files or quoted globs",
    )
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    p.add_argument("--method", default="ens2", choices=["ens2", "s2s", "oasis"])
    p.add_argument("--model", default=None, help="model name or path (default: shipped)")
    p.add_argument(
        "--mode",
        default="exact",
        choices=["exact", "fast"],
        help="ENS² windows at stride 1 (exact) or the faster strided mode",
    )
    p.add_argument("--no-events", action="store_true", help="rates only, no spike events")
    p.add_argument(
        "--fs-hz",
        "--fs",
        dest="fs_hz",
        type=float,
        default=None,
        help="frame rate (Hz) for inputs that do not store it",
    )
    p.add_argument(
        "--scheduler",
        default="local",
        metavar="local|serial|tcp://HOST:PORT",
        help="LocalCluster (default), in-process, an existing dask scheduler "
        "address or a scheduler file (.json)",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        help="worker processes of the local cluster (default: CPU count)",
    )
    p.add_argument("--threads-per-worker", type=int, default=1)
    p.add_argument(
        "--resources",
        default=None,
        metavar="NAME=N[,NAME=N]",
        help="dask worker resources per task, e.g. GPU=1 (workers started with --resources)",
    )
    p.add_argument(
        "--device",
        default=None,
        help="torch device on the workers for ENS²/S2S, e.g. cuda (default: cpu)",
    )
    p.add_argument("--no-resume", action="store_true", help="recompute finished inputs too")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")

    def run(args: argparse.Namespace) -> int:
        from .distributed import batch_infer
        from .errors import InvalidInputError

        resources = None
        if args.resources:
            try:
                resources = {
                    k.strip(): float(v)
                    for k, v in (i.split("=") for i in args.resources.split(","))
                }
            except ValueError:
                raise InvalidInputError(
                    f"--resources must look like GPU=1 or GPU=1,MEM=4; got {args.resources!r}."
                ) from None
        report = batch_infer(
            args.inputs,
            args.out,
            client=args.scheduler,
            n_workers=args.workers,
            threads_per_worker=args.threads_per_worker,
            resume=not args.no_resume,
            resources=resources,
            device=args.device,
            progress_bar=not args.no_progress,
            method=args.method,
            model=args.model,
            mode=args.mode,
            events=not args.no_events,
            fs_hz=args.fs_hz,
        )
        print(report.summary())
        print(f"manifest: {report.manifest_path}")
        return 0 if report.ok else 1

    p.set_defaults(func=run)


def _register_info(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "info",
        help="describe a recording file or folder (reader, shapes, fs, ROIs, NaNs, spikes)",
        description="Describe what a file or folder holds: the reader chosen from its content, "
        "shapes, frame rate, ROIs, NaN stretches and ground-truth spikes.",
    )
    p.add_argument("path", help="Suite2P folder, Cascade .mat, .npz/.npy/.csv, .nwb or TIFF")
    p.add_argument(
        "--fs",
        type=float,
        default=None,
        metavar="HZ",
        help="frame rate in Hz, for formats that do not store it",
    )

    def run(args: argparse.Namespace) -> int:
        from .io.summary import describe

        print(describe(args.path, fs_hz=args.fs))
        return 0

    p.set_defaults(func=run)


def _register_convert(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "convert",
        help="convert a recording to .npz, .csv or .nwb",
        description="Read IN (any supported recording) and write it to OUT; the format follows "
        "OUT's extension (.npz lossless, .csv traces only, .nwb). Files holding several "
        "recordings write OUT_<k> for each.",
    )
    p.add_argument("input", metavar="IN")
    p.add_argument("output", metavar="OUT")
    p.add_argument(
        "--fs",
        type=float,
        default=None,
        metavar="HZ",
        help="frame rate in Hz, for formats that do not store it",
    )

    def run(args: argparse.Namespace) -> int:
        from pathlib import Path

        from .io import read, write

        result = read(args.input, **({} if args.fs is None else {"fs_hz": args.fs}))
        recs = result if isinstance(result, list) else [result]
        out = Path(args.output)
        for k, rec in enumerate(recs):
            target = out if len(recs) == 1 else out.with_name(f"{out.stem}_{k}{out.suffix}")
            write(rec, target)
            print(
                f"wrote {target} ({rec.n_rois} ROI(s) x {rec.n_frames} frames, "
                f"{rec.fs_hz:.6g} Hz, {rec.kind})"
            )
        return 0

    p.set_defaults(func=run)


def _register_infer(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "infer",
        help="infer spike rates and events from a recording (ENS², S2S or OASIS)",
        description="Read INPUT (Suite2P folder, Cascade .mat, .npz/.npy/.csv, .nwb), infer "
        "spikes and write a SpikeInference to OUT (.npz, .csv or .nwb). Raw fluorescence is "
        "converted to dF/F first (neuropil 0.7, maximin baseline). Inputs holding several "
        "recordings write OUT_<k> for each.",
    )
    p.add_argument("input", metavar="INPUT")
    p.add_argument("--out", required=True, metavar="OUT", help="output file (.npz, .csv, .nwb)")
    p.add_argument("--method", default="ens2", choices=["ens2", "s2s", "oasis"])
    p.add_argument("--fs", type=float, default=None, metavar="HZ", help="frame rate in Hz")
    p.add_argument(
        "--model", default=None, metavar="NAME|PATH", help="shipped model name or model file"
    )
    p.add_argument(
        "--mode",
        default="exact",
        choices=["exact", "fast"],
        help="ENS²: stride-1 windows as in the paper (exact) or strided (fast)",
    )
    p.add_argument("--no-events", action="store_true", help="rates only, no spike events")
    p.add_argument(
        "--event-gain",
        type=float,
        default=None,
        metavar="G",
        help="ENS²/S2S: multiply the rate by G before estimating spike events (default: the "
        "gain the model was calibrated with on its validation neurons, 1 if none)",
    )
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    p.add_argument(
        "--device", default=None, help="torch device for ENS²/S2S, e.g. cuda (default: cpu)"
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")

    def run(args: argparse.Namespace) -> int:
        from pathlib import Path

        from .inference import infer_spikes
        from .inference._runtime import tune_for_inference
        from .io import read, write

        tune_for_inference()  # heap reuse for the engine's buffers (~20 % less CPU)
        result = read(args.input, **({} if args.fs is None else {"fs_hz": args.fs}))
        recs = result if isinstance(result, list) else [result]
        out = Path(args.out)
        for k, rec in enumerate(recs):
            res = infer_spikes(
                rec,
                method=args.method,
                model=args.model,
                events=not args.no_events,
                mode=args.mode,
                progress_bar=not args.no_progress,
                num_threads=args.threads,
                device=args.device,
                **({} if args.event_gain is None else {"event_gain": args.event_gain}),
            )
            target = out if len(recs) == 1 else out.with_name(f"{out.stem}_{k}{out.suffix}")
            write(res, target)
            n_ev = "" if res.events is None else f", {sum(e.size for e in res.events)} events"
            print(
                f"wrote {target} ({res.n_rois} ROI(s) x {res.n_frames} frames at "
                f"{res.fs_hz:.6g} Hz, {args.method}{n_ev})"
            )
        return 0

    p.set_defaults(func=run)


def _register_demo(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help="run the main job on the bundled sample data (headless): dF/F, ENS² + OASIS "
        "spike inference, a ground-truth check, CalciumGAN sampling and evaluation, a "
        "synthetic movie; writes outputs and figures",
    )
    p.add_argument("--out", default="demo_output", help="output folder (default: demo_output)")
    p.add_argument("--quick", action="store_true", help="smaller ground-truth set and movie")
    p.add_argument("--mode", choices=["exact", "fast"], default="exact", help="ENS² engine mode")
    p.add_argument("--seed", type=int, default=0, help="seed of every random step")
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch threads (default: torch's; use 1 when other jobs keep the cores busy)",
    )

    def run(args: argparse.Namespace) -> int:
        from .demo import run_demo
        from .inference.engine import torch_threads

        with torch_threads(args.threads):
            res = run_demo(
                args.out, quick=args.quick, mode=args.mode, seed=args.seed, progress_bar=True
            )
        print(f"calcium-forge demo: {len(res.files)} files written to {res.out_dir}")
        for method, m in res.spike_metrics.items():
            print(f"  ground truth, {method}: median Corr {m['corr']:.3f}, ER {m['er']:.3f}")
        s = res.synthesis
        if s:
            print(
                f"  CalciumGAN vs real: KL rate {s['kl_rate']:.3f}, KL corr {s['kl_corr']:.3f}, "
                f"KL van Rossum {s['kl_vrd']:.3f}"
            )
        print(f"  summary: {res.out_dir / 'summary.md'}")
        return 0

    p.set_defaults(func=run)


def _read_one_recording(path: str, fs_hz: float | None, what: str):
    """Read a single Recording for the synthesis commands (raw -> dF/F)."""
    from .errors import InvalidInputError
    from .io import read

    result = read(path, **({} if fs_hz is None else {"fs_hz": fs_hz}))
    if isinstance(result, list):
        if len(result) != 1:
            raise InvalidInputError(
                f"{what} {path} holds {len(result)} recordings; convert the one you want to a "
                ".npz first (calcium-forge convert)."
            )
        result = result[0]
    if result.kind == "raw":
        from .signal import to_dff

        result = to_dff(result)
    return result


def _register_train_gan(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train-gan",
        help="train a CalciumGAN on a recording (WGAN-GP; checkpoints, resume, Ctrl-C safe)",
        description="Train CalciumGAN on DATA (Suite2P folder, .npz, .csv, .nwb; raw "
        "fluorescence is converted to dF/F). Writes DIR/checkpoint.pt (latest state, also on "
        "Ctrl-C) and DIR/model.pt + model.json (the model and its card). --resume continues "
        "exactly where DIR/checkpoint.pt stopped.",
    )
    p.add_argument("data", metavar="DATA")
    p.add_argument("--out", required=True, metavar="DIR")
    p.add_argument("--fs", type=float, default=None, metavar="HZ", help="frame rate in Hz")
    p.add_argument("--window", type=int, default=256, help="T, frames per window (default 256)")
    p.add_argument("--stride", type=int, default=4, help="training window stride in frames")
    p.add_argument("--steps", type=int, default=2000, help="generator steps (default 2000)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--phase-shuffle", type=int, default=None, help="n (0 = off)")
    p.add_argument("--paper-config", action="store_true", help="T=2048 paper architecture")
    p.add_argument(
        "--pretrain-steps", type=int, default=0, help="autoencoder pretraining steps (0 = off)"
    )
    p.add_argument("--per-neuron-scaling", action="store_true")
    p.add_argument("--held-out", type=float, default=0.2, help="held-out fraction at the end")
    p.add_argument("--checkpoint-every", type=int, default=100)
    p.add_argument("--budget-min", type=float, default=None, help="stop after these minutes")
    p.add_argument("--mixed-precision", action="store_true", help="bf16 (CPU) / fp16 (CUDA)")
    p.add_argument(
        "--ema-decay",
        type=float,
        default=None,
        help="sample from a moving average of the generator weights (e.g. 0.999); "
        "can be switched on with --resume",
    )
    p.add_argument("--device", default="cpu")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    p.add_argument("--resume", action="store_true", help="continue from DIR/checkpoint.pt")
    p.add_argument("--no-progress", action="store_true")

    def run(args: argparse.Namespace) -> int:
        from pathlib import Path

        from .progress import drain
        from .synthesis.calciumgan import GANConfig
        from .synthesis.train import TrainConfig, iter_train_gan

        rec = _read_one_recording(args.data, args.fs, "DATA")
        if args.paper_config:
            cfg = GANConfig.paper(n_neurons=rec.n_rois)
        else:
            cfg = GANConfig.cpu(n_neurons=rec.n_rois, window=args.window)
        if args.phase_shuffle is not None:
            cfg.phase_shuffle = args.phase_shuffle
        tcfg = TrainConfig(
            steps=args.steps,
            batch_size=args.batch_size,
            pretrain_steps=args.pretrain_steps,
            checkpoint_every=args.checkpoint_every,
            seed=args.seed,
            num_threads=args.threads,
            time_budget_s=None if args.budget_min is None else args.budget_min * 60,
            window_stride=args.stride,
            held_out_fraction=args.held_out,
            per_neuron_scaling=args.per_neuron_scaling,
            mixed_precision=args.mixed_precision,
            device=args.device,
            ema_decay=args.ema_decay,
        )
        out = Path(args.out)
        resume = out / "checkpoint.pt" if args.resume else None
        from .synthesis._ddp import is_torchrun

        if is_torchrun():
            return _train_gan_under_torchrun(args, rec, cfg, tcfg, out, resume)
        res = drain(
            iter_train_gan(rec, cfg, tcfg, out_dir=out, resume=resume, name=rec.name),
            progress_bar=not args.no_progress,
            desc="CalciumGAN",
        )
        w = res.history["wasserstein"]
        print(
            f"trained {res.steps_done} generator steps in {res.seconds:.0f} s"
            + (f"; Wasserstein estimate {w[-1]:.4g}" if w else "")
            + f"; model {out / 'model.pt'}"
        )
        return 0

    p.set_defaults(func=run)


def _train_gan_under_torchrun(args, rec, cfg, tcfg, out, resume) -> int:
    """``train-gan`` started by torchrun: DistributedDataParallel over the processes.

    ``--batch-size`` is the global batch; rank 0 alone writes checkpoints, the
    model and the log (see :mod:`calcium_forge.synthesis._ddp`).
    """
    from .errors import InvalidInputError
    from .synthesis._ddp import init_distributed, train_gan_ddp

    if args.pretrain_steps or args.mixed_precision or args.ema_decay is not None:
        raise InvalidInputError(
            "train-gan under torchrun trains in fp32 without autoencoder pretraining or weight "
            f"averaging; drop --pretrain-steps ({args.pretrain_steps}) / --mixed-precision / "
            "--ema-decay, or pretrain in "
            "one process first and --resume from its checkpoint."
        )
    ctx = init_distributed(device="cpu" if args.device == "cpu" else None)
    try:
        res = train_gan_ddp(
            rec,
            cfg,
            tcfg,
            ctx=ctx,
            out_dir=out,
            resume=resume,
            progress_bar=not args.no_progress,
            name=rec.name,
        )
        if ctx.is_main:
            print(
                f"trained {res.steps_done} steps on {ctx.world_size} process(es) "
                f"({ctx.backend or 'no process group'}) in {res.seconds:.1f} s -> "
                f"{res.model_path}"
            )
    finally:
        ctx.close()
    return 0


def _register_sample_gan(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "sample-gan",
        aliases=["sample"],
        help="sample synthetic population traces from a CalciumGAN (shipped name or .pt)",
        description="Sample MODEL (e.g. calciumgan-hippocampus, or a model.pt from train-gan) "
        "and write the traces (original units and frame rate) to FILE (.npz, .csv, .nwb). "
        "--frames stitches crossfaded windows into one long recording; otherwise --n windows "
        "are laid end to end.",
    )
    p.add_argument("model", metavar="MODEL")
    p.add_argument("--out", required=True, metavar="FILE")
    p.add_argument("--n", type=int, default=4, help="number of windows (default 4)")
    p.add_argument("--frames", type=int, default=None, help="one long recording of N frames")
    p.add_argument("--seed", type=int, default=0)

    def run(args: argparse.Namespace) -> int:
        from .io import write
        from .synthesis.calciumgan import CalciumGAN

        gan = CalciumGAN.load(args.model)
        if args.frames is not None:
            rec = gan.sample_long(args.frames, seed=args.seed)
        else:
            rec = gan.sample(args.n, seed=args.seed)
        target = write(rec, args.out)
        print(
            f"wrote {target} ({rec.n_rois} neurons x {rec.n_frames} frames at {rec.fs_hz:g} Hz "
            f"from {gan!r})"
        )
        return 0

    p.set_defaults(func=run)


def _register_evaluate_synthetic(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "evaluate-synthetic",
        help="compare real and synthetic population data (OASIS + elephant KLs, Fréchet, "
        "spectra, memorisation)",
        description="Deconvolve REAL and SYNTH with OASIS, compare firing rates, pairwise "
        "correlations and van Rossum distances (KL divergences, pooled and per neuron), window "
        "features (Fréchet) and power spectra; write DIR/report.md, DIR/report.json and PNG "
        "figures. With --training, also the memorisation check.",
    )
    p.add_argument("real", metavar="REAL")
    p.add_argument("synthetic", metavar="SYNTH")
    p.add_argument("--out", required=True, metavar="DIR")
    p.add_argument("--fs", type=float, default=None, metavar="HZ")
    p.add_argument("--window", type=int, default=None, help="window length T in frames")
    p.add_argument("--training", default=None, help="the model's training data (memorisation)")
    p.add_argument("--seed", type=int, default=0)

    def run(args: argparse.Namespace) -> int:
        import json
        from pathlib import Path

        from .evaluation.synthetic import evaluate_synthetic
        from .io.atomic import atomic_path

        real = _read_one_recording(args.real, args.fs, "REAL")
        syn = _read_one_recording(args.synthetic, args.fs, "SYNTH")
        training = None
        if args.training:
            training = _read_one_recording(args.training, args.fs, "--training")
        rep = evaluate_synthetic(
            real,
            syn,
            window_frames=args.window,
            training=training,
            held_out=real if training is not None else None,
            seed=args.seed,
        )
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        with atomic_path(out / "report.md") as tmp:
            Path(tmp).write_text(rep.to_markdown())
        with atomic_path(out / "report.json") as tmp:
            Path(tmp).write_text(
                json.dumps({"summary": rep.summary(), "settings": rep.settings}, indent=2)
            )
        files = rep.save_figures(out)
        print(rep.to_markdown())
        print(f"wrote {out / 'report.md'}, report.json and {', '.join(f.name for f in files)}")
        return 0

    p.set_defaults(func=run)


def _register_synth_movie(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "synth-movie",
        help="render a synthetic two-photon movie with ground-truth ROIs and spikes",
        description="Render a (T, Y, X) two-photon-like movie (background, neuropil haze, "
        "Poisson-Gaussian noise) to OUT (ImageJ TIFF, frames written one by one), with "
        "OUT_labels.tif (ROIs) and OUT_truth.npz (traces, spike times, labels). Traces: DG "
        "spikes by default, a recording file (--traces) or a CalciumGAN (--model).",
    )
    p.add_argument("--out", required=True, metavar="OUT.tif")
    p.add_argument("--traces", default=None, help="recording whose dF/F traces to render")
    p.add_argument("--model", default=None, help="CalciumGAN name or .pt to sample traces from")
    p.add_argument("--use-labels", action="store_true", help="use --traces' own ROI labels")
    p.add_argument("--size", type=int, nargs=2, default=[128, 128], metavar=("Y", "X"))
    p.add_argument("--cells", type=int, default=20)
    p.add_argument("--frames", type=int, default=600)
    p.add_argument("--fs", type=float, default=30.0, metavar="HZ")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-progress", action="store_true")

    def run(args: argparse.Namespace) -> int:
        from pathlib import Path

        import numpy as np
        import tifffile
        from tqdm.auto import tqdm

        from .errors import InvalidInputError
        from .io import write
        from .io.atomic import atomic_path
        from .synthesis.movie import make_synthetic_stack

        traces = None
        labels = None
        if args.traces and args.model:
            raise InvalidInputError("give either --traces or --model, not both.")
        if args.traces:
            traces = _read_one_recording(args.traces, None, "--traces")
            if args.use_labels:
                labels = traces.labels
                if labels is None:
                    raise InvalidInputError(f"--use-labels: {args.traces} has no ROI labels.")
        elif args.model:
            from .synthesis.calciumgan import CalciumGAN

            traces = CalciumGAN.load(args.model).sample_long(args.frames, seed=args.seed)
        st = make_synthetic_stack(
            tuple(args.size),
            n_cells=args.cells,
            n_frames=args.frames,
            fs_hz=args.fs,
            traces=traces,
            labels=labels,
            seed=args.seed,
            lazy=True,
        )
        movie = st.movie
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        fs = st.recording.fs_hz
        frames = (movie.frame(t) for t in range(movie.shape[0]))
        if not args.no_progress:
            frames = tqdm(frames, total=movie.shape[0], desc="synthetic movie", unit="frame")
        with atomic_path(out) as tmp:
            tifffile.imwrite(
                tmp,
                frames,
                shape=movie.shape,
                dtype=np.float32,
                imagej=True,
                metadata={"axes": "TYX", "finterval": 1.0 / fs},
            )
        lab_path = out.with_name(f"{out.stem}_labels.tif")
        with atomic_path(lab_path) as tmp:
            tifffile.imwrite(tmp, st.labels.astype(np.uint16))
        truth = write(st.recording, out.with_name(f"{out.stem}_truth.npz"))
        st_list = st.recording.spike_times
        spikes = "no" if st_list is None else str(sum(len(s) for s in st_list))
        print(
            f"wrote {out} ({movie.shape[0]} frames of {movie.shape[1]}x{movie.shape[2]} at "
            f"{fs:g} Hz, {int(st.labels.max())} ROIs, {spikes} ground-truth spikes), "
            f"{lab_path.name}, {truth.name}"
        )
        return 0

    p.set_defaults(func=run)


def _register_train_spikes(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train-spikes",
        help="train an ENS² or S2S spike-inference model on Cascade ground truth",
        description="Train on ground-truth .mat files (DSxx-* folders, their parent, or files); "
        "writes OUT/checkpoint.pt during training and OUT/<name>.pt + OUT/<name>.json (model "
        "card) at the end. Load the result with --model OUT/<name>.pt.",
    )
    p.add_argument("data", nargs="+", metavar="DATA", help="ground-truth folder(s) or .mat files")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    p.add_argument("--method", default="ens2", choices=["ens2", "s2s"])
    p.add_argument("--name", default=None, help="model name (default <method>-custom)")
    p.add_argument("--iterations", type=int, default=None, help="max iterations (paper: 5000)")
    p.add_argument("--noise-augment", action="store_true", help="white noise at random ν 0-15")
    p.add_argument("--resume", default=None, metavar="CKPT", help="continue from checkpoint.pt")
    p.add_argument(
        "--init-from",
        default=None,
        metavar="MODEL",
        help="fine-tune: start from a shipped model (e.g. ens2-excitatory) or a model file",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None, help="torch threads")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")

    def run(args: argparse.Namespace) -> int:
        from .inference.training import default_config, iter_train
        from .progress import drain

        cfg = default_config(
            args.method,
            iterations=args.iterations,
            noise_augment=args.noise_augment or None,
            seed=args.seed,
        )
        data = args.data[0] if len(args.data) == 1 else args.data
        res = drain(
            iter_train(
                data,
                cfg,
                out_dir=args.out,
                name=args.name,
                resume=args.resume,
                num_threads=args.threads,
                init_from=args.init_from,
            ),
            progress_bar=not args.no_progress,
            desc=f"train {args.method}",
        )
        corr = res.val_scores.get("median_corr")
        print(
            f"wrote {res.model_path} ({res.iterations_run} iterations, best at "
            f"{res.best_iteration}{', stopped early' if res.stopped_early else ''}; "
            f"validation median Corr {corr:.3f})"
            if corr is not None
            else f"wrote {res.model_path} ({res.iterations_run} iterations)"
        )
        return 0

    p.set_defaults(func=run)


COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [
    _register_version,
    _register_demo,
    _register_info,
    _register_convert,
    _register_batch_infer,
    _register_infer,
    _register_train_gan,
    _register_sample_gan,
    _register_evaluate_synthetic,
    _register_synth_movie,
    _register_train_spikes,
]


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with every registered sub-command."""
    parser = argparse.ArgumentParser(
        prog="calcium-forge",
        description="Between calcium imaging and spikes: read recordings, infer spikes "
        "(ENS², S2S, OASIS), train and sample CalciumGAN.",
    )
    parser.add_argument("--version", action="version", version=f"calcium-forge {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for register in COMMANDS:
        register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except CalciumForgeError as exc:
        print(f"calcium-forge {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"calcium-forge {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
