import json

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from studio.training.optim import LRSchedule, loss_spec, make_loss, make_optimizer, optimizer_spec
from studio.training.settings import SETTINGS_VERSION, TrainingSettings


def test_missing_keys_get_the_kinds_defaults_and_unknown_keys_are_refused():
    s = TrainingSettings.from_dict({"epochs": 3, "mystery": 1, "optimizer": {"name": "sgd", "bogus": 2}})
    assert s.epochs == 3 and s.batch_size == 64
    assert s.optimizer.name == "sgd" and s.optimizer.lr == 0.01  # sgd's own default rate
    assert "mystery" not in s.to_dict()
    errs = s.validate()
    assert "Unknown training setting 'mystery'; docs/training.md lists the settings." in errs
    assert any(e.startswith("Unknown optimizer setting 'bogus'") for e in errs)
    assert TrainingSettings.from_dict({"epochs": 3, "optimizer": {"name": "sgd"}}).validate() == []


@pytest.mark.parametrize(
    ("d", "message"),
    [
        ({"dataset": {"kind": "moons"}}, "Unknown training setting 'dataset'; did you mean 'data'?"),
        ({"optimizer": {"kind": "sgd"}}, "Unknown optimizer setting 'kind'; the valid keys are name, lr, "
                                         "weight_decay, beta1, beta2, eps, implementation."),
        ({"optimizer": {"name": "sgd", "learning_rate": 0.1}}, "Unknown optimizer setting 'learning_rate'; "
                                                               "the valid keys are name, lr, weight_decay, "
                                                               "momentum, nesterov, implementation."),
        ({"optimizer": {"name": "adam", "momentum": 0.5}}, "Unknown optimizer setting 'momentum'; the valid keys "
                                                           "are name, lr, weight_decay, beta1, beta2, eps, implementation."),
        ({"schedule": {"name": "cosine", "min_rl": 0.1}}, "Unknown schedule setting 'min_rl'; did you mean 'min_lr'?"),
        ({"loss": {"name": "mse", "label_smoothing": 0.1}}, "Unknown loss setting 'label_smoothing'; the valid keys are name."),
        ({"early_stopping": {"enabeld": True}}, "Unknown early_stopping setting 'enabeld'; did you mean 'enabled'?"),
        ({"data": {"kind": "moons", "nosie": 0.1}}, "Unknown data setting 'nosie'; did you mean 'noise'?"),
        ({"epoch": 3}, "Unknown training setting 'epoch'; did you mean 'epochs'?"),
    ],
)
def test_an_unknown_key_is_refused_naming_the_nearest_valid_one(d, message):
    assert message in TrainingSettings.from_dict(d).validate()


def test_version_2_files_lose_only_the_other_kinds_options_and_train_as_before():
    v2 = {"version": 2, "optimizer": {"name": "adam", "lr": 0.005, "weight_decay": 0.0, "momentum": 0.9,
                                      "nesterov": False, "beta1": 0.8, "beta2": 0.999, "eps": 1e-8, "alpha": 0.99,
                                      "implementation": "auto"},
          "loss": {"name": "mse", "label_smoothing": 0.0, "delta": 1.0},
          "schedule": {"name": "step", "warmup_epochs": 0.0, "step_size": 3, "gamma": 0.5, "min_lr": 0.0,
                       "pct_start": 0.3, "factor": 0.1, "patience": 5}}
    s = TrainingSettings.from_dict(v2)
    assert s.validate() == []
    d = s.to_dict()
    assert d["version"] == SETTINGS_VERSION
    assert d["optimizer"] == {"name": "adam", "lr": 0.005, "weight_decay": 0.0, "beta1": 0.8, "beta2": 0.999,
                              "eps": 1e-8, "implementation": "auto"}
    assert d["loss"] == {"name": "mse"}
    assert d["schedule"] == {"name": "step", "warmup_epochs": 0.0, "step_size": 3, "gamma": 0.5}


def test_round_trip_is_plain_json():
    s = TrainingSettings.from_dict({"schedule": {"name": "cosine", "warmup_epochs": 1}, "data": {"kind": "moons"}})
    d = json.loads(json.dumps(s.to_dict()))
    assert TrainingSettings.from_dict(d) == s
    assert d["version"] == SETTINGS_VERSION


def test_messages_name_the_setting_and_value():
    s = TrainingSettings.from_dict({"optimizer": {"lr": -0.1}, "batch_size": 0, "epochs": "ten"})
    errs = s.validate()
    assert "Learning rate must be greater than 0 (got -0.1)." in errs
    assert "Batch size must be at least 1 (got 0)." in errs
    assert "Epochs must be a whole number (got 'ten')." in errs


