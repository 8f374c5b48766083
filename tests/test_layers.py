"""The layer contract: packages import one way only, read from the source with ``ast``.

    trust, blocks  <-  graph  <-  compiler  <-  hub  <-  training  <-  interop  <-  cli  <-  ui  <-  __main__

(``a <- b``: b may import a.) The pure layers (``studio.trust``, ``blocks``, ``graph``) import
no torch and no Qt; only ``ui`` imports Qt; no package imports one to its right. Imports inside functions count: a lazy import
is still a dependency, it only fails later. ``blocks`` sits below ``graph`` because a graph's
block reads its declaration (ports, parameters) and no declaration knows about graphs.

A true violation that lives in another branch's file is listed in :data:`ALLOWED` with its
owner; an entry that no longer matches anything fails the test, so the list only shrinks.

Within the line, modules import one way too: :func:`circles` finds the strongly connected
components of studio's import graph (every import, lazy and type-only ones included), and any
not in :data:`CIRCLES_ALLOWED` fails with the lines that close it.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
STUDIO = ROOT / "studio"

#: position in the line; equal numbers are siblings (neither imports the other)
RANK = {
    "studio": 0,  # the package root: __version__ only
    "trust": 0,
    "naming": 0,  # identifiers from user text: the standard library only, for every layer
    "gctune": 0,  # the garbage collector's policy for an open project: the standard library only
    "units": 0,  # memory sizes as people write them: the standard library only (the window reads them before torch)
    "places": 0,  # the config folder and the bundled examples: the standard library only
    "pyast": -1,  # thread-safe ast.parse: the standard library only, below every layer
    "blocks": 0,
    "graph": 1,
    "compiler": 2,
    "hub": 3,  # torchvision's registry, weights, torch.hub: what building a model may need
    "training": 4,  # a run makes its weights local through the hub before it builds the model
    "interop": 5,
    "cli": 6,
    "ui": 7,
    "__main__": 8,  # the entry point (pyproject's script, python -m studio): opens cli or ui
}
PURE = {"studio", "trust", "naming", "units", "gctune", "places", "pyast", "blocks", "graph"}
TORCH = {"torch", "torchvision", "onnx", "onnxscript"}
QT = {"PySide6", "shiboken6", "pyqtgraph"}

#: (file, imported module) -> who owns the file and what would remove the import
ALLOWED: dict[tuple[str, str], str] = {}

#: import circles between studio's modules still allowed, each (its modules, sorted) -> why;
#: an entry that no longer matches a circle fails, so the list only shrinks
CIRCLES_ALLOWED: dict[tuple[str, ...], str] = {}


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(source: str, module: str, is_package: bool = False) -> list[tuple[int, str]]:
    """(line, module) for every import in ``source``: top level, inside functions and
    classes, relative ones resolved, and ``importlib.import_module("literal")`` calls."""
    package = module if is_package else module.rpartition(".")[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            found.append((node.lineno, target))
            # `from studio import trust` imports the module studio.trust
            if target == "studio":
                found += [(node.lineno, f"studio.{a.name}") for a in node.names if a.name in RANK]
        elif isinstance(node, ast.Call) and _is_import_call(node.func):
            arg = node.args[0] if node.args else None
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                found.append((node.lineno, arg.value))
    return found


def import_graph() -> dict[str, dict[str, int]]:
    """studio's modules -> the studio modules each imports (with a line): every import, lazy
    and type-only ones too, relative ones resolved, ``from package import module`` as the
    module. A name that is not a module counts as its module (``studio.graph.model.Graph``)."""
    modules = {module_name(p): p for p in sorted(STUDIO.rglob("*.py"))}
    graph: dict[str, dict[str, int]] = {}
    for name, path in modules.items():
        source = path.read_text(encoding="utf-8")
        is_package = path.name == "__init__.py"
        found = imports_of(source, name, is_package)
        package = name if is_package else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.ImportFrom):
                base = _from_target(node, package)
                found += [(node.lineno, f"{base}.{a.name}") for a in node.names]
        deps: dict[str, int] = {}
        for line, target in found:
            parts = target.split(".")
            while parts and ".".join(parts) not in modules:
                parts.pop()
            dep = ".".join(parts)
            if dep and dep != name:
                deps.setdefault(dep, line)
        graph[name] = deps
    return graph


def circles(graph: dict[str, dict[str, int]]) -> list[tuple[str, ...]]:
    """The strongly connected components of more than one module (Tarjan's, without recursion)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[tuple[str, ...]] = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(graph[root]))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            v, deps = work[-1]
            w = next(deps, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(graph.get(w, ()))))
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                component = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    component.append(w)
                    if w == v:
                        break
                if len(component) > 1:
                    found.append(tuple(sorted(component)))
    return found


