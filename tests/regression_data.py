"""scikit-learn's diabetes table as a CSV file, and regression settings and projects that read it."""

import csv
import json
from pathlib import Path

import pytest

from studio.training.settings import TrainingSettings


def sklearn_csv(loader: str, path, target: str, cast=float, named: bool = False):
    """One of scikit-learn's bundled tables as a CSV file: features f0, f1, ... (``named``: the
    table's own feature names) then `target`."""
    datasets = pytest.importorskip("sklearn.datasets")
    d = getattr(datasets, loader)()
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        names = d.feature_names if named else [f"f{i}" for i in range(d.data.shape[1])]
        w.writerow([*names, target])
        for row, y in zip(d.data.tolist(), d.target.tolist(), strict=True):
            w.writerow([*(repr(v) for v in row), cast(y)])
    return path


def diabetes_csv(folder):
    return sklearn_csv("load_diabetes", folder / "diabetes.csv", "y")


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
