"""Planning a batch run: checked options, and which inputs to compute, skip or fail.

An input is *finished* (skipped on resume) when ``manifest.json`` says so for
the same options, its content is unchanged and its output is intact; see
:mod:`calcium_forge.distributed.manifest`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InvalidInputError
from .inputs import fingerprint, output_names, sha256_of
from .manifest import Manifest
from .report import BatchItem
from .task import DEFAULT_OPTIONS

_METHODS = ("ens2", "s2s", "oasis")


def canonical_options(options: dict[str, Any]) -> dict[str, Any]:
    """The batch options with their defaults, checked and normalised.

    Parameters
    ----------
    options : dict
        ``**options`` of :func:`~calcium_forge.distributed.batch_infer`
        (:data:`~calcium_forge.distributed.task.DEFAULT_OPTIONS` keys; ``fs_hz``
        in Hz).

    Returns
    -------
    dict
        Every option, with plain JSON-friendly values (the identity stored in
        the manifest).

    Raises
    ------
    InvalidInputError
        On an unknown option, method or mode.
    """
    unknown = sorted(set(options) - set(DEFAULT_OPTIONS))
    if unknown:
        raise InvalidInputError(
            f"batch_infer got unknown option(s) {unknown}; valid options are "
            f"{sorted(DEFAULT_OPTIONS)}."
        )
    opts = {**DEFAULT_OPTIONS, **options}
    if opts["method"] not in _METHODS:
        raise InvalidInputError(f"method must be one of {_METHODS}; got {opts['method']!r}.")
    if opts["mode"] not in ("exact", "fast"):
        raise InvalidInputError(f"mode must be 'exact' or 'fast'; got {opts['mode']!r}.")
    if opts["fs_hz"] is not None:
        opts["fs_hz"] = float(opts["fs_hz"])
    if opts["model"] is not None:
        opts["model"] = os.fspath(opts["model"])
    opts["events"] = bool(opts["events"])
    opts["neuropil_coeff"] = float(opts["neuropil_coeff"])
    return opts


def _is_finished(entry: dict[str, Any] | None, output: Path, options: dict, verify: bool) -> bool:
    """Whether the manifest entry proves this input's output is complete and current."""
    if not entry or entry.get("status") != "done" or entry.get("options") != options:
        return False
    if entry.get("output") != str(output) or not output.is_file():
        return False
    path = Path(entry["input"])
    if fingerprint(path) != entry.get("input_fingerprint"):
        # touched or copied: trust the content, not the timestamps
        if sha256_of(path) != entry.get("input_sha256"):
            return False
    return not (verify and sha256_of(output) != entry.get("output_sha256"))


@dataclass
class Todo:
    """One input to compute.

    Parameters
    ----------
    key : str
        Absolute input path (manifest key).
    output : pathlib.Path
        Final ``<out_dir>/<name>.npz``.
    name : str
        Output stem.
    """

    key: str
    output: Path
    name: str


@dataclass
class Plan:
    """What a run does: items already settled (failed to find, finished) and the rest.

    Parameters
    ----------
    items : dict
        BatchItem per input key, for inputs not to compute.
    todo : list of Todo
        Inputs to compute, in input order.
    """

    items: dict[str, BatchItem]
    todo: list[Todo]


def plan_run(
    specs: list[Any],
    out: Path,
    manifest: Manifest,
    opts: dict[str, Any],
    resume: bool,
    verify: bool,
) -> Plan:
    """Sort the inputs into failed (not found, would overwrite), finished and to compute.

    Parameters
    ----------
    specs : list of InputSpec
        The expanded inputs (:func:`~calcium_forge.distributed.inputs.expand_inputs`).
    out : pathlib.Path
        Absolute output folder.
    manifest : Manifest
        The folder's manifest; failures found here are recorded in it (not saved).
    opts : dict
        Canonical options (:func:`canonical_options`).
    resume : bool
        Skip inputs the manifest proves finished.
    verify : bool
        On resume, re-hash the outputs.

    Returns
    -------
    Plan
        Settled items and the inputs to compute.
    """
    good = [s for s in specs if s.error is None]
    names = dict(zip([s.path for s in good], output_names([s.path for s in good]), strict=True))
    plan = Plan(items={}, todo=[])
    for spec in specs:
        key = str(spec.path)
        if spec.error is not None:
            plan.items[key] = BatchItem(key, None, "failed", error=spec.error, stage="find")
            manifest.record(key, status="failed", stage="find", error=spec.error, output=None)
            continue
        name = names[spec.path]
        output = out / f"{name}.npz"
        if output.resolve() == spec.path.resolve():
            msg = (
                f"the output {output} would overwrite the input; choose an --out folder other "
                "than the input's folder"
            )
            plan.items[key] = BatchItem(key, None, "failed", error=msg, stage="find")
            manifest.record(key, status="failed", stage="find", error=msg, output=None)
            continue
        entry = manifest.items.get(key)
        if resume and _is_finished(entry, output, opts, verify):
            plan.items[key] = BatchItem(
                key,
                str(output),
                "skipped",
                timings_s=dict(entry.get("timings_s", {})),
                n_rois=int(entry.get("n_rois", 0)),
                n_frames=int(entry.get("n_frames", 0)),
                worker=entry.get("worker"),
            )
            continue
        plan.todo.append(Todo(key, output, name))
    return plan
