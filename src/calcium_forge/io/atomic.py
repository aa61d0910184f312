"""Atomic file writing: a temporary file next to the target, renamed at the end.

Every file calcium-forge writes (recordings, results, checkpoints, models,
figures, JSON) goes through :func:`atomic_path`, so that an interrupted or
failed write never leaves a truncated file where a good one was expected.
:func:`write_text` is the one-call form for text (JSON, Markdown).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from ..errors import MissingFileError

__all__ = ["atomic_path", "write_text"]


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; move it onto ``path`` on success.

    The temporary file lives in the same directory (same file system), so the
    final :func:`os.replace` is atomic. If the ``with`` block raises, the
    temporary file is removed and ``path`` is left untouched (an existing file
    keeps its old content; a new file never appears).

    Parameters
    ----------
    path : str or os.PathLike
        Final destination. Its parent directory must exist.

    Yields
    ------
    pathlib.Path
        The temporary path to write to. It keeps the suffix of ``path`` (so
        libraries that choose a format by extension behave) and does not exist
        yet when yielded.

    Raises
    ------
    MissingFileError
        If the parent directory of ``path`` does not exist.

    Examples
    --------
    >>> with atomic_path("out.npz") as tmp:           # doctest: +SKIP
    ...     np.savez(tmp, x=np.arange(3))
    """
    final = Path(path)
    parent = final.parent if str(final.parent) else Path(".")
    if not parent.is_dir():
        raise MissingFileError(
            f"cannot write {str(final)!r}: the folder {str(parent)!r} does not exist. "
            "Create it first or choose another output path."
        )
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{final.name}.", suffix=f".tmp{''.join(final.suffixes[-1:])}", dir=parent
    )
    os.close(fd)
    tmp = Path(tmp_name)
    tmp.unlink()  # writers (numpy, h5py, tifffile) create the file themselves
    try:
        yield tmp
        if not tmp.exists():
            raise FileNotFoundError(f"the writer did not create the temporary file {tmp}")
        os.replace(tmp, final)
    except BaseException:
        with contextlib.suppress(OSError):
            if tmp.is_dir():
                import shutil

                shutil.rmtree(tmp)
            else:
                tmp.unlink()
        raise


def write_text(path: str | os.PathLike[str], text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically (temporary file next to it, then rename).

    Parameters
    ----------
    path : str or os.PathLike
        Final destination. Its parent directory must exist.
    text : str
        The whole content of the file.
    encoding : str
        Text encoding (default UTF-8).

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    MissingFileError
        If the parent directory of ``path`` does not exist.
    """
    final = Path(path)
    with atomic_path(final) as tmp:
        tmp.write_text(text, encoding=encoding)
    return final
