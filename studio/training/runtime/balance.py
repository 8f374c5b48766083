"""Unbalanced classes (runtime): class-weighted cross-entropy and balanced sampling.

`class_weights` gives each class n / (k * its count) of the training set (scikit-learn's
"balanced" weights), so every class adds as much to the loss; `sample_weights` gives each sample
its class's weight, and `loop.epoch_order` then draws an epoch's n samples with replacement in
proportion to them (what torch's WeightedRandomSampler does), so each class is drawn about as
often as any other. The targets are read without reading the inputs (no image is decoded).
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Subset, TensorDataset

from studio.training.runtime.tables import DataProblem


def class_targets(data):
    """The class index of every sample of `data` as a long tensor, or None when its targets are
    not class labels."""
    if isinstance(data, Subset):
        base = class_targets(data.dataset)
        return None if base is None else base[torch.as_tensor(data.indices, dtype=torch.long)]
    if isinstance(data, TensorDataset):
        y = data.tensors[1]
    elif hasattr(data, "base"):  # augmented views of a set
        return class_targets(data.base)
    elif hasattr(data, "train") and hasattr(data, "val"):  # one set seen two ways
        return class_targets(data.train)
    elif hasattr(data, "samples"):  # image files
        y = torch.as_tensor([t for _, t in data.samples])
    elif hasattr(data, "targets"):  # torchvision sets
        y = torch.as_tensor(data.targets)
    elif hasattr(data, "table") and data.table.get("y_dtype") == "int64":  # a table read from disk
        y = torch.from_numpy(np.array(data.arrays()[1]))
    else:
        return None
    return y.long() if y.dim() == 1 and not y.is_floating_point() else None


def class_weights(targets, num_classes=None):
    """n / (k * count) per class: the weights that make every class count alike."""
    k = max(int(num_classes or 0), int(targets.max()) + 1)
    counts = torch.bincount(targets, minlength=k).float()
    return len(targets) / (k * counts.clamp(min=1))


def weigh_classes(loss_fn, data, num_classes, device):
    """Give the loss (cross-entropy) the training set's class weights."""
    y = class_targets(data)
    if y is None:
        raise DataProblem(
            "Class weights need class labels as targets; turn them off for this data."
        )
    loss_fn.weight = class_weights(y, num_classes).to(device)
    return loss_fn


def sample_weights(data):
    """Each sample's class weight, for a balanced draw of the samples (`loop.epoch_order`)."""
    y = class_targets(data)
    if y is None:
        raise DataProblem(
            "Balanced sampling needs class labels as targets; turn it off for this data."
        )
    return class_weights(y)[y]
