"""Every exported text (the model module, train.py, the notebook's code cells) of every example
passes ``ruff check`` and ``ruff format --check`` at line length 100: what a reviewer runs first."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from studio.compiler import generate
from studio.graph.project import load_project
from studio.interop.exporters import export_project

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "resources" / "examples").glob("*.studio.json"))


def _ruff(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ruff", *args, "--isolated", "--line-length", "100"],
                          capture_output=True, text=True)


@pytest.mark.parametrize("fmt", ["python", "script", "notebook"])
def test_every_examples_export_is_ruff_clean(tmp_path, fmt):
    pytest.importorskip("ruff")
    if fmt == "notebook":
        pytest.importorskip("nbformat")
    paths = []
    for example in EXAMPLES:
        name = example.name.split(".")[0]
        out = tmp_path / (name + (".ipynb" if fmt == "notebook" else ".py"))
        project = load_project(example)
        assert export_project(project, fmt, out).path == out
        if fmt == "script":  # the compiler's very text, once, not a second emitter's
            code = generate(project.graph, project.name)
            class_text = code.source[code.source.index(f"class {code.class_name}(") :]
            text = out.read_text()
            assert class_text in text and text.count(f"class {code.class_name}(") == 1
        if fmt == "notebook":  # ruff reads a notebook's code cells as Jupyter runs them
            cells = json.loads(out.read_text())["cells"]
            assert sum(c["cell_type"] == "code" for c in cells) >= 5
        paths.append(str(out))
    check = _ruff("check", "--extend-select", "E501", *paths)  # and no line past 100 columns
    assert check.returncode == 0, check.stdout + check.stderr
    form = _ruff("format", "--check", "--diff", *paths)
    assert form.returncode == 0, form.stdout[-4000:] + form.stderr
