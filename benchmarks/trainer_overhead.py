"""How much does Studio's trainer cost over a hand-written PyTorch loop, per step?

Trains the same MLP on the same in-memory data with the same batching (one permutation per
epoch, batches by slicing) and the same optimizer, at batch 1, 8 and 64, alternating Studio and
plain runs so both see the same machine. Studio runs with a callback doing what the GUI does
(collecting every step's metrics). Epoch times are measured between epoch ends; the first epoch
of each run is warm-up, and each side is scored by its fastest epoch (other processes only ever
slow a run down). On the CPU with one thread the clock is this thread's CPU time, which other
processes barely disturb. About 40 s on 2 busy cores.

    python benchmarks/trainer_overhead.py [--device cuda] [--repeats 3] [--threads 1] [--compile]

Per batch size: steps/s of each side, their ratio and Studio's own work per step in
microseconds (negative: noise). Last line: ratio=<Studio / plain, worst batch size>.
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

STEPS = 200  # optimizer steps per epoch
#: CPU time of this thread: on a shared machine wall time mostly measures the other processes
#: (with one torch thread all the work runs here); --wall measures wall time instead
clock = time.thread_time


class EpochClock(MetricsBuffer):
    def __init__(self):
        super().__init__()
        self.times: list[float] = []

    def on_run_start(self, info):
        self.times.append(clock())

    def on_epoch_end(self, r):
        super().on_epoch_end(r)
        self.times.append(clock())


def mlp():
    return nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))


def settings(epochs: int, batch: int, device: str) -> TrainingSettings:
    values = {
        "data": {"kind": "memory"}, "val_split": 0, "epochs": epochs, "batch_size": batch, "seed": 0,
        "optimizer": {"name": "adam", "lr": 1e-3}, "loss": {"name": "cross_entropy"}, "device": device,
    }
    return TrainingSettings.from_dict(values)


def studio_run(model, x, y, s, compiled=False) -> float:
    data = Data(train=TensorDataset(x, y), val=None, task="classification", input_shape=tuple(x.shape[1:]),
                num_classes=10)
    clock = EpochClock()
    r = Trainer(model, data, s, [clock], compile=compiled).fit()
    assert r.ok, r.message
    dts = [b - a for a, b in zip(clock.times[1:], clock.times[2:], strict=False)]  # skip the first epoch
    return STEPS / min(dts)


def plain_run(model, x, y, s) -> float:
    dev = torch.device(s.device)
    model.to(dev)
    x, y = x.to(dev), y.to(dev)
    optimizer = make_optimizer(model.parameters(), s, dev)  # the same implementation as Studio's
    loss_fn = make_loss(s.loss)
    g = torch.Generator().manual_seed(0)
    times = []
    for _ in range(s.epochs):
        t0 = clock()
        perm = torch.randperm(len(x), generator=g).to(dev)
        for xb, yb in zip(x[perm].split(s.batch_size), y[perm].split(s.batch_size), strict=True):
            logits = model(xb)
            loss = loss_fn(logits, yb)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        loss.item()  # wait for the device at the epoch end, as Studio does
        times.append(clock() - t0)
    return STEPS / min(times[1:])


def case(batch: int, device: str, repeats: int, compiled: bool) -> float:
    g = torch.Generator().manual_seed(batch)
    x, y = torch.randn(STEPS * batch, 32, generator=g), torch.randint(0, 10, (STEPS * batch,), generator=g)
    torch.manual_seed(0)
    init = mlp()
    s = settings(6, batch, device)
    studio, plain = [], []
    for i in range(repeats):  # alternate the order so neither side always runs first
        runs = [lambda: studio.append(studio_run(copy.deepcopy(init), x, y, s, compiled)),
                lambda: plain.append(plain_run(copy.deepcopy(init), x, y, s))]
        for run in runs[i % 2 :] + runs[: i % 2]:
            run()
    st, pl = max(studio), max(plain)
    overhead_us = (1 / st - 1 / pl) * 1e6
    print(f"batch {batch:>3}: studio {st:8,.0f} steps/s | plain loop {pl:8,.0f} steps/s | "
          f"ratio {st / pl:.3f} | Studio's own work {overhead_us:+.1f} us/step", flush=True)
    return st / pl


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cpu")
    p.add_argument("--repeats", type=int, default=4)
    p.add_argument("--compile", action="store_true", help="Studio's run with torch.compile (opt-in mode)")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1: a small model on a shared "
                   "machine runs fastest on one, as Studio's own training process does)")
    p.add_argument("--wall", action="store_true", help="wall time instead of this thread's CPU time")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    if a.wall or a.device != "cpu" or a.threads != 1:
        global clock
        clock = time.perf_counter
    start = time.perf_counter()
    print(f"torch {torch.__version__}, device {a.device}, {torch.get_num_threads()} threads, Adam, "
          f"{STEPS} steps an epoch")
    ratios = [case(batch, a.device, a.repeats, a.compile) for batch in (1, 8, 64)]
    print(f"({time.perf_counter() - start:.0f} s wall)")
    print(f"ratio={min(ratios):.3f}")


if __name__ == "__main__":
    main()
