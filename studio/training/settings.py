"""Training settings: the plain dict stored in the project file, and its checks.

`TrainingSettings.from_dict` never raises: missing keys get defaults, unknown keys are dropped and
values of the wrong type are kept as they are so that `validate()` can name them for the user.
"""

from __future__ import annotations

import copy
import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any

SETTINGS_VERSION = 1

OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop", "adagrad")
OPTIMIZER_IMPLEMENTATIONS = ("auto", "for-loop", "foreach", "fused")
LOSSES = ("cross_entropy", "nll", "mse", "l1", "smooth_l1", "huber", "bce_with_logits")
CLASSIFICATION_LOSSES = ("cross_entropy", "nll", "bce_with_logits")
SCHEDULES = ("none", "step", "cosine", "one_cycle", "reduce_on_plateau")
PRECISIONS = ("none", "bf16", "fp16")
METRICS = ("loss", "accuracy", "mae")

# Per-optimizer defaults (torch's, where they differ from the shared ones below).
_OPTIMIZER_DEFAULTS = {
    "sgd": {"lr": 0.01},
    "adam": {"lr": 0.001},
    "adamw": {"lr": 0.001, "weight_decay": 0.01},
    "rmsprop": {"lr": 0.01, "momentum": 0.0},
    "adagrad": {"lr": 0.01, "eps": 1e-10},
}


@dataclass
class OptimizerSettings:
    name: str = "adam"
    lr: float = 0.001
    weight_decay: float = 0.0
    momentum: float = 0.9  # sgd, rmsprop
    nesterov: bool = False  # sgd
    beta1: float = 0.9  # adam, adamw
    beta2: float = 0.999  # adam, adamw
    eps: float = 1e-8  # adam, adamw, rmsprop, adagrad
    alpha: float = 0.99  # rmsprop smoothing constant
    implementation: str = "auto"  # auto | for-loop | foreach | fused


@dataclass
class LossSettings:
    name: str = "cross_entropy"
    label_smoothing: float = 0.0  # cross_entropy
    delta: float = 1.0  # huber delta / smooth_l1 beta


@dataclass
class ScheduleSettings:
    name: str = "none"
    warmup_epochs: float = 0.0  # linear warm-up from 0 to lr, any schedule but one_cycle
    step_size: int = 10  # step: epochs between decays
    gamma: float = 0.1  # step: decay factor
    min_lr: float = 0.0  # cosine floor, plateau floor
    pct_start: float = 0.3  # one_cycle: share of steps spent rising
    factor: float = 0.1  # reduce_on_plateau
    patience: int = 5  # reduce_on_plateau: epochs without improvement


@dataclass
class EarlyStoppingSettings:
    enabled: bool = False
    patience: int = 5
    min_delta: float = 0.0


