"""The declared training kinds: every declaration is complete, usable, and read by its consumers."""

import dataclasses

import pytest
import torch

from studio.training import kinds
from studio.training.datasets import load_data
from studio.training.kinds import DataError, DataSignature
from studio.training.optim import LRSchedule, make_loss, make_optimizer
from studio.training.runtime import metrics as runtime_metrics
from studio.training.settings import TrainingSettings
from tests.training.training_helpers import make_settings


@pytest.mark.parametrize("kind", kinds.LOSSES.values(), ids=lambda k: k.id)
def test_every_loss_declares_its_target_builds_and_scores(kind):
    assert kind.target in ("class", "float", "multilabel", "tokens") and kind.label and kind.help
    loss = make_loss(TrainingSettings.from_dict({"loss": {"name": kind.id}}).loss)
    assert type(loss).__name__ == kind.torch_name
    out = torch.randn(4, 3)
    y = torch.tensor([0, 2, 1, 0]) if kind.target == "class" else torch.rand(4, 3)
    if kind.id == "nll":
        out = out.log_softmax(1)
    if kind.target == "tokens":  # N x T x V scores, N x T next tokens
        out, y = torch.randn(4, 5, 3), torch.randint(0, 3, (4, 5))
    assert torch.isfinite(loss(out, y))
    metric = getattr(runtime_metrics, kind.metric_function)(out, y)
    assert metric.shape == (4,)


@pytest.mark.parametrize("kind", kinds.OPTIMIZERS.values(), ids=lambda k: k.id)
def test_every_optimizer_takes_its_declared_defaults_and_steps(kind):
    s = TrainingSettings.from_dict({"optimizer": {"name": kind.id}})
    assert s.validate() == []
    for key, param in kind.options.items():
        assert getattr(s.optimizer, key) == param.default, key
    p = torch.nn.Parameter(torch.ones(3))
    opt = make_optimizer([p], s, "cpu")
    (p * p).sum().backward()
    opt.step()
    assert not torch.equal(p.detach(), torch.ones(3))


@pytest.mark.parametrize("kind", kinds.SCHEDULES.values(), ids=lambda k: k.id)
def test_every_schedule_names_a_runtime_rate_that_starts_near_the_base(kind):
    s = TrainingSettings.from_dict({"epochs": 3, "optimizer": {"name": "sgd", "lr": 0.5}, "schedule": {"name": kind.id}})
    assert s.validate() == []
    sched = LRSchedule(make_optimizer([torch.nn.Parameter(torch.ones(1))], s, "cpu"), s, 4)
    rates = sched.lr_at(0) + [sched.lr_at(t)[0] for t in range(12)]
    assert all(0 < r <= 0.5 for r in rates)


@pytest.mark.parametrize("kind", kinds.DATASETS.values(), ids=lambda k: k.id)
def test_every_dataset_kind_has_a_loader_and_validates_its_defaults(kind):
    import studio.training.datasets as ds
    from studio.training.runtime import data, generated, parquet, text

    assert callable(getattr(ds, kind.loader))
    modules = (data, text, parquet, generated)
    assert any(callable(getattr(m, kind.reader, None)) for m in modules), kind.reader
    assert all(callable(getattr(generated, name)) for name in kind.generator)
    assert kind.problems({"kind": kind.id}) == []
    assert set(kind.form_options()) <= set(kind.options)


@pytest.mark.parametrize("kind", [k for k in kinds.DATASETS.values() if k.family == "generated"], ids=lambda k: k.id)
def test_generated_signatures_match_the_loaded_data(kind):
    loss = "cross_entropy" if "class" in kind.targets else "mse"
    sig = kind.describe({"kind": kind.id, "n": 40})
    data = load_data(make_settings(data={"kind": kind.id, "n": 40}, loss={"name": loss}, val_split=0))
    assert sig.sample_shape == data.input_shape and sig.num_classes == data.num_classes
    assert sig.target == ("class" if data.task == "classification" else "float")


def test_csv_signature_reads_header_classes_and_numeric_targets(tmp_path):
    (tmp_path / "pets.csv").write_text("height,weight,kind\n1,10,cat\n2,20,dog\n3,30,cat\n4,40,bird\n")
    csv = kinds.get_dataset("csv")
    sig = csv.describe({"kind": "csv", "path": "pets.csv", "target": "kind"}, tmp_path)
    assert sig == DataSignature((2,), "float32", 3, "class", None, sig.note) and "4 rows" in sig.note
    (tmp_path / "prices.csv").write_text("a;b;price\n1;2;3.5\n4;5;6.25\n")
    sig = csv.describe({"kind": "csv", "path": "prices.csv", "delimiter": ";"}, tmp_path)
    assert (sig.sample_shape, sig.target, sig.target_width, sig.num_classes) == ((2,), "float", 1, None)
    with pytest.raises(DataError, match="CSV file not found"):
        csv.describe({"kind": "csv", "path": "gone.csv"}, tmp_path)
    with pytest.raises(DataError, match="no column named 'label'"):
        csv.describe({"kind": "csv", "path": "pets.csv", "target": "label"}, tmp_path)


def test_folder_signature_lists_classes_without_opening_images(tmp_path):
    for name in ("cats", "dogs"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "a.png").write_bytes(b"not even an image")  # describe must not decode
    sig = kinds.get_dataset("image_folder").describe({"kind": "image_folder", "path": ".", "channels": 1, "size": [16, 12]}, tmp_path)
    assert (sig.sample_shape, sig.num_classes, sig.target) == ((1, 16, 12), 2, "class")
    with pytest.raises(DataError, match="one sub-folder per class"):
        kinds.get_dataset("image_folder").describe({"kind": "image_folder", "path": "cats"}, tmp_path)


def test_signatures_are_frozen_and_cached(tmp_path):
    (tmp_path / "d.csv").write_text("a,y\n1,0\n2,1\n")
    csv = kinds.get_dataset("csv")
    first = csv.describe({"kind": "csv", "path": "d.csv"}, tmp_path)
    assert csv.describe({"kind": "csv", "path": "d.csv"}, tmp_path) is first
    with pytest.raises(dataclasses.FrozenInstanceError):
        first.num_classes = 3


def test_unknown_kinds_get_one_sentence_naming_the_choices():
    errs = TrainingSettings.from_dict({"loss": {"name": "hinge"}, "data": {"kind": "tweets"}}).validate()
    assert "Unknown loss 'hinge'; choose one of cross_entropy, nll, mse, l1, smooth_l1, huber, bce_with_logits, next_token." in errs
    assert any(e.startswith("Unknown dataset kind 'tweets'") for e in errs)
    with pytest.raises(KeyError):
        kinds.get_schedule("sawtooth")