@pytest.mark.parametrize(
    "d, fragment",
    [
        ({"optimizer": {"name": "lbfgs"}}, "Unknown optimizer 'lbfgs'"),
        ({"loss": {"name": "cross_entropy", "label_smoothing": 1.5}}, "Label smoothing must be less than 1"),
        ({"schedule": {"name": "one_cycle", "warmup_epochs": 2}}, "Unknown schedule setting 'warmup_epochs'"),
        ({"device": "cpu", "precision": "fp16"}, "Mixed precision (fp16) needs a CUDA GPU"),
        ({"device": "gpu"}, "Unknown device 'gpu'"),
        ({"monitor": "val_mae"}, "does not exist for classification"),
        ({"val_split": 1.0}, "Validation split must be less than 1"),
        ({"optimizer": {"name": "sgd", "momentum": 0, "nesterov": True}}, "Nesterov momentum needs a momentum"),
    ],
)
def test_invalid_settings_are_explained(d, fragment):
    errs = TrainingSettings.from_dict(d).validate()
    assert any(fragment in e for e in errs), errs


def test_monitor_falls_back_to_training_metric_without_validation():
    s = TrainingSettings.from_dict({"val_split": 0, "monitor": "val_accuracy"})
    assert s.resolved_monitor() == "train_accuracy" and s.monitor_mode() == "max"
    assert TrainingSettings.from_dict({"loss": {"name": "mse"}}).metric_name == "mae"


@pytest.mark.parametrize("name", ["sgd", "adam", "adamw", "rmsprop", "adagrad"])
def test_every_optimizer_takes_a_step(name):
    s = TrainingSettings.from_dict({"optimizer": {"name": name, "weight_decay": 0.01}})
    m = nn.Linear(3, 1)
    before = m.weight.detach().clone()
    opt = make_optimizer(m.parameters(), s, "cpu")
    m(torch.ones(2, 3)).sum().backward()
    opt.step()
    assert not torch.equal(before, m.weight)


def test_optimizer_implementation_choice_is_exportable():
    s = TrainingSettings.from_dict({"optimizer": {"name": "adamw", "lr": 0.002}})
    assert optimizer_spec(s, "cpu") == ("AdamW", {"lr": 0.002, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.01, "fused": True})
    assert optimizer_spec(s, "cuda")[1]["fused"] is True
    s.optimizer.implementation = "for-loop"
    assert optimizer_spec(s, "cpu")[1]["foreach"] is False
    s = TrainingSettings.from_dict({"optimizer": {"name": "rmsprop", "implementation": "fused"}})
    assert optimizer_spec(s, "cpu")[1] == {"lr": 0.01, "alpha": 0.99, "eps": 1e-8, "momentum": 0.0, "weight_decay": 0.0, "foreach": True}


@pytest.mark.parametrize("name", ["cross_entropy", "nll", "mse", "l1", "smooth_l1", "huber", "bce_with_logits"])
def test_every_loss_builds(name):
    s = TrainingSettings.from_dict({"loss": {"name": name, "label_smoothing": 0.1 if name == "cross_entropy" else 0}})
    assert isinstance(make_loss(s.loss), nn.Module)
    assert type(make_loss(s.loss)).__name__ == loss_spec(s.loss)[0]


def _lrs(schedule: dict, epochs=4, spe=10, lr=1.0):
    s = TrainingSettings.from_dict({"epochs": epochs, "optimizer": {"name": "sgd", "lr": lr}, "schedule": schedule})
    opt = make_optimizer(nn.Linear(1, 1).parameters(), s, "cpu")
    sched = LRSchedule(opt, s, spe)
    out = [sched.lr]
    for _ in range(epochs * spe - 1):
        sched.step()
        out.append(sched.lr)
    return out


def test_schedules_follow_their_shapes():
    assert set(_lrs({"name": "none"})) == {1.0}
    step = _lrs({"name": "step", "step_size": 2, "gamma": 0.5})
    assert step[0] == 1.0 and step[19] == 1.0 and step[20] == 0.5
    cos = _lrs({"name": "cosine", "min_lr": 0.1})
    assert cos[0] == 1.0 and abs(cos[-1] - 0.1) < 0.01 and cos == sorted(cos, reverse=True)
    warm = _lrs({"name": "cosine", "warmup_epochs": 1})
    assert warm[:10] == sorted(warm[:10]) and warm[0] < 0.2 and max(warm) <= 1.0
    one = _lrs({"name": "one_cycle"})
    peak = one.index(max(one))
    assert abs(max(one) - 1.0) < 1e-9 and 8 <= peak <= 12 and one[0] == pytest.approx(0.04) and one[-1] < 1e-4


