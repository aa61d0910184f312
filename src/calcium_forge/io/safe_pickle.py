"""A restricted unpickler for the pickled ``.npy`` files suite2p writes.

suite2p saves ``stat.npy``, ``ops.npy`` (and in 1.x ``settings.npy``,
``db.npy``, ``reg_outputs.npy``, ``detect_outputs.npy``) as numpy object
arrays, i.e. pickles. ``numpy.load(allow_pickle=True)`` would execute any
callable a crafted file names. Here only the globals needed to rebuild numpy
arrays, dtypes and scalars and builtin containers are resolved; any other
global makes :class:`~calcium_forge.errors.UnsafePickleError` raise *before*
anything is called, so nothing from the file runs. The allow-list was checked
against the pickles of a real suite2p 1.1 run (``ops.npy`` holds a
``datetime.datetime`` with a ``datetime.timezone``).
"""

from __future__ import annotations

import io
import math
import os
import pickle
import tokenize
from typing import Any

import numpy as np

from ..errors import FileFormatError, UnsafePickleError
from .limits import available_memory_bytes, check_allocation, format_bytes, require_regular_file

__all__ = [
    "ALLOWED_GLOBALS",
    "PICKLE_SLACK_BYTES",
    "RestrictedUnpickler",
    "load_npy",
    "loads_restricted",
]

#: A pickle may build objects up to its own size plus this many bytes. Every
#: object a real suite2p pickle holds carries its data in the stream, so only a
#: crafted file (``bytearray(2_000_000_000)`` in 200 bytes) goes beyond.
PICKLE_SLACK_BYTES = 1024**2

