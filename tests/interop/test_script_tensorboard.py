"""train.py --tensorboard DIR: Studio's tags in event files, and one line when tensorboard is missing."""

from __future__ import annotations

import csv
import json
import math
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from studio.graph.project import load_project
from studio.interop.script import script_source
from studio.training.tensorboard import tag

EXAMPLES = Path(__file__).resolve().parents[2] / "resources" / "examples"
N, BATCH, EPOCHS = 300, 64, 2  # 240 training samples (val_split 0.2): 4 steps an epoch


def _script(tmp_path: Path) -> Path:
    data = json.loads((EXAMPLES / "mlp_classifier.studio.json").read_text())
    data["training"]["data"]["n"] = N
    data["training"].update(batch_size=BATCH, epochs=EPOCHS)
    project = tmp_path / "mlp.studio.json"
    project.write_text(json.dumps(data))
    source, _ = script_source(load_project(project), tensorboard=True)  # asked for: --tensorboard DIR
    script = tmp_path / "train.py"
    script.write_text(source, encoding="utf-8")
    return script


def _run(tmp_path: Path, script: Path, *args, **env) -> subprocess.CompletedProcess:
    environ = dict(os.environ, OMP_NUM_THREADS="1", **env)
    environ.pop("LOCAL_RANK", None)
    return subprocess.run([sys.executable, str(script), "--device", "cpu", "--out", str(tmp_path / "out"), *args],
                          capture_output=True, text=True, env=environ, cwd=tmp_path, timeout=120)


def test_train_py_writes_studios_tags_per_step_and_per_epoch(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    script = _script(tmp_path)
    run = _run(tmp_path, script, "--tensorboard", str(tmp_path / "tb"))
    assert run.returncode == 0, run.stderr
    events = EventAccumulator(str(tmp_path / "tb"))
    events.Reload()
    scalars = set(events.Tags()["scalars"])
    names = ["loss/train_step", "loss/train", "loss/val", "accuracy/train", "accuracy/val", "lr"]
    assert set(names) <= scalars, scalars
    steps = math.ceil(round(N * 0.8) / BATCH)
    assert [e.step for e in events.Scalars("loss/train_step")] == list(range(1, EPOCHS * steps + 1))
    with open(tmp_path / "out" / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == EPOCHS
    for key in ("train_loss", "val_loss", "train_accuracy", "val_accuracy", "lr"):
        written = events.Scalars(tag(key))  # the tag Studio's own callback gives this metric
        assert [e.step for e in written] == list(range(1, EPOCHS + 1))
        assert [e.value for e in written] == pytest.approx([float(r[key]) for r in rows], rel=1e-5), key
    assert "epoch" not in scalars and "seconds" not in scalars
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["best.pt", "checkpoint.pt", "metrics.csv", "weights.json", "weights.pt"]


def test_without_the_tensorboard_package_train_py_says_so_in_one_line_and_trains(tmp_path):
    blocked = tmp_path / "blocked" / "tensorboard"
    blocked.mkdir(parents=True)
    (blocked / "__init__.py").write_text('raise ImportError("no tensorboard here")\n')
    script = _script(tmp_path)
    run = _run(tmp_path, script, "--tensorboard", str(tmp_path / "tb"), PYTHONPATH=str(tmp_path / "blocked"))
    assert run.returncode == 0, run.stderr
    notes = [line for line in run.stderr.splitlines() if "TensorBoard" in line]
    assert notes == ["TensorBoard logs are off: the tensorboard package is not installed (pip install tensorboard)."]
    assert "Traceback" not in run.stderr
    assert not (tmp_path / "tb").exists()
    assert (tmp_path / "out" / "weights.pt").exists()


def test_without_the_flag_train_py_needs_no_tensorboard(tmp_path):
    blocked = tmp_path / "blocked" / "tensorboard"
    blocked.mkdir(parents=True)
    (blocked / "__init__.py").write_text('raise ImportError("no tensorboard here")\n')
    run = _run(tmp_path, _script(tmp_path), PYTHONPATH=str(tmp_path / "blocked"))
    assert run.returncode == 0, run.stderr
    assert "TensorBoard" not in run.stderr


@pytest.mark.slow  # over the 10-minute budget of the default run; `pytest -m slow` runs it
def test_under_torchrun_only_the_first_process_writes_events(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    environ = dict(os.environ, OMP_NUM_THREADS="1")
    environ.pop("LOCAL_RANK", None)
    run = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
         "--master_port", str(port), str(_script(tmp_path)), "--out", str(tmp_path / "out"), "--device", "cpu",
         "--tensorboard", str(tmp_path / "tb")],
        capture_output=True, text=True, env=environ, cwd=tmp_path, timeout=120,
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-4000:]
    assert len(list((tmp_path / "tb").iterdir())) == 1  # one event file: rank 0's
    events = EventAccumulator(str(tmp_path / "tb"))
    events.Reload()
    steps = math.ceil(round(N * 0.8) / 2 / BATCH)  # each process trains on half the samples
    assert [e.step for e in events.Scalars("loss/train_step")] == list(range(1, EPOCHS * steps + 1))
    assert [e.step for e in events.Scalars("loss/val")] == list(range(1, EPOCHS + 1))


def test_a_script_not_asked_for_tensorboard_holds_no_tensorboard_code(tmp_path):
    source, _ = script_source(load_project(EXAMPLES / "mlp_classifier.studio.json"))
    assert "tensorboard" not in source.lower() and "EventLog" not in source


def test_studio_export_offers_tensorboard_only_when_asked(tmp_path):
    """`studio export --format script --tensorboard` is the command-line way to ask for it."""
    from studio.cli import main as studio

    project = EXAMPLES / "mlp_classifier.studio.json"
    plain, asked = tmp_path / "plain.py", tmp_path / "asked.py"
    assert studio(["export", str(project), "--format", "script", "-o", str(plain)]) == 0
    assert studio(["export", str(project), "--format", "script", "--tensorboard", "-o", str(asked)]) == 0
    assert "--tensorboard" not in plain.read_text() and "SummaryWriter" not in plain.read_text()
    assert '"--tensorboard"' in asked.read_text() and "SummaryWriter" in asked.read_text()
