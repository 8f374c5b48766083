"""Metrics kept on the device between read-backs.

The trainer appends each step's detached loss, output and target to `StepMetrics` (list appends,
no kernels, no sync). At a reporting point `read()` computes accuracy / MAE for all pending steps
in a few vectorised kernels and copies everything to the host in one transfer.
"""

from __future__ import annotations

import torch

from studio.training.kinds import get_loss
from studio.training.runtime import metrics as runtime_metrics


def per_sample_metric(loss_name: str, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Accuracy (classification) or mean absolute error (regression) of each sample, shape (B,):
    the runtime function the loss's declaration names."""
    return metric_function(loss_name)(out, y)


def metric_function(loss_name: str):
    return getattr(runtime_metrics, get_loss(loss_name).metric_function)


class StepMetrics:
    """Per-step loss and metric, buffered on the device until `read()`."""

    def __init__(self, loss_name: str, budget: int = 1 << 22):
        self.loss_name = loss_name
        self.budget = budget  # output elements held before folding them into per-step sums
        self.losses: list[torch.Tensor] = []
        self.outs: list[torch.Tensor] = []
        self.ys: list[torch.Tensor] = []
        self.sizes: list[int] = []
        self._folded: list[torch.Tensor] = []
        self._folded_steps = 0
        self.pending = 0

    def __len__(self) -> int:
        return len(self.losses)

    def fold(self) -> None:
        """Reduce buffered outputs to per-step metric sums (device kernels, no sync)."""
        if not self.outs:
            return
        per = per_sample_metric(self.loss_name, torch.cat(self.outs), torch.cat(self.ys))
        sizes = self.sizes[self._folded_steps :]
        if len(set(sizes)) == 1:
            sums = per.view(len(sizes), sizes[0]).sum(1)
        else:
            sums = torch.stack([p.sum() for p in per.split(sizes)])
        self._folded.append(sums.float())
        self._folded_steps = len(self.sizes)
        self.outs.clear()
        self.ys.clear()
        self.pending = 0

    def read(self) -> tuple[list[float], list[float], list[int]]:
        """(loss per step, metric sum per step, batch size per step) for pending steps; clears."""
        self.fold()
        n = len(self.losses)
        if n == 0:
            return [], [], []
        values = torch.cat([torch.stack(self.losses).float().reshape(n), *self._folded]).tolist()
        sizes = list(self.sizes)
        self.losses.clear()  # in place: the training loop holds these lists
        self.sizes.clear()
        self._folded, self._folded_steps = [], 0
        return values[:n], values[n:], sizes
