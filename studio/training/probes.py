"""How each block is learning: gradient norm and update-to-weight ratio per block. No Qt.

`LearningProbe` is a trainer callback. At each step report (a read-back point, ~10 per second)
it takes the norms of the current gradients, one `torch._foreach_norm` over all trainable tensors
plus one host copy, and averages them over the epoch; at the epoch end it compares the weights with
a copy taken at the epoch start: ||W_end - W_start|| / ||W_start||. Parameters map to blocks
through the generated module's attribute names (`GeneratedCode.attrs`: block id -> `self.<attr>`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from studio.training.callbacks import BaseCallback

DEAD = 1e-8  # a gradient norm below this: the block does not learn
EXPLODING = 1e3  # above this (or NaN/inf): it blows up


@dataclass(frozen=True, slots=True)
class BlockLearning:
    grad_norm: float  # mean L2 norm of the block's gradient over the epoch's samples
    update_ratio: float  # ||ΔW|| / ||W|| over the epoch (nan until an epoch ends)
    frozen: bool
    epoch: int

    @property
    def state(self) -> str:
        """frozen | dead | exploding | ok"""
        if self.frozen:
            return "frozen"
        g = self.grad_norm
        if not math.isfinite(g) or g > EXPLODING:
            return "exploding"
        if g < DEAD:
            return "dead"
        return "ok"


def block_of_parameters(model: torch.nn.Module, attrs: dict[str, str]) -> dict[str, str]:
    """parameter name -> block id, from the first component of the name (`fc1.weight` -> fc1)."""
    by_attr = {a: bid for bid, a in attrs.items()}
    out = {}
    for name, _ in model.named_parameters():
        bid = by_attr.get(name.split(".", 1)[0])
        if bid is not None:
            out[name] = bid
    return out


class LearningProbe(BaseCallback):
    """Per-block learning numbers; read `latest` (dict block id -> BlockLearning) from any thread
    (it is replaced, never mutated)."""

    def __init__(self, model: torch.nn.Module, attrs: dict[str, str]):
        owner = block_of_parameters(model, attrs)
        self.blocks = sorted(set(owner.values()))
        self._frozen = {b: True for b in self.blocks}
        self._params: list[torch.Tensor] = []
        self._owner_idx: list[int] = []
        index = {b: i for i, b in enumerate(self.blocks)}
        for name, p in model.named_parameters():
            bid = owner.get(name)
            if bid is None:
                continue
            if p.requires_grad:
                self._frozen[bid] = False
                self._params.append(p)
                self._owner_idx.append(index[bid])
        self._sq_sum = [0.0] * len(self.blocks)
        self._samples = 0
        self._start: list[torch.Tensor] = []
        self.epoch = 0
        self.latest: dict[str, BlockLearning] = {
            b: BlockLearning(math.nan, math.nan, self._frozen[b], 0) for b in self.blocks
        }

    def on_run_start(self, info) -> None:
        self.epoch = info.start_epoch
        self._snapshot()

    def _snapshot(self) -> None:
        with torch.no_grad():
            self._start = [p.detach().clone() for p in self._params]

    def on_step_end(self, report) -> None:
        grads = [p.grad for p in self._params]
        have = [i for i, g in enumerate(grads) if g is not None]
        if not have:
            return
        norms = torch._foreach_norm([grads[i].detach() for i in have])
        values = torch.stack(norms).float().tolist()
        per_block = [0.0] * len(self.blocks)
        for i, v in zip(have, values, strict=True):
            per_block[self._owner_idx[i]] += v * v
        for b, sq in enumerate(per_block):
            self._sq_sum[b] += math.sqrt(sq)
        self._samples += 1
        self.latest = self._current(math.nan)

    def _current(self, ratio_by_block) -> dict[str, BlockLearning]:
        n = max(1, self._samples)
        out = {}
        for b, bid in enumerate(self.blocks):
            frozen = self._frozen[bid]
            g = 0.0 if frozen else (self._sq_sum[b] / n if self._samples else math.nan)
            r = ratio_by_block[b] if isinstance(ratio_by_block, list) else ratio_by_block
            out[bid] = BlockLearning(g, 0.0 if frozen else r, frozen, self.epoch + 1)
        return out

    def on_epoch_end(self, report) -> None:
        ratios = [0.0] * len(self.blocks)
        norms = [0.0] * len(self.blocks)
        if self._params:
            with torch.no_grad():
                diffs = torch._foreach_sub([p.detach() for p in self._params], self._start)
                d = torch.stack(torch._foreach_norm(diffs)).float().tolist()
                w = torch.stack(torch._foreach_norm(self._start)).float().tolist()
            for i, (dv, wv) in enumerate(zip(d, w, strict=True)):
                b = self._owner_idx[i]
                ratios[b] += dv * dv
                norms[b] += wv * wv
        ratio = [math.sqrt(r) / math.sqrt(n) if n > 0 else math.nan for r, n in zip(ratios, norms, strict=True)]
        self.latest = self._current(ratio)
        self.epoch = report.epoch
        self._sq_sum = [0.0] * len(self.blocks)
        self._samples = 0
        self._snapshot()
