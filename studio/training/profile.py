"""Where a training step's time goes, block by block, measured on the user's device.

A few real steps run (the project's data, loss and optimizer, at the batch size asked for).
During the timed steps a :class:`torch.overrides.TorchFunctionMode` sees every torch call the
model makes: each is timed and charged to the block whose generated line is running (the
same locator the memory estimate uses, so a block inside a module definition and each copy
of a repeated one get their own time). Every autograd node a call creates is timed too, with
a pre-hook and a hook, and charged to the same block: that is its backward. On a GPU each
timing synchronizes first, so the times are the kernels' (slower than an unmeasured step).

What no block owns is stated: the loss (forward and backward), the optimizer step, loading
the batch, and the rest (Python between calls, the autograd engine, gradient accumulation).
The figures are those of one measured step, the one of median time: its parts add up to it, and
a step that other work on the machine slowed is not the one shown. The median time of unmeasured
steps is reported beside it, to show what the measuring costs.
"""

from __future__ import annotations

import statistics
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import torch
from torch.overrides import TorchFunctionMode

from studio.compiler.block_places import BlockPlace, block_places
from studio.compiler.memory import BlockLocator


class ProfileError(Exception):
    """The profile cannot run; the message is one line for the user."""


@dataclass
class BlockTime:
    path: tuple[str, ...]
    name: str
    forward: float = 0.0  # seconds per step
    backward: float = 0.0

    @property
    def total(self) -> float:
        return self.forward + self.backward


@dataclass
class StepProfile:
    batch: int
    device: str
    steps: int
    #: seconds of one measured step, and of one unmeasured step
    step: float
    plain_step: float
    blocks: list[BlockTime]  # the top graph's blocks, in graph order (a use holds its inside)
    inner: list[BlockTime] = field(default_factory=list)
    loss: float = 0.0
    optimizer: float = 0.0
    data: float = 0.0
    #: the measured step less the blocks, the loss and the optimizer
    other: float = 0.0

    @property
    def attributed(self) -> float:
        return sum(b.total for b in self.blocks)

    def top(self, n: int = 5) -> list[BlockTime]:
        return sorted((b for b in self.blocks if b.total), key=lambda b: -b.total)[:n]

    def by_block(self) -> dict[str, BlockTime]:
        return {b.path[0]: b for b in self.blocks}

    def as_dict(self) -> dict[str, Any]:
        def row(b: BlockTime) -> dict[str, Any]:
            return {
                "path": list(b.path),
                "name": b.name,
                "forward_ms": b.forward * 1e3,
                "backward_ms": b.backward * 1e3,
                "share": b.total / self.step if self.step else 0.0,
            }

        return {
            "batch": self.batch,
            "device": self.device,
            "steps": self.steps,
            "step_ms": self.step * 1e3,
            "unmeasured_step_ms": self.plain_step * 1e3,
            "blocks_ms": self.attributed * 1e3,
            "loss_ms": self.loss * 1e3,
            "optimizer_ms": self.optimizer * 1e3,
            "data_ms": self.data * 1e3,
            "other_ms": self.other * 1e3,
            "blocks": [row(b) for b in self.blocks],
            "inner": [row(b) for b in self.inner],
        }


class _Timer(TorchFunctionMode):
    """Times every torch call and the backward of the nodes it creates, per block path."""

    def __init__(self, locate: BlockLocator, sync) -> None:
        super().__init__()
        self.locate = locate
        self.sync = sync
        self.forward: dict[tuple, float] = {}
        self.backward: dict[tuple, float] = {}
        self._nodes: set[int] = set()
        self._keep: list[Any] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        path = self.locate(sys._getframe(1))
        self.sync()
        t0 = time.perf_counter()
        out = func(*args, **(kwargs or {}))
        self.sync()
        self.forward[path] = self.forward.get(path, 0.0) + time.perf_counter() - t0
        if torch.is_grad_enabled():
            for t in out if isinstance(out, (tuple, list)) else (out,):
                node = getattr(t, "grad_fn", None) if isinstance(t, torch.Tensor) else None
                if node is not None and id(node) not in self._nodes:
                    self._watch(node, path)
        return out

    def _watch(self, node, path: tuple) -> None:
        """Time ``node`` and the nodes behind it this call created (a Linear on 3-d input ends in
        a view whose matrix product is one node further), up to the nodes of earlier calls."""
        todo = [node]
        while todo:
            n = todo.pop()
            if n is None or id(n) in self._nodes:
                continue
            self._nodes.add(id(n))
            self._keep.append(n)
            self._time(n, path)
            todo.extend(nxt for nxt, _ in n.next_functions)

    def _time(self, node, path: tuple) -> None:
        start = [0.0]

        def pre(grad_outputs):
            self.sync()
            start[0] = time.perf_counter()

        def post(grad_inputs, grad_outputs):
            self.sync()
            self.backward[path] = self.backward.get(path, 0.0) + time.perf_counter() - start[0]

        node.register_prehook(pre)
        node.register_hook(post)

    def reset_nodes(self) -> None:
        self._nodes.clear()
        self._keep.clear()


