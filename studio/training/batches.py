"""Batches for the training loop.

In-memory `TensorDataset`s are moved to the device once and batched by slicing after one gather per
epoch (no per-sample collate); other datasets go through a DataLoader whose batch sampler draws the
same permutation (`epoch_order`), so both paths yield the same batches for the same generator.
The batching functions are the runtime's (train.py batches with the same ones).
"""

from __future__ import annotations

import math
import re

import torch
from torch.utils.data import DataLoader, Dataset, TensorDataset

from studio.training.runtime.loop import EpochBatches, epoch_order, tensor_batches
from studio.training.runtime.tables import DataProblem

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
    if isinstance(e, DataProblem):
        return re.sub(r"^[\w.]*Error: ", "", line)
    return f"{type(e).__name__}: {line}"


class TensorBatches:
    """Batches of an in-memory TensorDataset by slicing: one gather per epoch, views per batch.

    Same order as `LoaderBatches` for the same generator: both follow `epoch_order`.
    """

    def __init__(self, ds: TensorDataset, batch_size: int, shuffle: bool, device: torch.device):
        self.tensors = [t.to(device) for t in ds.tensors]
        self.n, self.bs, self.shuffle = len(ds), batch_size, shuffle
        self.dtype = getattr(ds, "batch_dtype", None)  # compact tokens, widened a batch at a time
        self.to_device = False

    def __len__(self) -> int:
        return math.ceil(self.n / self.bs)

    def epoch(self, gen: torch.Generator):
        order = epoch_order(self.n, self.shuffle, gen)
        return tensor_batches(self.tensors, self.bs, order, self.dtype)


class LoaderBatches:
    """Batches through a DataLoader (lazy datasets, worker processes); data errors become DataFault."""

    def __init__(self, ds: Dataset, batch_size: int, shuffle: bool, device: torch.device, workers: int, seed: int):
        self.sampler = EpochBatches(len(ds), batch_size, shuffle)
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
        self.sampler.generator = gen
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
