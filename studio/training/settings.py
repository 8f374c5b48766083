"""Training settings: the plain dict stored in the project file, and its checks.

`TrainingSettings.from_dict` never raises: missing keys get defaults, unknown keys are dropped and
values of the wrong type are kept as they are so that `validate()` can name them for the user.
"""

from __future__ import annotations

import copy
import math
import os
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from studio.blocks.params import MAX_DIM, Bool, Choice, Float, Int, Param, ParamError
from studio.training import kinds
from studio.training.options import Number, check_option, option_problems

SETTINGS_VERSION = 4  # 2: workers "auto" (version 1 files held the old default, 0); 4: `augment`

OPTIMIZER_IMPLEMENTATIONS = ("auto", "for-loop", "foreach", "fused")
PRECISIONS = ("none", "bf16", "fp16")

AUTO = "auto"
MAX_AUTO_WORKERS = 4


@dataclass(frozen=True)
class Workers(Param):
    """DataLoader worker processes: a number, or "auto" (`auto_workers`)."""

    max: int = 256
    kind = "workers"

    def coerce(self, value: Any, name: str = "value") -> int | str:
        if value == AUTO:
            return AUTO
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= self.max:
            raise ParamError(f"{name} must be auto or a whole number from 0 to {self.max} (got {_short(value)}).")
        return value


def auto_workers(data: Any) -> int:
    """What "auto" means for a dataset spec: data read file by file as batches need them (a
    dataset kind declared `lazy`: an image folder) decode in min(4, CPUs - 1) worker processes,
    so the training process is not the one decoding; data held in memory need none (a worker
    would only copy tensors it could slice, and each costs a process start). One worker is not
    worth it: on 2 CPUs it only moved the decoding and the epoch took 6% longer (2,000 64x64
    augmented PNGs, a small CNN: 18.2-18.5 s against 17.1-17.4 s), so below two it is 0."""
    try:
        lazy = isinstance(data, dict) and kinds.get_dataset(data.get("kind")).lazy
    except KeyError:
        lazy = False
    n = min(MAX_AUTO_WORKERS, (os.cpu_count() or 1) - 1)
    return n if lazy and n >= 2 else 0


