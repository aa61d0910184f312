"""Expand batch inputs (files, Suite2P folders, globs), name outputs, fingerprint inputs."""

from __future__ import annotations

import glob
import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

_GLOB_CHARS = set("*?[")
_CHUNK_BYTES = 4 << 20


@dataclass(frozen=True)
class InputSpec:
    """One batch input after expansion.

    Parameters
    ----------
    path : pathlib.Path
        Absolute path of the file or Suite2P ``plane`` folder.
    error : str or None
        Why the input cannot be used (missing file, glob without match), or None.
    """

    path: Path
    error: str | None = None


def _is_suite2p_plane(folder: Path) -> bool:
    return (folder / "F.npy").is_file()


def _expand_one(item: str | os.PathLike) -> list[InputSpec]:
    text = os.fspath(item)
    if _GLOB_CHARS & set(text):
        matches = sorted(glob.glob(os.path.expanduser(text), recursive=True))
        if not matches:
            return [
                InputSpec(
                    Path(text),
                    f"the pattern {text!r} matched no file or folder; check the path and quote "
                    "the pattern so that the shell does not expand it",
                )
            ]
        out: list[InputSpec] = []
        for m in matches:
            out.extend(_expand_one(m) if not (_GLOB_CHARS & set(m)) else [InputSpec(Path(m))])
        return out
    path = Path(text).expanduser().absolute()
    if not path.exists():
        return [InputSpec(path, f"input {text!r} does not exist; give an existing file or folder")]
    if path.is_dir():
        if _is_suite2p_plane(path):
            return [InputSpec(path)]
        planes = sorted(p.parent for p in path.glob("plane*/F.npy"))
        planes += sorted(p.parent for p in path.glob("suite2p/plane*/F.npy"))
        if planes:
            return [InputSpec(p.absolute()) for p in planes]
        return [
            InputSpec(
                path,
                f"folder {text!r} is not a Suite2P plane folder (no F.npy inside, nor in "
                "plane*/ or suite2p/plane*/); give the plane0 folder or a file",
            )
        ]
    return [InputSpec(path)]


def expand_inputs(inputs: Iterable[str | os.PathLike] | str | os.PathLike) -> list[InputSpec]:
    """Expand globs and Suite2P roots into a de-duplicated list of inputs.

    Parameters
    ----------
    inputs : path, glob pattern, or iterable of them
        Files (``.npz``, ``.mat``, ``.nwb``, ``.csv``), Suite2P ``plane`` folders,
        folders holding ``plane*/`` or ``suite2p/plane*/``, or glob patterns
        (``**`` allowed).

    Returns
    -------
    list of InputSpec
        In the order given (glob matches sorted), duplicates removed. Inputs
        that cannot be used carry an ``error`` instead of raising, so that a
        batch reports them and goes on with the others.
    """
    if isinstance(inputs, str | os.PathLike):
        inputs = [inputs]
    seen: set[Path] = set()
    out: list[InputSpec] = []
    for item in inputs:
        for spec in _expand_one(item):
            key = spec.path.resolve() if spec.error is None else spec.path
            if key in seen:
                continue
            seen.add(key)
            out.append(spec)
    return out


def _base_name(path: Path) -> str:
    return path.name if path.is_dir() else path.stem


def output_names(paths: list[Path]) -> list[str]:
    """Output stems, one per input: the input's name, disambiguated by parent folders.

    ``a/plane0`` and ``b/plane0`` become ``a_plane0`` and ``b_plane0``; unique
    names stay as they are (``rec1.npz`` -> ``rec1``).

    Parameters
    ----------
    paths : list of pathlib.Path
        Absolute input paths.

    Returns
    -------
    list of str
        File stems (without ``.npz``), unique, in the order of ``paths``.
    """
    parts = [[*p.parent.parts[1:], _base_name(p)] for p in paths]
    depth = [1] * len(paths)
    while True:
        names = ["_".join(pp[-d:]) for pp, d in zip(parts, depth, strict=True)]
        groups: dict[str, list[int]] = {}
        for i, n in enumerate(names):
            groups.setdefault(n, []).append(i)
        clashes = [ix for ix in groups.values() if len(ix) > 1]
        if not clashes:
            return names
        grew = False
        for ix in clashes:
            for i in ix:
                if depth[i] < len(parts[i]):
                    depth[i] += 1
                    grew = True
        if not grew:  # identical full paths cannot happen after de-duplication
            return [f"{n}_{i}" for i, n in enumerate(names)]


def _files_of(path: Path) -> list[Path]:
    if path.is_dir():
        # Suite2P folders: the traces live in the .npy files; data.bin (the registered
        # movie, often many GB) is not read by batch inference and is not hashed.
        return sorted(p for p in path.iterdir() if p.is_file() and p.suffix == ".npy")
    return [path]


def fingerprint(path: Path) -> dict[str, int]:
    """A cheap identity of an input: total size (bytes) and newest mtime (ns) of its files.

    Parameters
    ----------
    path : pathlib.Path
        File, or Suite2P folder (its ``.npy`` files).

    Returns
    -------
    dict
        ``bytes`` (total size), ``mtime_ns`` (newest modification time, ns)
        and ``n_files``.
    """
    files = _files_of(path)
    stats = [f.stat() for f in files]
    return {
        "bytes": int(sum(s.st_size for s in stats)),
        "mtime_ns": int(max((s.st_mtime_ns for s in stats), default=0)),
        "n_files": len(files),
    }


def sha256_of(path: Path) -> str:
    """SHA-256 of a file, or of a Suite2P folder's ``.npy`` files (names and bytes).

    Parameters
    ----------
    path : pathlib.Path
        File or folder.

    Returns
    -------
    str
        ``"sha256:<hex>"``.
    """
    h = hashlib.sha256()
    base = path if path.is_dir() else path.parent
    for f in _files_of(path):
        if path.is_dir():
            h.update(f.relative_to(base).as_posix().encode() + b"\0")
        with open(f, "rb") as fh:
            while chunk := fh.read(_CHUNK_BYTES):
                h.update(chunk)
    return "sha256:" + h.hexdigest()
