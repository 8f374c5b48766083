"""Training settings: the plain dict stored in the project file, and its checks.

The optimizer, loss and schedule sections are declared nowhere but in their kinds
(`studio.training.kinds`): a section holds the chosen kind's id and exactly the options that
kind declares, each at its declared default where the file gives none, so what the settings form
shows (built from the same declarations) is what trains.

`TrainingSettings.from_dict` never raises: missing keys get defaults, values of the wrong type are
kept as they are and unknown keys are remembered, so that `validate()` can name them for the user
(an unknown key with the nearest valid one: a misspelt setting is refused, never ignored).
"""

from __future__ import annotations

import copy
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

from studio.blocks.params import MAX_DIM, Bool, Choice, Float, Int, Param, ParamError
from studio.graph.file_keys import unknown_key
from studio.training import kinds
from studio.training.options import Number, check_option, option_problems

# 2: workers "auto" (version 1 files held the old default, 0)
# 3: the optimizer, loss and schedule sections hold only their kind's options (`migrate`)
# 4: the data's `augment` checkbox became the `augment` pipeline
SETTINGS_VERSION = 4

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
    "seed": Int(0, "Seed", "Initial weights and the order of the batches.", min=0, max=2**32 - 1),
    "split_seed": Int(0, "Split seed", "Which rows the validation split holds out; fixed, so runs with "
                      "different seeds are scored on the same rows.", min=0, max=2**32 - 1),
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


class KindSettings:
    """One section chosen by kind: `name` (the kind's id) and `options`, the values of exactly the
    options that kind declares (`kinds.Kind.options`), read as attributes (`settings.optimizer.lr`).
    Subclasses name their registry (`lookup`), the kind chosen by default and any section-wide
    settings that are not a kind's option (`EXTRA`)."""

    lookup: ClassVar[Callable[[Any], kinds.Kind]]
    DEFAULT: ClassVar[str]
    EXTRA: ClassVar[dict[str, Param]] = {}

    def __init__(self, name: Any = None, options: Mapping[str, Any] | None = None, **extra: Any):
        self.__dict__["name"] = self.DEFAULT if name is None else name
        kind = self.kind
        given = dict(options or {})
        declared = kind.defaults() if kind is not None else {}
        self.__dict__["options"] = {**declared, **{k: _typed(kind, k, v) for k, v in given.items()}}
        for key, param in self.EXTRA.items():
            self.__dict__[key] = extra.get(key, param.default)

    @property
    def kind(self) -> kinds.Kind | None:
        try:
            return type(self).lookup(self.name)
        except KeyError:
            return None

    def __getattr__(self, key: str) -> Any:  # only for names that are not attributes: options
        options = self.__dict__.get("options", {})
        if key in options:
            return options[key]
        raise AttributeError(f"{self.__dict__.get('name')!r} has no option {key!r}")

    def __setattr__(self, key: str, value: Any) -> None:
        if key in self.__dict__.get("options", {}):
            self.options[key] = value
        else:
            self.__dict__[key] = value

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.to_dict()!r})"

    @classmethod
    def from_dict(cls, d: Any) -> KindSettings:
        d = d if isinstance(d, dict) else {}
        extra = {k: copy.deepcopy(d[k]) for k in cls.EXTRA if k in d}
        options = {k: copy.deepcopy(v) for k, v in d.items() if k != "name" and k not in cls.EXTRA}
        return cls(d.get("name"), options, **extra)

    def to_dict(self) -> dict:
        return {"name": self.name, **copy.deepcopy(self.options), **{k: getattr(self, k) for k in self.EXTRA}}

    def unknown(self) -> list[str]:
        """The keys the chosen kind does not declare (empty when the kind itself is unknown)."""
        kind = self.kind
        return [] if kind is None else [k for k in self.options if k not in kind.options]

    def valid_keys(self) -> list[str]:
        kind = self.kind
        return ["name", *(kind.options if kind else ()), *self.EXTRA]


class OptimizerSettings(KindSettings):
    lookup = staticmethod(kinds.get_optimizer)
    DEFAULT = "adam"
    EXTRA = {"implementation": IMPLEMENTATION}


class LossSettings(KindSettings):
    lookup = staticmethod(kinds.get_loss)
    DEFAULT = "cross_entropy"


class ScheduleSettings(KindSettings):
    lookup = staticmethod(kinds.get_schedule)
    DEFAULT = "none"


