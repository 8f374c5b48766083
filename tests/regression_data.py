"""scikit-learn's diabetes table as a CSV file, and regression settings and projects that read it."""

import csv
import json
from pathlib import Path

import pytest

from studio.training.settings import TrainingSettings


def diabetes_csv(folder):
    datasets = pytest.importorskip("sklearn.datasets")
    d = datasets.load_diabetes()
    path = folder / "diabetes.csv"
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow([*(f"f{i}" for i in range(10)), "y"])
        for row, y in zip(d.data.tolist(), d.target.tolist(), strict=True):
            w.writerow([*(repr(v) for v in row), y])
    return path


def diabetes_settings(folder, **training) -> TrainingSettings:
    diabetes_csv(folder)
    return TrainingSettings.from_dict(
        {
            "data": {"kind": "csv", "path": "diabetes.csv", "target": "y"},
            "loss": {"name": "mse"},
            **training,
        }
    )


EXAMPLE = Path("resources/examples/mlp_classifier.studio.json")


def diabetes_project(folder: Path, name: str = "p.studio.json", **training) -> Path:
    """The spiral example rewired for diabetes (10 features in, 1 value out) with an MSE loss."""
    diabetes_csv(folder)
    raw = json.loads(EXAMPLE.read_text())
    for block in raw["graph"]["blocks"]:
        if block["type"] == "input":
            block["params"]["shape"] = [10]
        if block["name"] == "classifier":
            block["params"]["out_features"] = 1
    raw["training"] = {
        "data": {"kind": "csv", "path": "diabetes.csv", "target": "y"},
        "loss": {"name": "mse"},
        **training,
    }
    path = folder / name
    path.write_text(json.dumps(raw))
    return path
