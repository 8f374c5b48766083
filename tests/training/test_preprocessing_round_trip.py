"""What trains works outside Studio: a model trained on a real CSV (scikit-learn's breast cancer
table), its standardisation moved inside the model by the Problems fix, exported, and loaded in a
fresh process that has only torch, scores the raw rows as the run scored them."""

import csv
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from studio.cli import main as studio
from studio.graph.project import dumps, load_project
from studio.training.standardize_check import standardize_problems
from tests.regression_data import diabetes_project, sklearn_csv

EXAMPLE = Path("resources/examples/mlp_classifier.studio.json")

#: the same rows scored by each file alone, in one fresh ``python -I`` (torch only, nothing of
#: Studio): the Python class with its weights, the run's .pt2 program (torch only) and its ONNX
#: graph (onnx's reference evaluator)
SCORE = r"""
import csv, json, sys, torch
jobs, table = json.loads(sys.argv[1]), sys.argv[2]
rows = list(csv.reader(open(table)))[1:]
x = torch.tensor([[float(v) for v in r[:-1]] for r in rows])
y = torch.tensor([int(r[-1]) for r in rows])
n = len(rows); n_val = round(n * 0.2)  # the run's split: split_seed 0
val = torch.randperm(n, generator=torch.Generator().manual_seed(0))[:n_val].sort().values
for kind, path, *weights in jobs:
    with torch.no_grad():
        if kind in ("python", "python+json"):
            namespace = {}
            exec(compile(open(path).read(), path, "exec"), namespace)
            Model = next(v for v in namespace.values() if isinstance(v, type)
                         and issubclass(v, torch.nn.Module) and v is not torch.nn.Module
                         and v.__module__ == namespace.get("__name__", v.__module__))
            model = Model()
            model.load_state_dict(torch.load(weights[0], weights_only=True))
            rows = x[val]
            if kind == "python+json":  # the loader's standardisation, from the file beside the weights
                norm = json.load(open(weights[0][: -len(".pt")] + ".json"))["normalization"]
                rows = (rows - torch.tensor(norm["mean"])) / torch.tensor(norm["std"])
            scores = model.eval()(rows)
        elif kind == "pt2":
            scores = torch.export.load(path).module()(x[val])
        else:
            import onnx
            from onnx.reference import ReferenceEvaluator
            proto = onnx.load(path)
            session = ReferenceEvaluator(proto)
            feed = {proto.graph.input[0].name: x[val].numpy()}
            scores = torch.from_numpy(session.run(None, feed)[0])
    print(kind, (scores.argmax(1) == y[val]).float().mean().item())
"""

