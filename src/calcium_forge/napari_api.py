"""Public helpers to put calcium-forge objects into a napari viewer.

Scripts use these instead of private imports::

    import napari
    from calcium_forge import napari_api
    from calcium_forge.datasets import load_hippocampus

    viewer = napari.Viewer()
    layers = napari_api.add_recording(viewer, load_hippocampus())

:func:`layer_data` is the pure converter behind them: it returns napari
layer-data tuples ``(data, kwargs, layer_type)`` and needs no viewer (nor Qt).
Importing this module imports neither napari nor Qt; the ``add_*`` functions
only call ``viewer.add_<layer_type>``. This module only re-exports; the
implementation lives in :mod:`calcium_forge._napari.viewer`.
"""

from __future__ import annotations

from ._napari.viewer import (
    add_inference,
    add_layer_data,
    add_movie,
    add_recording,
    add_synthetic,
    find_layers,
    layer_data,
)

__all__ = [
    "add_inference",
    "add_layer_data",
    "add_movie",
    "add_recording",
    "add_synthetic",
    "find_layers",
    "layer_data",
]
