"""Generated toy datasets: deterministic, same arguments, same tensors (runtime).

Each generator is named like its dataset kind, so `read_generated` finds it by the spec's kind
both here and in train.py (where these functions are copied).
"""

from __future__ import annotations

import math

import torch
from torch.utils.data import TensorDataset


def read_generated(spec):
    """(TensorDataset, info) of a generated set: spec["kind"] names the generator function,
    spec["arguments"] are its keyword arguments; with spec["numbers"] class labels become a float
    column (regression on the labels)."""
    x, y = globals()[spec["kind"]](**spec["arguments"])
    if spec.get("numbers") and not y.dtype.is_floating_point:
        y = y.float().unsqueeze(1)
    return TensorDataset(x.float(), y), {"num_classes": spec.get("classes")}


def class_labels(n: int, classes: int, generator: torch.Generator) -> torch.Tensor:
    """n labels 0..classes-1, as evenly spread as possible, in random order."""
    return (torch.arange(n) % classes)[torch.randperm(n, generator=generator)]


def spirals(n: int = 1000, noise: float = 0.2, classes: int = 2, seed: int = 0):
    """Points on interleaved spiral arms, one arm per class: x is n x 2, y the arm."""
    g = torch.Generator().manual_seed(seed)
    y = class_labels(n, classes, g)
    t = torch.sqrt(torch.rand(n, generator=g)) * 3 * math.pi
    angle = t + y * (2 * math.pi / classes)
    x = torch.stack([t * torch.cos(angle), t * torch.sin(angle)], 1) / math.pi
    x += noise * torch.randn(n, 2, generator=g) / math.pi
    return x, y


def moons(n: int = 1000, noise: float = 0.1, seed: int = 0):
    """Two interleaving half circles: x is n x 2, y 0 (upper) or 1 (lower)."""
    g = torch.Generator().manual_seed(seed)
    y = class_labels(n, 2, g)
    t = torch.rand(n, generator=g) * math.pi
    x = torch.where(
        (y == 0).unsqueeze(1),
        torch.stack([torch.cos(t), torch.sin(t)], 1),
        torch.stack([1 - torch.cos(t), 0.5 - torch.sin(t)], 1),
    )
    x += noise * torch.randn(n, 2, generator=g)
    return x, y


def blobs(n: int = 1000, classes: int = 3, std: float = 1.0, seed: int = 0):
    """Gaussian blobs around centres on a circle of radius 3: x is n x 2, y the blob."""
    g = torch.Generator().manual_seed(seed)
    y = class_labels(n, classes, g)
    a = torch.arange(classes) * (2 * math.pi / classes)
    centers = 3.0 * torch.stack([torch.cos(a), torch.sin(a)], 1)
    x = centers[y] + std * torch.randn(n, 2, generator=g)
    return x, y


def sine(n: int = 1000, noise: float = 0.1, seed: int = 0):
    """Regression: x uniform in [-pi, pi] (n x 1), y = sin(x) + noise (n x 1)."""
    g = torch.Generator().manual_seed(seed)
    x = (torch.rand(n, 1, generator=g) * 2 - 1) * math.pi
    y = torch.sin(x) + noise * torch.randn(n, 1, generator=g)
    return x, y


def shapes(n: int = 600, noise: float = 0.1, seed: int = 0):
    """28x28 grey images of a circle (0), square (1) or triangle (2): x is n x 1 x 28 x 28."""
    g = torch.Generator().manual_seed(seed)
    y = class_labels(n, 3, g)
    return draw_shapes(y, noise, g), y


def draw_shapes(y: torch.Tensor, noise: float, g: torch.Generator, size: int = 28) -> torch.Tensor:
    """One image per label, at a random place and size, with Gaussian noise, clamped to [0, 1]."""
    n = len(y)
    cx = (9 + 10 * torch.rand(n, 1, 1, generator=g))
    cy = (9 + 10 * torch.rand(n, 1, 1, generator=g))
    r = 5 + 3 * torch.rand(n, 1, 1, generator=g)
    yy, xx = torch.meshgrid(torch.arange(size, dtype=torch.float32), torch.arange(size, dtype=torch.float32), indexing="ij")
    dx, dy = xx - cx, yy - cy
    circle = dx**2 + dy**2 <= r**2
    square = torch.maximum(dx.abs(), dy.abs()) <= 0.8 * r
    triangle = (dy >= -r) & (dy <= r * 0.8) & (dx.abs() <= (dy + r) * 0.55)
    lab = y.view(n, 1, 1)
    img = torch.where(lab == 0, circle, torch.where(lab == 1, square, triangle)).float()
    img = img + noise * torch.randn(n, size, size, generator=g)
    return img.clamp_(0, 1).unsqueeze(1)
