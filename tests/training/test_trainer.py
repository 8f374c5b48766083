import linecache
import math
import threading

import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

from studio.training import (
    BaseCallback,
    MetricsBuffer,
    RunControl,
    Trainer,
    load_data,
    seed_everything,
)
from studio.training.batches import LoaderBatches, TensorBatches
from studio.training.checkpoints import load as load_checkpoint
from studio.training.datasets import Data
from tests.training.training_helpers import make_settings, mlp


def _timeless(history):
    return [{k: v for k, v in m.items() if k not in ("samples_per_s", "seconds")} for m in history]


def _train(settings, callbacks=(), out_dir=None, resume=None, model=None, control=None):
    seed_everything(settings.seed)
    data = load_data(settings)
    model = model or mlp()
    result = Trainer(model, data, settings, callbacks, out_dir=out_dir, control=control).fit(resume_from=resume)
    return result, model


class StopAfter(BaseCallback):
    def __init__(self, control, epoch):
        self.control, self.epoch = control, epoch

    def on_epoch_end(self, r):
        if r.epoch == self.epoch:
            self.control.stop()


def test_learns_moons_and_reports_every_step():
    s = make_settings(data={"kind": "moons", "n": 240}, epochs=30, report_every=4, report_seconds=1e6)
    seed_everything(0)
    buf = MetricsBuffer()
    r = Trainer(mlp(), load_data(s), s, [buf]).fit()
    assert r.status == "completed" and len(r.history) == 30
    assert r.history[-1]["val_accuracy"] > 0.85 > r.history[0]["val_accuracy"]
    steps_per_epoch = math.ceil(180 / 32)
    assert buf.steps == list(range(1, 30 * steps_per_epoch + 1))  # every step, delivered in batches
    assert len(buf.lrs) == 30 * 2  # reports after batches 4 and 6 of each epoch
    assert len(buf.losses) == len(buf.metrics) == len(buf.steps)
    assert set(r.history[0]) == {"epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr", "samples_per_s", "seconds"}
    # the epoch's training loss is the sample-weighted mean of its step losses
    first = buf.losses[:steps_per_epoch]
    sizes = [32] * 5 + [20]
    assert r.history[0]["train_loss"] == pytest.approx(sum(loss * n for loss, n in zip(first, sizes, strict=True)) / 180)


def test_same_seed_same_metrics_bit_for_bit():
    s = make_settings(schedule={"name": "cosine", "warmup_epochs": 1})
    model = lambda: nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 2))  # noqa: E731
    a, _ = _train(s, model=(seed_everything(0), model())[1])
    b, _ = _train(s, model=(seed_everything(0), model())[1])
    assert _timeless(a.history) == _timeless(b.history)
    c, _ = _train(make_settings(seed=1, schedule={"name": "cosine", "warmup_epochs": 1}), model=(seed_everything(1), model())[1])
    assert _timeless(c.history) != _timeless(a.history)


@pytest.mark.parametrize("schedule", ["none", "cosine", "reduce_on_plateau"])
def test_resume_continues_the_same_curve(tmp_path, schedule):
    plateau = {"patience": 0} if schedule == "reduce_on_plateau" else {}  # the other kinds have none
    s = make_settings(epochs=4, schedule={"name": schedule, **plateau})
    make = lambda: nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Dropout(0.1), nn.Linear(16, 2))  # noqa: E731
    seed_everything(0)
    straight, m1 = _train(s, model=make())

    seed_everything(0)
    ctrl = RunControl()
    first, _ = _train(s, [StopAfter(ctrl, 2)], out_dir=tmp_path, model=make(), control=ctrl)
    assert first.status == "stopped" and len(first.history) == 2
    seed_everything(123)  # resuming must not depend on the state it starts in
    resumed, m2 = _train(s, out_dir=tmp_path / "again", resume=tmp_path / "checkpoints" / "last.pt", model=make())
    assert resumed.status == "completed"
    assert _timeless(resumed.history) == _timeless(straight.history)
    for p, q in zip(m1.parameters(), m2.parameters(), strict=False):
        assert torch.equal(p, q)


