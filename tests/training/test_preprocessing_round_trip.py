"""What trains works outside Studio: a model trained on a real CSV (scikit-learn's breast cancer
table), its standardisation moved inside the model by the Problems fix, exported, and loaded in a
fresh process that has only torch, scores the raw rows as the run scored them."""

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from studio.cli import main as studio
from studio.graph.project import dumps, load_project
from studio.training.standardize_check import standardize_problems

EXAMPLE = Path("resources/examples/mlp_classifier.studio.json")

SCORE = r"""
import csv, sys, torch
source, weights, table = sys.argv[1:4]
namespace = {}
exec(compile(open(source).read(), source, "exec"), namespace)
Model = next(v for v in namespace.values() if isinstance(v, type) and issubclass(v, torch.nn.Module)
             and v.__module__ == namespace.get("__name__", v.__module__) and v is not torch.nn.Module)
model = Model()
model.load_state_dict(torch.load(weights, weights_only=True))
model.eval()
rows = list(csv.reader(open(table)))[1:]
x = torch.tensor([[float(v) for v in r[:-1]] for r in rows])
y = torch.tensor([int(r[-1]) for r in rows])
n = len(rows); n_val = round(n * 0.2)  # the run's split: split_seed 0
val = torch.randperm(n, generator=torch.Generator().manual_seed(0))[:n_val].sort().values
with torch.no_grad():
    print((model(x[val]).argmax(1) == y[val]).float().mean().item())
"""


@pytest.fixture
def cancer_csv(tmp_path):
    datasets = pytest.importorskip("sklearn.datasets")
    data = datasets.load_breast_cancer()
    path = tmp_path / "cancer.csv"
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow([*(f"f{i}" for i in range(data.data.shape[1])), "label"])
        for row, label in zip(data.data.tolist(), data.target.tolist(), strict=True):
            w.writerow([*(repr(v) for v in row), int(label)])
    return path


def test_the_exported_model_scores_raw_rows_as_the_run_did(tmp_path, cancer_csv):
    raw = json.loads(EXAMPLE.read_text())
    for block in raw["graph"]["blocks"]:
        if block["type"] == "input":
            block["params"]["shape"] = [30]
    raw["training"] = {
        "data": {"kind": "csv", "path": cancer_csv.name, "target": "label"},
        "epochs": 8,
        "batch_size": 32,
        "optimizer": {"name": "adam", "lr": 0.003},
    }
    path = tmp_path / "cancer.studio.json"
    path.write_text(json.dumps(raw))
    project = load_project(path)

    problems = standardize_problems(project.graph, project.training, tmp_path)
    assert len(problems) == 1 and problems[0].fix.text == "Standardise inside the model"
    problems[0].fix.make(project.graph).do(project.graph)  # what the Problems button pushes
    project.training = problems[0].fix.training(project.training)
    assert project.training["data"]["standardize"] is False
    assert standardize_problems(project.graph, project.training, tmp_path) == []
    path.write_text(dumps(project))

    assert studio(["train", str(path), "--out", str(tmp_path / "run"), "--device", "cpu"]) == 0
    rows = list(csv.DictReader((tmp_path / "run" / "metrics.csv").open()))
    run_accuracy = float([r for r in rows if r.get("val_accuracy")][-1]["val_accuracy"])
    assert run_accuracy > 0.9
    assert (
        studio(["export", str(path), "--format", "python", "-o", str(tmp_path / "model.py")]) == 0
    )

    script = tmp_path / "score.py"
    script.write_text(SCORE)
    out = subprocess.run(
        [
            sys.executable,
            "-I",
            str(script),
            str(tmp_path / "model.py"),
            str(tmp_path / "run" / "weights.pt"),
            str(cancer_csv),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    exported_accuracy = float(out.stdout.strip().splitlines()[-1])
    print(
        f"run val accuracy {run_accuracy:.4f}, exported model on raw rows {exported_accuracy:.4f}"
    )
    assert abs(exported_accuracy - run_accuracy) <= 0.01
