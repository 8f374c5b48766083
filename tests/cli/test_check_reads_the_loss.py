"""`studio check` reads the loss before it counts classes: a regression table (scikit-learn's
diabetes, whole-number targets) is one target value with MSE, and with cross-entropy the check
suggests a regression loss instead of 214 outputs."""

import csv
import json
from pathlib import Path

import pytest

from studio.cli import main as studio

EXAMPLE = Path("resources/examples/mlp_classifier.studio.json")


def _project(tmp_path, loss, out_features):
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
    raw["training"] = {
        "data": {"kind": "csv", "path": "diabetes.csv", "target": "y"},
        "loss": {"name": loss},
    }
    path = tmp_path / "diabetes.studio.json"
    path.write_text(json.dumps(raw))
    return path


def test_with_mse_the_whole_number_target_is_one_value(tmp_path, capsys):
    assert studio(["check", str(_project(tmp_path, "mse", 1))]) == 0
    out = capsys.readouterr().out
    assert "1 target value" in out and "classes" not in out


def test_with_cross_entropy_the_check_suggests_a_regression_loss(tmp_path, capsys):
    assert studio(["check", str(_project(tmp_path, "cross_entropy", 2))]) == 1
    err = capsys.readouterr().err
    assert "looks like a regression target" in err and "mean squared error" in err
    assert "214 scores" not in err and "out features to 214" not in err
