"""Optimizers, losses and learning-rate schedules built from `TrainingSettings`.

`optimizer_spec` returns the class name and keyword arguments so the code exporter can emit exactly
what the trainer uses (including the fused/foreach choice).
"""

from __future__ import annotations

import functools

import torch
from torch import nn

from studio.training.kinds import get_loss, get_optimizer, get_schedule
from studio.training.runtime import loop as runtime_loop
from studio.training.runtime import schedules as runtime
from studio.training.runtime import text as runtime_text
from studio.training.settings import LossSettings, TrainingSettings


def optimizer_spec(settings: TrainingSettings, device: torch.device | str) -> tuple[str, dict]:
    """('Adam', {'lr': ..., 'foreach': True, ...}) for `getattr(torch.optim, name)(params, **kwargs)`."""
    name, kw = optimizer_arguments(settings)
    kw.update(_implementation(settings.optimizer.name, settings.optimizer.implementation, torch.device(device)))
    return name, kw


def optimizer_arguments(settings: TrainingSettings) -> tuple[str, dict]:
    """('Adam', {'lr': ..., 'betas': ..., 'eps': ..., 'weight_decay': ...}): the class and its
    hyper-parameters, without the implementation choice (see `implementation_options`)."""
    o = settings.optimizer
    kind = get_optimizer(o.name)
    values = {k: getattr(o, k) for k in kind.options}
    return kind.torch_name, {"lr": float(o.lr), **kind.torch_arguments(values)}


def implementation_options(name: str, choice: str) -> list[dict]:
    """The implementation keyword arguments to try, best first: the trainer takes the first the
    device supports (``fused`` where torch has a fused kernel for it, else ``foreach``); code that
    does not know its device yet (the training script) tries them in this order."""
    if choice == "for-loop":
        return [{"foreach": False}]
    if choice == "foreach" or not get_optimizer(name).fused:
        return [{"foreach": True}]
    return [{"fused": True}, {"foreach": True}]


def _implementation(name: str, choice: str, device: torch.device) -> dict:
    # fused and auto: one fused kernel per step where torch has it for this device (CUDA, and the
    # CPU in recent torch), otherwise the multi-tensor (foreach) path. Measured on the CPU with
    # benchmarks/threads.py (Adam, samples/s, one thread as choose_threads gives a busy machine):
    # small MLP fused 8,069 / foreach 7,912 / for-loop 4,597 at load 17, 3,288 / 2,635 / 3,144
    # with two more busy processes; a 1024-wide MLP 1,017 / 704 / 533. Fused was never slower;
    # the 40-50 ms fused steps seen under load came from several threads waiting for each other
    # (at 2 threads under load all three collapse: 46-99 samples/s), which choose_threads avoids.
    options = implementation_options(name, choice)
    if len(options) > 1 and not _fused_supported(name, device):
        return options[-1]
    return options[0]


@functools.cache
def _fused_supported(name: str, device: torch.device) -> bool:
    kind = get_optimizer(name)
    if not kind.fused:
        return False
    if device.type == "cuda" and not torch.cuda.is_available():  # exporting for a GPU from a CPU machine
        return "cuda" in kind.fused
    try:
        p = torch.zeros(1, device=device, requires_grad=True)
        getattr(torch.optim, kind.torch_name)([p], lr=0.1, fused=True)
        return True
    except (RuntimeError, ValueError, TypeError, AssertionError):
        return False


def make_optimizer(params, settings: TrainingSettings, device) -> torch.optim.Optimizer:
    name, kw = optimizer_arguments(settings)
    implementation = _implementation(settings.optimizer.name, settings.optimizer.implementation, torch.device(device))
    return runtime_loop.make_optimizer(params, name, kw, [implementation])


def optimizer_description(optimizer: torch.optim.Optimizer) -> str:
    """'Adam (fused)': the class and the implementation it runs, for the run's summary."""
    d = optimizer.defaults
    how = "fused" if d.get("fused") else "foreach" if d.get("foreach") else "for-loop"
    return f"{type(optimizer).__name__} ({how})"


def loss_spec(loss: LossSettings) -> tuple[str, dict]:
    """('CrossEntropyLoss', {'label_smoothing': 0.1}) for `getattr(torch.nn, name)(**kwargs)`."""
    kind = get_loss(loss.name)
    return kind.torch_name, kind.torch_arguments({k: getattr(loss, k) for k in kind.options})


def make_loss(loss: LossSettings) -> nn.Module:
    name, kw = loss_spec(loss)
    return (getattr(nn, name, None) or getattr(runtime_text, name))(**kw)  # torch's, or the runtime's own


class LRSchedule:
    """Learning rate per optimizer step, set on the optimizer: the schedule kind's runtime rate
    function (`ScheduleKind.rate`), evaluated per step so the curve is smooth; a schedule that
    `uses_monitor` scales the rate down at epoch ends when the monitored metric stops improving.
    `step()` costs a few float operations; `active` is False when the rate never changes.
    """

    def __init__(self, optimizer: torch.optim.Optimizer, settings: TrainingSettings, steps_per_epoch: int):
        s = settings.schedule
        self.kind = get_schedule(s.name)
        self.rate = getattr(runtime, self.kind.rate)
        self.options = {k: getattr(s, k) for k in self.kind.options}
        self.optimizer = optimizer
        self.base = [g["lr"] for g in optimizer.param_groups]
        self.spe = max(1, steps_per_epoch)
        self.epochs = settings.epochs
        self.patience, self.factor = self.options.get("patience", 0), self.options.get("factor", 1.0)
        self.step_count = 0
        self.scale = 1.0  # reduce-on-plateau multiplier
        self.monitor = runtime.Monitor(settings.monitor_mode())
        self.active = self.kind.rate != "constant_rate" or runtime.warmup_factor(0, self.options, self.spe) < 1
        self._apply()

    def lr_at(self, t: int) -> list[float]:
        return [
            runtime.learning_rate(t, base, self.options, self.rate, self.spe, self.epochs, self.scale)
            for base in self.base
        ]

    def _apply(self) -> None:
        for g, lr in zip(self.optimizer.param_groups, self.lr_at(self.step_count), strict=True):
            g["lr"] = lr

    def step(self) -> None:
        self.step_count += 1
        self._apply()

    def epoch_end(self, monitored: float | None) -> None:
        if not self.kind.uses_monitor or self.monitor.update(monitored):
            return
        if self.monitor.bad_epochs > self.patience:
            self.scale *= self.factor
            self.monitor.state["bad_epochs"] = 0
            self._apply()

    @property
    def lr(self) -> float:
        return self.optimizer.param_groups[0]["lr"]

    def state_dict(self) -> dict:
        return {"step": self.step_count, "scale": self.scale, **self.monitor.state_dict()}

    def load_state_dict(self, d: dict) -> None:
        self.step_count, self.scale = int(d["step"]), float(d["scale"])
        self.monitor.load_state_dict(d)
        self._apply()
