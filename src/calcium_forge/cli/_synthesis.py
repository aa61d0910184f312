"""Synthesis sub-commands: train-gan, sample-gan, evaluate-synthetic and synth-movie."""

from __future__ import annotations

import argparse

from ._common import (
    add_fs_option,
    add_progress_option,
    declare_output,
    fraction,
    nonneg_int,
    output_file,
    positive_float,
    positive_int,
    read_one_recording,
)


def _register_train_gan(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train-gan",
        help="train a CalciumGAN on a recording (WGAN-GP; checkpoints, resume, Ctrl-C safe)",
        description="Train CalciumGAN on DATA (Suite2P folder, .npz, .csv, .nwb; raw "
        "fluorescence is converted to dF/F). Writes DIR/checkpoint.pt (latest state, also on "
        "Ctrl-C), DIR/model.pt + model.json (the model and its card) and DIR/train_log.json. "
        "--resume continues exactly where DIR/checkpoint.pt stopped. Started by torchrun "
        "(torchrun --nproc_per_node N -m calcium_forge.cli train-gan ...), it trains with "
        "DistributedDataParallel over the processes: --batch-size is the global batch and "
        "rank 0 writes the files.",
    )
    p.add_argument("data", metavar="DATA")
    p.add_argument("--out", required=True, metavar="DIR")
    declare_output(p, "out", "folder")
    add_fs_option(p)
    p.add_argument(
        "--window", type=positive_int, default=256, help="T, frames per window (default 256)"
    )
    p.add_argument(
        "--stride", type=positive_int, default=4, help="training window stride in frames"
    )
    p.add_argument(
        "--steps", type=positive_int, default=2000, help="generator steps (default 2000)"
    )
    p.add_argument(
        "--batch-size", type=positive_int, default=32, help="(global batch under torchrun)"
    )
    p.add_argument("--phase-shuffle", type=nonneg_int, default=None, help="n (0 = off)")
    p.add_argument("--paper-config", action="store_true", help="T=2048 paper architecture")
    p.add_argument(
        "--linear-layout",
        action="store_true",
        help="train the linear-up-sampling architecture from scratch (GANConfig.linear) "
        "instead of distilling into it after training",
    )
    p.add_argument(
        "--pretrain-steps",
        type=nonneg_int,
        default=0,
        help="autoencoder pretraining steps (0 = off)",
    )
    p.add_argument("--per-neuron-scaling", action="store_true")
    p.add_argument("--held-out", type=fraction, default=0.2, help="held-out fraction at the end")
    p.add_argument("--checkpoint-every", type=positive_int, default=100)
    p.add_argument(
        "--budget-min", type=positive_float, default=None, help="stop after these minutes"
    )
    p.add_argument("--mixed-precision", action="store_true", help="bf16 (CPU) / fp16 (CUDA)")
    p.add_argument(
        "--ema-decay",
        type=fraction,
        default=None,
        help="sample from a moving average of the generator weights (e.g. 0.999); "
        "can be switched on with --resume",
    )
    p.add_argument("--device", default="cpu")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=positive_int, default=1, help="torch threads (default 1)")
    p.add_argument("--resume", action="store_true", help="continue from DIR/checkpoint.pt")
    p.add_argument(
        "--distill-steps",
        type=nonneg_int,
        default=6000,
        metavar="STEPS",
        help="after training, distil the generator into the linear-up-sampling architecture "
        "(no transposed-convolution peaks in the spectrum; default 6000, 0 = off)",
    )
    p.add_argument(
        "--top-up",
        type=fraction,
        default=1.0,
        metavar="SHARE",
        help="then add independent noise per neuron: this share of the noise variance the "
        "samples lack against the data (default 1 = the data's level; 0 = off)",
    )
    p.add_argument(
        "--match-correlations",
        type=nonneg_int,
        default=400,
        metavar="STEPS",
        help="then fine-tune STEPS steps so that pairwise correlations match the training "
        "windows (default 400; 0 = off). DIR/model.pt is the final model, "
        "DIR/model_adversarial.pt the GAN before these stages",
    )
    add_progress_option(p)
    p.set_defaults(func=_run_train_gan)


