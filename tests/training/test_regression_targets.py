"""Regression targets are learnt standardised by default and reported in the data's own units
(#20 item 5), in `studio train` and in the exported train.py alike. Real data: scikit-learn's
diabetes table (targets 25-346, mean 152), which with the project's defaults ended at validation
MSE 27,715 against the predict-the-mean baseline's 6,078."""

import csv
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from studio.cli import main as studio
from studio.graph.project import load_project
from studio.training.baseline import mean_baseline
from studio.training.datasets import load_data
from studio.training.plan import run_plan
from studio.training.settings import TrainingSettings
from tests.regression_data import diabetes_project

EXAMPLE = Path("resources/examples/mlp_classifier.studio.json")


def _rows(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_diabetes_with_the_defaults_ends_better_than_predicting_the_mean(tmp_path, capsys):
    project = diabetes_project(tmp_path)
    assert studio(["train", str(project), "--out", str(tmp_path / "run"), "--device", "cpu"]) == 0
    err = capsys.readouterr().err
    assert (
        "are learnt standardised (mean 0, std 1); losses and metrics are in the data's own units"
        in err
    )
    assert "worse than always predicting the mean" not in err
    settings = TrainingSettings.from_dict(load_project(project).training)
    data = load_data(settings, tmp_path)
    baseline = mean_baseline(data, torch.nn.MSELoss())
    last = _rows(tmp_path / "run" / "metrics.csv")[-1]
    assert float(last["val_loss"]) < 0.7 * baseline  # 6,078: about 3,200 here

    # the reported loss is the MSE of the predictions in the data's units: the weights' outputs
    # are standardised, so mean and std give the prediction back
    project_obj = load_project(project)
    from studio.compiler import build_model

    model = build_model(project_obj.graph)
    model.load_state_dict(torch.load(tmp_path / "run" / "weights.pt", weights_only=True))
    model.eval()
    x, y = data.val.tensors
    mean, std = torch.tensor(data.target_scale["mean"]), torch.tensor(data.target_scale["std"])
    with torch.no_grad():
        prediction = model(x) * std + mean
    assert math.isclose(
        float(((prediction - y) ** 2).mean()), float(last["val_loss"]), rel_tol=1e-4
    )
    assert math.isclose(float((prediction - y).abs().mean()), float(last["val_mae"]), rel_tol=1e-4)


def test_the_loss_declaration_decides_and_the_data_option_turns_it_off(tmp_path):
    diabetes_project(tmp_path)
    base = {"data": {"kind": "csv", "path": "diabetes.csv", "target": "y"}}
    for loss in ("mse", "l1", "huber", "smooth_l1"):
        plan = run_plan(TrainingSettings.from_dict({**base, "loss": {"name": loss}}), tmp_path)
        assert plan["standardize_target"] is True, loss
    plan = run_plan(
        TrainingSettings.from_dict({**base, "loss": {"name": "cross_entropy"}}), tmp_path
    )
    assert plan["standardize_target"] is False
    off = {"data": {**base["data"], "standardize_target": False}, "loss": {"name": "mse"}}
    settings = TrainingSettings.from_dict(off)
    assert run_plan(settings, tmp_path)["standardize_target"] is False
    assert load_data(settings, tmp_path).target_scale is None


def test_train_py_learns_standardised_targets_exactly_as_studio_train(tmp_path):
    project = diabetes_project(tmp_path, epochs=3, loss={"name": "huber", "delta": 0.5})
    script = tmp_path / "train.py"
    assert studio(["export", str(project), "--format", "script", "-o", str(script)]) == 0
    assert "standardized_targets(model, loss_fn" in script.read_text()
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        assert (
            studio(["train", str(project), "--out", str(tmp_path / "studio"), "--device", "cpu"])
            == 0
        )
    finally:
        torch.set_num_threads(before)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    env.pop("LOCAL_RANK", None)
    run = subprocess.run(
        [sys.executable, str(script), "--out", str(tmp_path / "script"), "--device", "cpu"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    a, b = _rows(tmp_path / "studio" / "metrics.csv"), _rows(tmp_path / "script" / "metrics.csv")
    assert len(a) == len(b) == 3
    for ra, rb in zip(a, b, strict=True):
        assert list(ra) == list(rb)
        for key in ra:
            if key not in ("samples_per_s", "seconds"):
                assert math.isclose(float(ra[key]), float(rb[key]), rel_tol=0, abs_tol=1e-6), (
                    key,
                    ra,
                    rb,
                )
    assert float(a[-1]["val_mae"]) > 10  # in the data's units (standardised it would be below 1)
    mine = torch.load(tmp_path / "studio" / "weights.pt", weights_only=True)
    theirs = torch.load(tmp_path / "script" / "weights.pt", weights_only=True)
    assert mine.keys() == theirs.keys() and all(torch.equal(mine[k], theirs[k]) for k in mine)


@pytest.mark.parametrize("standardized", [True, False])
def test_the_run_result_warns_when_it_ends_worse_than_predicting_the_mean(tmp_path, standardized):
    """The trainer's result carries the warning, so the window shows it as `studio train` prints
    it: raw targets and a tiny learning rate end far above the mean's loss; the defaults below."""
    from studio.training.trainer import Trainer
    from tests.training.training_helpers import mlp

    diabetes_project(tmp_path)
    data_spec = {"kind": "csv", "path": "diabetes.csv", "target": "y"}
    training = {"data": data_spec, "loss": {"name": "mse"}}
    if not standardized:
        data_spec["standardize_target"] = False
        training.update(epochs=2, optimizer={"name": "sgd", "lr": 1e-6})
    settings = TrainingSettings.from_dict(training)
    torch.manual_seed(0)
    result = Trainer(mlp(10, 1, hidden=64), load_data(settings, tmp_path), settings).fit()
    assert result.status == "completed"
    worse = [w for w in result.warnings if "worse than always predicting the mean" in w]
    assert bool(worse) is not standardized
