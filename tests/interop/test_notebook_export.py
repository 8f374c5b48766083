"""``studio export --format notebook``: train.py's code in cells that run to the same loss."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from studio.cli import main as studio
from studio.interop.exporters import FORMATS

EXAMPLES = Path(__file__).resolve().parents[2] / "resources" / "examples"


def _last_loss(path: Path) -> float:
    with open(path, newline="") as f:
        return float(list(csv.DictReader(f))[-1]["train_loss"])


def test_the_notebook_runs_in_a_fresh_kernel_to_train_pys_loss(tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    assert FORMATS["notebook"].suffix == ".ipynb"
    data = json.loads((EXAMPLES / "mlp_classifier.studio.json").read_text())
    data["training"]["data"]["n"] = 300
    data["training"]["epochs"] = 2
    project = tmp_path / "mlp.studio.json"
    project.write_text(json.dumps(data))
    assert studio(["export", str(project), "--format", "notebook", "-o", str(tmp_path / "train.ipynb")]) == 0
    assert studio(["export", str(project), "--format", "script", "-o", str(tmp_path / "train.py")]) == 0
    nb = nbformat.read(tmp_path / "train.ipynb", as_version=4)
    text = "\n".join(c.source for c in nb.cells)
    assert "## The five steps of training" in text and "model = SpiralClassifier()" in text
    code = "\n\n".join(c.source for c in nb.cells if c.cell_type == "code")
    script = (tmp_path / "train.py").read_text()
    assert "def fit(" in code and script[script.index("def fit(") :][:2000] in code  # the same text

    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    run = subprocess.run([sys.executable, "train.py", "--device", "cpu", "--out", "runs/script"],
                         capture_output=True, text=True, cwd=tmp_path, env=dict(os.environ), timeout=120)
    assert run.returncode == 0, run.stderr
    nb.cells[-3].source = nb.cells[-3].source.replace('"--out", "runs/notebook"', '"--out", "runs/notebook", "--device", "cpu"')
    nbclient.NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    notebook_loss = _last_loss(tmp_path / "runs" / "notebook" / "metrics.csv")
    assert notebook_loss == pytest.approx(_last_loss(tmp_path / "runs" / "script" / "metrics.csv"), abs=1e-6)
    outputs = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert "epoch 2" in outputs


def test_the_same_project_exported_again_is_the_same_notebook_file(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    from studio.graph.project import load_project
    from studio.interop.exporters import export_project

    project = load_project(EXAMPLES / "shapes_cnn.studio.json")
    first, second = tmp_path / "a.ipynb", tmp_path / "b.ipynb"
    export_project(project, "notebook", first)
    export_project(project, "notebook", second)
    assert first.read_bytes() == second.read_bytes()  # cell ids too: a re-export diffs clean
    notebook = nbformat.read(first, as_version=4)
    nbformat.validate(notebook)
    assert len({cell["id"] for cell in notebook.cells}) == len(notebook.cells)