#: (module, name) pairs a pickle may reference. Everything else is refused.
ALLOWED_GLOBALS: frozenset[tuple[str, str]] = frozenset(
    {
        # numpy arrays, dtypes and scalars (numpy 1.x and 2.x module paths)
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy.core.numeric", "_frombuffer"),
        ("numpy._core.numeric", "_frombuffer"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        # builtin containers and plain values
        ("builtins", "set"),
        ("builtins", "frozenset"),
        ("builtins", "complex"),
        ("builtins", "bytearray"),
        ("builtins", "slice"),
        ("builtins", "range"),
        ("collections", "OrderedDict"),
        # plain value types (suite2p 1.x stores date_proc as a timezone-aware datetime)
        ("datetime", "datetime"),
        ("datetime", "date"),
        ("datetime", "time"),
        ("datetime", "timedelta"),
        ("datetime", "timezone"),
        ("__builtin__", "set"),
        ("__builtin__", "frozenset"),
    }
)


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that resolves only :data:`ALLOWED_GLOBALS`.

    Parameters
    ----------
    file : binary file object
        The pickle stream.
    source : str
        File name used in error messages.
    """

    def __init__(self, file: Any, source: str, max_bytes: int | None = None) -> None:
        super().__init__(file, encoding="latin1")
        self._source = source
        cap = available_memory_bytes() if max_bytes is None else int(max_bytes)
        self._max_bytes = min(cap, available_memory_bytes())
        self._originals: dict[Any, Any] = {}  # guarded wrapper -> the class it stands for

    def _refuse_size(self, what: str, n_bytes: int) -> None:
        if n_bytes > self._max_bytes:
            raise UnsafePickleError(
                f"{self._source}: refused to load the pickle: it asks for {what} of "
                f"{format_bytes(n_bytes)}, more than the {format_bytes(self._max_bytes)} a "
                "pickle of this size can hold (the size cap is the file's size plus 1 MiB). "
                "Nothing was allocated. The file is crafted or damaged; re-export it from suite2p."
            )

    def _array_bytes(self, shape: Any, dtype: Any) -> None:
        try:
            dims = (int(shape),) if np.isscalar(shape) else tuple(int(d) for d in shape)
            n_bytes = math.prod(max(d, 0) for d in dims) * np.dtype(dtype).itemsize
        except (TypeError, ValueError, OverflowError):
            return  # numpy itself refuses such arguments, before allocating
        self._refuse_size(f"an array of shape {dims} ({np.dtype(dtype).name})", n_bytes)

    def _guard(self, obj: Any) -> Any:
        """Wrap the constructors that allocate from a size argument with a size check."""
        if obj in (bytearray, set, frozenset):

            def sized(*args: Any, **kwargs: Any) -> Any:
                arg = args[0] if args else None
                if isinstance(arg, (int, np.integer)) and not isinstance(arg, bool):
                    self._refuse_size(f"{obj.__name__}({int(arg)})", int(arg))
                elif isinstance(arg, range):
                    self._refuse_size(f"{obj.__name__} of {len(arg)} items", 8 * len(arg))
                return obj(*args, **kwargs)

            return sized
        if obj is np.ndarray:

            def ndarray(shape: Any = (), dtype: Any = float, buffer: Any = None, *a, **k) -> Any:
                if buffer is None:
                    self._array_bytes(shape, dtype)
                return np.ndarray(shape, dtype, buffer, *a, **k)

            self._originals[ndarray] = np.ndarray
            return ndarray
        if getattr(obj, "__name__", "") == "_reconstruct":

            def reconstruct(subtype: Any, shape: Any, dtype: Any) -> Any:
                self._array_bytes(shape, dtype)
                return obj(self._originals.get(subtype, subtype), shape, dtype)

            return reconstruct
        return obj

    def find_class(self, module: str, name: str) -> Any:
        """Resolve a global only when allowed (pickle hook).

        Parameters
        ----------
        module, name : str
            The global the pickle asks for.

        Returns
        -------
        object
            The class or function, when in :data:`ALLOWED_GLOBALS` or a numpy
            ``DType`` class.

        Raises
        ------
        UnsafePickleError
            For any other global; nothing from the file is executed.
        """
        if (module, name) in ALLOWED_GLOBALS:
            return self._guard(super().find_class(module, name))
        # numpy's per-dtype classes (numpy.dtypes.Float64DType ...) are data only
        if module == "numpy.dtypes" and name.endswith("DType"):
            return super().find_class(module, name)
        raise UnsafePickleError(
            f"{self._source}: refused to load the pickle: it references the global "
            f"'{module}.{name}', which is not an allowed numpy/builtin type (only numpy "
            "arrays, dtypes, scalars and builtin containers are accepted). Nothing from the "
            "file was executed. If this file really comes from suite2p, re-save it with "
            "plain numpy/builtin values."
        )

    def persistent_load(self, pid: Any) -> Any:
        """Refuse persistent ids (pickle hook; suite2p files never use them).

        Parameters
        ----------
        pid : object
            The persistent id found in the stream.

        Raises
        ------
        UnsafePickleError
            Always.
        """
        raise UnsafePickleError(
            f"{self._source}: refused to load the pickle: it uses persistent ids ({pid!r}), "
            "which suite2p files never contain. Nothing from the file was executed."
        )


def loads_restricted(data: bytes, source: str = "<bytes>") -> Any:
    """Unpickle ``data`` with :class:`RestrictedUnpickler`.

    Objects are capped at ``len(data)`` plus :data:`PICKLE_SLACK_BYTES`: a
    constructor asking for more (``bytearray(n)``, an array shape) is refused
    before anything is allocated.

    Parameters
    ----------
    data : bytes
        Pickle stream.
    source : str
        Name used in error messages.

    Returns
    -------
    object
        The reconstructed object (numpy arrays, scalars, dicts, lists...).

    Raises
    ------
    UnsafePickleError
        If the stream references a global outside the allow-list or asks for an
        object larger than the cap.
    FileFormatError
        If the stream is not a valid pickle.
    """
    try:
        cap = len(data) + PICKLE_SLACK_BYTES
        return RestrictedUnpickler(io.BytesIO(data), source, max_bytes=cap).load()
    except UnsafePickleError:
        raise
    except Exception as exc:
        raise FileFormatError(
            f"{source}: the pickled content is malformed or truncated ({type(exc).__name__}: "
            f"{exc}). Re-export the file."
        ) from exc


def load_npy(path: str | os.PathLike[str]) -> Any:
    """Load a ``.npy`` file; object arrays go through the restricted unpickler.

    Parameters
    ----------
    path : str or os.PathLike
        A ``.npy`` file (plain numeric array or pickled object array).

    Returns
    -------
    numpy.ndarray
        The array. Numeric arrays are read with ``allow_pickle=False``.

    Raises
    ------
    FileFormatError
        If the file is not a valid ``.npy`` file, is truncated, is not a regular
        file (FIFO, device) or declares an array larger than the available memory.
    UnsafePickleError
        If an object array references anything beyond numpy/builtin types.
    """
    path = require_regular_file(path)
    try:
        with open(path, "rb") as fh:
            version = np.lib.format.read_magic(fh)
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(fh)
            else:
                shape, _, dtype = np.lib.format.read_array_header_2_0(fh)
            if not dtype.hasobject:
                check_allocation(shape, dtype, "the array its header declares", str(path))
                n_bytes = int(np.prod(shape, dtype=np.float64)) * dtype.itemsize
                left = os.fstat(fh.fileno()).st_size - fh.tell()
                if n_bytes > left:
                    raise FileFormatError(
                        f"{path}: the .npy header declares {shape} {dtype} "
                        f"({format_bytes(n_bytes)}) but only {format_bytes(left)} of data "
                        "follow; the file is truncated. Re-export it."
                    )
                fh.seek(0)
                return np.lib.format.read_array(fh, allow_pickle=False)
            payload = fh.read()
    except FileFormatError:
        raise
    except (ValueError, OSError, EOFError, SyntaxError, tokenize.TokenError) as exc:
        # numpy parses the header dict with ast/tokenize: a damaged one raises their errors
        raise FileFormatError(
            f"{path}: not a readable .npy file ({exc}). Check that the file is complete."
        ) from exc
    obj = loads_restricted(payload, str(path))
    if not isinstance(obj, np.ndarray):
        raise FileFormatError(
            f"{path}: the .npy header announces an object array but the pickle holds a "
            f"{type(obj).__name__}. The file is malformed; re-export it."
        )
    return obj