# The run-wide settings, declared like the kinds' options (type, default, bounds, message).
GENERAL: dict[str, Param] = {
    "val_split": Number(0.2, "Validation split", min=0.0, max=1.0, exclusive_max=True),
    "epochs": Int(10, "Epochs", min=1, max=1_000_000),
    "batch_size": Int(64, "Batch size", min=1, max=MAX_DIM),
    "seed": Int(0, "Seed", min=0, max=2**32 - 1),
    "workers": Workers(AUTO, "Data loader workers"),
    "report_every": Int(1000, "Report interval (steps)", min=1, max=10**9),
    "report_seconds": Float(0.1, "Report interval (seconds)", min=0.0),
    "grad_clip": Float(0.0, "Gradient clipping", min=0.0),
    "shuffle": Bool(True, "Shuffle"),
    "balanced": Bool(False, "Balanced sampling", "Draw each class about equally often (unbalanced classes)"),
}
EARLY_STOPPING: dict[str, Param] = {
    "enabled": Bool(False, "Early stopping"),
    "patience": Int(5, "Early stopping patience", min=1, max=1_000_000),
    "min_delta": Float(0.0, "Early stopping minimum change", min=0.0),
}
IMPLEMENTATION = Choice("auto", "Optimizer implementation", options=OPTIMIZER_IMPLEMENTATIONS)


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
    class_weights: bool = False  # cross_entropy: weigh each class by n / (k * its count)
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
    augment: list = field(default_factory=list)  # the augmentation pipeline (`studio.training.transforms`)
    epochs: int = 10
    batch_size: int = 64
    shuffle: bool = True
    balanced: bool = False  # draw the classes about equally often (`runtime.balance`)
    seed: int = 0
    optimizer: OptimizerSettings = field(default_factory=OptimizerSettings)
    loss: LossSettings = field(default_factory=LossSettings)
    schedule: ScheduleSettings = field(default_factory=ScheduleSettings)
    grad_clip: float = 0.0  # max gradient norm, 0 = off
    monitor: str = "val_loss"  # best checkpoint, early stopping, reduce_on_plateau
    early_stopping: EarlyStoppingSettings = field(default_factory=EarlyStoppingSettings)
    device: str = "auto"  # auto | cpu | cuda | cuda:N | mps
    precision: str = "none"  # none | bf16 | fp16 (CUDA only)
    workers: int | str = AUTO  # DataLoader worker processes, or "auto" (`resolved_workers`)
    report_seconds: float = 0.1  # metrics are read back (one device sync) at most this often...
    report_every: int = 1000  # ...and at least every this many steps
    version: int = SETTINGS_VERSION

    # -- persistence ---------------------------------------------------------------------------

    @classmethod
    def from_dict(cls, d: dict | None) -> TrainingSettings:
        d = migrate(dict(d or {}))
        settings = cls()
        _fill(settings, d)
        # the chosen kind's own defaults (SGD's rate is not Adam's) where the file gives none
        for section, lookup in _SECTIONS.items():
            given = d.get(section) if isinstance(d.get(section), dict) else {}
            current = getattr(settings, section)
            try:
                kind = lookup(current.name)
            except KeyError:
                continue
            for key, param in kind.options.items():
                if key not in given and hasattr(current, key):
                    setattr(current, key, param.default)
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
    def loss_kind(self) -> kinds.LossKind | None:
        try:
            return kinds.get_loss(self.loss.name)
        except KeyError:
            return None

    @property
    def task(self) -> str:
        """'classification' or 'regression', decided by the loss."""
        kind = self.loss_kind
        return kind.task if kind else "classification"

    @property
    def metric_name(self) -> str:
        """The second metric shown next to the loss."""
        kind = self.loss_kind
        return kind.metric if kind else "accuracy"

    @property
    def has_validation(self) -> bool:
        return bool(self.val_data) or _is_number(self.val_split) and self.val_split > 0

    def resolved_workers(self) -> int:
        """The number of DataLoader workers this run uses ("auto": `auto_workers` of the data)."""
        return auto_workers(self.data) if self.workers == AUTO else int(self.workers)

    def resolved_monitor(self) -> str:
        """The monitored metric; `val_*` falls back to `train_*` when there is no validation data."""
        m = self.monitor if isinstance(self.monitor, str) else "val_loss"
        if m.endswith("_metric"):
            m = m[: -len("metric")] + self.metric_name
        if m.startswith("val_") and not self.has_validation:
            m = "train_" + m[4:]
        return m

    def monitor_mode(self) -> str:
        return "max" if self.resolved_monitor().endswith("accuracy") else "min"

    # -- checks --------------------------------------------------------------------------------

    def validate(self, data: bool = True) -> list[str]:
        """Problems a beginner can fix, one sentence each; empty when the settings are usable.
        `data=False` leaves out the dataset specs (a Trainer given data already loaded)."""
        errs: list[str] = option_problems(GENERAL, {k: getattr(self, k) for k in GENERAL})
        if data:
            errs += _data_problems(self.data, "")
        if data and self.val_data is not None:
            errs += _data_problems(self.val_data, "The separate validation dataset: ")
        if self.augment or not isinstance(self.augment, list):
            from studio.training.transforms import data_of, pipeline_problems

            errs += pipeline_problems(self.augment, data_of(self.data))
        for section, lookup in _SECTIONS.items():
            values = getattr(self, section)
            try:
                kind = lookup(values.name)
            except KeyError as e:
                errs.append(e.args[0])
                continue
            errs += kind.problems({k: v for k, v in asdict(values).items() if k != "name"})
        problem = check_option(IMPLEMENTATION, self.optimizer.implementation, IMPLEMENTATION.label)
        errs += [problem] if problem else []
        errs += self._monitor_problems()
        es = self.early_stopping
        errs += option_problems(EARLY_STOPPING, {"enabled": es.enabled})
        if es.enabled:
            errs += option_problems(EARLY_STOPPING, {"patience": es.patience, "min_delta": es.min_delta})

        dev = self.device if isinstance(self.device, str) else ""
        if not (dev in ("auto", "cpu", "cuda", "mps") or _is_cuda_index(dev)):
            errs.append(f"Unknown device {_short(self.device)}; use auto, cpu, cuda, cuda:N or mps.")
        if self.precision not in PRECISIONS:
            errs.append(f"Unknown precision {_short(self.precision)}; choose none, bf16 or fp16.")
        elif self.precision != "none" and dev in ("cpu", "mps"):
            errs.append(f"Mixed precision ({self.precision}) needs a CUDA GPU; set precision to none on {dev}.")
        return errs

    def _monitor_problems(self) -> list[str]:
        metrics = ("loss", *dict.fromkeys(k.metric for k in kinds.LOSSES.values()))
        monitor = self.monitor if isinstance(self.monitor, str) else ""
        parts = monitor.split("_", 1)
        if len(parts) != 2 or parts[0] not in ("train", "val") or parts[1] not in metrics + ("metric",):
            listed = ", ".join(f"{side}_{m}" for m in metrics for side in ("train", "val"))
            return [f"Monitored metric {_short(self.monitor)} is not one of {listed}."]
        if parts[1] not in ("loss", "metric") and parts[1] != self.metric_name:
            return [
                f"Monitored metric '{self.monitor}' does not exist for {self.task}; "
                f"use {parts[0]}_{self.metric_name} or {parts[0]}_loss."
            ]
        return []


