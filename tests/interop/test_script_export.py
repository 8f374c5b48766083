"""The ``script`` export: a standalone train.py that trains as ``studio train`` does."""

from __future__ import annotations

import contextlib
import csv
import json
import math
import os
import runpy
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from studio.cli import main as studio
from studio.graph.project import load_project
from studio.interop.exporters import FORMATS
from studio.interop.script import script_source
from studio.training.kinds import get_schedule
from studio.training.optim import LRSchedule
from studio.training.plan import run_plan
from studio.training.settings import TrainingSettings

EXAMPLES = Path(__file__).resolve().parents[2] / "resources" / "examples"
OUTPUTS = ["best.pt", "checkpoint.pt", "metrics.csv", "weights.json", "weights.pt"]


def _env(**extra) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1", **extra)
    env.pop("LOCAL_RANK", None)
    return env


def _project(tmp_path: Path, example: str, **training) -> Path:
    data = json.loads((EXAMPLES / f"{example}.studio.json").read_text())
    for key, value in training.items():
        another_kind = isinstance(value, dict) and ("kind" in value or "name" in value)
        if isinstance(value, dict) and isinstance(data["training"].get(key), dict) and not another_kind:
            data["training"][key].update(value)
        else:
            data["training"][key] = value
    path = tmp_path / f"{example}.studio.json"
    path.write_text(json.dumps(data))
    return path