def _from_target(node: ast.ImportFrom, package: str) -> str:
    if not node.level:
        return node.module or ""
    base = package.split(".")[: len(package.split(".")) - node.level + 1]
    return ".".join([*base, *([node.module] if node.module else [])])


def _is_import_call(func: ast.expr) -> bool:
    if isinstance(func, ast.Attribute):
        return func.attr == "import_module"
    return isinstance(func, ast.Name) and func.id in ("import_module", "__import__")


def layer_of(module: str) -> str | None:
    """The layer a ``studio...`` module belongs to (None for anything outside studio)."""
    parts = module.split(".")
    if parts[0] != "studio":
        return None
    if len(parts) == 1:
        return "studio"
    return parts[1] if parts[1] in RANK else "studio"


def problem(layer: str, target: str) -> str | None:
    """Why ``layer`` may not import ``target`` (None: it may)."""
    top = target.split(".")[0]
    if layer in PURE and top in TORCH:
        return f"the pure layer {layer} imports {top}"
    if layer != "ui" and top in QT:
        return f"{layer} imports Qt ({top}); only studio.ui may"
    other = layer_of(target)
    if other is None or other == layer:
        return None
    if RANK[other] > RANK[layer]:
        return f"{layer} imports {other}, which is above it"
    if RANK[other] == RANK[layer] and {layer, other} - {"studio", "trust", "blocks"}:
        return f"{layer} imports its sibling {other}"
    return None


def violations(files=None) -> dict[tuple[str, str], list[str]]:
    out: dict[tuple[str, str], list[str]] = {}
    for path in files or sorted(STUDIO.rglob("*.py")):
        name = module_name(path)
        layer = layer_of(name)
        for line, target in imports_of(
            path.read_text(encoding="utf-8"), name, path.name == "__init__.py"
        ):
            why = problem(layer, target)
            if why:
                rel = path.relative_to(ROOT).as_posix()
                out.setdefault((rel, target), []).append(f"{rel}:{line}: {why}")
    return out


