"""The package's folders are its layers, and imports point one way (down this list).

Every ``import`` of a jaxcurr module is read from the source (AST: module level, inside
functions and under ``TYPE_CHECKING`` alike) and checked: a module imports only its own layer
and the layers before it, and no chain of imports between modules comes back to where it
started.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "jaxcurr"

# Lowest first. A module may import its own layer and every layer before it.
LAYERS = (
    ("core",),  # validation, the Engine/Kind contract, statistics, files, figure helpers
    ("transforms",),  # optax GradientTransformations
    ("signals",),  # teacher rewards read from a student's learning
    ("envs", "datasets"),  # what a student learns from
    ("students",),  # what learns: classifier, SAC, PPO, tabular policy gradient
    ("teachers",),  # what chooses the student's tasks
    ("curricula",),  # teacher, student and signal in one training step
    ("kinds",),  # one experiment kind each: config, make_engine, summary, figures
    ("experiments",),  # the shipped experiment TOMLs (package data, no code)
    ("run",),  # runner, run directories, sinks, interrupts, experiment files
    ("cli",),  # argparse only
)
RANK = {name: rank for rank, names in enumerate(LAYERS) for name in names}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def resolve(name: str, modules: set[str]) -> str | None:
    """The jaxcurr module an import names (``from a.b import c``: ``a.b.c`` if it is one)."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def imports_of(path: Path, modules: set[str], name: str | None = None) -> set[str]:
    """Every jaxcurr module ``path`` (module ``name``) imports; a package's ``__init__`` counts
    as its folder."""
    found = set()
    own = name or module_name(path)
    package = own if path.name == "__init__.py" else own.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            names = [f"{base}.{alias.name}" for alias in node.names] + [base]
        else:
            continue
        for imported in names:
            if imported.split(".")[0] == "jaxcurr":
                target = resolve(imported, modules)
                if target and target != own:
                    found.add(target)
    return found


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None  # None: the package's own __init__


def import_graph() -> dict[str, set[str]]:
    paths = sorted(PACKAGE.rglob("*.py"))
    modules = {module_name(p) for p in paths}
    return {module_name(p): imports_of(p, modules) for p in paths}


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    bad = []
    for module, targets in graph.items():
        layer = layer_of(module)
        for target in targets:
            if layer is None or layer_of(target) is None:
                continue  # jaxcurr/__init__ (checked below) or an import of the package
            if RANK[layer_of(target)] > RANK[layer]:
                bad.append(f"{module} imports {target} ({layer_of(target)} is above {layer})")
    return bad


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Import cycles between modules (a package importing its own modules is not one: the
    modules do not import the package back)."""
    found, state = [], {}

    def visit(module: str, trail: list[str]) -> None:
        state[module] = "open"
        for target in sorted(graph.get(module, ())):
            if state.get(target) == "open":
                found.append(trail[trail.index(target):] + [target])
            elif target not in state:
                visit(target, trail + [target])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    return found


def test_every_folder_of_the_package_is_a_layer():
    folders = {p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__"}
    modules = {p.stem for p in PACKAGE.glob("*.py")}
    assert folders | (modules - {"__init__"}) == set(RANK)
    assert modules <= {"__init__", "cli"}  # nothing else at the package root


def test_imports_point_down_the_layers():
    assert upward_imports(import_graph()) == []


def test_no_import_circle():
    assert circles(import_graph()) == []


def test_the_package_root_imports_nothing():
    assert import_graph()["jaxcurr"] == set()


@pytest.mark.parametrize("graph, expected", [
    ({"jaxcurr.core.stats": {"jaxcurr.run.runner"}, "jaxcurr.run.runner": set()},
     ["jaxcurr.core.stats imports jaxcurr.run.runner (run is above core)"]),
    ({"jaxcurr.students.a": {"jaxcurr.teachers.b"}, "jaxcurr.teachers.b": set()},
     ["jaxcurr.students.a imports jaxcurr.teachers.b (teachers is above students)"]),
    ({"jaxcurr.envs.a": {"jaxcurr.datasets.b"}, "jaxcurr.datasets.b": set()}, []),
])
def test_an_upward_import_is_found(graph, expected):
    assert upward_imports(graph) == expected


def test_a_circle_is_found():
    graph = {"jaxcurr.run.a": {"jaxcurr.run.b"}, "jaxcurr.run.b": {"jaxcurr.run.c"},
             "jaxcurr.run.c": {"jaxcurr.run.a"}}
    assert circles(graph) == [["jaxcurr.run.a", "jaxcurr.run.b", "jaxcurr.run.c",
                               "jaxcurr.run.a"]]


def test_function_level_and_type_checking_imports_count(tmp_path):
    source = ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
              "    from jaxcurr.run.runner import Observer\n"
              "def f():\n    from jaxcurr.kinds import get_kind\n")
    path = tmp_path / "probe.py"
    path.write_text(source)
    modules = {module_name(p) for p in PACKAGE.rglob("*.py")}
    assert imports_of(path, modules, "jaxcurr.core.probe") == {"jaxcurr.run.runner",
                                                              "jaxcurr.kinds"}
