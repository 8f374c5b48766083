"""Multiply-accumulates of a block counted from the operations it really runs.

A declaration may state its MACs (Linear, Conv...: a formula is cheaper than counting). Any
other block, a torchvision Backbone above all, is counted while shape inference runs its
forward on ``meta`` tensors: ``FlopCounterMode`` sees every matrix product and convolution
the network performs, so a ResNet counts what it computes, not what someone wrote down.
FLOPs there are two per multiply-accumulate, and the batch the forward ran with is divided
out: Studio reports MACs per sample.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from torch.utils.flop_counter import FlopCounterMode


class MacCounter:
    """What one counted forward found; ``macs`` is ``None`` until the forward finished."""

    def __init__(self) -> None:
        self.macs: int | None = None


@contextlib.contextmanager
def count_macs(batch: int) -> Iterator[MacCounter]:
    """Count the MACs per sample of the code run inside (``batch``: its batch size, 1 when the
    inputs have none)."""
    result = MacCounter()
    with FlopCounterMode(display=False) as counter:
        yield result
    result.macs = int(counter.get_total_flops()) // 2 // max(batch, 1)
