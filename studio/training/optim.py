"""Optimizers, losses and learning-rate schedules built from `TrainingSettings`.

`optimizer_spec` returns the class name and keyword arguments so the code exporter can emit exactly
what the trainer uses (including the fused/foreach choice).
"""

from __future__ import annotations

import functools
import math

import torch
from torch import nn

from studio.training.settings import LossSettings, TrainingSettings

_CLASSES = {"sgd": "SGD", "adam": "Adam", "adamw": "AdamW", "rmsprop": "RMSprop", "adagrad": "Adagrad"}
_FUSED_OK = {"sgd", "adam", "adamw", "adagrad"}  # torch has fused kernels for these


def optimizer_spec(settings: TrainingSettings, device: torch.device | str) -> tuple[str, dict]:
    """('Adam', {'lr': ..., 'foreach': True, ...}) for `getattr(torch.optim, name)(params, **kwargs)`."""
    name, kw = optimizer_arguments(settings)
    kw.update(_implementation(settings.optimizer.name, settings.optimizer.implementation, torch.device(device)))
    return name, kw


def optimizer_arguments(settings: TrainingSettings) -> tuple[str, dict]:
    """('Adam', {'lr': ..., 'betas': ..., 'eps': ..., 'weight_decay': ...}): the class and its
    hyper-parameters, without the implementation choice (see `implementation_options`)."""
    o = settings.optimizer
    kw: dict = {"lr": float(o.lr)}
    if o.name == "sgd":
        kw.update(momentum=float(o.momentum), nesterov=bool(o.nesterov))
    elif o.name in ("adam", "adamw"):
        kw.update(betas=(float(o.beta1), float(o.beta2)), eps=float(o.eps))
    elif o.name == "rmsprop":
        kw.update(alpha=float(o.alpha), eps=float(o.eps), momentum=float(o.momentum))
    elif o.name == "adagrad":
        kw.update(eps=float(o.eps))
    kw["weight_decay"] = float(o.weight_decay)
    return _CLASSES[o.name], kw


def implementation_options(name: str, choice: str) -> list[dict]:
    """The implementation keyword arguments to try, best first: the trainer takes the first the
    device supports (``fused`` where torch has a fused kernel for it, else ``foreach``); code that
    does not know its device yet (the training script) tries them in this order."""
    if choice == "for-loop":
        return [{"foreach": False}]
    if choice == "foreach" or name not in _FUSED_OK:
        return [{"foreach": True}]
    return [{"fused": True}, {"foreach": True}]


def _implementation(name: str, choice: str, device: torch.device) -> dict:
    # fused and auto: one fused kernel per step where torch has it for this device (CUDA, and CPU
    # in recent torch: about 20% faster per step than the for-loop for a small MLP with Adam),
    # otherwise the multi-tensor (foreach) path
    options = implementation_options(name, choice)
    if len(options) > 1 and not _fused_supported(name, device):
        return options[-1]
    return options[0]


@functools.cache
def _fused_supported(name: str, device: torch.device) -> bool:
    if name not in _FUSED_OK:
        return False
    if device.type == "cuda" and not torch.cuda.is_available():  # exporting for a GPU from a CPU machine
        return name in ("sgd", "adam", "adamw")
    try:
        p = torch.zeros(1, device=device, requires_grad=True)
        getattr(torch.optim, _CLASSES[name])([p], lr=0.1, fused=True)
        return True
    except (RuntimeError, ValueError, TypeError, AssertionError):
        return False


def make_optimizer(params, settings: TrainingSettings, device) -> torch.optim.Optimizer:
    name, kw = optimizer_spec(settings, device)
    return getattr(torch.optim, name)(params, **kw)


def loss_spec(loss: LossSettings) -> tuple[str, dict]:
    """('CrossEntropyLoss', {'label_smoothing': 0.1}) for `getattr(torch.nn, name)(**kwargs)`."""
    n = loss.name
    if n == "cross_entropy":
        return "CrossEntropyLoss", ({"label_smoothing": float(loss.label_smoothing)} if loss.label_smoothing else {})
    if n == "smooth_l1":
        return "SmoothL1Loss", {"beta": float(loss.delta)}
    if n == "huber":
        return "HuberLoss", {"delta": float(loss.delta)}
    simple = {"nll": "NLLLoss", "mse": "MSELoss", "l1": "L1Loss", "bce_with_logits": "BCEWithLogitsLoss"}
    if n in simple:
        return simple[n], {}
    raise ValueError(f"unknown loss {n!r}")


