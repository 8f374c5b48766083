"""The run settings form: a declared list of fields over the `project.training` dict.

Each edit builds a new dict, checks it with `TrainingSettings.validate()` as you type (the field
turns red and the message shows) and, when valid, emits `edited(dict, key)`; the panel pushes it as
an undoable command. `load(dict)` shows a dict (project opened, undo/redo) without emitting.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from studio.training.settings import LOSSES, OPTIMIZERS, PRECISIONS, SCHEDULES, TrainingSettings

DATASETS = ("spirals", "moons", "blobs", "sine", "shapes", "csv", "image_folder", "mnist", "fashion_mnist", "cifar10")
DATA_OPTIONS = {  # dataset kind -> option keys shown
    "spirals": ("n", "noise", "classes"), "moons": ("n", "noise"), "blobs": ("n", "classes", "std"),
    "sine": ("n", "noise"), "shapes": ("n", "noise"), "csv": ("path", "target"),
    "image_folder": ("path", "channels", "augment"), "mnist": ("augment",), "fashion_mnist": ("augment",),
    "cifar10": ("augment",),
}
DATA_KINDS = {"n": "int", "classes": "int", "channels": "int", "noise": "float", "std": "float",
              "path": "text", "target": "text", "augment": "bool"}
DATA_LABELS = {"n": "Samples", "noise": "Noise", "classes": "Classes", "std": "Spread (std)", "path": "File / folder",
               "target": "Target column", "channels": "Channels", "augment": "Augment"}


@dataclass(frozen=True)
class Field:
    path: tuple[str, ...]  # keys into the settings dict
    label: str
    kind: str  # choice | int | float | text | bool
    options: tuple = ()
    when: Any = None  # dict -> bool: shown only when true
    write: Any = None  # (settings dict, value) -> None, where the value is not simply stored at `path`
    tip: str = ""


def _get(d: dict, path: tuple[str, ...], default=None):
    for k in path:
        if not isinstance(d, dict) or k not in d:
            return default
        d = d[k]
    return d


def _set(d: dict, path: tuple[str, ...], value) -> None:
    for k in path[:-1]:
        if not isinstance(d.get(k), dict):
            d[k] = {}
        d = d[k]
    if value is None:
        d.pop(path[-1], None)
    else:
        d[path[-1]] = value


def _opt(name):
    return lambda d: _get(d, ("optimizer", "name"), "adam") in name


def _data(*kinds):
    return lambda d: _get(d, ("data", "kind"), "") in kinds


def _val_spec(data: dict, path: str) -> dict:
    """The validation set reads like the training set (kind, target column, channels...), from
    another file or folder, and is never augmented."""
    spec = {**data, "path": path}
    if "augment" in spec:
        spec["augment"] = False
    return spec


def _write_val_path(d: dict, path) -> None:
    """A separate validation file or folder (empty: back to a split of the training data)."""
    if path is None:
        d.pop("val_data", None)
    else:
        d["val_data"] = _val_spec(d.get("data", {}), path)


def _sync_val_data(d: dict) -> None:
    if isinstance(d.get("val_data"), dict) and "path" in d["val_data"]:
        d["val_data"] = _val_spec(d.get("data", {}), d["val_data"]["path"])


def _sched(*names):
    return lambda d: _get(d, ("schedule", "name"), "none") in names


def _loss(*names):
    return lambda d: _get(d, ("loss", "name"), "cross_entropy") in names


def _early(d) -> bool:
    return bool(_get(d, ("early_stopping", "enabled"), False))


# "metric" is accuracy for classification, MAE for regression
MONITORS = ("val_loss", "val_metric", "train_loss", "train_metric")


FIELDS = (
    Field(("data", "kind"), "Dataset", "choice", DATASETS),
    *(Field(("data", k), DATA_LABELS[k], DATA_KINDS[k],
            when=lambda d, k=k: k in DATA_OPTIONS.get(_get(d, ("data", "kind"), ""), ()))
      for k in DATA_LABELS),
    Field(("val_data", "path"), "Validation set", "text", when=_data("csv", "image_folder"),
          write=_write_val_path, tip="A file or folder of validation data read like the training data; "
                                     "empty: hold out the validation split instead"),
    Field(("val_split",), "Validation split", "float", when=lambda d: not d.get("val_data")),
    Field(("epochs",), "Epochs", "int"),
    Field(("batch_size",), "Batch size", "int"),
    Field(("optimizer", "name"), "Optimizer", "choice", OPTIMIZERS),
    Field(("optimizer", "lr"), "Learning rate", "float"),
    Field(("optimizer", "weight_decay"), "Weight decay", "float"),
    Field(("optimizer", "momentum"), "Momentum", "float", when=_opt(("sgd", "rmsprop"))),
    Field(("optimizer", "beta1"), "Beta 1", "float", when=_opt(("adam", "adamw"))),
    Field(("optimizer", "beta2"), "Beta 2", "float", when=_opt(("adam", "adamw"))),
    Field(("optimizer", "nesterov"), "Nesterov", "bool", when=_opt(("sgd",)), tip="Nesterov momentum"),
    Field(("loss", "name"), "Loss", "choice", LOSSES),
    Field(("loss", "label_smoothing"), "Label smoothing", "float", when=_loss("cross_entropy")),
    Field(("loss", "delta"), "Delta", "float", when=_loss("huber", "smooth_l1"),
          tip="Where the loss turns from squared to linear (Huber delta, smooth L1 beta)"),
    Field(("schedule", "name"), "LR schedule", "choice", SCHEDULES),
    Field(("schedule", "warmup_epochs"), "Warm-up epochs", "float", when=lambda d: not _sched("one_cycle")(d)),
    Field(("schedule", "step_size"), "Step size (epochs)", "int", when=_sched("step")),
    Field(("schedule", "gamma"), "Decay factor", "float", when=_sched("step")),
    Field(("schedule", "pct_start"), "Rising share", "float", when=_sched("one_cycle"),
          tip="The share of the steps in which the learning rate rises (pct_start)"),
    Field(("schedule", "factor"), "Plateau factor", "float", when=_sched("reduce_on_plateau")),
    Field(("schedule", "patience"), "Plateau patience", "int", when=_sched("reduce_on_plateau")),
    Field(("schedule", "min_lr"), "Minimum LR", "float", when=_sched("cosine", "reduce_on_plateau")),
    Field(("grad_clip",), "Gradient clipping", "float"),
    Field(("monitor",), "Monitor", "choice", MONITORS,
          tip="The metric that picks the best checkpoint, and drives early stopping and the plateau "
              "schedule; 'metric' is accuracy or MAE"),
    Field(("early_stopping", "enabled"), "Early stopping", "bool"),
    Field(("early_stopping", "patience"), "Patience", "int", when=_early,
          tip="Stop after this many epochs without improvement of the monitored metric"),
    Field(("early_stopping", "min_delta"), "Min. change", "float", when=_early,
          tip="The smallest change that counts as an improvement"),
    Field(("shuffle",), "Shuffle", "bool"),
    Field(("workers",), "Loader workers", "int", tip="DataLoader worker processes (0: load in the training process)"),
    Field(("device",), "Device", "choice", ("auto", "cpu", "cuda", "mps")),
    Field(("precision",), "Precision", "choice", PRECISIONS),
    Field(("seed",), "Seed", "int"),
)


def _parse(kind: str, text: str):
    """The typed value, or the raw text (so validate() can name it), or None for empty."""
    text = text.strip()
    if not text:
        return None
    try:
        return int(text) if kind == "int" else float(text)
    except ValueError:
        return text


class SettingsForm(QWidget):
    edited = Signal(object, str)  # new settings dict (valid), key of the changed field

    def __init__(self, parent=None):
        super().__init__(parent)
        self._dict: dict = {}
        self._loading = False
        self.form = QFormLayout()
        self.form.setContentsMargins(4, 4, 4, 4)
        self.editors: dict[tuple, QWidget] = {}
        for f in FIELDS:
            w = self._make(f)
            w.setToolTip(f.tip)
            self.editors[f.path] = w
            self.form.addRow(f.label, w)
        self.errors = QLabel()
        self.errors.setWordWrap(True)
        self.errors.setStyleSheet("color: #c62828;")
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.addLayout(self.form)
        box.addWidget(self.errors)
        box.addStretch(1)

    def _make(self, f: Field) -> QWidget:
        if f.kind == "choice":
            w = QComboBox()
            w.addItems(list(f.options))
            w.currentTextChanged.connect(lambda text, f=f: self._changed(f, text))
        elif f.kind == "bool":
            w = QCheckBox()
            w.toggled.connect(lambda on, f=f: self._changed(f, bool(on)))
        else:
            w = QLineEdit()
            w.textEdited.connect(lambda text, f=f: self._changed(f, text))
        return w

    # ------------------------------------------------------------------ model -> form
    def load(self, settings: dict) -> None:
        self._dict = copy.deepcopy(settings or {})
        shown = TrainingSettings.from_dict(self._dict).to_dict()
        self._loading = True
        try:
            for f in FIELDS:
                w = self.editors[f.path]
                value = _get(self._dict, f.path, _get(shown, f.path))
                if isinstance(w, QComboBox):
                    if w.findText(str(value)) < 0:
                        w.addItem(str(value))
                    w.setCurrentText(str(value))
                elif isinstance(w, QCheckBox):
                    w.setChecked(bool(value))
                else:
                    w.setText("" if value is None else _fmt(value))
                    w.setPlaceholderText("default")
        finally:
            self._loading = False
        self._show_visibility()
        self._check(self._dict)

    def settings(self) -> dict:
        return copy.deepcopy(self._dict)

    # ------------------------------------------------------------------ form -> model
    def _changed(self, f: Field, raw) -> None:
        if self._loading:
            return
        new = copy.deepcopy(self._dict)
        if f.kind == "choice":
            value = raw
            if f.path == ("data", "kind"):
                new["data"] = {"kind": value}  # another dataset: its own defaults
                new.pop("val_data", None)
                self._set_value(f, new, value)
                self._dict = new
                self.load(new)
                self.edited.emit(copy.deepcopy(new), "data")
                return
        elif f.kind == "bool":
            value = raw
        elif f.kind == "text":
            value = raw.strip() or None
            if f.path == ("data", "target") and value is not None and value.lstrip("-").isdigit():
                value = int(value)
        else:
            value = _parse(f.kind, raw)
        self._set_value(f, new, value)
        self._dict = new
        self._show_visibility()
        if self._check(new, f):
            self.edited.emit(copy.deepcopy(new), ".".join(f.path))

    @staticmethod
    def _set_value(f: Field, d: dict, value) -> None:
        if f.write is not None:
            f.write(d, value)
        else:
            _set(d, f.path, value)
        if f.path[0] == "data":
            _sync_val_data(d)

    def _check(self, d: dict, field: Field | None = None) -> bool:
        problems = TrainingSettings.from_dict(d).validate()
        for f in FIELDS:
            w = self.editors[f.path]
            if isinstance(w, QLineEdit):
                bad = f.kind in ("int", "float") and isinstance(_get(d, f.path), str)
                w.setStyleSheet("border: 1px solid #c62828;" if bad else "")
        self.errors.setText("\n".join(problems))
        self.errors.setVisible(bool(problems))
        return not problems

    def _show_visibility(self) -> None:
        for f in FIELDS:
            visible = f.when is None or bool(f.when(self._dict))
            self.form.setRowVisible(self.editors[f.path], visible)

    def problems(self) -> list[str]:
        return TrainingSettings.from_dict(self._dict).validate()


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)
