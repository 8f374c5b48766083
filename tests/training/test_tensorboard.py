"""The TensorBoard callback: it records the run and changes nothing about it."""

from __future__ import annotations

import importlib.util

import pytest
import torch
from torch import nn

from studio.training import Trainer, load_data
from studio.training.tensorboard import TensorBoardLogger, tag, tensorboard_callbacks
from tests.training.training_helpers import make_settings

# found, not imported: importing it costs every xdist worker 1-2 s at collection
pytestmark = pytest.mark.skipif(importlib.util.find_spec("tensorboard") is None, reason="needs tensorboard")


def _model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(2, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Dropout(0.2), nn.Linear(8, 2))


def _train(callbacks_for, tmp_path):
    settings = make_settings(seed=3)
    data = load_data(settings)
    model = _model()
    result = Trainer(model, data, settings, callbacks_for(model, data), out_dir=tmp_path).fit()
    assert result.ok
    return model, result


def test_logging_leaves_the_run_unchanged_and_writes_graph_and_scalars(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    plain, plain_result = _train(lambda m, d: [], tmp_path / "plain")
    logged, result = _train(lambda m, d: tensorboard_callbacks(tmp_path / "logged", m, d), tmp_path / "logged")
    for (name, a), (_, b) in zip(plain.state_dict().items(), logged.state_dict().items()):
        assert torch.equal(a, b), name  # BatchNorm statistics too: the graph is traced in eval mode
    assert [h["val_loss"] for h in result.history] == [h["val_loss"] for h in plain_result.history]
    events = EventAccumulator(str(tmp_path / "logged" / "tensorboard"))
    events.Reload()
    assert events.Tags()["graph"]
    assert [e.value for e in events.Scalars("loss/val")] == pytest.approx([h["val_loss"] for h in result.history])
    assert len(events.Scalars("loss/train_step")) == result.history[-1]["epoch"] * 6  # 180 samples / 32


def test_an_unwritable_folder_does_not_stop_the_run(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    model, result = _train(lambda m, d: [TensorBoardLogger(blocker / "tensorboard", m, d.train[0][0])], tmp_path / "run")
    assert result.status == "completed"


def test_tags_group_train_and_validation():
    assert [tag(k) for k in ("train_loss", "val_accuracy", "train_mae", "lr", "samples_per_s")] == [
        "loss/train", "accuracy/val", "mae/train", "lr", "samples_per_s"]


def test_a_run_stopped_before_the_writer_opens_does_not_wait_for_it(tmp_path):
    import threading

    from studio.training.callbacks import RunResult

    gate = threading.Event()
    logger = TensorBoardLogger(tmp_path / "tensorboard")
    logger._open = gate.wait  # tensorboard still importing: the writer never opens until the gate
    logger.on_run_start(None)
    ended = threading.Thread(target=logger.on_run_end, args=(RunResult("stopped"),), daemon=True)
    ended.start()
    ended.join(timeout=30)  # generous: on_run_end must not wait for the gate at all
    stuck = ended.is_alive()
    gate.set()
    assert not stuck, "Stop waited for tensorboard"
