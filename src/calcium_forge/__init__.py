"""calcium-forge: between calcium imaging and spikes, in both directions.

The top-level namespace imports neither napari, Qt nor torch; the heavy
parts load on first use.

>>> import calcium_forge as cf
>>> rec = cf.read("suite2p/plane0", fs_hz=30.0)          # doctest: +SKIP
>>> result = cf.infer_spikes(rec, method="ens2")         # doctest: +SKIP
>>> cf.write(result, "plane0_spikes.npz")                # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

from ._version import __version__
from .errors import (
    CalciumForgeError,
    FileFormatError,
    InvalidInputError,
    MissingDependencyError,
    MissingFileError,
    ModelError,
    SuspectInputWarning,
    UnsafePickleError,
    WriteError,
)
from .recording import Recording

__all__ = [
    "CalciumForgeError",
    "FileFormatError",
    "InvalidInputError",
    "MissingDependencyError",
    "MissingFileError",
    "ModelError",
    "Recording",
    "SuspectInputWarning",
    "UnsafePickleError",
    "WriteError",
    "__version__",
    "infer_spikes",
    "read",
    "write",
]

_LAZY = {
    "read": ("calcium_forge.io", "read"),
    "write": ("calcium_forge.io", "write"),
    "infer_spikes": ("calcium_forge.inference", "infer_spikes"),
}


_SUBMODULES = {
    "datasets",
    "distributed",
    "evaluation",
    "inference",
    "io",
    "signal",
    "synthesis",
}


def __getattr__(name: str) -> Any:
    import importlib

    if name in _LAZY:
        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    if name in _SUBMODULES:  # ``cf.io.read_stack`` etc. without an explicit import
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'calcium_forge' has no attribute {name!r}")
