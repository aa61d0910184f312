"""CPU cost of ENS² exact mode under different glibc allocator settings.

Runs ENS² (exact, shipped ens2-excitatory) on 2 ROIs x 10 min of the bundled
hippocampus recording in this process and prints wall and CPU seconds per
neuron-hour. Run it three ways, one fresh process each::

    python benchmarks/experiments/allocator_probe.py                               # default
    MALLOC_TRIM_THRESHOLD_=65536 python benchmarks/experiments/allocator_probe.py  # as in dask
    MALLOC_TRIM_THRESHOLD_=65536 python benchmarks/experiments/allocator_probe.py --tune

``--tune`` applies :func:`calcium_forge.inference._runtime.tune_for_inference` first.
"""

from __future__ import annotations

import argparse
import os
import time


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tune", action="store_true", help="apply tune_for_inference() first")
    args = ap.parse_args(argv)
    if args.tune:
        from calcium_forge.inference._runtime import tune_for_inference

        tune_for_inference()
    import torch

    torch.set_num_threads(1)
    from calcium_forge.datasets import hippocampus_dff
    from calcium_forge.inference import infer_spikes

    rec = hippocampus_dff().select([0, 1])
    infer_spikes(rec.traces[:, :3000], fs_hz=30.0, method="ens2", events=False)  # warm-up
    t, c = time.perf_counter(), time.process_time()
    infer_spikes(rec.traces, fs_hz=30.0, method="ens2", mode="exact", events=False)
    neuron_h = rec.n_rois * rec.duration_s / 3600
    print(
        f"MALLOC_TRIM_THRESHOLD_={os.environ.get('MALLOC_TRIM_THRESHOLD_')} tune={args.tune}: "
        f"wall {(time.perf_counter() - t) / neuron_h:.1f} s, "
        f"CPU {(time.process_time() - c) / neuron_h:.1f} s per neuron-hour"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
