"""Regression targets learnt standardised, reported in the data's own units (runtime).

A regression target of mean 152 and standard deviation 77 (scikit-learn's diabetes) is far from
the outputs a freshly initialised network gives, so a run with the usual learning rates ends
worse than always predicting the mean. As for the features, the fix is to standardise: the
model learns (y - mean) / std, where `mean` and `std` are the training targets' statistics
(`data.target_scale`). `ScaledOutput` turns its outputs back into the data's units, so every
loss and metric a run reports, the checkpoints' monitored value and the predictions are in those
units; `StandardizedLoss` computes the gradient on the standardised values, as if the targets
had been standardised as they were read. The statistics are saved beside the weights
(weights.json, `script_main.save_weights`).
"""

from __future__ import annotations

import torch
from torch import nn


class ScaledOutput(nn.Module):
    """`model`'s outputs times `std` plus `mean`: standardised predictions in the data's units."""

    def __init__(self, model, mean, std):
        super().__init__()
        self.model = model
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32))
        self.register_buffer("std", torch.as_tensor(std, dtype=torch.float32))

    def forward(self, x):
        return self.model(x) * self.std + self.mean


class StandardizedInput(ScaledOutput):
    """`model` of its inputs standardised with the training rows' `mean` and `std` (held as
    ScaledOutput holds a target's): a model trained on rows standardised as they were read,
    taking raw rows (an exported file that stands alone)."""

    def forward(self, x):
        return self.model((x - self.mean) / self.std)


class StandardizedLoss(nn.Module):
    """`loss` of the standardised output and target; its value is `loss` in the data's units.

    The gradient is that of the standardised loss (what the optimizer minimises, with learning
    rates that suit values near 0 and 1); the number it reports is the loss of the predictions
    against the raw targets, so it can be read next to the data and the predict-the-mean baseline.
    """

    def __init__(self, loss, mean, std):
        super().__init__()
        self.loss = loss
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32))
        self.register_buffer("std", torch.as_tensor(std, dtype=torch.float32))

    def forward(self, output, target):
        scaled = self.loss((output - self.mean) / self.std, (target - self.mean) / self.std)
        with torch.no_grad():
            in_units = self.loss(output, target)
        return scaled + (in_units - scaled).detach()


def standardized_targets(model, loss_fn, scale, device):
    """(model, loss) that train on targets standardised with `scale` ({"mean": [...], "std": [...]},
    `data.target_scale`) and report in the data's units; the weights stay `model`'s own. Without
    statistics (lazy data) they are returned as they are."""
    if not scale:
        return model, loss_fn
    mean = torch.tensor(scale["mean"], device=device)
    std = torch.tensor(scale["std"], device=device)
    return ScaledOutput(model, mean, std), StandardizedLoss(loss_fn, mean, std)