def _typed(kind: kinds.Kind | None, key: str, value: Any) -> Any:
    """A whole number given for a float option is that float (JSON writes 1.0 as 1 elsewhere)."""
    param = kind.options.get(key) if kind is not None else None
    if param is not None and param.kind == "float" and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


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
    split_seed: int = 0  # the validation split's own seed (`seed` moves the weights, not the rows)
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
    #: "Unknown ..." sentences for the keys the file holds that nothing declares (not saved)
    unknown: list[str] = field(default_factory=list, compare=False, repr=False)

    # -- persistence ---------------------------------------------------------------------------

    @classmethod
    def from_dict(cls, d: dict | None) -> TrainingSettings:
        d = migrate(copy.deepcopy(d) if isinstance(d, dict) else {})
        settings = cls()
        _fill(settings, d)
        for section, section_cls in _SECTIONS.items():
            setattr(settings, section, section_cls.from_dict(d.get(section)))
        settings.unknown = _unknown_keys(d, settings)
        settings.version = SETTINGS_VERSION
        return settings

    def to_dict(self) -> dict:
        out = {}
        for f in fields(self):
            if f.name == "unknown":
                continue
            value = getattr(self, f.name)
            if isinstance(value, KindSettings):
                out[f.name] = value.to_dict()
            elif hasattr(value, "__dataclass_fields__"):
                out[f.name] = {g.name: getattr(value, g.name) for g in fields(value)}
            else:
                out[f.name] = value
        return copy.deepcopy(out)

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
        errs: list[str] = list(self.unknown)
        errs += option_problems(GENERAL, {k: getattr(self, k) for k in GENERAL})
        if data:
            errs += _data_problems(self.data, "")
        if data and self.val_data is not None:
            errs += _data_problems(self.val_data, "The separate validation dataset: ")
        if self.augment or not isinstance(self.augment, list):
            from studio.training.transforms import data_of, pipeline_problems

            errs += pipeline_problems(self.augment, data_of(self.data))
        for section in _SECTIONS:
            values = getattr(self, section)
            try:
                kind = type(values).lookup(values.name)
            except KeyError as e:
                errs.append(e.args[0])
                continue
            errs += kind.problems({k: v for k, v in values.options.items() if k in kind.options})
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


_SECTIONS: dict[str, type[KindSettings]] = {
    "optimizer": OptimizerSettings, "loss": LossSettings, "schedule": ScheduleSettings,
}


def _unknown_keys(d: dict, settings: TrainingSettings) -> list[str]:
    top = [f.name for f in fields(TrainingSettings) if f.name != "unknown"]
    out = [unknown_key("training setting", k, top) for k in d if k not in top]
    for section in _SECTIONS:
        values = getattr(settings, section)
        out += [unknown_key(f"{section} setting", k, values.valid_keys()) for k in values.unknown()]
    es = d.get("early_stopping")
    if isinstance(es, dict):
        out += [unknown_key("early_stopping setting", k, list(EARLY_STOPPING)) for k in es if k not in EARLY_STOPPING]
    for key in ("data", "val_data"):
        spec = d.get(key)
        try:
            kind = kinds.get_dataset(spec.get("kind")) if isinstance(spec, dict) else None
        except KeyError:
            continue
        if kind is not None:
            valid = ["kind", *kind.options]
            out += [unknown_key(f"{key} setting", k, valid) for k in spec if k not in valid]
    return out


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

    Version 2 files were saved with every optimizer, loss and schedule option of every kind
    (momentum 0.9 beside Adam, which never read it): an option another kind of the section
    declares is dropped, so what remains is what trained. Any other key stays, to be refused.
    """
    version = d.get("version")
    if version == 1 and d.get("workers") == 0:
        d["workers"] = AUTO
    if isinstance(version, int) and version < 3:
        for section, section_cls in _SECTIONS.items():
            values = d.get(section)
            if not isinstance(values, dict):
                continue
            chosen = section_cls(values.get("name")).kind
            if chosen is None:
                continue
            retired = _V2_OPTIONS[section] - set(chosen.options)
            d[section] = {k: v for k, v in values.items() if k not in retired}
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


# the options version 2 wrote into every section, whatever its kind
_V2_OPTIONS = {
    "optimizer": {"lr", "weight_decay", "momentum", "nesterov", "beta1", "beta2", "eps", "alpha"},
    "loss": {"label_smoothing", "delta"},
    "schedule": {"warmup_epochs", "step_size", "gamma", "min_lr", "pct_start", "factor", "patience"},
}
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
        if f.name not in d or f.name in ("version", "unknown") or f.name in _SECTIONS:
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
