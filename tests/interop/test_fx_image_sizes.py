"""Sizes computed from the image size with ``math.ceil`` and a branch on them (mobilevitv2's
patches: it pads a feature map that is not a multiple of its patch size): the export runs at
every image size the original runs at, padding where the original pads."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from studio.compiler import generate
from tests.interop.test_zoo import _perturbed, assert_exact


class Patches(nn.Module):
    """mobilevitv2's unfold into 3×3 patches, padded up to a multiple of 3 where needed."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)

    def forward(self, x):
        x = self.conv(x)
        B, C, H, W = x.shape
        new_h, new_w = math.ceil(H / 3) * 3, math.ceil(W / 3) * 3
        if new_h != H or new_w != W:
            x = F.interpolate(x, size=(new_h, new_w), mode="bilinear", align_corners=True)
        x = x.reshape(B, C, new_h // 3, 3, new_w // 3, 3).permute(0, 1, 3, 5, 2, 4)
        return x.reshape(B, C * 9, -1).mean(-1)


def test_a_size_rounded_up_to_a_patch_stays_computed_and_the_padding_stays():
    """Imported at 24 pixels (a multiple of 3: no padding there), the export also pads where
    the original pads (56 and 40 pixels, the import's second size and another) and runs at 30:
    ``math.ceil(H / 3)`` is written ``(H + 2) // 3``, and the graph is the one traced where the
    padding runs (at 24 it pads to the same size, which changes nothing)."""
    torch.manual_seed(0)
    model = _perturbed(Patches())
    more = [
        (torch.randn(3, 3, 56, 56),),
        (torch.randn(1, 3, 40, 40),),
        (torch.randn(2, 3, 30, 30),),
    ]
    result, _ = assert_exact(model, (torch.randn(2, 3, 24, 24),), more)
    code = generate(result.project.graph, result.project.name).source
    assert "F.interpolate(" in code and "(x.shape[2] + 2) // 3" in code
