"""napari plugin of calcium-forge: readers, writers, widgets, sample data, layers.

The only package that imports napari or Qt (in its widget modules); the pure
layer conversion lives in :mod:`calcium_forge._napari.layers`.

Importing it stops torch from loading ``triton`` in this process (see
:func:`avoid_triton`): triton's bundled LLVM crashes (segfault) next to the
Mesa/llvmpipe OpenGL that a napari viewer has loaded, and torch imports it
lazily on the first optimiser step (``torch._dynamo``). On CPU torch does not
need triton. Set ``CALCIUM_FORGE_ALLOW_TRITON=1`` to keep it (GPU users with
a vendor OpenGL driver).
"""

from __future__ import annotations

import os
import sys


def avoid_triton() -> bool:
    """Make ``import triton`` fail in this process unless it is already imported.

    Returns
    -------
    bool
        True when triton is now blocked.
    """
    if os.environ.get("CALCIUM_FORGE_ALLOW_TRITON") == "1" or "triton" in sys.modules:
        return sys.modules.get("triton", 0) is None
    sys.modules["triton"] = None  # type: ignore[assignment]
    return True


avoid_triton()
