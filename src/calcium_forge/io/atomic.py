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

from ..errors import FileFormatError, InvalidInputError, MissingFileError

__all__ = ["atomic_path", "check_output_dir", "check_output_file", "write_text"]


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


def _check_writable_folder(folder: Path, what: str, target: Path) -> None:
    """Refuse ``folder`` when it exists but is not a writable folder."""
    if folder.exists() and not folder.is_dir():
        raise InvalidInputError(
            f"{what} {str(target)!r}: {str(folder)!r} is a file, not a folder. "
            "Choose another output path."
        )
    if folder.is_dir() and not os.access(folder, os.W_OK | os.X_OK):
        raise InvalidInputError(
            f"{what} {str(target)!r}: the folder {str(folder)!r} is not writable. "
            "Choose another output path."
        )


def check_output_file(
    path: str | os.PathLike[str],
    suffixes: tuple[str, ...],
    what: str = "output",
    create_parent: bool = False,
) -> Path:
    """Check, before any work starts, that a file can be written at ``path``.

    Parameters
    ----------
    path : str or os.PathLike
        The output file.
    suffixes : tuple of str
        Accepted extensions, lower case with the dot (``(".npz", ".csv")``).
    what : str
        The argument's name in messages (``"--out"``).
    create_parent : bool
        The caller creates the file's folder: it may be missing, but must be
        creatable (:func:`check_output_dir`).

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    FileFormatError
        When the extension is not one of ``suffixes``.
    InvalidInputError
        When ``path`` is a folder or its folder is a file or not writable.
    MissingFileError
        When its folder does not exist.
    """
    p = Path(path)
    if p.is_dir():
        raise InvalidInputError(f"{what} {str(p)!r} is a folder; give a file name.")
    if p.suffix.lower() not in suffixes:
        raise FileFormatError(
            f"{what} {str(p)!r}: cannot write {p.suffix or 'files without extension'!r}; "
            f"choose one of {', '.join(suffixes)}."
        )
    parent = p.parent if str(p.parent) else Path(".")
    if create_parent:
        check_output_dir(parent, what)
        return p
    if not parent.exists():
        raise MissingFileError(
            f"{what} {str(p)!r}: the folder {str(parent)!r} does not exist. "
            "Create it first or choose another output path."
        )
    _check_writable_folder(parent, what, p)
    return p


def check_output_dir(path: str | os.PathLike[str], what: str = "output folder") -> Path:
    """Check, before any work starts, that ``path`` is or can become a writable folder.

    Nothing is created: the nearest existing ancestor must be a writable folder.

    Parameters
    ----------
    path : str or os.PathLike
        The output folder.
    what : str
        The argument's name in messages (``"--out"``).

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    InvalidInputError
        When ``path`` or an ancestor is a file, or the folder is not writable.
    """
    p = Path(path)
    folder = p
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    _check_writable_folder(folder if str(folder) else Path("."), what, p)
    return p