@pytest.mark.parametrize("schedule", ["none", "reduce_on_plateau"])
def test_a_checkpoint_of_an_older_studio_resumes_on_the_same_curve(tmp_path, schedule):
    """Where the run stands is a plain dict now; a checkpoint written by `Progress.state_dict()`
    (a "plateau" of None without a plateau schedule) and one of Studio 0.1's first runs (no
    "best_epoch", in the run or in the plateau's record) resume as a new one does."""
    plateau = {"patience": 0} if schedule == "reduce_on_plateau" else {}
    s = lambda epochs: make_settings(epochs=epochs, schedule={"name": schedule, **plateau})  # noqa: E731
    straight, _ = _train(s(4))
    _train(s(2), out_dir=tmp_path)
    path = tmp_path / "checkpoints" / "last.pt"
    state = torch.load(path, weights_only=True)
    assert ("plateau" in state) == (schedule == "reduce_on_plateau")
    del state["best_epoch"]
    if "plateau" in state:
        del state["plateau"]["best_epoch"]
    else:
        state["plateau"] = None
    torch.save(state, path)
    resumed, _ = _train(s(4), resume=path)
    assert resumed.status == "completed"
    assert _timeless(resumed.history) == _timeless(straight.history)
    # the epoch of a best found before the checkpoint is unknown; a later one is recorded
    assert resumed.best_epoch == (straight.best_epoch if straight.best_epoch > 2 else None)


def test_resume_with_more_epochs_constant_rate(tmp_path):
    straight, _ = _train(make_settings(epochs=4))
    _train(make_settings(epochs=2), out_dir=tmp_path)
    resumed, _ = _train(make_settings(epochs=4), resume=tmp_path / "checkpoints" / "last.pt")
    assert _timeless(resumed.history) == _timeless(straight.history)


def test_checkpoints_and_weights_written(tmp_path):
    seen = []

    class Seen(BaseCallback):
        def on_checkpoint(self, path, kind, epoch):
            seen.append((path.name, kind, epoch))

    r, model = _train(make_settings(epochs=2), [Seen()], out_dir=tmp_path)
    assert ("last.pt", "last", 2) in seen and ("best.pt", "best", 1) in seen
    assert r.weights_path == tmp_path / "weights.pt"
    sd = torch.load(r.weights_path, weights_only=True)
    assert set(sd) == set(model.state_dict())
    ck = load_checkpoint(tmp_path / "checkpoints" / "best.pt")
    assert ck["epoch"] == r.best_epoch and ck["best"] == r.best_value


def test_early_stopping_ends_the_run():
    s = make_settings(epochs=50, optimizer={"name": "sgd", "lr": 1e-9}, early_stopping={"enabled": True, "patience": 2, "min_delta": 0.01})
    r, _ = _train(s)
    assert r.status == "early_stopped" and len(r.history) == 3
    assert "did not improve for 2 epochs" in r.message


def test_stop_and_pause_from_another_thread():
    s = make_settings(epochs=1000, data={"kind": "spirals", "n": 2000})
    ctrl = RunControl()
    seen = []  # step of every report
    at_resume = []

    def resume_later():
        at_resume.append(seen[-1])  # nothing ran while paused
        ctrl.resume()

    class Steer(BaseCallback):
        def on_step_end(self, r):
            seen.append(r.step)
            if r.step == 8:
                ctrl.pause()
                threading.Timer(0.1, resume_later).start()
            elif r.step == 40:
                threading.Thread(target=ctrl.stop).start()

    r, _ = _train(s, [Steer()], control=ctrl)
    assert r.status == "stopped" and at_resume == [8]
    assert seen[-1] - 40 <= 2  # honoured within a batch or two of the request
    assert "Stopped by request after 0 epochs" in r.message


