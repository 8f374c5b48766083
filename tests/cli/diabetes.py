"""scikit-learn's diabetes table (raw whole-number targets) as a CSV beside the spiral
classifier example, made to read its 10 features: a regression project the CLI tests check
and train."""

import csv
import json
from pathlib import Path

import pytest

EXAMPLE = Path("resources/examples/mlp_classifier.studio.json")


def diabetes_project(tmp_path: Path, training: dict, out_features: int, file: str) -> Path:
    """The project file ``tmp_path / file``: the example with ``out_features`` outputs and the
    ``training`` settings, its data diabetes.csv (skips the test without scikit-learn)."""
    datasets = pytest.importorskip("sklearn.datasets")
    d = datasets.load_diabetes()
    with (tmp_path / "diabetes.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow([*(f"f{i}" for i in range(10)), "y"])
        for row, y in zip(d.data.tolist(), d.target.tolist(), strict=True):
            w.writerow([*row, y])
    raw = json.loads(EXAMPLE.read_text())
    for block in raw["graph"]["blocks"]:
        if block["type"] == "input":
            block["params"]["shape"] = [10]
        if block["name"] == "classifier":
            block["params"]["out_features"] = out_features
    raw["training"] = {"data": {"kind": "csv", "path": "diabetes.csv", "target": "y"}, **training}
    path = tmp_path / file
    path.write_text(json.dumps(raw))
    return path
