"""The ``train-spikes`` sub-command: train ENS² or S2S on Cascade ground truth."""

from __future__ import annotations

import argparse

from ._common import add_progress_option, declare_output, positive_int


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
    declare_output(p, "out", "folder")
    p.add_argument("--method", default="ens2", choices=["ens2", "s2s"])
    p.add_argument("--name", default=None, help="model name (default <method>-custom)")
    p.add_argument(
        "--iterations", type=positive_int, default=None, help="max iterations (paper: 5000)"
    )
    p.add_argument("--noise-augment", action="store_true", help="white noise at random ν 0-15")
    p.add_argument("--resume", default=None, metavar="CKPT", help="continue from checkpoint.pt")
    p.add_argument(
        "--init-from",
        default=None,
        metavar="MODEL",
        help="fine-tune: start from a shipped model (e.g. ens2-excitatory) or a model file",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=positive_int, default=None, help="torch threads")
    add_progress_option(p)

    def run(args: argparse.Namespace) -> int:
        from ..inference.training import default_config, iter_train
        from ..progress import drain

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