@dataclass
class TrainingSettings:
    data: dict = field(default_factory=lambda: {"kind": "spirals"})
    val_split: float = 0.2  # fraction of `data` held out, ignored when `val_data` is set
    val_data: dict | None = None  # separate validation dataset spec
    epochs: int = 10
    batch_size: int = 64
    shuffle: bool = True
    seed: int = 0
    optimizer: OptimizerSettings = field(default_factory=OptimizerSettings)
    loss: LossSettings = field(default_factory=LossSettings)
    schedule: ScheduleSettings = field(default_factory=ScheduleSettings)
    grad_clip: float = 0.0  # max gradient norm, 0 = off
    monitor: str = "val_loss"  # best checkpoint, early stopping, reduce_on_plateau
    early_stopping: EarlyStoppingSettings = field(default_factory=EarlyStoppingSettings)
    device: str = "auto"  # auto | cpu | cuda | cuda:N | mps
    precision: str = "none"  # none | bf16 | fp16 (CUDA only)
    workers: int = 0  # DataLoader worker processes
    report_seconds: float = 0.1  # metrics are read back (one device sync) at most this often...
    report_every: int = 1000  # ...and at least every this many steps
    version: int = SETTINGS_VERSION

    # -- persistence ---------------------------------------------------------------------------

    @classmethod
    def from_dict(cls, d: dict | None) -> TrainingSettings:
        d = migrate(dict(d or {}))
        settings = cls()
        _fill(settings, d)
        given = d.get("optimizer") if isinstance(d.get("optimizer"), dict) else {}
        name = settings.optimizer.name
        for key, value in (_OPTIMIZER_DEFAULTS.get(name, {}) if isinstance(name, str) else {}).items():
            if key not in given:
                setattr(settings.optimizer, key, value)
        settings.version = SETTINGS_VERSION
        return settings

    def to_dict(self) -> dict:
        return copy.deepcopy(asdict(self))

    @classmethod
    def for_resume(cls, run: dict, form: dict) -> dict:
        """A resumed run keeps its own settings (its checkpoint fits them), and trains for more
        epochs when the form now asks for more."""
        epochs = max(int(cls.from_dict(run).epochs), int(cls.from_dict(form).epochs))
        return {**copy.deepcopy(run), "epochs": epochs}

    # -- derived -------------------------------------------------------------------------------

    @property
    def task(self) -> str:
        """'classification' or 'regression', decided by the loss."""
        return "classification" if self.loss.name in CLASSIFICATION_LOSSES else "regression"

    @property
    def metric_name(self) -> str:
        """The second metric shown next to the loss."""
        return "accuracy" if self.task == "classification" else "mae"

    @property
    def has_validation(self) -> bool:
        return bool(self.val_data) or _is_number(self.val_split) and self.val_split > 0

    def resolved_monitor(self) -> str:
        """The monitored metric; `val_*` falls back to `train_*` when there is no validation data."""
        m = self.monitor
        if m.endswith("_metric"):
            m = m[: -len("metric")] + self.metric_name
        if m.startswith("val_") and not self.has_validation:
            m = "train_" + m[4:]
        return m

    def monitor_mode(self) -> str:
        return "max" if self.resolved_monitor().endswith("accuracy") else "min"

    # -- checks --------------------------------------------------------------------------------

    def validate(self) -> list[str]:
        """Problems a beginner can fix, one sentence each; empty when the settings are usable."""
        errs: list[str] = []
        num, integer = _number_check(errs), _integer_check(errs)
        o, lo, s, es = self.optimizer, self.loss, self.schedule, self.early_stopping

        if not isinstance(self.data, dict) or not self.data.get("kind"):
            errs.append("Choose a dataset (the data settings have no 'kind').")
        if self.val_data is not None and not (isinstance(self.val_data, dict) and self.val_data.get("kind")):
            errs.append("The separate validation dataset has no 'kind'.")
        num("Validation split", self.val_split, lo=0.0, hi=1.0, hi_open=True)
        integer("Epochs", self.epochs, lo=1)
        integer("Batch size", self.batch_size, lo=1)
        integer("Seed", self.seed, lo=0)
        integer("Data loader workers", self.workers, lo=0)
        integer("Report interval (steps)", self.report_every, lo=1)
        num("Report interval (seconds)", self.report_seconds, lo=0.0)

        if o.name not in OPTIMIZERS:
            errs.append(f"Unknown optimizer '{o.name}'; choose one of {', '.join(OPTIMIZERS)}.")
        num("Learning rate", o.lr, lo=0.0, lo_open=True)
        num("Weight decay", o.weight_decay, lo=0.0)
        if o.name in ("sgd", "rmsprop"):
            num("Momentum", o.momentum, lo=0.0, hi=1.0, hi_open=True)
        if o.name == "sgd" and o.nesterov is True and _is_number(o.momentum) and o.momentum == 0:
            errs.append("Nesterov momentum needs a momentum greater than 0.")
        if o.name in ("adam", "adamw"):
            num("Beta 1", o.beta1, lo=0.0, hi=1.0, hi_open=True)
            num("Beta 2", o.beta2, lo=0.0, hi=1.0, hi_open=True)
        if o.name == "rmsprop":
            num("Alpha", o.alpha, lo=0.0, hi=1.0)
        num("Epsilon", o.eps, lo=0.0, lo_open=True)
        if o.implementation not in OPTIMIZER_IMPLEMENTATIONS:
            errs.append(
                f"Unknown optimizer implementation '{o.implementation}'; choose one of "
                f"{', '.join(OPTIMIZER_IMPLEMENTATIONS)}."
            )

        if lo.name not in LOSSES:
            errs.append(f"Unknown loss '{lo.name}'; choose one of {', '.join(LOSSES)}.")
        num("Label smoothing", lo.label_smoothing, lo=0.0, hi=1.0, hi_open=True)
        if lo.name in ("huber", "smooth_l1"):
            num("Huber delta", lo.delta, lo=0.0, lo_open=True)

        if s.name not in SCHEDULES:
            errs.append(f"Unknown learning-rate schedule '{s.name}'; choose one of {', '.join(SCHEDULES)}.")
        num("Warm-up epochs", s.warmup_epochs, lo=0.0)
        if s.name == "one_cycle" and _is_number(s.warmup_epochs) and s.warmup_epochs > 0:
            errs.append("One-cycle already warms up; set warm-up epochs to 0.")
        if s.name == "step":
            integer("Step size (epochs)", s.step_size, lo=1)
            num("Decay factor (gamma)", s.gamma, lo=0.0, hi=1.0, lo_open=True)
        if s.name in ("cosine", "reduce_on_plateau"):
            num("Minimum learning rate", s.min_lr, lo=0.0)
        if s.name == "one_cycle":
            num("Rising share (pct_start)", s.pct_start, lo=0.0, hi=1.0, lo_open=True, hi_open=True)
        if s.name == "reduce_on_plateau":
            num("Plateau factor", s.factor, lo=0.0, hi=1.0, lo_open=True, hi_open=True)
            integer("Plateau patience", s.patience, lo=0)

        num("Gradient clipping", self.grad_clip, lo=0.0)
        monitor = self.monitor if isinstance(self.monitor, str) else ""
        parts = monitor.split("_", 1)
        if len(parts) != 2 or parts[0] not in ("train", "val") or parts[1] not in METRICS + ("metric",):
            errs.append(
                f"Monitored metric '{self.monitor}' is not one of train_loss, val_loss, "
                f"train_accuracy, val_accuracy, train_mae, val_mae."
            )
        elif parts[1] in ("accuracy", "mae") and parts[1] != self.metric_name:
            errs.append(
                f"Monitored metric '{self.monitor}' does not exist for {self.task}; "
                f"use {parts[0]}_{self.metric_name} or {parts[0]}_loss."
            )
        if es.enabled:
            integer("Early stopping patience", es.patience, lo=1)
            num("Early stopping minimum change", es.min_delta, lo=0.0)

        dev = self.device if isinstance(self.device, str) else ""
        if not (dev in ("auto", "cpu", "cuda", "mps") or _is_cuda_index(dev)):
            errs.append(f"Unknown device '{self.device}'; use auto, cpu, cuda, cuda:N or mps.")
        if self.precision not in PRECISIONS:
            errs.append(f"Unknown precision '{self.precision}'; choose none, bf16 or fp16.")
        elif self.precision != "none" and dev in ("cpu", "mps"):
            errs.append(f"Mixed precision ({self.precision}) needs a CUDA GPU; set precision to none on {dev}.")
        return errs


