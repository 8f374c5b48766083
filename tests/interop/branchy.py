"""A hand-written model with branches, used by the import tests (imported as a file)."""

import torch
import torch.nn.functional as F
from torch import nn


class Branchy(nn.Module):
    def __init__(self, classes: int = 5) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.left = nn.Sequential(nn.Conv2d(8, 8, 3, padding=1), nn.ReLU())
        self.right = nn.Conv2d(8, 8, 1)
        self.pool = nn.MaxPool2d(2, ceil_mode=True)  # no block for ceil_mode: a Custom module
        self.scale = nn.Parameter(torch.ones(1, 16, 1, 1))
        self.norm = nn.LayerNorm(16)
        self.head = nn.Linear(16, classes)
        self.aux = nn.Linear(16, 2)

    def forward(self, x):
        x = F.relu(self.bn(self.stem(x)))
        a = self.left(x)
        b = self.right(x)
        y = torch.cat([a, b - x], dim=1) * self.scale
        y = self.pool(y)
        y = y + 1.0
        tokens = y.flatten(2).transpose(1, 2)
        tokens = self.norm(tokens)
        pooled = tokens.mean(dim=1)
        v = y.view(y.size(0), -1)[:, :16]
        s = pooled + v + pooled
        return self.head(s), self.aux(torch.sigmoid(s)) / 2


class Gate(nn.Module):
    """Data-dependent control flow: torch.fx cannot trace it."""

    def __init__(self, width: int = 8) -> None:
        super().__init__()
        self.fc = nn.Linear(width, width)

    def forward(self, x):
        if x.sum() > 0:
            return self.fc(x)
        return -self.fc(x)


class Chunky(nn.Module):
    """Uses torch.chunk, which has no block (several outputs)."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(8, 8)

    def forward(self, x):
        a, b = torch.chunk(self.fc(x), 2, dim=1)
        return a * b


class Shared(nn.Module):
    """One Linear called twice: its weights are shared."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        return self.fc(torch.relu(self.fc(x)))


def halve(x):
    """A function of the model's own (not torch's): it has no block."""
    return x / 2


torch.fx.wrap("halve")


class Wrapped(nn.Module):
    def forward(self, x):
        return halve(x) + 1
