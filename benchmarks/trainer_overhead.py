"""How much does Studio's trainer cost over a hand-written PyTorch loop, per step?

Trains the same MLP on the same in-memory data with the same batching (one permutation per
epoch, batches by slicing) and the same optimizer, at batch 1, 8 and 64. The two contenders are
interleaved epoch by epoch in one run: at each of the Trainer's epoch ends a callback (doing what
the GUI does: collecting every step's metrics) runs one epoch of the plain loop on its own copy
of the model, so both see the same machine within a fraction of a second. The first epoch of
each is warm-up; the ratio is the median over the epoch pairs (plain epoch time / Studio's), which
shrugs off the odd epoch another process slowed; each side's fastest epoch is printed too (on
this shared 2-core machine the fastest-epoch ratio swung 0.65-1.04 between runs, the median
0.90-1.08). On the CPU with one thread the clock is this thread's CPU time, which other processes
barely disturb. About 15 s of CPU time (under a minute on 2 cores at load 9).

    python benchmarks/trainer_overhead.py [--device cuda] [--epochs 8] [--threads 1] [--compile]

Per batch size: steps/s of each side (fastest epochs) and their ratio, the median of the
epoch-by-epoch ratios, and Studio's own work per step in microseconds (negative: noise). Last
line: ratio=<the median ratio, Studio / plain, of the worst batch size>.
"""

from __future__ import annotations

import argparse
import copy
import statistics
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


class PlainLoop:
    """The hand-written loop of the PyTorch tutorial, one epoch per call."""

    def __init__(self, model, x, y, s):
        dev = torch.device(s.device)
        self.model, self.x, self.y, self.batch = model.to(dev), x.to(dev), y.to(dev), s.batch_size
        self.optimizer = make_optimizer(self.model.parameters(), s, dev)  # Studio's implementation
        self.loss_fn = make_loss(s.loss)
        self.gen, self.dev = torch.Generator().manual_seed(0), dev

    def epoch(self) -> None:
        model, optimizer, loss_fn = self.model, self.optimizer, self.loss_fn
        perm = torch.randperm(len(self.x), generator=self.gen).to(self.dev)
        for xb, yb in zip(self.x[perm].split(self.batch), self.y[perm].split(self.batch), strict=True):
            logits = model(xb)
            loss = loss_fn(logits, yb)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        loss.item()  # wait for the device at the epoch end, as Studio does


class Interleave(MetricsBuffer):
    """Times Studio's epochs and, between them, runs and times one plain epoch."""

    def __init__(self, plain: PlainLoop):
        super().__init__()
        self.plain, self.studio_times, self.plain_times = plain, [], []

    def on_run_start(self, info):
        self.resumed = clock()

    def on_epoch_end(self, r):
        super().on_epoch_end(r)
        now = clock()
        self.studio_times.append(now - self.resumed)
        self.plain.epoch()
        self.resumed = clock()
        self.plain_times.append(self.resumed - now)


def mlp():
    return nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))


def settings(epochs: int, batch: int, device: str) -> TrainingSettings:
    values = {
        "data": {"kind": "memory"}, "val_split": 0, "epochs": epochs, "batch_size": batch, "seed": 0,
        "optimizer": {"name": "adam", "lr": 1e-3}, "loss": {"name": "cross_entropy"}, "device": device,
    }
    return TrainingSettings.from_dict(values)


def case(batch: int, device: str, epochs: int, compiled: bool) -> float:
    g = torch.Generator().manual_seed(batch)
    x, y = torch.randn(STEPS * batch, 32, generator=g), torch.randint(0, 10, (STEPS * batch,), generator=g)
    torch.manual_seed(0)
    init = mlp()
    s = settings(epochs, batch, device)
    data = Data(train=TensorDataset(x, y), val=None, task="classification", input_shape=(32,), num_classes=10)
    timer = Interleave(PlainLoop(copy.deepcopy(init), x, y, s))
    r = Trainer(copy.deepcopy(init), data, s, [timer], compile=compiled).fit()
    assert r.ok, r.message
    studio_times, plain_times = timer.studio_times[1:], timer.plain_times[1:]  # skip the warm-up epoch
    st, pl = STEPS / min(studio_times), STEPS / min(plain_times)
    paired = statistics.median(p / s for s, p in zip(studio_times, plain_times, strict=True))
    overhead_us = (1 / st - 1 / pl) * 1e6
    print(f"batch {batch:>3}: studio {st:8,.0f} steps/s | plain loop {pl:8,.0f} steps/s | "
          f"fastest epochs {st / pl:.3f} | median of epoch pairs {paired:.3f} | "
          f"Studio's own work {overhead_us:+.1f} us/step", flush=True)
    return paired


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cpu")
    p.add_argument("--epochs", type=int, default=8, help="epochs of each contender per batch size")
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
          f"{STEPS} steps an epoch, {a.epochs} epochs of each side interleaved")
    ratios = [case(batch, a.device, a.epochs, a.compile) for batch in (1, 8, 64)]
    print(f"({time.perf_counter() - start:.0f} s wall)")
    print(f"ratio={min(ratios):.3f}")


if __name__ == "__main__":
    main()
