"""Every public function, method and class of calcium_forge.evaluation has a numpydoc docstring.

Functions and methods: a Parameters section naming every parameter (when they
take any) and a Returns section. Dataclasses and NamedTuples: a Parameters
section naming every field. Properties: a docstring.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect

import pytest

MODULES = [
    "calcium_forge.evaluation.distances",
    "calcium_forge.evaluation.event_metrics",
    "calcium_forge.evaluation.figures",
    "calcium_forge.evaluation.novelty",
    "calcium_forge.evaluation.population",
    "calcium_forge.evaluation.spikes",
    "calcium_forge.evaluation.synthetic",
    "calcium_forge.evaluation.tuning",
]


def _public(module_name: str) -> list[tuple[str, str, object]]:
    """(qualified name, kind, object) of the public names defined in a module."""
    out = []
    for name, obj in vars(importlib.import_module(module_name)).items():
        if name.startswith("_") or getattr(obj, "__module__", None) != module_name:
            continue
        if inspect.isfunction(obj):
            out.append((name, "function", obj))
        elif inspect.isclass(obj):
            out.append((name, "class", obj))
            for attr, member in vars(obj).items():
                if attr.startswith("_"):
                    continue
                if inspect.isfunction(member):
                    out.append((f"{name}.{attr}", "function", member))
                elif isinstance(member, property):
                    out.append((f"{name}.{attr}", "property", member))
    return out


CASES = [(f"{m}:{q}", kind, obj) for m in MODULES for q, kind, obj in _public(m)]


def _fields(cls: type) -> list[str]:
    if dataclasses.is_dataclass(cls):
        return [f.name for f in dataclasses.fields(cls)]
    return list(getattr(cls, "_fields", ()))  # NamedTuple


@pytest.mark.parametrize("name, kind, obj", CASES, ids=[c[0] for c in CASES])
def test_public_names_have_numpydoc_docstrings(name, kind, obj):
    doc = inspect.getdoc(obj) or ""
    assert doc.strip(), f"{name} has no docstring"
    if kind == "property":
        return
    if kind == "class":
        names = _fields(obj)
    else:
        names = [p for p in inspect.signature(obj).parameters if p not in ("self", "cls")]
    if names:
        assert "Parameters\n----------" in doc, f"{name}: no Parameters section"
        missing = [n for n in names if n not in doc]
        assert not missing, f"{name}: {missing} not documented"
    if kind == "function":
        assert "Returns\n-------" in doc, f"{name}: no Returns section"


def test_the_check_sees_every_module():
    assert {c[0].split(":")[0] for c in CASES} == set(MODULES)