def _gan_configs(args: argparse.Namespace, n_neurons: int):
    """(GANConfig, GANTrainConfig) of a ``train-gan`` command line."""
    from ..synthesis.calciumgan import GANConfig
    from ..synthesis.train import GANTrainConfig

    if args.paper_config:
        gan_config = GANConfig.paper(n_neurons=n_neurons)
    elif args.linear_layout:
        gan_config = GANConfig.linear(n_neurons=n_neurons, window=args.window)
    else:
        gan_config = GANConfig.cpu(n_neurons=n_neurons, window=args.window)
    if args.phase_shuffle is not None:
        gan_config.phase_shuffle = args.phase_shuffle
    config = GANTrainConfig(
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
    return gan_config, config


def _run_train_gan(args: argparse.Namespace) -> int:
    """``train-gan``: one process, or DistributedDataParallel when started by torchrun."""
    from pathlib import Path

    from ..progress import drain
    from ..synthesis._ddp import init_distributed, is_torchrun
    from ..synthesis.train import iter_train_gan

    rec = read_one_recording(args.data, args.fs, "DATA")
    gan_config, config = _gan_configs(args, rec.n_rois)
    out = Path(args.out)
    resume = out / "checkpoint.pt" if args.resume else None
    ddp = None
    if is_torchrun():  # one process group over torchrun's processes
        ddp = init_distributed(device="cpu" if args.device == "cpu" else None)
    where = "" if ddp is None else f" on {ddp.world_size} process(es) ({ddp.backend})"
    try:
        res = drain(
            iter_train_gan(
                rec, gan_config, config, ddp=ddp, out_dir=out, resume=resume, name=rec.name
            ),
            progress_bar=not args.no_progress and (ddp is None or ddp.is_main),
            desc="CalciumGAN",
        )
    finally:
        if ddp is not None:
            ddp.close()
    if (ddp is None or ddp.is_main) and (
        args.distill_steps or args.top_up or args.match_correlations
    ):
        _post_train(res, out, args)
    if ddp is None or ddp.is_main:
        w = res.history["wasserstein"]
        print(
            f"trained {res.steps_done} generator steps{where} in {res.seconds:.0f} s"
            + (f"; Wasserstein estimate {w[-1]:.4g}" if w else "")
            + f"; model {out / 'model.pt'}"
        )
    return 0


def _post_train(res, out, args: argparse.Namespace) -> None:
    """Distil, add observation noise, match correlations on the training windows; DIR/model.pt."""
    from ..synthesis.post_training import post_train

    model = res.model
    model.save(out / "model_adversarial.pt")
    windows = model.scaling.inverse(res.split.train)
    final = post_train(
        model,
        windows,
        distill_steps=args.distill_steps,
        top_up=args.top_up,
        match_steps=args.match_correlations,
        seed=args.seed,
        progress_bar=not args.no_progress,
    )
    final.model.save(out / "model.pt")
    stages = ", ".join(f"{k} {v:.0f} CPU s" for k, v in final.cpu_seconds.items())
    print(f"after training: {stages}; model {out / 'model.pt'}")


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
    p.add_argument("--out", required=True, metavar="FILE", type=output_file(".npz", ".csv", ".nwb"))
    declare_output(p, "out", "recording")
    p.add_argument("--n", type=positive_int, default=4, help="number of windows (default 4)")
    p.add_argument(
        "--frames", type=positive_int, default=None, help="one long recording of N frames"
    )
    p.add_argument("--seed", type=int, default=0)

    def run(args: argparse.Namespace) -> int:
        from ..io import write
        from ..synthesis.calciumgan import CalciumGAN

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
        "figures. With --training, also the memorisation check; with --floor (real data of "
        "another block, e.g. the training half), every distance beside its real-vs-real "
        "floor, co-firing statistics included, and the flags above 1.5x the floor.",
    )
    p.add_argument("real", metavar="REAL")
    p.add_argument("synthetic", metavar="SYNTH")
    p.add_argument("--out", required=True, metavar="DIR")
    declare_output(p, "out", "folder")
    add_fs_option(p)
    p.add_argument("--window", type=positive_int, default=None, help="window length T in frames")
    p.add_argument("--training", default=None, help="the model's training data (memorisation)")
    p.add_argument("--floor", default=None, help="real data of another block (the floor)")
    p.add_argument("--seed", type=int, default=0)

    def run(args: argparse.Namespace) -> int:
        import json
        from pathlib import Path

        from ..evaluation.synthetic import evaluate_synthetic
        from ..io.atomic import write_text

        real = read_one_recording(args.real, args.fs, "REAL")
        syn = read_one_recording(args.synthetic, args.fs, "SYNTH")
        training = floor = None
        if args.training:
            training = read_one_recording(args.training, args.fs, "--training")
        if args.floor:
            floor = read_one_recording(args.floor, args.fs, "--floor")
        rep = evaluate_synthetic(
            real,
            syn,
            window_frames=args.window,
            training=training,
            held_out=real if training is not None else None,
            floor=floor,
            seed=args.seed,
        )
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        write_text(out / "report.md", rep.to_markdown())
        summary = {
            "summary": rep.summary(),
            "scores": rep.scores,
            "floor": rep.floor_scores,
            "flags": rep.flags(),
            "settings": rep.settings,
        }
        write_text(out / "report.json", json.dumps(summary, indent=2))
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
    p.add_argument("--out", required=True, metavar="OUT.tif", type=output_file(".tif", ".tiff"))
    declare_output(p, "out", "tiff")
    p.add_argument("--traces", default=None, help="recording whose dF/F traces to render")
    p.add_argument("--model", default=None, help="CalciumGAN name or .pt to sample traces from")
    p.add_argument("--use-labels", action="store_true", help="use --traces' own ROI labels")
    p.add_argument("--size", type=positive_int, nargs=2, default=[128, 128], metavar=("Y", "X"))
    p.add_argument("--cells", type=positive_int, default=20)
    p.add_argument("--frames", type=positive_int, default=600)
    p.add_argument("--fs", type=positive_float, default=30.0, metavar="HZ")
    p.add_argument("--seed", type=int, default=0)
    add_progress_option(p)

    def run(args: argparse.Namespace) -> int:
        from pathlib import Path

        from ..errors import InvalidInputError
        from ..io import write, write_stack
        from ..io.tiff import write_labels
        from ..synthesis.movie import make_synthetic_stack

        traces = None
        labels = None
        if args.traces and args.model:
            raise InvalidInputError("give either --traces or --model, not both.")
        if args.traces:
            traces = read_one_recording(args.traces, None, "--traces")
            if args.use_labels:
                labels = traces.labels
                if labels is None:
                    raise InvalidInputError(f"--use-labels: {args.traces} has no ROI labels.")
        elif args.model:
            from ..synthesis.calciumgan import CalciumGAN

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
        write_stack(out, movie, fs_hz=fs, progress_bar=not args.no_progress)
        lab_path = write_labels(out.with_name(f"{out.stem}_labels.tif"), st.labels)
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