def _score(folder, script, *args) -> str:
    """Run a scoring script in a fresh ``python -I`` (only torch, nothing of Studio): its stdout."""
    out = subprocess.run(
        [sys.executable, "-I", str(script), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=folder,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


@pytest.fixture
def cancer_csv(tmp_path):
    return sklearn_csv("load_breast_cancer", tmp_path / "cancer.csv", "label", int)


def _scores_raw_rows_as_the_run(tmp_path, jobs, table, run_accuracy) -> None:
    """Each job's file scores the raw validation rows in a fresh torch-only process within 0.01
    of the run's accuracy."""
    (tmp_path / "score.py").write_text(SCORE)
    stdout = _score(tmp_path, tmp_path / "score.py", json.dumps(jobs), table)
    scored = dict(line.split() for line in stdout.strip().splitlines()[-len(jobs) :])
    print(f"run val accuracy {run_accuracy:.4f}; on raw rows: {scored}")
    assert list(scored) == [job[0] for job in jobs]
    for fmt, accuracy in scored.items():
        assert abs(float(accuracy) - run_accuracy) <= 0.01, fmt


def _cancer_project(tmp_path, cancer_csv) -> Path:
    """The spiral example taking breast cancer's 30 features, trained 8 epochs on the table."""
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
    return path


def test_the_exported_model_scores_raw_rows_as_the_run_did(tmp_path, cancer_csv):
    path = _cancer_project(tmp_path, cancer_csv)
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
    jobs = [["python", "model.py", str(tmp_path / "run" / "weights.pt")]]
    # the standalone files carry the Standardize block's buffers: they score raw rows alike
    jobs += [[fmt, f"model.{fmt}"] for fmt in ["pt2"] + (["onnx"] if importlib.util.find_spec("onnx") else [])]
    for fmt, target, *_ in jobs:
        run = ["--run", str(tmp_path / "run")] if fmt != "python" else []
        assert studio(["export", str(path), "--format", fmt, "-o", str(tmp_path / target), *run]) == 0
    _scores_raw_rows_as_the_run(tmp_path, jobs, cancer_csv, run_accuracy)


SCORE_REGRESSION = r"""
import csv, json, sys, torch
source, weights, program, table = sys.argv[1:5]
namespace = {}
exec(compile(open(source).read(), source, "exec"), namespace)
Model = next(v for v in namespace.values() if isinstance(v, type) and issubclass(v, torch.nn.Module)
             and v is not torch.nn.Module)
model = Model()
model.load_state_dict(torch.load(weights, weights_only=True))
model.eval()
scale = json.load(open(weights[: -len(".pt")] + ".json"))["target_scale"]
rows = list(csv.reader(open(table)))[1:]
x = torch.tensor([[float(v) for v in r[:-1]] for r in rows])
y = torch.tensor([[float(r[-1])] for r in rows])
n = len(rows); n_val = round(n * 0.2)
val = torch.randperm(n, generator=torch.Generator().manual_seed(0))[:n_val].sort().values
with torch.no_grad():
    by_hand = model(x[val]) * torch.tensor(scale["std"]) + torch.tensor(scale["mean"])
    by_program = torch.export.load(program).module()(x[val])
print(float(((by_hand - y[val]) ** 2).mean()), float(((by_program - y[val]) ** 2).mean()))
"""


def test_a_regression_run_keeps_its_target_scale_beside_the_weights(tmp_path):
    """Diabetes: features standardised inside the model, the target learnt standardised; the
    Python class with weights.pt and weights.json, and the .pt2 program alone, give the run's
    validation MSE (in the data's units) on raw rows."""
    path = diabetes_project(tmp_path, "diabetes.studio.json")
    table = tmp_path / "diabetes.csv"
    project = load_project(path)
    (problem,) = standardize_problems(project.graph, project.training, tmp_path)
    problem.fix.make(project.graph).do(project.graph)
    project.training = problem.fix.training(project.training)
    path.write_text(dumps(project))

    assert studio(["train", str(path), "--out", str(tmp_path / "run"), "--device", "cpu"]) == 0
    rows = list(csv.DictReader((tmp_path / "run" / "metrics.csv").open()))
    run_mse = float(rows[-1]["val_loss"])
    info = json.loads((tmp_path / "run" / "weights.json").read_text())
    assert info["class_names"] is None and abs(info["target_scale"]["mean"][0] - 152) < 5
    import torch

    checkpoint = torch.load(tmp_path / "run" / "checkpoints" / "last.pt", weights_only=True)
    assert checkpoint["target_scale"] == info["target_scale"]
    for fmt, target in (("python", "model.py"), ("pt2", "model.pt2")):
        run = ["--run", str(tmp_path / "run")] if fmt == "pt2" else []
        assert (
            studio(["export", str(path), "--format", fmt, "-o", str(tmp_path / target), *run]) == 0
        )
    (tmp_path / "score.py").write_text(SCORE_REGRESSION)
    stdout = _score(
        tmp_path, tmp_path / "score.py", tmp_path / "model.py", tmp_path / "run" / "weights.pt",
        tmp_path / "model.pt2", table,
    )
    by_hand, by_program = map(float, stdout.split())
    print(f"run val MSE {run_mse:.1f}, class + weights.json {by_hand:.1f}, .pt2 {by_program:.1f}")
    assert abs(by_hand - run_mse) <= 1e-3 * run_mse and abs(by_program - run_mse) <= 1e-3 * run_mse


def test_class_names_in_output_order_travel_with_the_weights_and_checkpoints(tmp_path):
    (tmp_path / "points.csv").write_text(
        "a,b,label\n"
        + "".join(f"{i % 7},{i % 5},{('cat', 'ant', 'bee')[i % 3]}\n" for i in range(60))
    )
    raw = json.loads(EXAMPLE.read_text())
    raw["training"] = {
        "data": {"kind": "csv", "path": "points.csv", "target": "label"},
        "epochs": 1,
    }
    for block in raw["graph"]["blocks"]:
        if block["name"] == "classifier":
            block["params"]["out_features"] = 3
    path = tmp_path / "p.studio.json"
    path.write_text(json.dumps(raw))
    assert studio(["train", str(path), "--out", str(tmp_path / "run"), "--device", "cpu"]) == 0
    info = json.loads((tmp_path / "run" / "weights.json").read_text())
    norm = info.pop("normalization")  # the rows were standardised as they were read
    assert info == {
        "class_names": ["ant", "bee", "cat"],
        "target_scale": None,
        "codec": None,
        "image": None,
    }  # output i is classes[i]
    assert len(norm["mean"]) == len(norm["std"]) == 2
    import torch

    checkpoint = torch.load(tmp_path / "run" / "checkpoints" / "best.pt", weights_only=True)
    assert checkpoint["class_names"] == ["ant", "bee", "cat"]


def test_a_text_runs_tokenizer_and_vocabulary_travel_with_the_weights(tmp_path):
    """A character model is useless without its vocabulary: weights.json beside weights.pt holds
    the tokenizer and the characters in id order, so new text encodes to the ids it trained on."""
    import torch

    from studio.training.runtime.script_main import save_weights
    from studio.training.runtime.text import read_text_windows

    text = "the quick brown fox jumps over the lazy dog\n" * 20
    (tmp_path / "t.txt").write_text(text)
    spec = {"path": str(tmp_path / "t.txt"), "tokenizer": "char", "block_size": 8, "stride": 8}
    data, info = read_text_windows(spec)
    net = torch.nn.Embedding(info["num_classes"], 4)
    assert save_weights(net, tmp_path / "weights.pt", info)
    codec = json.loads((tmp_path / "weights.json").read_text())["codec"]
    assert codec["tokenizer"] == "char" and len(codec["vocab"]) == info["num_classes"]
    index = {c: i + codec["offset"] for i, c in enumerate(codec["vocab"])}
    assert [index[c] for c in text[:8]] == data.tokens[:8].tolist()


def test_an_image_runs_input_transform_travels_with_the_weights(tmp_path):
    """The size the images were resized to and their normalisation are saved beside the weights,
    so a deployed model is fed images as it was trained."""
    import torch
    from PIL import Image

    from studio.training.runtime.data import read_image_folder
    from studio.training.runtime.script_main import save_weights

    for label in ("cat", "dog"):
        (tmp_path / "pics" / label).mkdir(parents=True)
        for i in range(3):
            Image.new("RGB", (20, 12), (i * 40, 0, 0)).save(tmp_path / "pics" / label / f"{i}.png")
    _, info = read_image_folder({"path": str(tmp_path / "pics"), "channels": 1})
    assert save_weights(torch.nn.Linear(2, 2), tmp_path / "weights.pt", info)
    saved = json.loads((tmp_path / "weights.json").read_text())
    assert saved["image"] == {"size": [12, 20], "channels": 1, "normalize": True}
    assert saved["class_names"] == ["cat", "dog"]


def test_a_run_that_standardised_as_it_read_still_exports_files_that_take_raw_rows(tmp_path, cancer_csv):
    """The Problems warning ignored: the run standardised the rows as it read them. Its weights.json
    keeps their mean and std, the exported weights carry them in their own .json, and the .pt2
    program and the ONNX graph standardise inside: each scores raw rows as the run did (the class
    with weights.pt alone scored scikit-learn's wine rows 0.33 against 0.94)."""
    path = _cancer_project(tmp_path, cancer_csv)
    project = load_project(path)
    assert len(standardize_problems(project.graph, project.training, tmp_path)) == 1  # not fixed
    assert studio(["train", str(path), "--out", str(tmp_path / "run"), "--device", "cpu"]) == 0
    rows = list(csv.DictReader((tmp_path / "run" / "metrics.csv").open()))
    run_accuracy = float([r for r in rows if r.get("val_accuracy")][-1]["val_accuracy"])
    assert run_accuracy > 0.9
    assert len(json.loads((tmp_path / "run" / "weights.json").read_text())["normalization"]["mean"]) == 30
    assert studio(["export", str(path), "-o", str(tmp_path / "model.py")]) == 0
    jobs = [["python+json", "model.py", str(tmp_path / "w.pt")]]
    jobs += [[fmt, f"model.{fmt}"] for fmt in ["pt2"] + (["onnx"] if importlib.util.find_spec("onnx") else [])]
    for fmt, target in [("weights", "w.pt"), *((job[0], job[1]) for job in jobs[1:])]:
        assert studio(["export", str(path), "--format", fmt, "-o", str(tmp_path / target),
                       "--run", str(tmp_path / "run")]) == 0
    assert json.loads((tmp_path / "w.json").read_text()) == json.loads((tmp_path / "run" / "weights.json").read_text())
    _scores_raw_rows_as_the_run(tmp_path, jobs, cancer_csv, run_accuracy)
