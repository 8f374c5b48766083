"""scikit-learn's diabetes table as a CSV file, and regression settings that read it."""

import csv

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