@pytest.fixture
def one_thread():
    """Studio's run in this process and the script's in another, each on one thread."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _rows(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _same_metrics(studio_csv: Path, script_csv: Path) -> None:
    a, b = _rows(studio_csv), _rows(script_csv)
    assert len(a) == len(b) > 0
    for ra, rb in zip(a, b, strict=True):
        assert list(ra) == list(rb)  # same columns, same order
        for key in ra:
            if key not in ("samples_per_s", "seconds"):
                assert math.isclose(float(ra[key]), float(rb[key]), rel_tol=0, abs_tol=1e-6), (key, ra, rb)


def test_script_is_a_registered_format():
    fmt = FORMATS["script"]
    assert (fmt.label, fmt.suffix, fmt.uses_weights) == ("Training script", ".py", False)


@pytest.mark.parametrize(
    ("example", "training"),
    [
        ("mlp_classifier", {"data": {"n": 300}, "epochs": 2}),
        ("shapes_cnn", {"data": {"n": 150}, "epochs": 2}),  # dropout: the seeds must line up
    ],
)
def test_python_train_py_gives_studio_trains_losses(tmp_path, one_thread, example, training):
    project = _project(tmp_path, example, **training)
    script = tmp_path / "train.py"
    assert studio(["export", str(project), "--format", "script", "-o", str(script)]) == 0
    assert studio(["train", str(project), "--out", str(tmp_path / "studio"), "--device", "cpu"]) == 0
    run = subprocess.run(
        [sys.executable, str(script), "--out", str(tmp_path / "script"), "--device", "cpu"],
        capture_output=True, text=True, env=_env(), cwd=tmp_path, timeout=120,
    )
    assert run.returncode == 0, run.stderr
    _same_metrics(tmp_path / "studio" / "metrics.csv", tmp_path / "script" / "metrics.csv")
    assert sorted(p.name for p in (tmp_path / "script").iterdir()) == OUTPUTS
    state = torch.load(tmp_path / "script" / "weights.pt", weights_only=True)
    mine = torch.load(tmp_path / "studio" / "weights.pt", weights_only=True)
    assert state.keys() == mine.keys()
    assert all(torch.equal(state[k], mine[k]) for k in state)  # the same loop: the same weights


def test_csv_data_plateau_schedule_warmup_clipping_and_early_stopping_match_too(tmp_path, one_thread):
    from studio.training.runtime.generated import spirals

    x, y = spirals(n=200, seed=3)
    rows = ["a,b,label"] + [f"{p:.6f},{q:.6f},{'inner' if c else 'outer'}" for (p, q), c in zip(x.tolist(), y.tolist(), strict=True)]
    (tmp_path / "points.csv").write_text("\n".join(rows) + "\n")
    project = _project(
        tmp_path, "mlp_classifier",
        data={"kind": "csv", "path": "points.csv", "target": "label"},
        epochs=4, batch_size=32, grad_clip=0.5, monitor="val_accuracy",
        optimizer={"name": "sgd", "lr": 0.2, "momentum": 0.9, "nesterov": True},
        schedule={"name": "reduce_on_plateau", "patience": 0, "factor": 0.5, "warmup_epochs": 0.5},
        early_stopping={"enabled": True, "patience": 2},
    )
    script = tmp_path / "train.py"
    assert studio(["export", str(project), "--format", "script", "-o", str(script)]) == 0
    text = script.read_text()
    assert "def read_table(" in text and "= read_csv_data(" in text and "plateau_rate" in text
    assert studio(["train", str(project), "--out", str(tmp_path / "studio"), "--device", "cpu"]) == 0
    run = subprocess.run(
        [sys.executable, str(script), "--out", str(tmp_path / "script"), "--device", "cpu"],
        capture_output=True, text=True, env=_env(), cwd=tmp_path, timeout=120,
    )
    assert run.returncode == 0, run.stderr
    _same_metrics(tmp_path / "studio" / "metrics.csv", tmp_path / "script" / "metrics.csv")


def test_an_augmented_image_folder_goes_through_a_dataloader_and_still_matches(tmp_path, one_thread):
    import random

    from PIL import Image

    rng = random.Random(0)
    for label in ("cat", "dog", "owl"):
        (tmp_path / "images" / label).mkdir(parents=True)
        for i in range(10):
            image = Image.new("L", (20, 20), color=rng.randrange(256))
            for _ in range(30):
                image.putpixel((rng.randrange(20), rng.randrange(20)), rng.randrange(256))
            image.save(tmp_path / "images" / label / f"{i}.png")
    project = _project(
        tmp_path, "shapes_cnn", epochs=2, batch_size=8,
        data={"kind": "image_folder", "path": "images", "channels": 1, "size": [28, 28], "augment": True},
        schedule={"name": "step", "step_size": 1, "gamma": 0.5},
    )
    script = tmp_path / "train.py"
    assert studio(["export", str(project), "--format", "script", "-o", str(script)]) == 0
    assert "EpochBatches(" in script.read_text() and "RandomAffine" in script.read_text()
    assert studio(["train", str(project), "--out", str(tmp_path / "studio"), "--device", "cpu"]) == 0
    run = subprocess.run(
        [sys.executable, str(script), "--out", str(tmp_path / "script"), "--device", "cpu"],
        capture_output=True, text=True, env=_env(), cwd=tmp_path, timeout=120,
    )
    assert run.returncode == 0, run.stderr
    _same_metrics(tmp_path / "studio" / "metrics.csv", tmp_path / "script" / "metrics.csv")


VARIANTS = [
    {"precision": "fp16", "grad_clip": 1.0, "device": "cuda"},
    {"precision": "bf16", "val_split": 0},
    {"data": {"kind": "mnist", "root": "data"}, "val_data": {"kind": "mnist", "split": "test"}},
    {"data": {"kind": "cifar10", "augment": True}, "workers": 2, "shuffle": False},
    {"data": {"kind": "blobs"}, "loss": {"name": "huber", "delta": 0.5}},  # CSV tests cover standardize
    {"loss": {"name": "bce_with_logits"}, "optimizer": {"name": "adagrad", "implementation": "for-loop"}},
    {"data": {"kind": "sine"}, "loss": {"name": "mse"}, "monitor": "val_mae", "early_stopping": {"enabled": True}},
]


@pytest.mark.parametrize("training", VARIANTS, ids=range(len(VARIANTS)))
def test_other_settings_give_ruff_clean_scripts(tmp_path, training):
    project = load_project(_project(tmp_path, "mlp_classifier", **training))
    source, _ = script_source(project)
    path = tmp_path / "train.py"
    path.write_text(source)
    check = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--isolated", str(path)], capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout


SCHEDULES = [
    {"name": "none", "warmup_epochs": 1.5},
    {"name": "step", "step_size": 2, "gamma": 0.5},
    {"name": "step", "step_size": 1, "gamma": 0.3, "warmup_epochs": 0.5},
    {"name": "cosine", "min_lr": 0.0},
    {"name": "cosine", "min_lr": 0.0005, "warmup_epochs": 1},
    {"name": "one_cycle", "pct_start": 0.25},
    {"name": "reduce_on_plateau", "min_lr": 0.0002},
    {"name": "reduce_on_plateau", "min_lr": 0.0, "warmup_epochs": 0.3},
]


@pytest.mark.parametrize("schedule", SCHEDULES, ids=lambda s: "-".join(f"{v}" for v in s.values()))
def test_the_scripts_schedule_is_the_trainers_step_by_step(tmp_path, schedule):
    project = load_project(_project(tmp_path, "mlp_classifier", epochs=5, optimizer={"lr": 0.003}, schedule=schedule))
    settings = TrainingSettings.from_dict(project.training)
    source, _ = script_source(project)
    path = tmp_path / "train.py"
    path.write_text(source)
    script = runpy.run_path(str(path), run_name="not_main")  # defines, does not train
    rate = script[get_schedule(schedule["name"]).rate]
    main = source[source.index("def main(") : source.index("\n\n\n", source.index("def main("))]
    assert f" {rate.__name__}," in main  # main hands fit the schedule's rate function by name
    steps_per_epoch = 7
    p = torch.zeros(1, requires_grad=True)
    sched = LRSchedule(torch.optim.SGD([p], lr=0.003), settings, steps_per_epoch)
    base, options = settings.optimizer.lr, run_plan(settings)["schedule"]
    assert "SETTINGS[" not in source and "schedule = {" in source  # the options as a literal, in fit
    for scale in (1.0, 0.1) if schedule["name"] == "reduce_on_plateau" else (1.0,):
        sched.scale = scale
        for step in range(5 * steps_per_epoch + 1):
            lr = script["learning_rate"](step, base, options, rate, steps_per_epoch, 5, scale)
            assert lr == sched.lr_at(step)[0], step


def test_float_class_probability_targets_score_alike_in_train_py_and_studio(tmp_path):
    """The case that drifted when train.py was written in strings: cross-entropy on class
    probabilities counts the most likely class, in the script as in the trainer. (A table's
    script: generated data holds class indices only, and its class_hits no branch for them.)"""
    from studio.training.metrics import per_sample_metric

    (tmp_path / "points.csv").write_text("a,b,label\n0.1,0.2,inner\n0.3,0.1,outer\n")
    project = _project(tmp_path, "mlp_classifier", data={"kind": "csv", "path": "points.csv", "target": "label"})
    source, _ = script_source(load_project(project))
    path = tmp_path / "train.py"
    path.write_text(source)
    script = runpy.run_path(str(path), run_name="not_main")
    output = torch.tensor([[2.0, 0.5, 0.1], [0.1, 0.2, 3.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.5]])
    target = torch.tensor([[0.8, 0.1, 0.1], [0.0, 0.3, 0.7], [0.2, 0.7, 0.1], [0.1, 0.9, 0.0]])
    mine = per_sample_metric("cross_entropy", output, target)
    assert mine.tolist() == [1.0, 1.0, 0.0, 1.0]
    assert torch.equal(script["class_hits"](output, target), mine)
    loss = torch.nn.CrossEntropyLoss()
    hooks = SimpleNamespace(metric=script["class_hits"], device=torch.device("cpu"),
                            autocast=contextlib.nullcontext(), reduce=lambda sums: sums.tolist())
    scores = script["evaluate"](torch.nn.Identity(), [(output, target)], loss, hooks)
    assert scores == {"val_loss": loss(output, target).item(), "val_accuracy": 0.75}


def test_the_transfer_example_loads_pretrained_weights_through_torchvision(tmp_path):
    project = load_project(EXAMPLES / "transfer_learning.studio.json")
    source, _ = script_source(project)
    assert "weights=MobileNet_V3_Small_Weights.IMAGENET1K_V1" in source
    path = tmp_path / "train.py"
    path.write_text(source)
    module = runpy.run_path(str(path), run_name="not_main")  # defines, does not train
    torch.manual_seed(0)
    model = module["TransferLearning"]()  # TORCH_HOME (conftest) holds the weights file
    assert not any(p.requires_grad for p in model.backbone.parameters())


def test_bad_training_settings_are_one_line_errors():
    from studio.interop.exporters import ExportError

    project = load_project(EXAMPLES / "mlp_classifier.studio.json")
    project.training = {**project.training, "optimizer": {"name": "adam", "lr": -1}}
    with pytest.raises(ExportError, match="Learning rate must be greater than 0"):
        script_source(project)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_torchrun_with_two_cpu_processes_writes_one_set_of_weights(tmp_path):
    project = _project(tmp_path, "mlp_classifier", data={"n": 200}, epochs=2)
    script = tmp_path / "train.py"
    assert studio(["export", str(project), "--format", "script", "-o", str(script)]) == 0
    out = tmp_path / "ddp"

    def torchrun():
        return subprocess.run(
            [
                sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                "--master_addr", "127.0.0.1", "--master_port", str(_free_port()),
                str(script), "--out", str(out), "--device", "cpu",
            ],
            capture_output=True, text=True, env=_env(), cwd=tmp_path, timeout=120,
        )

    run = torchrun()
    if run.returncode and "Saved weights" in run.stdout and "terminate called without an active exception" in run.stderr:
        # once in a loaded full-suite run (2026-12-07), after training and saving, gloo aborted
        # the second process at exit (std::terminate in its teardown; not reproduced in 11 runs
        # alone or beside two busy processes): the run is made again once, and must pass
        shutil.rmtree(out)
        run = torchrun()
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-4000:]
    assert sorted(p.name for p in out.iterdir()) == OUTPUTS
    assert run.stdout.count("Saved weights") == 1  # rank 0 only
    assert len(_rows(out / "metrics.csv")) == 2
    state = torch.load(out / "weights.pt", weights_only=True)
    assert all(torch.isfinite(v).all() for v in state.values())


def test_data_paths_are_relative_to_the_project_and_a_missing_file_is_named(tmp_path, monkeypatch):
    (tmp_path / "points.csv").write_text("a,b,label\n1,2,x\n3,4,y\n")
    _project(tmp_path, "mlp_classifier", data={"kind": "csv", "path": "points.csv", "target": "label"})
    monkeypatch.chdir(tmp_path)
    source, _ = script_source(load_project("mlp_classifier.studio.json"))
    path = tmp_path / "train.py"
    path.write_text(source)
    # the spec holds only its path, read from train.py's folder, or --data; the options are literals
    assert "SETTINGS" not in source and 'spec = {"path": "points.csv"}' in source
    assert 'delimiter=","' in source and 'label_column="label"' in source
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    moved = elsewhere / "train.py"
    moved.write_text(source)
    run = subprocess.run([sys.executable, str(moved), "--epochs", "1", "--out", str(tmp_path / "o")],
                         capture_output=True, text=True, env=_env(), cwd=tmp_path, timeout=120)
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert f"The project's data is not at {elsewhere / 'points.csv'}" in run.stderr
    assert "--data" in run.stderr


def test_a_generated_split_that_leaves_nothing_is_refused_at_export_with_the_runtimes_message():
    from studio.interop.exporters import ExportError

    project = load_project(EXAMPLES / "mlp_classifier.studio.json")
    project.training = {**project.training, "data": {**project.training["data"], "n": 2}}
    with pytest.raises(ExportError, match="leaves nothing to train or validate on"):
        script_source(project)
    source, _ = script_source(load_project(EXAMPLES / "mlp_classifier.studio.json"))
    assert "DataProblem" not in source and "x, y = spirals(n=1000" in source  # checked: no check in train.py


def test_a_script_exported_after_other_settings_is_the_one_a_fresh_export_writes(tmp_path):
    """The trimmed runtime functions are kept per process, keyed by the settings each one's text
    names: after every other variant was exported, each one's script is what an export with
    nothing kept writes (a setting missing from the key would give another variant's branch)."""
    from studio.interop import script

    projects, variants = [], [VARIANTS[i] for i in (2, 3, 4, 6)]  # branches apart
    for i, training in enumerate(variants):
        (tmp_path / str(i)).mkdir()
        projects.append(load_project(_project(tmp_path / str(i), "mlp_classifier", **training)))
    # each exported after those behind it in the list, whose functions are kept
    warm = [script_source(project)[0] for project in reversed(projects)][::-1]
    for project, kept in zip(projects, warm, strict=True):
        script._TRIMMED.clear()
        assert script_source(project)[0] == kept
    assert len(set(warm)) == len(variants)  # the variants do differ


def test_a_loss_that_becomes_nan_ends_train_py_with_a_message_and_no_weights(tmp_path):
    """The exported script stops as Studio's run does when the loss stops being a number: exit
    status 1, one line that says the epoch and what to try, no traceback, no weights.pt."""
    project = _project(tmp_path, "mlp_classifier", data={"n": 200}, epochs=3,
                       optimizer={"name": "sgd", "lr": 1e30})
    script = tmp_path / "train.py"
    assert studio(["export", str(project), "--format", "script", "-o", str(script)]) == 0
    run = subprocess.run([sys.executable, str(script), "--out", str(tmp_path / "o"), "--device", "cpu"],
                         capture_output=True, text=True, env=_env(), cwd=tmp_path, timeout=120)
    assert run.returncode == 1, run.stdout + run.stderr
    assert run.stderr.strip() == ("The loss is NaN in epoch 1: try a lower learning rate or "
                                  "gradient clipping, or look for NaN in the data.")
    assert not (tmp_path / "o" / "weights.pt").exists()
