"""Run history store and learning probes, without Qt."""

import math
import os

import numpy as np
import torch

from studio.training import Trainer, load_data
from studio.training.probes import BlockLearning, LearningProbe, block_of_parameters
from studio.training.runs import RunStore, runs_root
from tests.training.training_helpers import make_settings, mlp


def test_runs_root_next_to_project_or_in_config_dir(tmp_path, monkeypatch):
    assert runs_root(tmp_path / "My net.studio.json", "x", tmp_path / "cfg") == tmp_path / "My net.runs"
    assert runs_root(None, "Untitled / 2", tmp_path / "cfg") == tmp_path / "cfg" / "runs" / "Untitled_2"
    # a bundled example is shared and read-only: its runs go to the config folder, for the window
    # and the command line alike; with no folder given, $STUDIO_CONFIG_DIR's
    from studio.places import EXAMPLES_DIR

    example = EXAMPLES_DIR / "mlp_classifier.studio.json"
    assert runs_root(example, "Spiral", tmp_path / "cfg") == tmp_path / "cfg" / "runs" / "Spiral"
    monkeypatch.setenv("STUDIO_CONFIG_DIR", str(tmp_path / "env"))
    assert runs_root(example, "Spiral") == tmp_path / "env" / "runs" / "Spiral"


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


def test_runs_of_this_process_move_to_the_saved_projects_store(tmp_path):
    waiting, saved = RunStore(tmp_path / "cfg" / "runs" / "p"), RunStore(tmp_path / "p.runs")
    mine = waiting.create({"epochs": 1}, "p")
    other = waiting.create({"epochs": 1}, "p")
    waiting.update(other, pid=-1)  # another session's unsaved project of the same name
    assert saved.adopt(waiting.root) == []
    assert [r.id for r in saved.runs()] == [mine.id] and [r.id for r in waiting.runs()] == [other.id]
    assert saved.find(mine.id).settings == {"epochs": 1} and saved.find("nope") is None
    RunStore(tmp_path / "cfg" / "runs" / "p").update(other, pid=os.getpid())
    assert saved.adopt(waiting.root) == [] and not waiting.root.exists()  # emptied: removed
    assert saved.adopt(tmp_path / "missing") == []


def test_a_resumed_run_keeps_the_steps_of_its_finished_epochs(tmp_path):
    store = RunStore(tmp_path / "p.runs")
    rec = store.create({"epochs": 3}, "p")
    store.save_steps(rec, np.arange(1, 11), np.linspace(1, 0.1, 10))
    assert len(rec.kept_steps(2)) == 0  # no epoch finished: nothing is kept
    store.update(rec, epoch_steps=[4, 8])
    assert rec.epoch_steps == [4, 8]
    assert rec.kept_steps(1)[:, 0].tolist() == [1, 2, 3, 4] and len(rec.kept_steps(2)) == 8


def test_a_resumed_run_keeps_its_settings_and_takes_more_epochs_from_the_form():
    from studio.training.settings import TrainingSettings

    run = make_settings(epochs=3, batch_size=16).to_dict()
    form = make_settings(epochs=5, batch_size=64).to_dict()
    merged = TrainingSettings.for_resume(run, form)
    assert merged["epochs"] == 5 and merged["batch_size"] == 16
    assert TrainingSettings.for_resume(run, make_settings(epochs=2).to_dict())["epochs"] == 3


def test_runs_are_listed_in_the_order_they_started(tmp_path):
    store = RunStore(tmp_path / "p.runs")
    ids = [store.create({"epochs": 1}, "p").id for _ in range(6)]  # one second: the same stamp
    assert [r.id for r in store.runs()] == ids
