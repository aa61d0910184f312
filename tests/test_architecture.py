"""The house rules hold: the package's import graph reads top-down, with no circle.

The package is parsed (nothing is imported), and every ``import`` of a
``calcium_forge`` module — at the top of a file or inside a function — is an
arrow. Each module belongs to a room; a room may import only from rooms on a
lower floor or from its own room (see ``docs/architecture.md``). Imports inside
a module-level ``__getattr__`` are deprecated aliases resolved on first use
and are not arrows.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "calcium_forge"

#: Rooms from the ground floor up: (floor, module prefix). The longest matching prefix wins.
ROOMS: list[tuple[int, str]] = [
    (0, "calcium_forge._version"),
    (0, "calcium_forge.errors"),
    (0, "calcium_forge.progress"),
    (0, "calcium_forge._blocks"),
    (1, "calcium_forge.recording"),
    (1, "calcium_forge"),  # the package root: version, errors, Recording, a lazy facade
    (2, "calcium_forge.spiketrains"),
    (3, "calcium_forge.signal"),
    (3, "calcium_forge.results"),
    (4, "calcium_forge.io"),
    (5, "calcium_forge.datasets"),
    (6, "calcium_forge.inference"),
    (7, "calcium_forge.synthesis"),
    (8, "calcium_forge.evaluation"),
    (9, "calcium_forge.inference.training"),
    (10, "calcium_forge.distributed"),
    (11, "calcium_forge.demo"),
    (11, "calcium_forge.pipeline"),
    (11, "calcium_forge.demo_figures"),
    (12, "calcium_forge.cli"),
    (13, "calcium_forge._napari"),
    (14, "calcium_forge.napari_api"),
]

#: Deprecated modules kept at old import paths: they sit on the top floor.
SHIM_FLOOR = 15

GUI_PACKAGES = ("napari", "qtpy", "PyQt5", "PyQt6", "PySide2", "PySide6", "magicgui", "superqt")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _is_shim(path: Path) -> bool:
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    return doc.lower().startswith("deprecated")


def room_of(module: str, path: Path | None = None) -> tuple[int, str]:
    """(floor, room prefix) of a module."""
    if path is not None and _is_shim(path):
        return SHIM_FLOOR, module
    best = max(
        (p for p in ROOMS if module == p[1] or module.startswith(p[1] + ".")),
        key=lambda p: len(p[1]),
    )
    return best


def _lazy_alias_nodes(tree: ast.Module) -> set[int]:
    """ids of nodes inside a module-level ``def __getattr__`` (deprecated aliases)."""
    skip: set[int] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == "__getattr__":
            skip |= {id(n) for n in ast.walk(node)}
    return skip


def _imports(module: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The calcium_forge modules that ``module`` imports (resolved to real modules)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = _lazy_alias_nodes(tree)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    out: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                if sub in modules:
                    out.add(sub)
                elif target in modules:
                    out.add(target)
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name in modules}
    out.discard(module)
    return out


def import_graph() -> dict[str, set[str]]:
    """module -> the calcium_forge modules it imports."""
    modules = _modules()
    return {m: _imports(m, p, modules) for m, p in modules.items()}


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    """Arrows that point to a higher floor, as readable strings."""
    modules = _modules()
    bad = []
    for src, targets in graph.items():
        f_src, _ = room_of(src, modules[src])
        for dst in sorted(targets):
            f_dst, r_dst = room_of(dst, modules[dst])
            if f_dst > f_src:
                bad.append(f"{src} (floor {f_src}) imports {dst} (floor {f_dst}, {r_dst})")
    return bad


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One circle of imports (a list of modules, first == last), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        stack.append(m)
        for n in sorted(graph.get(m, ())):
            if state.get(n) == 1:
                return [*stack[stack.index(n) :], n]
            if n not in state and (found := visit(n)) is not None:
                return found
        stack.pop()
        state[m] = 2
        return None

    for m in sorted(graph):
        if m not in state and (found := visit(m)) is not None:
            return found
    return None


def test_every_module_has_a_room():
    """A new top-level module must be given a floor here (and in docs/architecture.md)."""
    homeless = [
        m
        for m, p in _modules().items()
        if m != "calcium_forge" and room_of(m, p)[1] == "calcium_forge"
    ]
    assert not homeless, f"modules without a room in ROOMS: {homeless}"


def test_no_upward_import():
    bad = upward_imports(import_graph())
    assert not bad, "imports that run back up the house:\n" + "\n".join(bad)


def test_no_circle():
    cycle = find_cycle(import_graph())
    assert cycle is None, "circular imports: " + " -> ".join(cycle)


def test_only_napari_package_imports_gui_toolkits():
    offenders = []
    for module, path in _modules().items():
        if module.startswith("calcium_forge._napari"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                names = [node.module]
            offenders += [f"{module}: {n}" for n in names if n.split(".")[0] in GUI_PACKAGES]
    assert not offenders, offenders


def test_napari_api_only_re_exports():
    tree = ast.parse((PACKAGE / "napari_api.py").read_text(encoding="utf-8"))
    defs = [n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.ClassDef)]
    assert defs == [], f"napari_api defines {defs}; implement them in calcium_forge._napari"


# ---------------------------------------------------------------- negative controls
def _graph_with(extra: dict[str, set[str]]) -> dict[str, set[str]]:
    graph = {k: set(v) for k, v in import_graph().items()}
    for k, v in extra.items():
        graph.setdefault(k, set()).update(v)
    return graph


def test_the_check_catches_an_upward_import():
    graph = _graph_with({"calcium_forge.signal": {"calcium_forge.inference.api"}})
    assert any(s.startswith("calcium_forge.signal ") for s in upward_imports(graph))


def test_the_check_catches_a_circle():
    graph = _graph_with(
        {
            "calcium_forge.inference.engine": {"calcium_forge.inference.events"},
            "calcium_forge.inference.events": {"calcium_forge.inference.engine"},
        }
    )
    cycle = find_cycle(graph)
    assert cycle is not None and cycle[0] == cycle[-1]


@pytest.mark.parametrize(
    "source, expected",
    [
        ("from .inference import api\n", "calcium_forge.inference.api"),
        ("from .inference.api import infer_spikes\n", "calcium_forge.inference.api"),
        (
            "def f():\n    import calcium_forge.evaluation.spikes\n",
            "calcium_forge.evaluation.spikes",
        ),
    ],
)
def test_the_parser_sees_relative_absolute_and_lazy_imports(tmp_path, source, expected):
    path = tmp_path / "signal.py"
    path.write_text(source)
    modules = _modules()
    assert expected in _imports("calcium_forge.signal", path, modules)