def test_every_package_is_placed_in_the_line():
    packages = {p.name for p in STUDIO.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    modules = {p.stem for p in STUDIO.glob("*.py")} - {"__init__"}
    assert packages | modules <= set(RANK), "place new packages in RANK"


def test_the_tests_folders_mirror_the_packages():
    folders = {
        p.name
        for p in (ROOT / "tests").iterdir()
        if p.is_dir() and not p.name.startswith((".", "_"))
    }
    packages = {p.name for p in STUDIO.iterdir() if (p / "__init__.py").exists()}
    assert folders <= packages, (
        f"tests/ folders with no studio package: {sorted(folders - packages)}"
    )


def test_packages_import_only_downwards():
    found = violations()
    unexpected = [line for key, lines in found.items() if key not in ALLOWED for line in lines]
    assert not unexpected, "imports against the layer order:\n" + "\n".join(unexpected)


def test_block_types_contributed_by_higher_layers_are_named_not_imported():
    """The registry imports its contributors by name (a plug-in entry): each is a module of a
    layer above ``blocks`` (else the catalogue would import it) that really exists, and its
    declarations are then read like the built-in ones."""
    from studio.blocks.registry import CONTRIBUTORS, all_block_types

    for name in CONTRIBUTORS:
        path = ROOT / Path(*name.split(".")).with_suffix(".py")
        assert path.exists(), name
        assert RANK[layer_of(name)] > RANK["blocks"], (
            f"{name}: import it from the catalogue instead"
        )
    declared_in = {
        spec.emitter.__module__ for spec in all_block_types() if spec.emitter is not None
    }
    assert set(CONTRIBUTORS) <= declared_in


def test_no_import_circles():
    """Imports between studio's modules run one way: a circle means two modules that can only
    be understood, tested and loaded together (and a lazy import that hides it fails late)."""
    graph = import_graph()
    unexpected = [c for c in circles(graph) if c not in CIRCLES_ALLOWED]
    lines = []
    for component in unexpected:
        lines.append(" <-> ".join(component))
        lines += [
            f"    {m}:{graph[m][d]} imports {d}"
            for m in component
            for d in sorted(graph[m])
            if d in component
        ]
    assert not unexpected, "import circles (make them one-way):\n" + "\n".join(lines)


def test_the_circle_allow_list_holds_only_circles_that_still_exist():
    stale = sorted(set(CIRCLES_ALLOWED) - set(circles(import_graph())))
    assert not stale, f"remove these from CIRCLES_ALLOWED, they are one-way now: {stale}"


@pytest.mark.parametrize(
    ("sources", "expected"),
    [
        ({"a": "from . import b\n", "b": "def f():\n    from studio.pkg.a import x\n"}, ["a", "b"]),
        (
            {
                "a": "import studio.pkg.b\n",
                "b": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .c import C\n",
                "c": "from .a import A\n",
            },
            ["a", "b", "c"],
        ),
        ({"a": "import studio.pkg.b\n", "b": "import studio.pkg.c\n", "c": "import os\n"}, None),
    ],
)
def test_the_circle_finder_sees_lazy_relative_and_type_only_imports(
    tmp_path, monkeypatch, sources, expected
):
    pkg = tmp_path / "studio" / "pkg"
    pkg.mkdir(parents=True)
    (tmp_path / "studio" / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    for name, text in sources.items():
        (pkg / f"{name}.py").write_text(text)
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    monkeypatch.setattr(sys.modules[__name__], "STUDIO", tmp_path / "studio")
    found = circles(import_graph())
    assert found == ([tuple(f"studio.pkg.{m}" for m in expected)] if expected else [])


def test_the_allow_list_holds_only_imports_that_still_exist():
    stale = sorted(set(ALLOWED) - set(violations()))
    assert not stale, f"remove these from ALLOWED, they are fixed: {stale}"


@pytest.mark.parametrize(
    ("layer", "source", "expected"),
    [
        ("graph", "def f():\n    import torch.nn\n", "imports torch"),
        ("blocks", "def f():\n    from studio.hub import models\n", "above it"),
        ("compiler", "import importlib\nimportlib.import_module('studio.ui.app')\n", "above it"),
        ("hub", "from studio.training.settings import TrainingSettings\n", "above it"),
        (
            "training",
            "class T:\n    def m(self):\n        from PySide6.QtCore import QObject\n",
            "Qt",
        ),
        ("cli", "from ..ui import app\n", "above it"),
    ],
)
def test_the_checker_sees_lazy_relative_and_dynamic_imports(layer, source, expected):
    module = f"studio.{layer}.example"
    reasons = [problem(layer, target) for _, target in imports_of(source, module)]
    assert any(r and expected in r for r in reasons), reasons


def test_the_checker_allows_the_order():
    allowed = {
        "graph": "from studio.blocks.registry import get_block_type\nfrom studio import trust",
        "compiler": "import torch\nfrom studio.graph.model import Graph",
        "interop": "from studio.training.settings import TrainingSettings\nfrom studio.hub import models",
        "ui": "from PySide6.QtCore import Qt\nfrom studio.cli import main",
    }
    for layer, source in allowed.items():
        targets = [t for _, t in imports_of(source, f"studio.{layer}.x")]
        assert len(targets) >= 2 and not any(problem(layer, t) for t in targets), layer


_BLOCKED_RUN = """
import sys
class Blocked:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in {blocked!r}:
            raise ImportError('blocked: ' + name)
sys.meta_path.insert(0, Blocked())
from studio.graph.project import load_project
from studio.graph.validation import validate
from studio.graph.layout import layered_layout
project = load_project({path!r})
assert not [d for d in validate(project.graph) if d.severity == 'error']
layered_layout(project.graph)
print(len(project.graph.blocks))
"""

EXAMPLES = sorted((ROOT / "resources" / "examples").glob("*.studio.json"))


@pytest.mark.parametrize("example", EXAMPLES, ids=[p.name.split(".")[0] for p in EXAMPLES])
def test_a_project_loads_and_validates_without_torch_or_qt(example):
    """What the contract buys: the pure layers open a project with torch and Qt unimportable."""
    code = _BLOCKED_RUN.format(blocked=sorted(TORCH | QT), path=str(example))
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert int(result.stdout.split()[-1]) > 2
