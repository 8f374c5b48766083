"""`studio train` on the real examples, through the real project loader and compiler."""

import csv
import subprocess
import sys
from pathlib import Path

import torch

from studio.cli import main

EXAMPLES = Path(__file__).parents[2] / "resources" / "examples"


def test_studio_train_writes_metrics_and_loadable_weights(tmp_path):
    out = tmp_path / "run"
    assert main(["train", str(EXAMPLES / "mlp_classifier.studio.json"), "--epochs", "2", "--out", str(out)]) == 0
    rows = list(csv.DictReader((out / "metrics.csv").open()))
    assert [r["epoch"] for r in rows] == ["1", "2"]
    assert float(rows[1]["train_loss"]) < float(rows[0]["train_loss"]) * 1.5
    state = torch.load(out / "weights.pt", weights_only=True)
    from studio.compiler import build_model
    from studio.graph.project import load_project

    model = build_model(load_project(EXAMPLES / "mlp_classifier.studio.json").graph)
    model.load_state_dict(state)  # the weights fit the generated module


def test_two_runs_with_the_same_seed_give_identical_metrics(tmp_path):
    for name in ("a", "b"):
        assert main(["train", str(EXAMPLES / "mlp_classifier.studio.json"), "--epochs", "1", "--seed", "3", "--out", str(tmp_path / name)]) == 0
    drop = lambda rows: [{k: v for k, v in r.items() if k not in ("seconds", "samples_per_s")} for r in rows]  # noqa: E731
    a = drop(csv.DictReader((tmp_path / "a" / "metrics.csv").open()))
    b = drop(csv.DictReader((tmp_path / "b" / "metrics.csv").open()))
    assert a == b


def test_bad_settings_are_one_line_and_nonzero(tmp_path):
    import json

    data = json.loads((EXAMPLES / "mlp_classifier.studio.json").read_text())
    data["training"]["optimizer"]["lr"] = -0.1
    path = tmp_path / "p.studio.json"
    path.write_text(json.dumps(data))
    r = subprocess.run([sys.executable, "-m", "studio", "train", str(path), "--out", str(tmp_path / "o")], capture_output=True, text=True)
    assert r.returncode == 2
    assert "Traceback" not in r.stderr and "Learning rate must be greater than 0" in r.stderr
