"""Windowed network inference over many long traces, with bounded memory.

Two ways to run a network over whole traces (all at the model rate):

* **Windowed** (ENS²): the trace is zero-padded by ``pad`` samples at both
  ends and cut into windows of ``window`` samples every ``stride`` samples;
  the network maps each window to ``window`` rates, and the rate of a time
  point is the mean (``reduce="mean"``) of all window predictions covering
  it. ``stride=1`` is the paper's *exact* mode (each point is the mean of up
  to ``window`` predictions); ``stride > 1`` is the *fast* mode (``window /
  stride`` predictions per point, ``stride`` times cheaper).
* **Sequence** (S2S): a fully convolutional network maps a whole trace to a
  trace of the same length (its analysis/synthesis frames are overlap-added
  inside the network). Long traces are processed in chunks with ``context``
  samples of real signal on both sides, which gives the same result as one
  pass over the whole trace as long as the context covers the network's
  receptive field.

Implementation of the windowed mode: rows of ROIs are processed in chunks;
windows are ``Tensor.unfold`` views of the padded chunk (no copy until the
network needs a contiguous batch); a batch holds the windows of several ROIs
for a block of window positions; predictions are overlap-added back with a
single ``torch.nn.functional.fold`` per batch; the number of windows covering
each point is computed once in closed form. Everything runs under
``torch.inference_mode`` with a configurable number of threads. Memory is
bounded by ``max_memory_mb`` (network activations are measured on a probe
batch), independent of the number of ROIs or the trace length, apart from the
output array itself. Threads and devices are set up by :mod:`._runtime`.

:func:`predict_trace` is the simple whole-trace form used in training
(validation scores, calibration), :func:`reference_windowed_rates` the plain
window-by-window loop the tests compare the engine with.

Size: about 550 lines, half of them docstrings; the code (about 250 lines) is
one job, running a network over whole traces in its three forms, and stays
together so that the windowed engine, its reference and the whole-trace form
are read side by side. Threads and devices are already in :mod:`._runtime`.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass

import numpy as np

from ..errors import InvalidInputError
from ..progress import Progress, drain
from ._runtime import device_of, network_on, resolve_device, torch_threads

#: Default working-memory budget of the engine (MB), excluding input/output arrays.
DEFAULT_MAX_MEMORY_MB = 512.0


@dataclass(frozen=True)
class WindowPlan:
    """How a trace of ``n_samples`` is cut into windows.

    Parameters
    ----------
    n_samples : int
        Trace length (samples at the model rate).
    window : int
        Window length (samples).
    stride : int
        Step between window starts (samples).
    pad_left, pad_right : int
        Zeros added before and after the trace; ``pad_right`` is extended so
        that the windows tile the padded trace to its end.
    n_windows : int
        Windows per trace.
    """

    n_samples: int
    window: int
    stride: int
    pad_left: int
    pad_right: int
    n_windows: int

    @property
    def padded_length(self) -> int:
        """Length of the padded trace (samples)."""
        return self.n_samples + self.pad_left + self.pad_right

    def coverage(self) -> np.ndarray:
        """Number of windows covering each sample of the padded trace.

        Returns
        -------
        numpy.ndarray
            float64 (padded_length,) window counts.
        """
        starts = np.zeros(self.padded_length)
        starts[np.arange(self.n_windows) * self.stride] = 1.0
        return np.convolve(starts, np.ones(self.window))[: self.padded_length]


def plan_windows(
    n_samples: int, window: int, stride: int = 1, pad: int | None = None
) -> WindowPlan:
    """Window layout for a trace.

    Parameters
    ----------
    n_samples : int
        Trace length (samples).
    window : int
        Window length (samples).
    stride : int
        Step between windows (1 = exact stride-1 mode).
    pad : int, optional
        Zero padding at each end (samples). Default ``window // 2``: the
        first and last samples are still covered by about half a window of
        predictions, so each point is the mean of *up to* ``window``
        predictions (fewer within ``window/2`` of the ends).

    Returns
    -------
    WindowPlan
    """
    if window < 1 or stride < 1 or stride > window:
        raise InvalidInputError(
            f"need 1 <= stride <= window; got window={window}, stride={stride}."
        )
    pad = window // 2 if pad is None else int(pad)
    if pad < 0 or pad >= window:
        raise InvalidInputError(f"pad must lie in 0..window-1 ({window - 1}); got {pad}.")
    if n_samples < window:
        raise InvalidInputError(
            f"trace of {n_samples} samples is shorter than one window ({window} samples); "
            "give a longer trace."
        )
    base = n_samples + 2 * pad - window
    extra = (-base) % stride
    n_windows = (base + extra) // stride + 1
    return WindowPlan(n_samples, window, stride, pad, pad + extra, n_windows)


def _activation_bytes_per_window(network, window: int, probe: int = 8) -> float:
    """Bytes of all module outputs per window (an upper bound of live activations)."""
    import torch

    total = [0]

    def hook(_module, _inputs, output):
        if isinstance(output, torch.Tensor):
            total[0] += output.numel() * output.element_size()

    handles = [m.register_forward_hook(hook) for m in network.modules() if m is not network]
    try:
        with torch.inference_mode():
            network(torch.zeros(probe, window, device=device_of(network)))
    finally:
        for h in handles:
            h.remove()
    return max(total[0] / probe, 4.0 * window)


def batch_size_for(network, window: int, max_memory_mb: float) -> int:
    """Windows per network call so that activations stay within ``max_memory_mb / 2``.

    Parameters
    ----------
    network : torch.nn.Module
        The window → window network (its activations are measured on a probe batch).
    window : int
        Window length (samples).
    max_memory_mb : float
        Working-memory budget (MB).

    Returns
    -------
    int
        Windows per call, between 64 and 1024 (larger batches fall out of the CPU cache).
    """
    per_window = _activation_bytes_per_window(network, window) + 12.0 * window
    n = int(max_memory_mb * 1e6 / 2 / per_window)
    return int(np.clip(n, 64, 1024))  # larger batches fall out of cache: slower on CPU


def iter_windowed_rates(
    network,
    traces: np.ndarray,
    window: int,
    stride: int = 1,
    pad: int | None = None,
    reduce: str = "mean",
    batch_windows: int | None = None,
    max_memory_mb: float = DEFAULT_MAX_MEMORY_MB,
    num_threads: int | None = None,
    device: str | None = None,
) -> Generator[Progress, None, np.ndarray]:
    """Run a window → window network over every window of many traces (generator).

    Parameters
    ----------
    network : torch.nn.Module
        Maps ``(B, window)`` float32 to ``(B, window)``; put in eval mode.
    traces : numpy.ndarray
        (n_rois, n_samples) or (n_samples,) input at the model rate, finite.
    window : int
        Window length (samples).
    stride : int
        Step between windows; 1 = exact (paper) mode.
    pad : int, optional
        Zero padding per end (default ``window // 2``, see :func:`plan_windows`).
    reduce : {"mean", "sum"}
        Combine overlapping predictions by their mean or sum.
    batch_windows : int, optional
        Windows per network call (default: from ``max_memory_mb``).
    max_memory_mb : float
        Working-memory budget (MB) for windows, activations and accumulators.
    num_threads : int, optional
        torch threads during the run (default: torch's current setting).
    device : str, optional
        torch device for the network (``"cuda"`` on a GPU worker); default CPU.
        Windows are cut and overlap-added on that device; only the finished
        chunk comes back to host memory.

    Yields
    ------
    Progress
        One per chunk of ROIs (``step``/``total`` count ROIs).

    Returns
    -------
    numpy.ndarray
        float32 (n_rois, n_samples) combined predictions.
    """
    import torch

    x = _finite_rows(traces)
    if reduce not in ("mean", "sum"):
        raise InvalidInputError(f"reduce must be 'mean' or 'sum'; got {reduce!r}.")
    n_rois, n_samples = x.shape
    plan = plan_windows(n_samples, window, stride, pad)
    out = np.empty((n_rois, n_samples), dtype=np.float32)
    if n_rois == 0:
        return out
    dev = resolve_device(device)
    network = network_on(network, dev)
    norm = plan.coverage() if reduce == "mean" else np.ones(plan.padded_length)
    norm_t = torch.from_numpy(
        (1.0 / norm[plan.pad_left : plan.pad_left + n_samples]).astype(np.float32)
    ).to(dev)
    with torch_threads(num_threads):
        if batch_windows is None:
            batch_windows = batch_size_for(network, window, max_memory_mb)
        k_block, roi_chunk = _windowed_blocks(plan, n_rois, int(batch_windows), max_memory_mb)
        with torch.inference_mode():
            for r0 in range(0, n_rois, roi_chunk):
                r1 = min(n_rois, r0 + roi_chunk)
                acc = _overlap_add(network, torch.from_numpy(x[r0:r1]).to(dev), plan, k_block)
                res = acc[:, plan.pad_left : plan.pad_left + n_samples] * norm_t
                out[r0:r1] = res.cpu().numpy()
                yield Progress(r1, n_rois, "windowed inference")
    return out


def _finite_rows(traces: np.ndarray) -> np.ndarray:
    """``traces`` as float32 (n_rois, n_samples), refusing other shapes and non-finite values."""
    x = np.asarray(traces, dtype=np.float32)
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2:
        raise InvalidInputError(f"traces must be (n_rois, n_samples); got shape {x.shape}.")
    if not np.isfinite(x).all():
        raise InvalidInputError("traces given to the engine must be finite (bridge NaN first).")
    return x


def _windowed_blocks(
    plan: WindowPlan, n_rois: int, batch_windows: int, max_memory_mb: float
) -> tuple[int, int]:
    """(window positions per batch, ROIs per chunk) for ``batch_windows`` windows per call."""
    batch_windows = max(1, batch_windows)
    k_block = min(plan.n_windows, batch_windows)
    rows_per_batch = max(1, batch_windows // k_block)
    # the padded chunk and its accumulator: 8 bytes per padded sample per ROI
    rows_mem = max(1, int(max_memory_mb * 1e6 / 4 / (8.0 * plan.padded_length)))
    return k_block, max(1, min(n_rois, rows_per_batch, rows_mem))


def _overlap_add(network, xc, plan: WindowPlan, k_block: int):
    """Sum of the predictions of every window of the rows ``xc``, on the padded time axis.

    Windows are ``unfold`` views of the padded rows (no copy until the network
    needs a contiguous batch); each batch holds ``k_block`` window positions of
    every row and is folded back with one ``torch.nn.functional.fold``.

    Returns
    -------
    torch.Tensor
        float32 (rows, padded_length) on the device of ``xc``.
    """
    import torch
    import torch.nn.functional as F

    window, stride = plan.window, plan.stride
    rows = xc.shape[0]
    windows = F.pad(xc, (plan.pad_left, plan.pad_right)).unfold(1, window, stride)
    acc = torch.zeros((rows, plan.padded_length), dtype=torch.float32, device=xc.device)
    for k0 in range(0, plan.n_windows, k_block):
        nk = min(plan.n_windows, k0 + k_block) - k0
        pred = network(windows[:, k0 : k0 + nk].reshape(-1, window)).reshape(rows, nk, window)
        span = (nk - 1) * stride + window
        folded = F.fold(
            pred.float().transpose(1, 2),
            output_size=(1, span),
            kernel_size=(1, window),
            stride=(1, stride),
        )
        acc[:, k0 * stride : k0 * stride + span] += folded[:, 0, 0]
    return acc


def windowed_rates(network, traces: np.ndarray, window: int, **kwargs) -> np.ndarray:
    """Plain-function form of :func:`iter_windowed_rates`.

    Parameters
    ----------
    network : torch.nn.Module
        Maps ``(B, window)`` float32 to ``(B, window)``.
    traces : numpy.ndarray
        (n_rois, n_samples) or (n_samples,) input at the model rate, finite.
    window : int
        Window length (samples).
    **kwargs
        Other arguments of :func:`iter_windowed_rates` (``stride``, ``pad``,
        ``reduce``, ``batch_windows``, ``max_memory_mb``, ``num_threads``, ``device``).

    Returns
    -------
    numpy.ndarray
        float32 (n_rois, n_samples) combined predictions (network output units,
        spikes per bin for the shipped models).
    """
    return drain(iter_windowed_rates(network, traces, window, **kwargs))


def reference_windowed_rates(
    network, traces: np.ndarray, window: int, stride: int = 1, pad: int | None = None
) -> np.ndarray:
    """The plain, slow stride-``stride`` averaging loop (one window at a time; for tests).

    Parameters
    ----------
    network : torch.nn.Module
        Maps ``(1, window)`` to ``(1, window)``.
    traces : numpy.ndarray
        (n_rois, n_samples) input.
    window, stride, pad
        As in :func:`iter_windowed_rates`.

    Returns
    -------
    numpy.ndarray
        float64 (n_rois, n_samples): at every sample, the mean of the
        predictions of all windows that cover it.
    """
    import torch

    x = np.atleast_2d(np.asarray(traces, dtype=np.float64))
    n_rois, n = x.shape
    p = window // 2 if pad is None else pad
    out = np.zeros((n_rois, n))
    for i in range(n_rois):
        xp = np.concatenate([np.zeros(p), x[i], np.zeros(p + window)])
        total = np.zeros(n + 2 * p + window)
        count = np.zeros(n + 2 * p + window)
        s = 0
        while True:
            seg = torch.tensor(xp[s : s + window], dtype=torch.float32)[None]
            with torch.no_grad():
                pred = network(seg)[0].double().numpy()
            total[s : s + window] += pred
            count[s : s + window] += 1
            if s + window >= n + 2 * p:
                break
            s += stride
        out[i] = total[p : p + n] / count[p : p + n]
    return out


def iter_sequence_rates(
    network,
    traces: np.ndarray,
    context: int,
    chunk_samples: int | None = None,
    max_memory_mb: float = DEFAULT_MAX_MEMORY_MB,
    num_threads: int | None = None,
    device: str | None = None,
) -> Generator[Progress, None, np.ndarray]:
    """Run a fully convolutional trace → trace network in overlapping chunks (generator).

    Parameters
    ----------
    network : torch.nn.Module
        Maps ``(B, L)`` to ``(B, L)`` for any ``L`` (e.g. S2S), zero-padding
        the trace ends itself.
    traces : numpy.ndarray
        (n_rois, n_samples) or (n_samples,) input at the model rate, finite.
    context : int
        Real samples added on each side of every chunk and discarded after
        the pass; must cover the network's receptive field (S2S: its window).
    chunk_samples : int, optional
        Output samples per chunk (default from ``max_memory_mb``).
    max_memory_mb : float
        Working-memory budget (MB).
    num_threads : int, optional
        torch threads during the run.
    device : str, optional
        torch device for the network (``"cuda"`` on a GPU worker); default CPU.

    Yields
    ------
    Progress
        One per chunk of ROIs.

    Returns
    -------
    numpy.ndarray
        float32 (n_rois, n_samples).
    """
    import torch

    x = _finite_rows(traces)
    n_rois, n = x.shape
    out = np.empty((n_rois, n), dtype=np.float32)
    if n_rois == 0:
        return out
    dev = resolve_device(device)
    with torch_threads(num_threads):
        # activations per input sample (S2S: ~ 4 layers x 30 channels x 4 B), probed
        # unless the network states it (Cascade's trace form calls no submodules to probe)
        per_sample = getattr(network, "activation_bytes_per_sample", None) or (
            _activation_bytes_per_window(network, 4 * context) / (4 * context)
        )
        budget = max_memory_mb * 1e6 / 2
        if chunk_samples is None:
            chunk_samples = int(np.clip(budget / per_sample, 8 * context, 2_000_000))
        chunk_samples = max(1, int(chunk_samples))
        seg = min(n, chunk_samples)
        rows = int(max(1, min(n_rois, budget // (per_sample * (seg + 2 * context)))))
        network = network_on(network, dev)
        with torch.inference_mode():
            for r0 in range(0, n_rois, rows):
                r1 = min(n_rois, r0 + rows)
                for s0 in range(0, n, seg):
                    s1 = min(n, s0 + seg)
                    a, b = max(0, s0 - context), min(n, s1 + context)
                    y = network(torch.from_numpy(x[r0:r1, a:b]).to(dev))
                    out[r0:r1, s0:s1] = y[:, s0 - a : s0 - a + (s1 - s0)].float().cpu().numpy()
                yield Progress(r1, n_rois, "sequence inference")
    return out


def sequence_rates(network, traces: np.ndarray, context: int, **kwargs) -> np.ndarray:
    """Plain-function form of :func:`iter_sequence_rates`.

    Parameters
    ----------
    network : torch.nn.Module
        Maps ``(B, L)`` to ``(B, L)`` for any ``L``.
    traces : numpy.ndarray
        (n_rois, n_samples) or (n_samples,) input at the model rate, finite.
    context : int
        Real samples added on each side of every chunk (samples).
    **kwargs
        Other arguments of :func:`iter_sequence_rates` (``chunk_samples``,
        ``max_memory_mb``, ``num_threads``, ``device``).

    Returns
    -------
    numpy.ndarray
        float32 (n_rois, n_samples) network output.
    """
    return drain(iter_sequence_rates(network, traces, context, **kwargs))


def predict_trace(
    network,
    dff: np.ndarray,
    method: str,
    window: int,
    stride: int = 1,
    batch_size: int = 4096,
    fs_hz: float | None = None,
) -> np.ndarray:
    """Raw network output for a whole trace at the model rate.

    ENS²: zero-padded stride-``stride`` windows, each sample the mean of the
    windows covering it (the paper's scheme for stride 1). S2S: one pass over
    the whole trace. Cascade: every sample from its own centred zero-padded
    window (the ensemble's mean), in one pass. NaN input samples are set to 0
    for the network.

    Parameters
    ----------
    network : torch.nn.Module
        Network in eval mode.
    dff : numpy.ndarray
        1-D dF/F at the model rate.
    method : str
        ``"ens2"``, ``"s2s"`` or ``"cascade"``.
    window : int
        ENS² window (samples).
    stride : int
        ENS² window stride (samples).
    batch_size : int
        Windows per forward pass.
    fs_hz : float, optional
        Rate of ``dff`` (Hz); needed by a conditioned network, which is given
        the trace's own noise level ν and this rate
        (:func:`calcium_forge.inference.networks.condition_values`).

    Returns
    -------
    numpy.ndarray
        float64 output, same length as ``dff``.
    """
    import torch

    from .matching import bind_trace_condition

    network = bind_trace_condition(network, dff, fs_hz)

    x = np.nan_to_num(np.asarray(dff, dtype=np.float32), nan=0.0)
    with torch.inference_mode():
        if method == "s2s":
            return network(torch.from_numpy(x)[None]).numpy()[0].astype(np.float64)
        if method == "cascade":
            from .cascade import CascadeOverTraces

            out = CascadeOverTraces(network)(torch.from_numpy(x)[None])
            return out.numpy()[0].astype(np.float64)
        n = x.size
        pad = window - 1
        xp = np.concatenate([np.zeros(pad, np.float32), x, np.zeros(pad, np.float32)])
        starts = np.arange(0, n + pad, stride)
        acc = np.zeros(xp.size)
        cnt = np.zeros(xp.size)
        offs = np.arange(window)
        for i in range(0, starts.size, batch_size):
            s = starts[i : i + batch_size]
            out = network(torch.from_numpy(xp[s[:, None] + offs])).numpy()
            idx = (s[:, None] + offs).ravel()
            np.add.at(acc, idx, out.ravel())
            np.add.at(cnt, idx, 1.0)
        return (acc / np.maximum(cnt, 1))[pad : pad + n]
