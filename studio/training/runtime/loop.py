"""Evaluation, batches, device and optimizer choice (runtime); the step itself is in `fit`."""

from __future__ import annotations

import math

import torch
from torch.utils.data import Sampler


def choose_device(name):
    """auto: cuda, else mps, else cpu; any other name as torch reads it."""
    mps = torch.backends.mps.is_available()
    auto = "cuda" if torch.cuda.is_available() else "mps" if mps else "cpu"  # a GPU if any
    return torch.device(auto if name == "auto" else name)


def make_optimizer(params, name, arguments, implementations=()):
    """torch.optim.`name`(params, **arguments) with the first implementation in
    `implementations` this device supports ({"fused": True} is one kernel per step where torch has
    it, {"foreach": True} the multi-tensor path): later ones are the fallbacks."""
    for i, implementation in enumerate(implementations):
        try:
            return getattr(torch.optim, name)(params, **arguments, **implementation)
        except (RuntimeError, ValueError, TypeError):
            if i == len(implementations) - 1:
                raise
    return getattr(torch.optim, name)(params, **arguments)


def evaluate(model, batches, loss_fn, hooks, metric_name, float_targets=False):
    """{"val_loss": mean loss, "val_<metric_name>": mean metric} over `batches` (on the device) and
    all processes (`hooks.reduce`), with no
    gradients and dropout / batch norm in evaluation mode (as in PyTorch's tutorial, the model stays
    so: the training loop sets `model.train()` before each epoch); `hooks` gives the `metric`, the
    `device` and mixed precision's `autocast` (the metric functions give float32). One read-back at
    the end."""
    sums = torch.zeros(3, device=hooks.device)  # the loss's, the metric's and the samples'
    model.eval()
    with torch.no_grad():
        for x, y in batches:  # on the device
            if float_targets:
                y = y.float()
            with hooks.autocast:
                output = model(x)
                loss = loss_fn(output, y).float() * len(y)
            sums += torch.stack([loss, hooks.metric(output, y).sum(), loss.new_tensor(len(y))])
    loss_sum, metric_sum, count = hooks.reduce(sums)
    return {"val_loss": loss_sum / max(1, count), f"val_{metric_name}": metric_sum / max(1, count)}


def epoch_order(n, shuffle, generator):
    """The sample order of one epoch: a permutation drawn from `generator`, or 0..n-1 (no
    shuffling: one gather per epoch, as a shuffled epoch's); `shuffle` may be per-sample weights
    (`balance.sample_weights`): n samples drawn with replacement in proportion to them, as
    WeightedRandomSampler draws."""
    if isinstance(shuffle, torch.Tensor):
        return torch.multinomial(shuffle, n, replacement=True, generator=generator)
    if not shuffle:
        return torch.arange(n)
    return torch.randperm(n, generator=generator)


def tensor_batches(tensors, batch_size, order=None, dtype=None):
    """Mini-batches of in-memory tensors: one gather in `order` (if given), then slices (views).
    With `dtype` (a dataset's `batch_dtype`: compact token windows, views that overlap), each
    batch is gathered on its own and widened to `dtype`: one gather of every window would copy
    the token sequence block_size / stride times over, at 8 bytes a token."""
    if dtype is not None:
        order = torch.arange(len(tensors[0])) if order is None else order
        return (tuple(t[i].to(dtype) for t in tensors) for i in order.to(tensors[0].device).split(batch_size))
    if order is not None:
        tensors = [t[order.to(t.device)] for t in tensors]
    return zip(*(t.split(batch_size) for t in tensors), strict=True)


class EpochBatches(Sampler):
    """Index batches for a DataLoader in the order `epoch_order` draws from `generator` (set
    before each epoch), so lazy data is batched like in-memory data."""

    def __init__(self, n, batch_size, shuffle, generator=None):
        self.n, self.batch_size, self.shuffle, self.generator = n, batch_size, shuffle, generator

    def __len__(self):
        return math.ceil(self.n / self.batch_size)

    def __iter__(self):
        index = epoch_order(self.n, self.shuffle, self.generator).tolist()
        for i in range(0, self.n, self.batch_size):
            yield index[i : i + self.batch_size]


def write_metrics(path, history):
    """metrics.csv: a header and one row per epoch (the values are numbers: no quoting)."""
    with open(path, "w") as f:
        for row in [list(history[0]), *(entry.values() for entry in history)]:
            print(*row, sep=",", file=f)
