"""A regression run that ends worse than always predicting the mean says so (scikit-learn's
diabetes table, raw targets, a tiny learning rate for few epochs)."""

import csv
import json
from pathlib import Path

import pytest

from studio.cli import main as studio

EXAMPLE = Path("resources/examples/mlp_classifier.studio.json")


def test_a_run_worse_than_the_mean_warns(tmp_path, capsys):
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
            block["params"]["out_features"] = 1
    raw["training"] = {
        "data": {"kind": "csv", "path": "diabetes.csv", "target": "y"},
        "loss": {"name": "mse"},
        "epochs": 2,
        "optimizer": {"name": "sgd", "lr": 1e-6},
    }
    path = tmp_path / "p.studio.json"
    path.write_text(json.dumps(raw))
    assert studio(["train", str(path), "--out", str(tmp_path / "run"), "--device", "cpu"]) == 0
    err = capsys.readouterr().err
    assert "warning: The model ends worse than always predicting the mean" in err
