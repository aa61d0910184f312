"""``manifest.json`` of a batch folder: inputs, checksums, versions and status.

The manifest is the single source of truth for resuming: an input counts as
finished when its entry says ``"done"`` with the same options and input
identity, and its output file still has the recorded checksum.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import FileFormatError

MANIFEST_NAME = "manifest.json"
FORMAT = "calcium-forge batch manifest"
FORMAT_VERSION = 1


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


@dataclass
class Manifest:
    """In-memory manifest of one output folder.

    Parameters
    ----------
    path : pathlib.Path
        ``<out_dir>/manifest.json``.
    items : dict
        Entry per absolute input path (see :meth:`record`).
    created : str
        UTC timestamp of the first run in this folder.
    runs : list of dict
        One record per run (start time, options, driver versions, scheduler).
    """

    path: Path
    items: dict[str, dict[str, Any]] = field(default_factory=dict)
    created: str = field(default_factory=_now)
    runs: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def load(cls, out_dir: Path) -> Manifest:
        """Read ``out_dir/manifest.json`` (an empty manifest when absent).

        Parameters
        ----------
        out_dir : pathlib.Path
            The batch output folder.

        Returns
        -------
        Manifest
            Its content, or an empty manifest bound to that path.

        Raises
        ------
        FileFormatError
            When the file exists but is not a readable batch manifest.
        """
        path = Path(out_dir) / MANIFEST_NAME
        if not path.exists():
            return cls(path=path)
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise FileFormatError(
                f"cannot read the batch manifest {path}: {exc}. Delete it (outputs will be "
                "recomputed) or choose another --out folder."
            ) from exc
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise FileFormatError(
                f"{path} is not a calcium-forge batch manifest (format={data.get('format')!r} "
                "expected {FORMAT!r}); choose another --out folder."
            )
        return cls(
            path=path,
            items=dict(data.get("items", {})),
            created=str(data.get("created", _now())),
            runs=list(data.get("runs", [])),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready content.

        Returns
        -------
        dict
            Format name and version, timestamps (UTC), counts per status, runs
            and items.
        """
        counts: dict[str, int] = {}
        for entry in self.items.values():
            counts[entry.get("status", "?")] = counts.get(entry.get("status", "?"), 0) + 1
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "created": self.created,
            "updated": _now(),
            "counts": counts,
            "runs": self.runs,
            "items": self.items,
        }

    def save(self) -> Path:
        """Write the manifest atomically (temp file + rename).

        Returns
        -------
        pathlib.Path
            :attr:`path`.
        """
        from ..io.atomic import write_text

        self.path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(self.to_dict(), indent=1, sort_keys=False, default=str)
        return write_text(self.path, text)

    def record(self, key: str, **entry: Any) -> dict[str, Any]:
        """Replace the entry of input ``key`` (absolute path) and stamp it.

        Parameters
        ----------
        key : str
            Absolute input path.
        **entry
            The entry's fields (``status``, ``output``, ``options``, checksums,
            ``timings_s`` in seconds...).

        Returns
        -------
        dict
            The stored entry (with ``input`` and an ``updated`` UTC timestamp).
        """
        entry = {"input": key, **entry, "updated": _now()}
        self.items[key] = entry
        return entry
