"""A scripted napari session: hippocampus recording -> ENS² spikes -> CalciumGAN -> movie.

Runs headless (no window) and saves a screenshot of the arranged layers::

    xvfb-run -a python examples/scripted_session.py --screenshot session.png

or opens the viewer for you to explore (``--show``). Steps:

1. open the shipped hippocampus Suite2P recording (20 cells, 18,000 frames,
   30 Hz) as ROIs (Labels) and dF/F traces (drawn in the Traces dock);
2. infer spikes with ENS² (rate and raster for the Traces dock, spike overlay on the ROIs);
3. sample CalciumGAN (synthetic traces Image + raster from OASIS events);
4. render a synthetic two-photon movie of the synthetic traces on the real
   ROIs (Image with a time axis) with its ROIs;
5. arrange the layers (movie, ROIs and spikes in the canvas; the real dF/F,
   ENS² rate and events in the docked Traces widget) and save a screenshot.

Only public helpers are used: :mod:`calcium_forge.napari_api` and the core.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--screenshot", type=Path, help="save a PNG of the viewer canvas here")
    p.add_argument("--show", action="store_true", help="keep the napari window open at the end")
    p.add_argument(
        "--ens2-model",
        default=None,
        help="ENS² model name or file (default: the shipped ens2-excitatory)",
    )
    p.add_argument(
        "--mode",
        choices=["exact", "fast"],
        default="fast",
        help="ENS² windowing: exact (stride 1, the paper) or fast (default)",
    )
    p.add_argument(
        "--gan-model",
        default=None,
        help="CalciumGAN model name or file (default: the first shipped model)",
    )
    p.add_argument(
        "--duration-s",
        type=float,
        default=120.0,
        help="seconds of the recording to analyse (0 = all 600 s)",
    )
    p.add_argument(
        "--synthetic-s", type=float, default=60.0, help="duration of the CalciumGAN sample, seconds"
    )
    p.add_argument("--movie-frames", type=int, default=300, help="frames of the synthetic movie")
    p.add_argument("--seed", type=int, default=0, help="seed of sampling and rendering")
    return p.parse_args(argv)


def log(msg: str, t0: float) -> None:
    print(f"[{time.perf_counter() - t0:6.1f} s] {msg}", flush=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    t0 = time.perf_counter()

    import numpy as np

    import napari
    from calcium_forge import napari_api
    from calcium_forge.datasets import load_hippocampus
    from calcium_forge.errors import CalciumForgeError
    from calcium_forge.inference import infer_spikes
    from calcium_forge.signal import to_dff
    from calcium_forge.synthesis.calciumgan import CalciumGAN, available_models
    from calcium_forge.synthesis.movie import make_synthetic_stack

    viewer = napari.Viewer(title="calcium-forge scripted session", show=args.show)
    try:
        # 1. the real recording
        raw = load_hippocampus()
        if args.duration_s > 0:
            n = min(raw.n_frames, round(args.duration_s * raw.fs_hz))
            raw = dataclasses.replace(raw, traces=raw.traces[:, :n], neuropil=raw.neuropil[:, :n])
        dff = to_dff(raw)
        napari_api.add_recording(viewer, raw)
        log(f"opened {raw}", t0)

        # 2. ENS² spike inference
        result = infer_spikes(dff, method="ens2", model=args.ens2_model, mode=args.mode)
        napari_api.add_inference(viewer, result)
        n_events = sum(len(e) for e in result.events or [])
        log(
            f"ENS² ({result.model_card.get('name', 'model')}): {n_events} events in "
            f"{result.n_rois} ROIs",
            t0,
        )

        # 3. CalciumGAN sample (+ OASIS events for its raster)
        gan_ref = args.gan_model or (available_models() or [None])[0]
        if gan_ref is None:
            raise CalciumForgeError(
                "no shipped CalciumGAN model is installed; pass --gan-model PATH (a model.pt "
                "written by 'calcium-forge train-gan' or the Train CalciumGAN widget)."
            )
        gan = CalciumGAN.load(gan_ref)
        n_frames = round(args.synthetic_s * gan.fs_hz)
        synth = gan.sample_long(n_frames, seed=args.seed)
        synth_events = infer_spikes(synth, method="oasis")
        napari_api.add_synthetic(viewer, synth, inference=synth_events)
        log(f"CalciumGAN sample: {synth}", t0)

        # 4. a synthetic movie: the synthetic traces drawn on the real ROIs when they fit
        labels = raw.labels if synth.n_rois >= raw.n_rois else None
        frames = min(args.movie_frames, synth.n_frames)
        stack = make_synthetic_stack(
            traces=synth.traces[:, :frames],
            labels=labels,
            n_cells=synth.n_rois,
            fs_hz=synth.fs_hz,
            seed=args.seed,
        )
        n_movie_rois = int(stack.labels.max())
        movie_events = [e[e < frames / synth.fs_hz] for e in synth_events.events[:n_movie_rois]]
        napari_api.add_movie(
            viewer,
            stack.movie,
            synth.fs_hz,
            labels=stack.labels,
            name="synthetic movie",
            events=movie_events,
        )
        log(f"rendered a {np.shape(stack.movie)} synthetic movie", t0)
    except CalciumForgeError as exc:
        print(f"scripted_session: error: {exc}", file=sys.stderr)
        viewer.close()
        return 1

    # 5. arrange: the movie with its ROIs and spikes in the canvas, the real traces,
    #    ENS² rates and events in the docked Traces widget; other layers stay in the list
    shown = {"synthetic movie", "synthetic movie ROIs", "synthetic movie spikes"}
    for layer in viewer.layers:
        layer.visible = layer.name in shown
    viewer.layers["synthetic movie ROIs"].contour = 1
    _, traces = viewer.window.add_plugin_dock_widget("calcium-forge", "Traces")
    traces.traces_layer.value = viewer.layers[f"{raw.name} dF/F"]
    traces.rate_layer.value = viewer.layers[result.name]
    traces.rois.value = "0, 1, 2"
    traces.window_s.value = 30.0
    viewer.window.resize(1500, 900)
    spiking = int(
        np.argmax(
            np.bincount(
                np.concatenate(
                    [np.floor(e * synth.fs_hz).astype(int) for e in movie_events] or [[0]]
                ),
            )
        )
    )
    viewer.dims.set_current_step(0, spiking)
    viewer.reset_view()

    if args.screenshot is not None:
        from PIL import Image

        from calcium_forge.io.atomic import atomic_path

        shot = viewer.screenshot(canvas_only=False, flash=False)
        with atomic_path(args.screenshot) as tmp:
            Image.fromarray(shot).save(tmp, format="PNG")
        log(f"screenshot {shot.shape} saved to {args.screenshot}", t0)
    if args.show:
        napari.run()
    else:
        viewer.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
