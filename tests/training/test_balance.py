"""Unbalanced classes: balanced sampling and class-weighted cross-entropy, in Studio and train.py."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from studio.cli import main as studio
from studio.training.datasets import load_data
from studio.training.runtime.balance import class_targets, class_weights, sample_weights
from studio.training.runtime.loop import epoch_order
from studio.training.settings import TrainingSettings


def sklearn_datasets():
    """scikit-learn's bundled datasets, imported when a test reads one (2-5 s at collection)."""
    return pytest.importorskip("sklearn.datasets")
EXAMPLES = Path(__file__).resolve().parents[2] / "resources" / "examples"


def _unbalanced_wine(path: Path) -> Path:
    """scikit-learn's wine, keeping 6 of class_2's 48 rows: 59 / 71 / 6 (about 12x)."""
    wine = sklearn_datasets().load_wine()
    rows, kept = [], 0
    for row, t in zip(wine.data, wine.target):
        if t == 2:
            kept += 1
            if kept > 6:
                continue
        rows.append(",".join(f"{v:g}" for v in row) + f",{wine.target_names[t]}")
    header = ",".join(f"f{j}" for j in range(13)) + ",cultivar"
    path.write_text(header + "\n" + "\n".join(rows) + "\n")
    return path


def test_class_weights_make_every_class_count_alike(tmp_path):
    _unbalanced_wine(tmp_path / "wine.csv")
    data = load_data(
        TrainingSettings.from_dict({"data": {"kind": "csv", "path": "wine.csv"}, "val_split": 0}),
        tmp_path,
    )
    y = class_targets(data.train)
    w = class_weights(y, 3)
    counts = torch.bincount(y, minlength=3).float()
    assert counts.tolist() == [59.0, 71.0, 6.0]
    assert torch.allclose(
        w * counts, torch.full((3,), len(y) / 3)
    )  # each class weighs n / k in all


def test_a_balanced_epoch_draws_the_classes_about_equally(tmp_path):
    _unbalanced_wine(tmp_path / "wine.csv")
    data = load_data(
        TrainingSettings.from_dict({"data": {"kind": "csv", "path": "wine.csv"}, "val_split": 0}),
        tmp_path,
    )
    y = class_targets(data.train)
    g = torch.Generator().manual_seed(0)
    drawn = torch.cat([y[epoch_order(len(y), sample_weights(data.train), g)] for _ in range(20)])
    shares = torch.bincount(drawn, minlength=3).float() / len(drawn)
    assert torch.all((shares - 1 / 3).abs() < 0.04), shares
    assert torch.equal(
        epoch_order(5, True, torch.Generator().manual_seed(1)),
        torch.randperm(5, generator=torch.Generator().manual_seed(1)),
    )


def test_image_folder_targets_are_read_without_decoding(tmp_path):
    from PIL import Image

    for label, n in (("a", 5), ("b", 1)):
        (tmp_path / label).mkdir()
        for i in range(n):
            Image.new("RGB", (8, 8)).save(tmp_path / label / f"{i}.png")
    settings = {
        "data": {"kind": "image_folder", "path": str(tmp_path), "size": [8, 8]},
        "val_split": 0,
        "augment": [{"id": "horizontal_flip", "p": 0.5}],
    }
    data = load_data(TrainingSettings.from_dict(settings))
    assert class_targets(data.train).tolist() == [0, 0, 0, 0, 0, 1]


def test_studio_train_and_train_py_balance_alike(tmp_path):
    _unbalanced_wine(tmp_path / "wine.csv")
    project = json.loads((EXAMPLES / "mlp_classifier.studio.json").read_text())
    project["training"].update(
        data={"kind": "csv", "path": "wine.csv", "target": "cultivar"},
        epochs=3,
        balanced=True,
        loss={"name": "cross_entropy", "class_weights": True},
    )
    for block in project["graph"]["blocks"]:
        if block.get("name") == "points":
            block["params"]["shape"] = [13]
        if block.get("name") == "classifier":
            block["params"]["out_features"] = 3
    path = tmp_path / "wine.studio.json"
    path.write_text(json.dumps(project))
    assert TrainingSettings.from_dict(project["training"]).validate() == []
    script = tmp_path / "train.py"
    assert studio(["export", str(path), "--format", "script", "-o", str(script)]) == 0
    text = script.read_text()
    assert (
        "def sample_weights(" in text
        and "weigh_classes(loss_fn" in text
        and "shuffle = sample_weights(data)" in text  # the balanced draw: the branch this project takes
    )
    assert studio(["train", str(path), "--out", str(tmp_path / "studio"), "--device", "cpu"]) == 0
    run = subprocess.run(
        [sys.executable, str(script), "--out", str(tmp_path / "script"), "--device", "cpu"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
        env={**__import__("os").environ, "OMP_NUM_THREADS": "1"},
    )
    assert run.returncode == 0, run.stderr

    def losses(folder):
        with open(folder / "metrics.csv", newline="") as f:
            return [round(float(r["train_loss"]), 4) for r in csv.DictReader(f)]

    assert losses(tmp_path / "studio") == losses(tmp_path / "script")