_SECTIONS = {"optimizer": kinds.get_optimizer, "loss": kinds.get_loss, "schedule": kinds.get_schedule}


def _data_problems(spec: Any, prefix: str) -> list[str]:
    if not isinstance(spec, dict) or not spec.get("kind"):
        return [f"{prefix}Choose a dataset (the data settings have no 'kind')."]
    try:
        kind = kinds.get_dataset(spec["kind"])
    except KeyError as e:
        return [prefix + e.args[0]]
    return [prefix + p for p in kind.problems(spec)]


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def migrate(d: dict) -> dict:
    """Bring an older settings dict up to SETTINGS_VERSION.

    Files written before the dataset kinds were declared may hold whole numbers as floats in
    dataset options (`"n": 1000.0`), which the loaders used to round; the declarations take
    whole numbers only, so those become ints here and the file keeps training.

    Version 1 files hold `workers: 0`, the old default, written by every save: they become
    "auto" (a number other than 0 was the user's choice and stays).
    """
    if d.get("version") == 1 and d.get("workers") == 0:
        d["workers"] = AUTO
    if not isinstance(d.get("version"), int) or d["version"] < 4:
        _checkbox_to_pipeline(d)
    for key in ("data", "val_data"):
        spec = d.get(key)
        try:
            options = kinds.get_dataset(spec.get("kind")).options if isinstance(spec, dict) else None
        except KeyError:
            continue
        if options:
            d[key] = {k: _whole(v) if k in options and options[k].kind == "int" else v for k, v in spec.items()}
    return d


def _checkbox_to_pipeline(d: dict) -> None:
    """Version 4: the data's "augment" checkbox became the `augment` pipeline that does the same
    (`transforms.old_checkbox`); a separate validation set's checkbox never applied and goes."""
    from studio.training.transforms import old_checkbox

    for key in ("data", "val_data"):
        spec = d.get(key)
        if isinstance(spec, dict) and "augment" in spec:
            spec = d[key] = dict(spec)
            on = spec.pop("augment")
            if on is True and key == "data" and "augment" not in d:
                try:
                    flip = kinds.get_dataset(spec.get("kind")).flip
                except KeyError:
                    flip = False
                d["augment"] = old_checkbox(spec.get("kind"), flip)


def _whole(v: Any) -> Any:
    return int(v) if isinstance(v, float) and v.is_integer() and abs(v) < 2**53 else v


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