def make_loss(loss: LossSettings) -> nn.Module:
    name, kw = loss_spec(loss)
    return getattr(nn, name)(**kw)


class LRSchedule:
    """Learning rate per optimizer step: base * warm-up * shape * plateau scale.

    Shapes follow torch's StepLR, CosineAnnealingLR and OneCycleLR (cosine annealing) formulas,
    evaluated per step so the curve is smooth; reduce-on-plateau scales at epoch ends.
    `step()` costs a few float operations; `active` is False when the rate never changes.
    """

    def __init__(self, optimizer: torch.optim.Optimizer, settings: TrainingSettings, steps_per_epoch: int):
        s = settings.schedule
        self.optimizer = optimizer
        self.name = s.name
        self.base = [g["lr"] for g in optimizer.param_groups]
        self.spe = max(1, steps_per_epoch)
        self.total = max(1, settings.epochs * self.spe)
        self.warmup = int(round(float(s.warmup_epochs) * self.spe))
        self.s = s
        self.step_count = 0
        self.scale = 1.0  # reduce-on-plateau multiplier
        self.best: float | None = None
        self.bad_epochs = 0
        self.mode = settings.monitor_mode()
        self.active = self.name != "none" or self.warmup > 0
        self._apply()

    def factor(self, t: int) -> float:
        s, f = self.s, 1.0
        if self.warmup and t < self.warmup:
            f = (t + 1) / (self.warmup + 1)
        if self.name == "step":
            f *= s.gamma ** (t // (s.step_size * self.spe))
        elif self.name == "cosine":
            span = max(1, self.total - self.warmup)
            p = min(1.0, max(0, t - self.warmup) / span)
            return f, p
        elif self.name == "one_cycle":
            up = max(1, int(s.pct_start * self.total) - 1)
            lo, end = 1 / 25.0, 1 / 25.0 / 1e4
            if t <= up:
                return _cos(lo, 1.0, t / up), None
            return _cos(1.0, end, min(1.0, (t - up) / max(1, self.total - 1 - up))), None
        return f, None

    def lr_at(self, t: int) -> list[float]:
        f, cos_p = self.factor(t)
        out = []
        for base in self.base:
            if cos_p is not None:
                floor = min(self.s.min_lr, base)
                lr = floor + (base - floor) * 0.5 * (1 + math.cos(math.pi * cos_p))
                lr *= f
            else:
                lr = base * f
            lr *= self.scale
            if self.name == "reduce_on_plateau":
                lr = max(lr, min(self.s.min_lr, base))
            out.append(lr)
        return out

    def _apply(self) -> None:
        for g, lr in zip(self.optimizer.param_groups, self.lr_at(self.step_count), strict=True):
            g["lr"] = lr

    def step(self) -> None:
        self.step_count += 1
        self._apply()

    def epoch_end(self, monitored: float | None) -> None:
        if self.name != "reduce_on_plateau" or monitored is None or math.isnan(monitored):
            return
        better = self.best is None or (
            monitored < self.best if self.mode == "min" else monitored > self.best
        )
        if better:
            self.best, self.bad_epochs = monitored, 0
        else:
            self.bad_epochs += 1
            if self.bad_epochs > self.s.patience:
                self.scale *= self.s.factor
                self.bad_epochs = 0
                self._apply()

    @property
    def lr(self) -> float:
        return self.optimizer.param_groups[0]["lr"]

    def state_dict(self) -> dict:
        return {"step": self.step_count, "scale": self.scale, "best": self.best, "bad_epochs": self.bad_epochs}

    def load_state_dict(self, d: dict) -> None:
        self.step_count, self.scale = int(d["step"]), float(d["scale"])
        self.best, self.bad_epochs = d["best"], int(d["bad_epochs"])
        self._apply()


def _cos(start: float, end: float, p: float) -> float:
    return end + (start - end) / 2.0 * (math.cos(math.pi * p) + 1)
