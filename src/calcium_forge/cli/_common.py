"""Helpers that several sub-commands share."""

from __future__ import annotations


def read_one_recording(path: str, fs_hz: float | None, what: str):
    """Read a single Recording for the synthesis commands (raw -> dF/F)."""
    from ..errors import InvalidInputError
    from ..io import read

    result = read(path, **({} if fs_hz is None else {"fs_hz": fs_hz}))
    if isinstance(result, list):
        if len(result) != 1:
            raise InvalidInputError(
                f"{what} {path} holds {len(result)} recordings; convert the one you want to a "
                ".npz first (calcium-forge convert)."
            )
        result = result[0]
    if result.kind == "raw":
        from ..signal import to_dff

        result = to_dff(result)
    return result