def profile_run(
    project,
    settings,
    batch: int | None = None,
    device: str | None = None,
    steps: int = 5,
    warmup: int = 2,
    base_dir=None,
) -> StepProfile:
    """Profile ``steps`` training steps of ``project`` (after ``warmup`` unmeasured ones)."""
    from studio.compiler.analysis import analyze
    from studio.training.control import resolve_device
    from studio.training.optim import make_loss, make_optimizer
    from studio.training.prepare import PrepareError, prepare_run

    if batch is not None:
        settings.batch_size = batch
    if device is not None:
        settings.device = device
    try:
        run = prepare_run(project, settings, base_dir=base_dir, with_code=True)
        dev = resolve_device(settings.device)
    except (PrepareError, RuntimeError, ValueError) as e:
        raise ProfileError(str(e)) from None
    model, data, code = run.model.to(dev), run.data, run.code
    model.train()
    loss_fn = make_loss(settings.loss)
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ProfileError(
            "The model has no trainable parameters; there is no training step to profile."
        )
    opt = make_optimizer(params, settings, dev)
    kind = settings.loss_kind
    float_targets = kind is not None and kind.targets.float_targets
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    n = len(data.train)
    size = min(settings.batch_size, n)

    def load(i: int):
        t0 = time.perf_counter()
        idx = [(i * size + k) % n for k in range(size)]
        samples = [data.train[j] for j in idx]
        x = torch.stack([torch.as_tensor(a) for a, _ in samples]).to(dev)
        y = torch.stack([torch.as_tensor(b) for _, b in samples]).to(dev)
        if float_targets:
            y = y.float()
        sync()
        return x, y, time.perf_counter() - t0

    def step(x, y, timer: _Timer | None):
        sync()
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        if timer is not None:  # the loss too: its backward nodes are timed (outside any block)
            with timer:
                loss = loss_fn(model(x), y)
        else:
            loss = loss_fn(model(x), y)
        sync()
        t2 = time.perf_counter()
        loss.backward()
        sync()
        t3 = time.perf_counter()
        opt.step()
        sync()
        t4 = time.perf_counter()
        return t4 - t0, t2 - t0, t3 - t2, t4 - t3

    try:
        plain, loads = [], []
        for i in range(warmup + steps):
            x, y, t_load = load(i)
            total = step(x, y, None)[0]
            if i >= warmup:
                plain.append(total)
                loads.append(t_load)
        timer = _Timer(BlockLocator(code, project.graph, model), sync)
        measured = []  # (step's seconds, its optimizer's, its calls' forward, their backward)
        for i in range(steps):
            x, y, _ = load(i)
            timer.reset_nodes()
            total, _, _, optimizer = step(x, y, timer)
            measured.append((total, optimizer, timer.forward, timer.backward))
            timer.forward, timer.backward = {}, {}
    except torch.cuda.OutOfMemoryError:
        raise ProfileError(f"Out of GPU memory at batch {size}; profile a smaller batch.") from None
    except Exception as e:  # noqa: BLE001 - a failing model is a message, never a traceback
        raise ProfileError(
            f"The training step failed: {str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__}"
        ) from None
    # the step of median time, whole: its parts add up to it, and a step that other work on
    # the machine slowed (one call preempted) is not the one shown
    step_s, optimizer_s, fwd, bwd = sorted(measured, key=lambda m: m[0])[(len(measured) - 1) // 2]
    blocks, inner = _rows(analyze(project.graph), project.graph, fwd, bwd)
    loss_s = fwd.get((), 0.0) + bwd.get((), 0.0)  # outside every block: the loss
    attributed = sum(b.total for b in blocks)
    prof = StepProfile(
        batch=size,
        device=str(dev),
        steps=steps,
        step=step_s,
        plain_step=statistics.median(plain),
        blocks=blocks,
        inner=inner,
        loss=loss_s,
        optimizer=optimizer_s,
        data=statistics.fmean(loads),
    )
    prof.other = max(step_s - attributed - prof.loss - prof.optimizer, 0.0)
    return prof


def _rows(analysis, graph, fwd: dict, bwd: dict) -> tuple[list[BlockTime], list[BlockTime]]:
    """Per block (and per block inside each use's copy) the time charged to it and inside it."""
    inner: list[BlockTime] = []
    keys = set(fwd) | set(bwd)

    def own(prefix: tuple) -> tuple[float, float]:
        """Time charged to exactly ``prefix`` and to paths no deeper row will claim."""
        return fwd.get(prefix, 0.0), bwd.get(prefix, 0.0)

    def row(place: BlockPlace) -> BlockTime:
        path = place.path
        out = BlockTime(path, place.label, *own(path))
        if place.copies is not None:
            for copy in place.copies:
                inner.extend([row(p) for p in copy.places])
            # everything under this use: the rows inside may not match every path (a
            # definition written as nn.Sequential runs in torch's code)
            prefix, use = path[:-1], path[-1]
            under = [
                k
                for k in keys
                if len(k) > len(prefix) + 0
                and k[: len(prefix)] == prefix
                and k[len(prefix)].split("#")[0] == use
                and k != path
            ]
            out.forward += sum(fwd.get(k, 0.0) for k in under)
            out.backward += sum(bwd.get(k, 0.0) for k in under)
        return out

    return [row(p) for p in block_places(analysis, graph)], inner
