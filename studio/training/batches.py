"""Batches for the training loop.

In-memory `TensorDataset`s are moved to the device once and batched by slicing after one gather per
epoch (no per-sample collate); other datasets go through a DataLoader whose batch sampler draws the
same permutation (`epoch_order`), so both paths yield the same batches for the same generator.
"""

from __future__ import annotations

import math
import re

import torch
from torch.utils.data import DataLoader, Dataset, Sampler, TensorDataset

from studio.training.signatures import DataError

IN_MEMORY_LIMIT = 1 << 30  # bytes of tensor data moved to the device once, up front


class DataFault(Exception):
    """Reading a batch failed (file gone, corrupt image, worker crash); the message names it."""


def last_line(e: BaseException) -> str:
    lines = str(e).strip().splitlines()
    return lines[-1] if lines else type(e).__name__


def fault_message(e: BaseException) -> str:
    """One line for a failed read: a DataError's own sentence (also when a DataLoader worker
    re-raised it under its traceback), else the exception's type and last line."""
    line = last_line(e)
    if isinstance(e, DataError):
        return re.sub(r"^[\w.]*Error: ", "", line)
    return f"{type(e).__name__}: {line}"


def epoch_order(n: int, shuffle: bool, gen: torch.Generator) -> torch.Tensor | None:
    """The sample order of one epoch: a permutation drawn from `gen`, or None (in order)."""
    return torch.randperm(n, generator=gen) if shuffle else None


class TensorBatches:
    """Batches of an in-memory TensorDataset by slicing: one gather per epoch, views per batch.

    Same order as `LoaderBatches` for the same generator: both follow `epoch_order`.
    """

    def __init__(self, ds: TensorDataset, batch_size: int, shuffle: bool, device: torch.device):
        self.tensors = [t.to(device) for t in ds.tensors]
        self.n, self.bs, self.shuffle = len(ds), batch_size, shuffle
        self.to_device = False

    def __len__(self) -> int:
        return math.ceil(self.n / self.bs)

    def epoch(self, gen: torch.Generator):
        perm = epoch_order(self.n, self.shuffle, gen)
        ts = self.tensors if perm is None else [t[perm.to(t.device)] for t in self.tensors]
        return zip(*(t.split(self.bs) for t in ts), strict=True)


class _EpochBatchSampler(Sampler):
    def __init__(self, n: int, batch_size: int, shuffle: bool):
        self.n, self.bs, self.shuffle = n, batch_size, shuffle
        self.gen: torch.Generator | None = None

    def __len__(self) -> int:
        return math.ceil(self.n / self.bs)

    def __iter__(self):
        perm = epoch_order(self.n, self.shuffle, self.gen)
        idx = list(range(self.n)) if perm is None else perm.tolist()
        for i in range(0, self.n, self.bs):
            yield idx[i : i + self.bs]


class LoaderBatches:
    """Batches through a DataLoader (lazy datasets, worker processes); data errors become DataFault."""

    def __init__(self, ds: Dataset, batch_size: int, shuffle: bool, device: torch.device, workers: int, seed: int):
        self.sampler = _EpochBatchSampler(len(ds), batch_size, shuffle)
        self.worker_gen = torch.Generator().manual_seed(seed + 1)
        self.loader = DataLoader(
            ds,
            batch_sampler=self.sampler,
            num_workers=workers,
            pin_memory=device.type == "cuda",
            generator=self.worker_gen,
            persistent_workers=workers > 0,
        )
        self.to_device = device.type != "cpu"

    def __len__(self) -> int:
        return len(self.sampler)

    def epoch(self, gen: torch.Generator):
        self.sampler.gen = gen
        it = iter(self.loader)
        while True:
            try:
                batch = next(it)
            except StopIteration:
                return
            except Exception as e:
                raise DataFault(fault_message(e)) from e
            yield batch


def make_batches(ds: Dataset, batch_size: int, shuffle: bool, device: torch.device, workers: int, seed: int):
    if isinstance(ds, TensorDataset) and sum(t.numel() * t.element_size() for t in ds.tensors) <= IN_MEMORY_LIMIT:
        return TensorBatches(ds, batch_size, shuffle, device)
    return LoaderBatches(ds, batch_size, shuffle, device, workers, seed)
