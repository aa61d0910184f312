"""Exception hierarchy of calcium-forge.

Every error raised for bad user input is a :class:`CalciumForgeError`; the
concrete classes also derive from the matching builtin (``ValueError``,
``FileNotFoundError``, ``ImportError``) so that generic handlers keep working.
Messages name the file or argument, the value received and the fix.
"""

from __future__ import annotations


class CalciumForgeError(Exception):
    """Base class of every error calcium-forge raises on purpose."""


class InvalidInputError(CalciumForgeError, ValueError):
    """An argument or an in-memory value is not acceptable (shape, range, NaN...)."""


class FileFormatError(CalciumForgeError, ValueError):
    """A file exists but its content is malformed or of an unsupported kind."""


class UnsafePickleError(FileFormatError):
    """A pickle file asked to construct something outside the allow-list."""


class MissingFileError(CalciumForgeError, FileNotFoundError):
    """A required file or folder does not exist."""


class ModelError(CalciumForgeError, ValueError):
    """A model file or model name cannot be used (architecture, metadata, format)."""


class WriteError(CalciumForgeError, OSError):
    """An output file cannot be written (no permission, read-only or full disk)."""


class MissingDependencyError(CalciumForgeError, ImportError):
    """An optional dependency (extra) needed for this feature is not installed."""


class SuspectInputWarning(UserWarning):
    """An input is legal but suspect (it was read, with a repair the warning describes)."""


def require(module: str, extra: str, feature: str):
    """Import an optional module or raise a :class:`MissingDependencyError`.

    Parameters
    ----------
    module : str
        Module to import, e.g. ``"pynwb"``.
    extra : str
        Name of the calcium-forge extra that installs it, e.g. ``"nwb"``.
    feature : str
        What the user tried to do, for the message.

    Returns
    -------
    module
        The imported module.
    """
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise MissingDependencyError(
            f"{feature} needs the optional package {module!r}, which is not installed "
            f"({exc}). Install it with: pip install 'calcium-forge[{extra}]'"
        ) from exc