def test_plateau_lowers_rate_after_patience():
    s = TrainingSettings.from_dict({"optimizer": {"name": "sgd", "lr": 1.0}, "schedule": {"name": "reduce_on_plateau", "patience": 1, "factor": 0.5}})
    sched = LRSchedule(make_optimizer(nn.Linear(1, 1).parameters(), s, "cpu"), s, 5)
    for v in [1.0, 0.9, 0.95, 0.95]:
        sched.epoch_end(v)
    assert sched.lr == 0.5


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
keys = st.sampled_from(["epochs", "batch_size", "optimizer", "loss", "schedule", "data", "val_split", "seed",
                        "monitor", "early_stopping", "device", "precision", "grad_clip", "lr", "name"])


@given(st.dictionaries(keys, json_values | st.dictionaries(keys, json_values, max_size=4), max_size=8))
@settings(max_examples=150, deadline=None, derandomize=True)
def test_any_project_dict_loads_and_validates_without_crashing(d):
    s = TrainingSettings.from_dict(d)
    errs = s.validate()
    assert all(isinstance(e, str) and e for e in errs)
    if not errs:
        assert TrainingSettings.from_dict(s.to_dict()) == s


def test_older_files_with_whole_floats_in_dataset_options_keep_training():
    s = TrainingSettings.from_dict({"data": {"kind": "spirals", "n": 300.0, "classes": 3.0, "noise": 0.5}})
    assert s.validate() == [] and s.data == {"kind": "spirals", "n": 300, "classes": 3, "noise": 0.5}
    assert isinstance(s.data["n"], int)
    assert "Samples must be a whole number (got 300.5)." in TrainingSettings.from_dict({"data": {"kind": "spirals", "n": 300.5}}).validate()


FOLDER = {"kind": "image_folder", "path": "pictures"}


@pytest.mark.parametrize(("cpus", "expected"), [(16, 4), (4, 3), (3, 2), (2, 0), (1, 0), (None, 0)])
def test_auto_workers_decode_an_image_folder_in_other_processes(monkeypatch, cpus, expected):
    monkeypatch.setattr("os.cpu_count", lambda: cpus)
    s = TrainingSettings.from_dict({"data": FOLDER})
    assert s.workers == "auto" and s.validate(data=False) == []
    assert s.resolved_workers() == expected  # at most 4, one CPU left for training, never a lone one


def test_auto_workers_are_none_for_data_in_memory_and_a_number_is_kept(monkeypatch):
    monkeypatch.setattr("os.cpu_count", lambda: 16)
    assert TrainingSettings.from_dict({"data": {"kind": "spirals"}}).resolved_workers() == 0
    assert TrainingSettings.from_dict({"data": {"kind": "csv", "path": "t.csv"}}).resolved_workers() == 0
    assert TrainingSettings.from_dict({"data": FOLDER, "workers": 0}).resolved_workers() == 0
    assert TrainingSettings.from_dict({"data": {"kind": "spirals"}, "workers": 3}).resolved_workers() == 3


def test_older_files_with_the_old_default_get_auto_and_keep_a_chosen_number():
    old = {"version": 1, "data": FOLDER, "workers": 0}
    assert TrainingSettings.from_dict(old).workers == "auto"
    assert TrainingSettings.from_dict({**old, "workers": 2}).workers == 2
    saved = TrainingSettings.from_dict({**old, "workers": 2}).to_dict()
    assert saved["version"] == SETTINGS_VERSION and TrainingSettings.from_dict({**saved, "workers": 0}).workers == 0


@pytest.mark.parametrize("value", ["many", "4", -1, 2.5, True, 257])
def test_a_bad_workers_value_is_explained(value):
    errs = TrainingSettings.from_dict({"workers": value}).validate()
    assert any(e.startswith("Data loader workers must be auto or a whole number from 0 to 256") for e in errs), errs


def test_train_py_settings_carry_the_resolved_workers(monkeypatch, tmp_path):
    import ast

    from studio.graph.project import load_project
    from studio.interop.script import script_source

    monkeypatch.setattr("os.cpu_count", lambda: 8)
    for name in ("cats", "dogs"):
        (tmp_path / name).mkdir()
    project = load_project("resources/examples/mlp_classifier.studio.json")
    # train.py writes the resolved count where the DataLoader is built; generated data is one
    # in-memory TensorDataset batched without a loader, so its script has no workers at all
    for training, expected in (({"data": {**FOLDER, "path": str(tmp_path)}}, {4}), ({"data": {"kind": "spirals"}}, set()),
                               ({"data": {"kind": "spirals"}, "workers": 2}, set())):
        project.training = training
        source, _ = script_source(project)
        workers = {ast.literal_eval(n.value) for n in ast.walk(ast.parse(source))
                   if isinstance(n, ast.keyword) and n.arg == "num_workers"}
        assert workers == expected, training
