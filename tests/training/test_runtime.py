"""The runtime is what train.py copies: standard library and torch only (optional speed-ups inside
`try: ... except ImportError`), and train.py needs no Studio."""

import ast
import importlib
import pkgutil
import sys
from pathlib import Path

import pytest

import studio.training.runtime as runtime_package
from studio.graph.project import load_project
from studio.interop.script import runtime_sources, script_source

EXAMPLES = Path(__file__).resolve().parents[2] / "resources" / "examples"
MODULES = [m.name for m in pkgutil.iter_modules(runtime_package.__path__)]
ALLOWED = set(sys.stdlib_module_names) | {"torch", "torchvision", "PIL", "numpy"}


def _optional(tree) -> set[int]:
    """ids of the import statements inside ``try: ... except ImportError:`` (an optional speed-up
    the code does without, such as pyarrow's CSV reader)."""
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Try) and any(
            isinstance(h.type, ast.Name) and h.type.id in ("ImportError", "ModuleNotFoundError") for h in node.handlers
        ):
            out |= {id(n) for stmt in node.body for n in ast.walk(stmt) if isinstance(n, (ast.Import, ast.ImportFrom))}
    return out


def _imports(tree) -> list[tuple[str, int]]:
    out = []
    optional = _optional(tree)
    for node in ast.walk(tree):
        if id(node) in optional:
            continue
        if isinstance(node, ast.Import):
            out += [(a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            out.append((node.module, node.lineno))
    return out


@pytest.mark.parametrize("name", MODULES)
def test_runtime_modules_import_only_the_standard_library_torch_numpy_and_each_other(name):
    module = importlib.import_module(f"studio.training.runtime.{name}")
    tree = ast.parse(Path(module.__file__).read_text())
    for imported, line in _imports(tree):
        top = imported.split(".")[0]
        optional = {"pyarrow"} if name == "parquet" else set()  # inside the reader of an optional format
        ok = top in ALLOWED | optional or imported.startswith("studio.training.runtime.")
        assert ok, f"{name}.py line {line} imports {imported}"


def test_the_csv_text_rules_need_no_torch():
    tree = ast.parse(Path(importlib.import_module("studio.training.runtime.tables").__file__).read_text())
    assert all(i.split(".")[0] in sys.stdlib_module_names for i, _ in _imports(tree))


@pytest.mark.parametrize("example", sorted(p.name for p in EXAMPLES.glob("*.studio.json")))
def test_train_py_imports_nothing_of_studio(example):
    source, _ = script_source(load_project(EXAMPLES / example))
    assert not [i for i, _ in _imports(ast.parse(source)) if i.split(".")[0] == "studio"]
    assert "studio.training" not in source.replace("studio/training/runtime/", "")


def test_the_copied_functions_are_the_runtimes_own_text():
    import inspect

    from studio.training.runtime import data, loop

    sources = runtime_sources(["load_data", "evaluate"])
    assert inspect.getsource(data.load_data).strip() in [s.strip() for s in sources]
    assert inspect.getsource(loop.evaluate).strip() in [s.strip() for s in sources]
    assert any(s.startswith("def split(") for s in sources)  # and what they call
