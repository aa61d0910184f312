"""napari writers: traces, rates and rasters to ``.npz``, ``.csv`` and ``.nwb``.

napari hands a writer the selected layers as ``(data, attributes, layer_type)``
tuples. The writer picks what to save from the layers' calcium-forge metadata:
a spike inference (rate/raster/overlay layer) wins over plain traces, so
saving ``plane0 rate (ENS²)`` writes rates, events and the input traces in one
file. A 2-D image opened elsewhere is saved as dF/F traces with the frame rate
taken from its time scale. The file itself is written by
:func:`calcium_forge.io.write` (atomically).
"""

from __future__ import annotations

from typing import Any

from ..errors import CalciumForgeError, InvalidInputError
from ..recording import Recording
from ..results import SpikeInference
from . import layers as L
from .readers import notify_error


def object_to_write(
    layer_data: list[tuple[Any, dict[str, Any], str]],
) -> Recording | SpikeInference:
    """The Recording or SpikeInference the selected layers stand for.

    Parameters
    ----------
    layer_data : list of (data, attributes, layer_type)
        The layers napari passes to a writer.

    Raises
    ------
    InvalidInputError
        When no layer holds traces, rates or spikes.
    """
    if not layer_data:
        raise InvalidInputError("no layer selected; select a traces, rate or raster layer to save.")
    infos = [(L.layer_info(attrs.get("metadata")), d, attrs, t) for d, attrs, t in layer_data]
    for info, _, _, _ in infos:
        if info and isinstance(info.get("recording"), SpikeInference):
            return info["recording"]
    for info, _, _, _ in infos:
        if (
            info
            and isinstance(info.get("recording"), Recording)
            and info.get("kind")
            in (
                "traces",
                "synthetic_traces",
                "rate",
                "raster",
                "rois",
                "mean_image",
            )
        ):
            return info["recording"]
    names = []
    for _, data, attrs, ltype in infos:
        names.append(f"{attrs.get('name', '?')} ({ltype})")
        if ltype == "image" and getattr(data, "ndim", 0) == 2:
            return L.recording_from_layer_data(
                data, attrs.get("metadata"), attrs.get("scale"), layer_name=attrs.get("name", "")
            )
    raise InvalidInputError(
        f"none of the selected layers ({', '.join(names)}) holds traces, rates or spikes; "
        "select a traces layer (n_rois x n_frames image) or a layer made by calcium-forge."
    )


def _write(path: str, layer_data: list[Any], suffix: str) -> list[str]:
    from ..io import write

    try:
        obj = object_to_write(layer_data)
        if not str(path).lower().endswith(suffix):
            path = f"{path}{suffix}"
        return [str(write(obj, path))]
    except CalciumForgeError as exc:
        notify_error(f"calcium-forge could not write {path}: {exc}")
        return []


def write_npz(path: str, layer_data: list[Any]) -> list[str]:
    """Write traces, rates and spike events of the selected layers to ``.npz``."""
    return _write(path, layer_data, ".npz")


def write_csv(path: str, layer_data: list[Any]) -> list[str]:
    """Write traces or rates of the selected layers to ``.csv`` (one column per ROI)."""
    return _write(path, layer_data, ".csv")


def write_nwb(path: str, layer_data: list[Any]) -> list[str]:
    """Write the selected layers to an NWB file (needs the ``nwb`` extra: pynwb)."""
    return _write(path, layer_data, ".nwb")
