"""Run history store and learning probes, without Qt."""

import math
import os

import numpy as np
import torch

from studio.training import Trainer, load_data
from studio.training.probes import BlockLearning, LearningProbe, block_of_parameters
from studio.training.runs import RunStore, runs_root
from tests.training.training_helpers import make_settings, mlp


def test_runs_root_next_to_project_or_in_config_dir(tmp_path):
    assert runs_root(tmp_path / "My net.studio.json", "x", tmp_path / "cfg") == tmp_path / "My net.runs"
    assert runs_root(None, "Untitled / 2", tmp_path / "cfg") == tmp_path / "cfg" / "runs" / "Untitled_2"


def test_a_finished_run_keeps_settings_metrics_steps_and_weights(tmp_path):
    store = RunStore(tmp_path / "p.runs")
    settings = make_settings(epochs=2)
    rec = store.create(settings.to_dict(), "p")
    data = load_data(settings)
    from studio.training import CSVLogger

    result = Trainer(mlp(), data, settings, [CSVLogger(rec.folder / "metrics.csv")], out_dir=rec.folder).fit()
    store.finish(rec, result.status, result.message, None, result.history, result.best_epoch,
                 result.best_value, result.monitor)
    store.save_steps(rec, np.arange(1, 4), np.array([1.0, math.nan, 0.5]))

    again = RunStore(tmp_path / "p.runs").runs()
    assert [r.id for r in again] == [rec.id]
    r = again[0]
    assert r.state == "completed" and r.settings["epochs"] == 2
    assert len(r.history()) == 2 and r.history()[1]["epoch"] == 2.0
    assert r.steps().shape == (3, 2) and math.isnan(r.steps()[1, 1])
    assert r.weights is not None and r.last_checkpoint is not None
    assert "2/2 epochs" in r.summary()


def test_a_run_left_running_by_a_dead_process_reads_as_interrupted(tmp_path):
    store = RunStore(tmp_path)
    rec = store.create({"epochs": 3}, "p")
    store.update(rec, pid=2**22 + 12345)  # no such process
    assert RunStore(tmp_path).runs()[0].state == "interrupted"
    (tmp_path / "junk").mkdir()  # not a run: skipped
    os.makedirs(tmp_path / "half")
    (tmp_path / "half" / "settings.json").write_text("{not json")
    assert len(RunStore(tmp_path).runs()) == 1


def test_probe_maps_parameters_to_blocks_and_flags_frozen_and_dead():
    model = torch.nn.Module()
    model.fc1 = torch.nn.Linear(2, 8)
    model.frozen = torch.nn.Linear(8, 8)
    model.dead = torch.nn.Linear(8, 2)
    for p in model.frozen.parameters():
        p.requires_grad_(False)
    attrs = {"b1": "fc1", "b2": "frozen", "b3": "dead"}
    assert block_of_parameters(model, attrs)["fc1.weight"] == "b1"

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1, self.frozen, self.dead = model.fc1, model.frozen, model.dead

        def forward(self, x):
            return self.dead(self.frozen(self.fc1(x)) * 0.0)  # fc1 gets no gradient

    net = Net()
    probe = LearningProbe(net, attrs)
    settings = make_settings(epochs=2, data={"kind": "moons", "n": 120})
    Trainer(net, load_data(settings), settings, [probe]).fit()
    latest = probe.latest
    assert latest["b2"].state == "frozen"
    assert latest["b1"].state == "dead"
    assert latest["b3"].state == "ok" and latest["b3"].update_ratio > 0 and latest["b3"].epoch == 2
    assert BlockLearning(math.nan, 0, False, 1).state == "exploding"