def test_nan_loss_names_the_step():
    class Bomb(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(2, 2)
            self.calls = 0

        def forward(self, x):
            self.calls += self.training
            y = self.fc(x)
            return y * float("nan") if self.calls == 8 and self.training else y

    failures = []

    class F(BaseCallback):
        def on_failure(self, f):
            failures.append(f)

    r, _ = _train(make_settings(epochs=3), [F()], model=Bomb())
    assert r.status == "failed" and failures[0].kind == "nan"
    assert "The loss became nan at step 8 (epoch 2, batch 2)" in r.message
    assert len(r.history) == 1 and "Epochs 1-1 are kept in the history." in r.message


def test_model_error_points_at_generated_line():
    source = "def forward(self, x):\n    h = self.fc(x)\n    return h @ torch.ones(3, 3)\n"
    filename = "<studio:Model>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    ns = {"torch": torch}
    exec(compile(source, filename, "exec"), ns)

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(2, 2)

        forward = ns["forward"]

    r, _ = _train(make_settings(), model=Model())
    assert r.status == "failed" and r.failure.kind == "model"
    assert r.failure.location == (filename, 3, "return h @ torch.ones(3, 3)")
    assert "line 3: return h @ torch.ones(3, 3)" in r.message and "RuntimeError" in r.message


def test_class_count_mismatch_is_explained():
    s = make_settings(data={"kind": "blobs", "n": 60, "classes": 10})
    r, _ = _train(s, model=mlp(outputs=3))
    assert r.failure.kind == "check"
    assert "outputs 3 values per sample but the dataset has 10 classes" in r.message


def test_input_shape_mismatch_is_explained():
    s = make_settings()
    data = load_data(s)
    r = Trainer(mlp(), data, s, expected_input_shape=(1, 28, 28)).fit()
    assert "expects inputs of shape (1, 28, 28) but the dataset gives (2,)" in r.message


def test_regression_output_mismatch_is_explained():
    s = make_settings(data={"kind": "sine", "n": 64}, loss={"name": "mse"})
    r, _ = _train(s, model=mlp(inputs=1, outputs=4))
    assert "outputs shape (4,) per sample but the targets have shape (1,)" in r.message
    r, _ = _train(s, model=mlp(inputs=1, outputs=1))
    assert r.ok and "val_mae" in r.history[0]


def test_invalid_settings_fail_before_training():
    r, _ = _train(make_settings(optimizer={"name": "adam", "lr": -0.1}))
    assert r.failure.kind == "settings" and "Learning rate must be greater than 0 (got -0.1)." in r.message


def test_cuda_requested_without_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    r, _ = _train(make_settings(device="cuda"))
    assert "no usable CUDA GPU" in r.message


@pytest.mark.parametrize("loss", ["cross_entropy", "nll", "bce_with_logits", "huber", "l1", "smooth_l1"])
def test_losses_train(loss):
    if loss == "nll":
        model = nn.Sequential(mlp(), nn.LogSoftmax(1))
    elif loss == "cross_entropy":
        model = mlp()
    else:  # one logit for two classes (bce), or regression on the 0/1 label
        model = mlp(outputs=1)
    data = {"kind": "moons", "n": 64}
    r, _ = _train(make_settings(data=data, loss={"name": loss}, grad_clip=1.0, epochs=2), model=model)
    assert r.ok, r.message


def test_fast_batches_match_dataloader_batches():
    x, y = torch.arange(50.0).view(25, 2), torch.arange(25)
    ds = TensorDataset(x, y)
    fast = TensorBatches(ds, 8, True, torch.device("cpu"))
    slow = LoaderBatches(ds, 8, True, torch.device("cpu"), 0, 0)
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    for _ in range(3):  # several epochs: the generator advances the same way
        a, b = list(fast.epoch(g1)), list(slow.epoch(g2))
        assert [len(t[1]) for t in a] == [8, 8, 8, 1]
        assert all(torch.equal(p[0], q[0]) and torch.equal(p[1], q[1]) for p, q in zip(a, b, strict=False))
    assert sorted(torch.cat([t[1] for t in a]).tolist()) == list(range(25))


def test_missing_image_file_mid_run_ends_cleanly(tmp_path, monkeypatch):
    from PIL import Image

    monkeypatch.setenv("STUDIO_DATA_BUDGET", "1")  # over the budget: each image is read when a batch needs it

    for c in ("a", "b"):
        (tmp_path / c).mkdir()
        for i in range(6):
            Image.new("L", (8, 8), 40 * i).save(tmp_path / c / f"{i}.png")
    s = make_settings(data={"kind": "image_folder", "path": str(tmp_path), "size": 8, "channels": 1}, val_split=0, batch_size=4, epochs=3)
    data = load_data(s)

    class Remove(BaseCallback):
        def on_epoch_end(self, r):
            (tmp_path / "b" / "3.png").unlink()

    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 2))
    r = Trainer(model, data, s, [Remove()]).fit()
    assert r.failure.kind == "data" and "Reading the data failed in epoch 2" in r.message
    assert "3.png" in r.message and len(r.history) == 1


