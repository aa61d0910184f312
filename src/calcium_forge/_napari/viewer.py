"""Put calcium-forge objects into a napari viewer (re-exported by :mod:`calcium_forge.napari_api`).

Scripts use these instead of private imports::

    import napari
    from calcium_forge import napari_api
    from calcium_forge.datasets import load_hippocampus

    viewer = napari.Viewer()
    layers = napari_api.add_recording(viewer, load_hippocampus())

:func:`layer_data` is the pure converter behind them: it returns napari
layer-data tuples ``(data, kwargs, layer_type)`` and needs no viewer (nor Qt).
Importing this module imports neither napari nor Qt; the ``add_*`` functions
only call ``viewer.add_<layer_type>``.
"""

from __future__ import annotations

from typing import Any

from ..errors import InvalidInputError
from ..recording import Recording
from ..results import SpikeInference

__all__ = [
    "add_inference",
    "add_layer_data",
    "add_movie",
    "add_recording",
    "add_synthetic",
    "find_layers",
    "layer_data",
]


def layer_data(obj: Any, *, name: str | None = None, synthetic: bool = False) -> list[tuple]:
    """napari layer-data tuples for a Recording, SpikeInference or Stack.

    Parameters
    ----------
    obj : Recording, SpikeInference or Stack
        What to show. A raw Recording (F + neuropil) is shown as dF/F.
    name : str, optional
        Source name used in layer names (default: the object's name).
    synthetic : bool
        Show a Recording as synthetic traces (kind ``"synthetic_traces"``).

    Returns
    -------
    list of (data, kwargs, layer_type)
        Ready for ``viewer.add_<layer_type>(data, **kwargs)``; every kwargs has
        ``metadata["calcium_forge"]`` with the layer ``kind`` and the object.
    """
    from . import layers as L
    from .readers import recording_to_layers

    if isinstance(obj, SpikeInference):
        return L.inference_layers(obj, name=name)
    if isinstance(obj, Recording):
        if synthetic:
            return L.synthetic_layers(obj, name=name)
        return recording_to_layers(obj, name=name)
    if hasattr(obj, "data") and hasattr(obj, "fs_hz"):  # io.Stack
        src = getattr(obj, "source", None)
        from pathlib import Path

        stem = name or (Path(src).stem if src else "stack")
        return [L.stack_layer(obj.data, obj.fs_hz, name=stem, recording=obj, source=src)]
    raise InvalidInputError(
        f"cannot show an object of type {type(obj).__name__} in napari; pass a Recording, "
        "a SpikeInference or a Stack."
    )


def add_layer_data(viewer: Any, tuples: list[tuple]) -> list[Any]:
    """Add layer-data tuples to ``viewer``; returns the new layers."""
    added = []
    for data, kwargs, layer_type in tuples:
        added.append(getattr(viewer, f"add_{layer_type}")(data, **kwargs))
    return added


def add_recording(viewer: Any, recording: Recording, *, name: str | None = None) -> list[Any]:
    """Add a recording: mean image, ROIs (Labels), dF/F traces, ground-truth raster.

    Returns the added layers.
    """
    if not isinstance(recording, Recording):
        raise InvalidInputError(f"add_recording needs a Recording; got {type(recording).__name__}.")
    return add_layer_data(viewer, layer_data(recording, name=name))


def add_inference(viewer: Any, result: SpikeInference, *, name: str | None = None) -> list[Any]:
    """Add a spike inference: rate and raster (hidden, drawn by the Traces dock), spike overlay."""
    if not isinstance(result, SpikeInference):
        raise InvalidInputError(
            f"add_inference needs a SpikeInference; got {type(result).__name__}."
        )
    return add_layer_data(viewer, layer_data(result, name=name))


def add_synthetic(
    viewer: Any,
    recording: Recording,
    *,
    name: str | None = None,
    inference: SpikeInference | None = None,
) -> list[Any]:
    """Add synthetic traces (Image) and their raster (Points).

    The raster shows ``recording.spike_times`` when the generator produced
    spikes, else ``inference.events`` when given (e.g. OASIS on the traces).
    """
    from . import layers as L

    if not isinstance(recording, Recording):
        raise InvalidInputError(f"add_synthetic needs a Recording; got {type(recording).__name__}.")
    return add_layer_data(viewer, L.synthetic_layers(recording, name=name, inference=inference))


def add_movie(
    viewer: Any,
    movie: Any,
    fs_hz: float,
    *,
    labels: Any = None,
    name: str = "synthetic movie",
    recording: Any = None,
    events: list | None = None,
) -> list[Any]:
    """Add a (synthetic) movie (n_frames, Y, X) with time scale 1/fs_hz s, its ROIs and spikes.

    Parameters
    ----------
    viewer : napari.Viewer
        Where to add the layers.
    movie : array-like
        (n_frames, Y, X) frames; may be lazy.
    fs_hz : float
        Frame rate, Hz (the time axis is in seconds).
    labels : numpy.ndarray, optional
        ROI label image (Y, X) -> a Labels layer ``"<name> ROIs"``.
    name : str
        Layer name of the movie.
    recording : object, optional
        Stored in the layers' metadata.
    events : list of numpy.ndarray, optional
        Spike times (s) per ROI -> a spike-overlay Labels layer ``"<name> spikes"``
        (needs ``labels``).
    """
    from . import layers as L

    tuples = [L.stack_layer(movie, fs_hz, name=name, recording=recording, kind="synthetic_movie")]
    if labels is not None:
        import numpy as np

        lab = np.asarray(labels)
        n = int(lab.max()) if lab.size else 0
        rec = recording if isinstance(recording, Recording) else None
        iscell = rec.iscell if rec is not None and rec.n_rois == n else None
        tuples.append(
            (
                lab,
                {
                    "name": f"{name} ROIs",
                    "colormap": L.roi_colors(n, iscell),
                    "opacity": 0.5,
                    "metadata": L.cf_metadata("rois", recording, synthetic=True),
                },
                "labels",
            )
        )
    if events is not None and labels is not None:
        import numpy as np

        tuples.append(
            L.spike_overlay_layer(
                events,
                fs_hz,
                np.asarray(labels),
                name=f"{name} spikes",
                recording=recording,
                n_frames=int(np.shape(movie)[0]),
            )
        )
    added = add_layer_data(viewer, tuples)
    if labels is not None:
        added[1].contour = 1  # ROI outlines: the movie stays visible inside them
    return added


def find_layers(viewer: Any, kind: str) -> list[Any]:
    """Layers of ``viewer`` whose ``metadata["calcium_forge"]["kind"]`` is ``kind``."""
    from .layers import layer_info

    out = []
    for layer in viewer.layers:
        info = layer_info(getattr(layer, "metadata", None))
        if info is not None and info.get("kind") == kind:
            out.append(layer)
    return out
