"""Paired training data for spike inference: dF/F traces and smoothed spike targets.

Ground truth comes from Cascade-format ``.mat`` files (one neuron per file, one
or several recordings each) or from Recordings that carry spike times. For
every recording the dF/F is resampled (Fourier) to the model rate, the spike
times are counted in bins of that rate and smoothed with a Gaussian kernel
(ENS²: σ = 25 ms; S2S: an 11-sample window with sd 5 samples). Kernels are
normalised to unit sum, so targets keep the unit *spikes per bin*.

How the training loop draws from these traces (neuron split, windows, noise)
is :mod:`.sampling`.

Size: about 520 lines, 200 of them docstrings; the rest is one job (from
ground-truth files or Recordings to paired traces, with the Cascade folder
conventions those files follow).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ...errors import InvalidInputError, MissingFileError
from ...io import read
from ...recording import Recording
from ...signal import noise_level, resample
from ...spiketrains import bin_spikes, gaussian_kernel_ms, gaussian_window, smooth_spike_counts
from .config import SpikeTrainConfig

__all__ = [
    "INHIBITORY_DATASETS",
    "PairedData",
    "PairedTrace",
    "dataset_folders",
    "indicator_of",
    "load_ground_truth",
    "load_training_data",
    "paired_from_recordings",
    "target_kernel",
    "training_data",
]

#: Datasets of inhibitory neurons in the Cascade database (prefix of the folder name).
INHIBITORY_DATASETS: tuple[str, ...] = ("DS22", "DS23", "DS24", "DS25", "DS26", "DS27")

# ---------------------------------------------------------------------------
# reading ground truth
# ---------------------------------------------------------------------------


@dataclass
class _RawRecording:
    dff: np.ndarray  # (n,) float64, NaN allowed
    fs_hz: float
    spike_times_s: np.ndarray  # seconds from the first frame


def _read_cascade_mat(path: Path) -> list[_RawRecording]:
    """Read a Cascade ground-truth ``.mat`` file through :func:`calcium_forge.io.read`."""
    recs = read(path)
    if not isinstance(recs, list):
        recs = [recs]
    out = []
    for r in recs:
        spikes = r.spike_times[0] if r.spike_times else np.zeros(0)
        out.append(
            _RawRecording(
                dff=np.asarray(r.traces[0], dtype=np.float64),
                fs_hz=float(r.fs_hz),
                spike_times_s=np.asarray(spikes, dtype=np.float64),
            )
        )
    return out


def dataset_folders(
    root: str | os.PathLike[str],
    include: Iterable[str] | None = None,
    exclude: Iterable[str] | None = None,
) -> list[Path]:
    """Dataset folders (``DSxx-…``) under a ground-truth root, filtered by ``DSxx`` prefix.

    Parameters
    ----------
    root : path
        Folder holding one sub-folder per dataset.
    include, exclude : iterable of str, optional
        Dataset ids (``"DS22"``) or full folder names to keep / drop.

    Returns
    -------
    list of pathlib.Path
        Sorted dataset folders that contain at least one ``.mat`` file.
    """
    root = Path(root)
    if not root.is_dir():
        raise MissingFileError(
            f"ground-truth folder {str(root)!r} does not exist; pass the folder that holds the "
            "DSxx-* dataset folders (e.g. ../shared/data/ground_truth)"
        )

    def key(p: Path) -> set[str]:
        return {p.name, p.name.split("-")[0]}

    folders = sorted(p for p in root.iterdir() if p.is_dir() and any(p.glob("*.mat")))
    if include is not None:
        inc = set(include)
        folders = [p for p in folders if key(p) & inc]
    if exclude is not None:
        exc = set(exclude)
        folders = [p for p in folders if not key(p) & exc]
    return folders


def indicator_of(folder: str | os.PathLike[str]) -> str:
    """Calcium indicator named in a Cascade dataset folder (``DS11-GCaMP6f-m-V1`` → ``GCaMP6f``).

    The indicator is the part of the name between ``DSxx-`` and the species
    field (``m`` mouse, ``zf`` zebrafish), without a trailing replicate number
    (``DS02-OGB1-2-m-V1`` → ``OGB1``, ``DS19-R-CaMP-m-S1`` → ``R-CaMP``).

    Parameters
    ----------
    folder : path or str
        Dataset folder or its name, ``DSxx-<indicator>-<species>-…``.

    Returns
    -------
    str
        The indicator.

    Raises
    ------
    InvalidInputError
        When the name has no indicator before a species field.
    """
    parts = Path(folder).name.split("-")
    tokens: list[str] = []
    for tok in parts[1:]:
        if tok in _SPECIES:
            break
        tokens.append(tok)
    else:
        tokens = []
    if len(tokens) > 1 and tokens[-1].isdigit():
        tokens = tokens[:-1]
    if not parts[0].startswith("DS") or not tokens:
        raise InvalidInputError(
            f"dataset folder {str(folder)!r} does not name an indicator; Cascade folders are "
            "called DSxx-<indicator>-<species>-<area>, e.g. DS11-GCaMP6f-m-V1."
        )
    return "-".join(tokens)


#: Species fields of Cascade dataset names (mouse, zebrafish, rat, human).
_SPECIES = frozenset({"m", "zf", "r", "h"})


# ---------------------------------------------------------------------------
# paired data
# ---------------------------------------------------------------------------


@dataclass
class PairedTrace:
    """One ground-truth recording at the model rate.

    Attributes
    ----------
    dff : numpy.ndarray
        float32 dF/F (fraction) at ``fs_hz``; NaN where the recording has gaps.
    target : numpy.ndarray
        float32 smoothed spike counts (spikes per bin) at ``fs_hz``.
    counts : numpy.ndarray
        float32 raw spike counts per bin.
    spike_times_s : numpy.ndarray
        Spike times in seconds from the first sample.
    fs_hz : float
        Model rate (Hz).
    native_fs_hz : float
        Frame rate of the original recording (Hz).
    noise_level : float
        Cascade ν of the original recording at its native rate.
    dataset : str
        Dataset folder name (``DSxx-…``).
    neuron : str
        Neuron id (``<dataset>/<file stem>``).
    """

    dff: np.ndarray
    target: np.ndarray
    counts: np.ndarray
    spike_times_s: np.ndarray
    fs_hz: float
    native_fs_hz: float
    noise_level: float
    dataset: str
    neuron: str

    @property
    def dataset_id(self) -> str:
        """Short dataset id, e.g. ``"DS22"``."""
        return self.dataset.split("-")[0]


@dataclass
class PairedData:
    """A set of paired traces at one model rate, with the recipe that produced them.

    Attributes
    ----------
    traces : list of PairedTrace
        The recordings.
    fs_hz : float
        Model rate (Hz).
    kernel : numpy.ndarray
        Unit-sum target smoothing kernel (model samples).
    smoothing : dict
        Description of the kernel for the model card (see :func:`target_kernel`).
    """

    traces: list[PairedTrace]
    fs_hz: float
    kernel: np.ndarray
    smoothing: dict = field(default_factory=dict)

    @property
    def datasets(self) -> list[str]:
        """Sorted dataset folder names present."""
        return sorted({t.dataset for t in self.traces})

    @property
    def neurons(self) -> list[str]:
        """Sorted neuron ids present."""
        return sorted({t.neuron for t in self.traces})

    @property
    def duration_s(self) -> float:
        """Total duration of all traces (s)."""
        return float(sum(t.dff.size for t in self.traces) / self.fs_hz)

    def select(
        self,
        datasets: Iterable[str] | None = None,
        neurons: Iterable[str] | None = None,
        exclude_datasets: Iterable[str] | None = None,
    ) -> PairedData:
        """Subset by dataset and/or neuron ids.

        Parameters
        ----------
        datasets : iterable of str, optional
            Dataset folder names or ids (``"DS22"``) to keep.
        neurons : iterable of str, optional
            Neuron ids (``"<dataset>/<file stem>"``) to keep.
        exclude_datasets : iterable of str, optional
            Dataset folder names or ids to drop.

        Returns
        -------
        PairedData
            Same rate, kernel and smoothing; only the selected traces.
        """
        out = self.traces
        if datasets is not None:
            ds = set(datasets)
            out = [t for t in out if t.dataset in ds or t.dataset_id in ds]
        if exclude_datasets is not None:
            ex = set(exclude_datasets)
            out = [t for t in out if t.dataset not in ex and t.dataset_id not in ex]
        if neurons is not None:
            ns = set(neurons)
            out = [t for t in out if t.neuron in ns]
        return PairedData(list(out), self.fs_hz, self.kernel, dict(self.smoothing))


def _paired_from_raw(
    raw: _RawRecording, fs_hz: float, kernel: np.ndarray, dataset: str, neuron: str
) -> PairedTrace | None:
    y = raw.dff
    finite = np.isfinite(y)
    if finite.sum() < 2:
        return None
    nu = float(noise_level(y, raw.fs_hz))
    # bridge NaN stretches linearly for the Fourier resampler, then mask them again
    if not finite.all():
        k = np.flatnonzero(finite)
        filled = np.interp(np.arange(y.size), k, y[k])
    else:
        filled = y
    x = resample(filled, raw.fs_hz, fs_hz, dtype=np.float64)
    if not finite.all():
        src = np.minimum(
            np.floor(np.arange(x.size) * raw.fs_hz / fs_hz + 0.5).astype(np.int64), y.size - 1
        )
        # a model-rate sample is missing if any native frame within ±1 frame is missing
        bad = ~finite
        bad_wide = bad | np.r_[bad[1:], False] | np.r_[False, bad[:-1]]
        x[bad_wide[src]] = np.nan
    counts = bin_spikes(raw.spike_times_s, x.size, fs_hz)
    target = smooth_spike_counts(counts, kernel)
    return PairedTrace(
        dff=x.astype(np.float32),
        target=target.astype(np.float32),
        counts=counts.astype(np.float32),
        spike_times_s=np.asarray(raw.spike_times_s, dtype=np.float64),
        fs_hz=float(fs_hz),
        native_fs_hz=float(raw.fs_hz),
        noise_level=nu,
        dataset=dataset,
        neuron=neuron,
    )


def target_kernel(
    fs_hz: float, sigma_ms: float | None = 25.0, kernel_samples: tuple[int, float] | None = None
) -> tuple[np.ndarray, dict]:
    """The smoothing kernel of the training targets and its description for the model card.

    Parameters
    ----------
    fs_hz : float
        Model rate (Hz).
    sigma_ms : float or None
        Gaussian σ in ms (ENS²: 25); ignored when ``kernel_samples`` is given.
    kernel_samples : (int, float), optional
        Gaussian window (width, sd) in samples (S2S: (11, 5)).

    Returns
    -------
    (numpy.ndarray, dict)
        Unit-sum float64 kernel in model samples, and the ``target_smoothing``
        entry of the model card (read back by
        :func:`calcium_forge.inference.events.event_kernel`).

    Raises
    ------
    InvalidInputError
        When neither ``sigma_ms`` nor ``kernel_samples`` is given.
    """
    if kernel_samples is not None:
        width, sd = int(kernel_samples[0]), float(kernel_samples[1])
        return gaussian_window(width, sd), {
            "kind": "gaussian_window",
            "width_samples": width,
            "sd_samples": sd,
        }
    if sigma_ms is not None:
        smoothing = {"kind": "gaussian", "sigma_ms": float(sigma_ms)}
        return gaussian_kernel_ms(sigma_ms, fs_hz), smoothing
    raise InvalidInputError("give sigma_ms (ENS²) or kernel_samples (S2S) for the targets")


def load_ground_truth(
    root_or_folders: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    fs_hz: float = 60.0,
    sigma_ms: float | None = 25.0,
    kernel_samples: tuple[int, float] | None = None,
    include: Iterable[str] | None = None,
    exclude: Iterable[str] | None = None,
) -> PairedData:
    """Build paired (dF/F, smoothed spikes) traces at ``fs_hz`` from Cascade ``.mat`` files.

    Parameters
    ----------
    root_or_folders : path or sequence of paths
        A ground-truth root holding ``DSxx-*`` folders, a list of dataset
        folders, or a list of ``.mat`` files (dataset = parent folder name).
    fs_hz : float
        Model rate in Hz (ENS²: 60, S2S: 100).
    sigma_ms : float or None
        Gaussian σ of the target kernel in ms (ENS²: 25). Ignored when
        ``kernel_samples`` is given.
    kernel_samples : (int, float), optional
        Gaussian window (width, sd) in samples (S2S: (11, 5)).
    include, exclude : iterable of str, optional
        Dataset ids / folder names to keep or drop (only for a root folder).

    Returns
    -------
    PairedData
    """
    if fs_hz is None or not fs_hz > 0:
        raise InvalidInputError(f"fs_hz must be > 0, got {fs_hz!r}")
    kernel, smoothing = target_kernel(fs_hz, sigma_ms, kernel_samples)
    if isinstance(root_or_folders, str | os.PathLike):
        paths = [Path(root_or_folders)]
    else:
        paths = [Path(p) for p in root_or_folders]
    files: list[Path] = []
    for p in paths:
        if p.is_file():
            files.append(p)
        elif p.is_dir() and any(p.glob("*.mat")):
            files += sorted(p.glob("*.mat"))
        elif p.is_dir():
            for folder in dataset_folders(p, include=include, exclude=exclude):
                files += sorted(folder.glob("*.mat"))
        else:
            raise MissingFileError(
                f"ground-truth path {str(p)!r} does not exist; pass a DSxx-* folder, its parent, "
                "or .mat files"
            )
    if not files:
        raise MissingFileError(f"no .mat ground-truth files found under {[str(p) for p in paths]}")

    traces = []
    for f in files:
        dataset = f.parent.name
        neuron = f"{dataset}/{f.stem}"
        for raw in _read_cascade_mat(f):
            t = _paired_from_raw(raw, fs_hz, kernel, dataset, neuron)
            if t is not None:
                traces.append(t)
    return PairedData(traces, float(fs_hz), kernel, smoothing)


def load_training_data(
    paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    config: SpikeTrainConfig,
    include: Iterable[str] | None = None,
    exclude: Iterable[str] | None = None,
) -> PairedData:
    """Paired data at the config's rate and target smoothing (see :func:`load_ground_truth`).

    Parameters
    ----------
    paths : path or sequence of paths
        Ground-truth root, dataset folders or ``.mat`` files.
    config : SpikeTrainConfig
        Gives the model rate (``fs_hz``, Hz) and the target smoothing.
    include, exclude : iterable of str, optional
        Dataset ids / folder names to keep or drop (only for a root folder).

    Returns
    -------
    PairedData
    """
    return load_ground_truth(
        paths,
        fs_hz=config.fs_hz,
        sigma_ms=config.sigma_ms,
        kernel_samples=config.kernel_samples,
        include=include,
        exclude=exclude,
    )


def training_data(
    data: PairedData | str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    config: SpikeTrainConfig,
) -> PairedData:
    """The paired data of a training run: ``data`` itself, or loaded from ground-truth paths.

    Parameters
    ----------
    data : PairedData or path(s)
        Paired data, or paths for :func:`load_training_data`.
    config : SpikeTrainConfig
        Settings of the run.

    Returns
    -------
    PairedData

    Raises
    ------
    InvalidInputError
        When paired data given as such are not at the config's rate.
    """
    if not isinstance(data, PairedData):
        data = load_training_data(data, config)
    if abs(data.fs_hz - config.fs_hz) > 1e-9:
        raise InvalidInputError(
            f"paired data are at {data.fs_hz} Hz but the {config.method} config expects "
            f"{config.fs_hz} Hz; load them with load_training_data(paths, config)"
        )
    return data


def paired_from_recordings(recs: Sequence[Recording], config: SpikeTrainConfig) -> PairedData:
    """Paired training data at the model rate from dF/F Recordings with ground truth.

    Recordings read from Cascade ``.mat`` files are reloaded from their file
    (:func:`load_training_data`, which keeps their datasets and neurons);
    others (synthetic, ``.npz``, napari layers) are paired ROI by ROI as
    neurons ``"<name>/roi<i>"`` of a dataset ``<name>``.

    Parameters
    ----------
    recs : sequence of Recording
        ``kind="dff"`` recordings with ``spike_times`` (s).
    config : SpikeTrainConfig
        Gives the model rate (``fs_hz``) and the target smoothing.

    Returns
    -------
    PairedData
    """
    mats = sorted({r.source for r in recs if r.source and r.source.lower().endswith(".mat")})
    others = [r for r in recs if not (r.source and r.source.lower().endswith(".mat"))]
    paired = load_training_data(mats, config) if mats else None
    if not others:
        return paired
    kernel, smoothing = target_kernel(config.fs_hz, config.sigma_ms, config.kernel_samples)
    traces = list(paired.traces) if paired is not None else []
    for r in others:
        for i in range(r.n_rois):
            raw = _RawRecording(
                dff=r.traces[i].astype(np.float64), fs_hz=r.fs_hz, spike_times_s=r.spike_times[i]
            )
            t = _paired_from_raw(raw, config.fs_hz, kernel, r.name, f"{r.name}/roi{i}")
            if t is not None:
                traces.append(t)
    return PairedData(traces, float(config.fs_hz), kernel, smoothing)