def test_data_built_by_hand():
    x, y = torch.randn(40, 3), torch.randn(40, 1)
    data = Data(train=TensorDataset(x, y), val=None, task="regression", input_shape=(3,))
    s = make_settings(loss={"name": "mse"}, val_split=0)
    r = Trainer(nn.Linear(3, 1), data, s).fit()
    assert r.ok and "val_loss" not in r.history[0] and r.monitor == "train_loss"


def test_out_of_memory_suggests_smaller_batch():
    class Hungry(nn.Linear):
        def forward(self, x):
            if self.training:
                raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
            return super().forward(x)

    r, _ = _train(make_settings(batch_size=32), model=Hungry(2, 2))
    assert r.failure.kind == "oom"
    assert "ran out of memory with batch size 32" in r.message and "batch size (e.g. 16)" in r.message


def test_eta_counts_down_to_zero():
    etas = []

    class Eta(BaseCallback):
        def on_step_end(self, r):
            etas.append(r.eta_s)

        def on_epoch_end(self, r):
            etas.append(r.eta_s)

    _train(make_settings(epochs=2), [Eta()])
    assert etas[-1] == 0.0 and etas[0] > 0


def test_failing_callback_ends_run_with_its_name():
    class Broken(BaseCallback):
        def on_epoch_end(self, r):
            raise KeyError("plot")

    r, _ = _train(make_settings(), [Broken()])
    assert r.failure.kind == "error" and r.message.startswith("Broken.on_epoch_end failed: KeyError")


def test_mixed_precision_on_cpu_runs_in_full_precision_with_a_note():
    infos = []

    class Info(BaseCallback):
        def on_run_start(self, info):
            infos.append(info)

    r, _ = _train(make_settings(device="auto", precision="bf16", epochs=1), [Info()])
    assert r.ok and "Mixed precision (bf16) is off: it needs a CUDA GPU (running on cpu)." in infos[0].notes
    assert [n for n in infos[0].notes if not n.startswith("Running with ")] == [  # and the threads' note
        "Mixed precision (bf16) is off: it needs a CUDA GPU (running on cpu)."
    ]


def test_small_cnn_learns_the_shapes():
    s = make_settings(data={"kind": "shapes", "n": 450}, epochs=6, batch_size=32, optimizer={"name": "adam", "lr": 0.01})
    seed_everything(0)
    model = nn.Sequential(
        nn.Conv2d(1, 8, 5, stride=2), nn.ReLU(), nn.Conv2d(8, 16, 3, stride=2), nn.ReLU(),
        nn.Flatten(), nn.Linear(16 * 5 * 5, 3),
    )
    r = Trainer(model, load_data(s), s, expected_input_shape=(1, 28, 28)).fit()
    assert r.ok and r.history[-1]["val_accuracy"] > 0.8


def test_a_trainer_given_loaded_data_does_not_judge_the_data_spec():
    """Code that builds its Data itself (benchmarks, notebooks) names no declared dataset kind."""
    x, y = torch.randn(64, 2), torch.randint(0, 2, (64,))
    data = Data(train=TensorDataset(x, y), val=None, task="classification", input_shape=(2,), num_classes=2)
    s = make_settings(data={"kind": "in memory"}, val_split=0, epochs=1)
    assert any("Unknown dataset kind" in e for e in s.validate())
    r = Trainer(mlp(), data, s).fit()
    assert r.status == "completed", r.message


def test_the_opt_in_compiled_mode_trains_the_models_own_weights():
    """Trainer(compile=True) trains through torch.compile; the weights it reports are the model's."""
    s = make_settings(data={"kind": "moons", "n": 120}, epochs=1)
    model = mlp()
    before = [p.detach().clone() for p in model.parameters()]
    r = Trainer(model, load_data(s), s, compile=True).fit()
    if not r.ok and "compile" in r.message.lower():  # pragma: no cover - no C++ compiler for inductor
        pytest.skip(r.message)
    assert r.ok, r.message
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
