"""Atomic file writing: a temporary file next to the target, renamed at the end.

Every file calcium-forge writes (recordings, results, checkpoints, models,
figures, JSON) goes through :func:`atomic_path`, so that an interrupted or
failed write never leaves a truncated file where a good one was expected.
:func:`write_text` is the one-call form for text (JSON, Markdown).
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

from ..errors import FileFormatError, InvalidInputError, MissingFileError, WriteError

__all__ = ["atomic_path", "check_output_dir", "check_output_file", "write_failed", "write_text"]

#: errno values that mean "this path cannot be written": no permission, read-only, disk full.
_WRITE_ERRNOS = {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT}

#: Temporary files being written now (removed by the SIGTERM handler).
_LIVE: set[Path] = set()
_LOCK = threading.Lock()
_PREVIOUS_SIGTERM: list = []


def _remove(tmp: Path) -> None:
    with contextlib.suppress(OSError):
        if tmp.is_dir() and not tmp.is_symlink():
            import shutil

            shutil.rmtree(tmp)
        else:
            tmp.unlink()


def _on_sigterm(signum: int, frame) -> None:
    """Remove every temporary file in flight, then let SIGTERM end the process."""
    with _LOCK:
        live = list(_LIVE)
    for tmp in live:
        _remove(tmp)
    previous = _PREVIOUS_SIGTERM[0] if _PREVIOUS_SIGTERM else signal.SIG_DFL
    if callable(previous):
        previous(signum, frame)
        return
    if previous == signal.SIG_IGN:
        return
    raise SystemExit(128 + signum)  # unwinds the `with` blocks, then exits with 143


def _install_sigterm_handler() -> bool:
    """Install :func:`_on_sigterm` for the outermost write of the main thread.

    Returns True when this call installed it (the caller then restores the
    previous handler with :func:`_restore_sigterm_handler` when it is done).
    Writes in other threads are covered while the main thread writes.
    """
    if threading.current_thread() is not threading.main_thread():
        return False
    current = signal.getsignal(signal.SIGTERM)
    if current is _on_sigterm:
        return False
    try:
        signal.signal(signal.SIGTERM, _on_sigterm)
    except (ValueError, OSError):  # e.g. not allowed in this interpreter
        return False
    _PREVIOUS_SIGTERM[:] = [current]
    return True


def _restore_sigterm_handler() -> None:
    previous = _PREVIOUS_SIGTERM[0] if _PREVIOUS_SIGTERM else signal.SIG_DFL
    with contextlib.suppress(ValueError, OSError, TypeError):
        signal.signal(signal.SIGTERM, previous)


def _temp_name(final: Path) -> str:
    """``.<name>.<random>.tmp<.ext>``: hidden, unique, ending in the lower-case extension.

    Writers that append an extension unless the name ends with it (``numpy.savez``
    appends ``.npz``, ``numpy.save`` ``.npy``) then write to this very name.
    """
    ext = final.suffix.lower() if final.suffix else ""
    return f".{final.name}.{secrets.token_hex(6)}.tmp{ext}"


def write_failed(path: Path, exc: OSError) -> WriteError:
    """The :class:`WriteError` for an ``OSError`` met while writing ``path``.

    Parameters
    ----------
    path : pathlib.Path
        The file the user asked for.
    exc : OSError
        The error (its ``errno`` chooses the advice).

    Returns
    -------
    WriteError
        Message naming the path, the cause and the fix.
    """
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        why, fix = "the disk (or quota) is full", "free space there or write elsewhere"
    elif exc.errno == errno.EROFS:
        why, fix = "the file system is read-only", "choose a writable folder"
    else:
        why, fix = "permission denied", "choose a folder you can write to or fix its permissions"
    err = WriteError(
        f"cannot write {str(path)!r}: {why} ({exc.strerror or exc}). Nothing was written; {fix}."
    )
    err.errno = exc.errno or errno.EIO  # no .filename: str(err) stays the message
    return err


def _is_write_error(exc: BaseException) -> bool:
    if isinstance(exc, OSError) and exc.errno in _WRITE_ERRNOS:
        return True
    return isinstance(exc, OSError) and "No space left on device" in str(exc)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; move it onto ``path`` on success.

    The temporary file lives in the same directory (same file system), so the
    final :func:`os.replace` is atomic. Its name is hidden and unique
    (``.<name>.<random>.tmp<.ext>``, created with ``O_EXCL`` so no other writer
    can hold it) and ends with the lower-case extension of ``path``, so writers
    that append an extension (``numpy.savez``) keep writing to it. If the
    ``with`` block raises, or the process gets SIGINT or SIGTERM, the
    temporary file is removed and ``path`` is left untouched (an existing file
    keeps its old content; a new file never appears).

    Parameters
    ----------
    path : str or os.PathLike
        Final destination. Its parent directory must exist.

    Yields
    ------
    pathlib.Path
        The temporary path to write to: an empty file the writer overwrites.

    Raises
    ------
    MissingFileError
        If the parent directory of ``path`` does not exist.
    WriteError
        If the folder is not writable, read-only or full (the message names ``path``).

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
    installed = _install_sigterm_handler()
    try:
        tmp = parent / _temp_name(final)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except OSError as exc:
        if installed:
            _restore_sigterm_handler()
        if _is_write_error(exc):
            raise write_failed(final, exc) from exc
        raise
    os.close(fd)
    with _LOCK:
        _LIVE.add(tmp)
    try:
        yield tmp
        strays = [p for p in parent.glob(f"{tmp.name}?*") if p != tmp]
        if strays:
            for p in strays:
                _remove(p)
            raise WriteError(
                f"cannot write {str(final)!r}: the writer wrote to {strays[0].name!r} instead of "
                "the temporary file it was given; nothing was written. Report this as a bug."
            )
        os.replace(tmp, final)
    except BaseException as exc:
        _remove(tmp)
        if _is_write_error(exc) and not isinstance(exc, WriteError):
            raise write_failed(final, exc) from exc
        raise
    finally:
        with _LOCK:
            _LIVE.discard(tmp)
        if installed:
            _restore_sigterm_handler()


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
