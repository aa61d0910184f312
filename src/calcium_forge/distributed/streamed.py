"""Spike inference for one recording larger than RAM, ROI block by ROI block.

The engine lives in :mod:`calcium_forge.inference.streamed`; this module gives
it the blocking, progress-bar front end that sits beside :func:`batch_infer`.
"""

from __future__ import annotations

import os
from typing import Any

from ..inference.streamed import StreamedInference, iter_infer_spikes_streamed
from ..progress import drain

__all__ = ["StreamedInference", "infer_spikes_streamed", "iter_infer_spikes_streamed"]


def infer_spikes_streamed(
    traces: Any,
    out_path: str | os.PathLike,
    fs_hz: float,
    *,
    roi_block: int = 100,
    method: str = "ens2",
    model: Any = None,
    events: bool = True,
    mode: str = "exact",
    progress_bar: bool = False,
    **infer_options: Any,
) -> StreamedInference:
    """Infer spikes for a recording larger than RAM, ``roi_block`` ROIs at a time.

    Parameters
    ----------
    traces : path or array-like
        dF/F (fraction), (n_rois, n_frames): a ``.npy`` file (read block by
        block with plain reads) or an array-like supporting row slices (zarr,
        h5py dataset, memmap).
    out_path : path
        Output calcium-forge ``.npz`` (SpikeInference without the input
        recording), written as a stream through a temporary file.
    fs_hz : float
        Frame rate in Hz.
    roi_block : int
        ROIs per block; peak memory grows with it (one block of input, its
        rates, and the engine's working memory).
    method, model, events, mode, **infer_options
        As in :func:`calcium_forge.inference.infer_spikes`.
    progress_bar : bool
        Show a tqdm bar.

    Returns
    -------
    StreamedInference
        Where the result is and its size; the arrays are not returned.
    """
    gen = iter_infer_spikes_streamed(
        traces,
        out_path,
        fs_hz,
        roi_block=roi_block,
        method=method,
        model=model,
        events=events,
        mode=mode,
        **infer_options,
    )
    return drain(gen, progress_bar=progress_bar, desc=f"{method} streamed inference")
