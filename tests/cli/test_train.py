"""`studio train` with the project loader and compiler stubbed (the real ones live in other packages)."""

import argparse
import csv
import sys
import types

import pytest
import torch

import studio.compiler
from studio.cli import train as cli
from tests.training.training_helpers import mlp


class ProjectError(Exception):
    pass


@pytest.fixture
def project(monkeypatch):
    training = {
        "data": {"kind": "moons", "n": 120}, "epochs": 2, "batch_size": 16,
        "optimizer": {"name": "adam", "lr": 0.01}, "report_every": 2, "report_seconds": 0,
    }
    from studio.graph.model import Graph

    proj = types.SimpleNamespace(name="My moons!", graph=Graph(), training=training)

    def load_project(path):
        if not str(path).endswith(".studio"):
            raise ProjectError(f"{path} is not a Studio project")
        return proj

    mod = types.ModuleType("studio.graph.project")
    mod.load_project, mod.ProjectError = load_project, ProjectError
    monkeypatch.setitem(sys.modules, "studio.graph.project", mod)
    monkeypatch.setattr(studio.compiler, "build_model", lambda graph, name="Model": mlp(), raising=False)
    monkeypatch.setattr(studio.compiler, "input_specs", lambda graph: [("x", (2,), "float32")], raising=False)
    return proj


def _run(*argv):
    p = argparse.ArgumentParser()
    cli.configure(p)
    return cli.main(p.parse_args(list(argv)))


def test_train_writes_metrics_and_weights(project, tmp_path, capsys):
    assert _run("moons.studio", "--out", str(tmp_path), "--epochs", "3", "--seed", "4") == 0
    rows = list(csv.DictReader(open(tmp_path / "metrics.csv")))
    assert [r["epoch"] for r in rows] == ["1", "2", "3"] and "val_accuracy" in rows[0]
    sd = torch.load(tmp_path / "weights.pt", weights_only=True)
    mlp().load_state_dict(sd)
    err = capsys.readouterr().err
    assert "epoch 3/3" in err and "Training on cpu" in err

    # resume from the last checkpoint with more epochs: the csv holds the whole curve
    assert _run("moons.studio", "--out", str(tmp_path), "--epochs", "4", "--seed", "4",
                "--resume", str(tmp_path / "checkpoints" / "last.pt")) == 0
    rows2 = list(csv.DictReader(open(tmp_path / "metrics.csv")))
    assert [r["epoch"] for r in rows2] == ["1", "2", "3", "4"] and rows2[:3] == rows


def test_bad_settings_give_one_line_error(project, tmp_path, capsys):
    project.training["optimizer"]["lr"] = -0.1
    assert _run("moons.studio", "--out", str(tmp_path)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: Learning rate must be greater than 0 (got -0.1)."]


def test_bad_project_and_bad_data(project, tmp_path, capsys):
    assert _run("moons.txt") == 2
    assert capsys.readouterr().err.strip() == "error: moons.txt is not a Studio project"
    project.training["data"] = {"kind": "csv", "path": "missing.csv"}
    assert _run(str(tmp_path / "p.studio"), "--out", str(tmp_path)) == 2
    assert "CSV file not found" in capsys.readouterr().err


def test_model_data_mismatch_fails(project, monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(studio.compiler, "build_model", lambda graph, name="Model": mlp(outputs=1), raising=False)
    assert _run("moons.studio", "--out", str(tmp_path)) == 2
    assert "outputs 1 value per sample but the dataset has 2 classes" in capsys.readouterr().err


def test_bad_resume_checkpoint(project, tmp_path, capsys):
    (tmp_path / "x.pt").write_bytes(b"not a checkpoint")
    assert _run("moons.studio", "--out", str(tmp_path), "--resume", str(tmp_path / "x.pt")) == 2
    assert "x.pt is not a readable Studio checkpoint" in capsys.readouterr().err
