"""How much does Studio's trainer cost over a hand-written PyTorch loop?

Trains the same model on the same in-memory data with the same batching (one permutation per
epoch, batches by slicing) and the same optimizer arguments, alternating Studio and plain runs.
Studio runs with a callback doing what the GUI does (collecting every step's metrics into a buffer).
Epoch times are measured between epoch ends, the first epoch of each run is warm-up, and each side
is scored by its fastest epoch (interference from other processes only ever slows a run down).

    python benchmarks/trainer_overhead.py [--device cuda] [--repeats 7]

Last line: ratio=<Studio samples/s / plain samples/s, worst case>.
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import TensorDataset

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from studio.training import MetricsBuffer, Trainer, TrainingSettings
from studio.training.datasets import Data
from studio.training.optim import make_loss, make_optimizer


class EpochClock(MetricsBuffer):
    def __init__(self):
        super().__init__()
        self.times: list[float] = []

    def on_run_start(self, info):
        self.times.append(time.perf_counter())

    def on_epoch_end(self, r):
        super().on_epoch_end(r)
        self.times.append(time.perf_counter())


def mlp():
    return nn.Sequential(nn.Linear(32, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, 10))


def cnn():
    return nn.Sequential(
        nn.Conv2d(1, 8, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(16 * 5 * 5, 10),
    )


def settings(epochs: int, device: str) -> TrainingSettings:
    return TrainingSettings.from_dict({
        "data": {"kind": "memory"}, "val_split": 0, "epochs": epochs, "batch_size": 64, "seed": 0,
        "optimizer": {"name": "adam", "lr": 1e-3}, "loss": {"name": "cross_entropy"}, "device": device,
    })


def studio_run(model, x, y, s) -> float:
    data = Data(train=TensorDataset(x, y), val=None, task="classification", input_shape=tuple(x.shape[1:]), num_classes=10)
    clock = EpochClock()
    r = Trainer(model, data, s, [clock]).fit()
    assert r.ok, r.message
    dts = [b - a for a, b in zip(clock.times[1:], clock.times[2:], strict=False)]  # skip the first epoch
    return len(x) / min(dts)


def plain_run(model, x, y, s, torch_default_optimizer=False) -> float:
    dev = torch.device(s.device)
    model.to(dev)
    x, y = x.to(dev), y.to(dev)
    if torch_default_optimizer:  # what a hand-written loop usually does: torch.optim.Adam(params, lr)
        opt = torch.optim.Adam(model.parameters(), lr=s.optimizer.lr)
    else:  # same optimizer arguments as Studio: compares loop overhead only
        opt = make_optimizer(model.parameters(), s, dev)
    loss_fn = make_loss(s.loss)
    g = torch.Generator().manual_seed(0)
    times = []
    for _ in range(s.epochs):
        t0 = time.perf_counter()
        perm = torch.randperm(len(x), generator=g).to(dev)
        for xb, yb in zip(x[perm].split(s.batch_size), y[perm].split(s.batch_size), strict=True):
            loss = loss_fn(model(xb), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        loss.item()  # wait for the device at the epoch end, as Studio does
        times.append(time.perf_counter() - t0)
    return len(x) / min(times[1:])


def case(name, make_model, x, y, device, repeats, epochs):
    torch.manual_seed(0)
    init = make_model()
    s = settings(epochs, device)
    studio, plain, default = [], [], []
    runs = [
        lambda: studio.append(studio_run(copy.deepcopy(init), x, y, s)),
        lambda: plain.append(plain_run(copy.deepcopy(init), x, y, s)),
        lambda: default.append(plain_run(copy.deepcopy(init), x, y, s, torch_default_optimizer=True)),
    ]
    for i in range(repeats):  # rotate the order so no side always runs first
        for j in range(3):
            runs[(i + j) % 3]()
    # best steady-state epoch of each: other load on the machine only ever slows a run down
    st, pl, de = max(studio), max(plain), max(default)
    ratio, vs_default = st / pl, st / de
    print(f"{name:>4}: studio {st:10,.0f} samples/s | plain loop, same optimizer args {pl:10,.0f} "
          f"(ratio {ratio:.3f}) | plain loop, torch-default Adam {de:10,.0f} (ratio {vs_default:.3f})")
    return ratio


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cpu")
    p.add_argument("--repeats", type=int, default=7)
    a = p.parse_args()
    g = torch.Generator().manual_seed(0)
    print(f"torch {torch.__version__}, device {a.device}, {torch.get_num_threads()} threads, batch 64, Adam")
    ratios = [
        case("mlp", mlp, torch.randn(16384, 32, generator=g), torch.randint(0, 10, (16384,), generator=g),
             a.device, a.repeats, epochs=5),
        case("cnn", cnn, torch.randn(2048, 1, 28, 28, generator=g), torch.randint(0, 10, (2048,), generator=g),
             a.device, a.repeats, epochs=4),
    ]
    print(f"ratio={min(ratios):.3f}")


if __name__ == "__main__":
    main()