def migrate(d: dict) -> dict:
    """Bring an older settings dict up to SETTINGS_VERSION (hook for future formats)."""
    return d


def _fill(obj: Any, d: dict) -> None:
    for f in fields(obj):
        if f.name not in d or f.name == "version":
            continue
        value, current = d[f.name], getattr(obj, f.name)
        if hasattr(current, "__dataclass_fields__"):
            if isinstance(value, dict):
                _fill(current, value)
        elif isinstance(current, bool):
            setattr(obj, f.name, value)
        elif isinstance(current, float) and isinstance(value, int) and not isinstance(value, bool):
            setattr(obj, f.name, float(value))
        else:
            setattr(obj, f.name, copy.deepcopy(value))


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _is_cuda_index(dev: str) -> bool:
    return dev.startswith("cuda:") and dev[5:].isdigit()


def _number_check(errs: list[str]):
    def check(label, v, lo=None, hi=None, lo_open=False, hi_open=False):
        if not _is_number(v):
            errs.append(f"{label} must be a number (got {v!r}).")
            return
        if lo is not None and (v <= lo if lo_open else v < lo):
            errs.append(f"{label} must be {'greater than' if lo_open else 'at least'} {lo:g} (got {v:g}).")
        elif hi is not None and (v >= hi if hi_open else v > hi):
            errs.append(f"{label} must be {'less than' if hi_open else 'at most'} {hi:g} (got {v:g}).")

    return check


def _integer_check(errs: list[str]):
    def check(label, v, lo):
        if not isinstance(v, int) or isinstance(v, bool):
            errs.append(f"{label} must be a whole number (got {v!r}).")
        elif v < lo:
            errs.append(f"{label} must be at least {lo} (got {v}).")

    return check
