"""The run settings form: a declared list of fields over the `project.training` dict.

The choices and the option rows of the dataset, optimizer, loss and schedule come from their
declarations (`studio.training.kinds`): a row shows when the chosen kind declares its option, and
holds the value the run will use (the chosen kind's own default where the project gives none).
Choosing another kind starts that section afresh from the new kind's defaults and refills the
rows, so no row keeps a value the previous kind had.

Each edit builds a new dict, checks it with `TrainingSettings.validate()` as you type (the field
turns red and the message shows) and, when valid, emits `edited(dict, key)`; the panel pushes it as
an undoable command. `load(dict)` shows a dict (project opened, undo/redo) without emitting.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from studio.training import kinds
from studio.training.settings import AUTO, PRECISIONS, TrainingSettings, auto_workers
from studio.ui.elided import ElidedLabel
from studio.ui.welcome import EXAMPLES_DIR
from studio.ui.wheel import wheel_only_with_focus

#: the precisions in words, in the order of `PRECISIONS`
PRECISION_LABELS = ("float32 (full)", "bfloat16 (mixed)", "float16 (mixed)")
WORKERS_TIP = (
    "DataLoader worker processes. auto: up to 4 (one CPU left free, none on 2 CPUs) for an image folder "
    "read from disk, none for data in memory; 0: load in the training process"
)


@dataclass(frozen=True)
class Field:
    path: tuple[str, ...]  # keys into the settings dict
    label: str
    kind: str  # choice | int | float | text | bool | workers (a number or "auto")
    options: tuple = ()
    when: Any = None  # dict -> bool: shown only when true
    write: Any = (
        None  # (settings dict, value) -> None, where the value is not simply stored at `path`
    )
    tip: str = ""
    #: a choice's words for each option (its declaration's label), and a tooltip each
    labels: tuple = ()
    tips: tuple = ()


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


def _declared(section: str, registry: dict, key: str, default: str):
    """Shown when the kind chosen in `section` (its 'kind' or 'name') declares option `key`."""
    field_name = "kind" if section == "data" else "name"

    def when(d) -> bool:
        chosen = _get(d, (section, field_name), default)
        kind = registry.get(chosen) if isinstance(chosen, str) else None  # a file may hold anything
        return kind is not None and key in kind.form_options()

    return when


def _option_fields(section: str, registry: dict, default: str) -> list[Field]:
    """One row per option any kind of `section` shows, in declaration order, visible when the
    chosen kind declares it: the form reads the declarations, so a new kind needs no edit here."""
    params: dict = {}
    for kind in registry.values():
        for key in kind.form_options():
            params.setdefault(key, kind.options[key])
    return [
        Field(
            (section, key),
            p.label or key,
            p.kind,
            options=_choices(p),
            when=_declared(section, registry, key, default),
            tip=p.doc,
        )
        for key, p in params.items()
    ]


def _choices(p) -> tuple:
    """A Choice option's options (the combo box offers them all); () for any other option."""
    return tuple(p.options_for({})) if p.kind == "choice" and not p.lazy else ()


def _kind_choice(path: tuple[str, ...], label: str, registry: dict, tip: str = "") -> Field:
    """The choice of a kind: each shown by its declared label, its help as the item's tooltip."""
    return Field(
        path,
        label,
        "choice",
        tuple(registry),
        labels=tuple(k.label for k in registry.values()),
        tips=tuple(k.help for k in registry.values()),
        tip=tip,
    )


# the sections chosen by kind: the key holding the kind, and its registry
KIND_SECTIONS = {
    "data": ("kind", kinds.DATASETS),
    "optimizer": ("name", kinds.OPTIMIZERS),
    "loss": ("name", kinds.LOSSES),
    "schedule": ("name", kinds.SCHEDULES),
}


def _fresh_section(old: dict, section: str, chosen: str) -> dict:
    """A section of another kind: the kind alone (its options at their declared defaults), keeping
    only what is not a kind's option (the optimizer's implementation)."""
    old = old.get(section) if isinstance(old.get(section), dict) else {}
    key = KIND_SECTIONS[section][0]
    keep = TrainingSettings().optimizer.EXTRA if section == "optimizer" else {}
    return {key: chosen, **{k: v for k, v in old.items() if k in keep}}


def _param_of(d: dict, f: Field):
    """The declaration of a kind option row, for the kind chosen in `d` (None: not one)."""
    if (
        len(f.path) != 2
        or f.path[0] not in KIND_SECTIONS
        or f.path[1] == KIND_SECTIONS[f.path[0]][0]
    ):
        return None
    key, registry = KIND_SECTIONS[f.path[0]]
    chosen = _get(d, (f.path[0], key), TrainingSettings().to_dict()[f.path[0]].get(key))
    kind = registry.get(chosen) if isinstance(chosen, str) else None
    return kind.options.get(f.path[1]) if kind is not None else None


def _default_of(d: dict, f: Field):
    """The declared default of a kind option row, for the kind chosen in `d` (None: not one)."""
    param = _param_of(d, f)
    return None if param is None else param.default


def _placeholder(d: dict, f: Field, folder=None) -> str:
    """What an empty row falls back to: the kind's default, or what the data itself gives an
    option whose default is empty (an image folder's size: its images' own; relative paths from
    `folder`, the project's)."""
    if f.kind == "path":
        return "a path, or Browse…" if f.path[0] == "data" else "none: the validation split below"
    default = _default_of(d, f)
    if default is None:
        return "default"
    param = _param_of(d, f)
    words = getattr(param, "column_words", None)
    if words is not None:  # a column: "the last column (default)"
        return f"{words(default)} (default)"
    if default == "" and getattr(param, "special", ""):  # what empty means: "none: a random split"
        return f"{param.special} (default)"
    if default in ((), "", None) and f.path[0] == "data":
        kind = kinds.DATASETS.get(_get(d, ("data", "kind"), ""))
        own = (
            kind.own_values(d.get("data", {}), folder).get(f.path[1]) if kind is not None else None
        )
        return "the data's own (default)" if own is None else f"{_fmt(own)} (the data's own)"
    return f"{_fmt(default)} (default)"


def _early(d) -> bool:
    return bool(_get(d, ("early_stopping", "enabled"), False))


# "metric" is accuracy for classification, MAE for regression
MONITORS = ("val_loss", "val_metric", "train_loss", "train_metric")
MONITOR_LABELS = (
    "validation loss",
    "validation accuracy or MAE",
    "training loss",
    "training accuracy or MAE",
)


_DEFAULT = TrainingSettings()

FIELDS = (
    _kind_choice(("data", "kind"), "Dataset", kinds.DATASETS),
    *_option_fields("data", kinds.DATASETS, ""),
    Field(
        ("val_data", "path"),
        "Validation set",
        "path",
        when=lambda d: (
            kinds.DATASETS.get(_get(d, ("data", "kind"), "")) is not None
            and kinds.DATASETS[_get(d, ("data", "kind"))].family in ("file", "folder")
        ),
        write=_write_val_path,
        tip="A file or folder of validation data read like the training data; "
        "empty: hold out the validation split instead",
    ),
    Field(("val_split",), "Validation split", "float", when=lambda d: not d.get("val_data")),
    Field(("epochs",), "Epochs", "int"),
    Field(("batch_size",), "Batch size", "int"),
    _kind_choice(("optimizer", "name"), "Optimizer", kinds.OPTIMIZERS),
    *_option_fields("optimizer", kinds.OPTIMIZERS, _DEFAULT.optimizer.name),
    _kind_choice(("loss", "name"), "Loss", kinds.LOSSES),
    *_option_fields("loss", kinds.LOSSES, _DEFAULT.loss.name),
    _kind_choice(("schedule", "name"), "LR schedule", kinds.SCHEDULES),
    *_option_fields("schedule", kinds.SCHEDULES, _DEFAULT.schedule.name),
    Field(("grad_clip",), "Gradient clipping", "float"),
    Field(
        ("monitor",),
        "Monitor",
        "choice",
        MONITORS,
        labels=MONITOR_LABELS,
        tip="The metric that picks the best checkpoint, and drives early stopping and the plateau "
        "schedule; 'metric' is accuracy or MAE",
    ),
    Field(("early_stopping", "enabled"), "Early stopping", "bool"),
    Field(
        ("early_stopping", "patience"),
        "Patience",
        "int",
        when=_early,
        tip="Stop after this many epochs without improvement of the monitored metric",
    ),
    Field(
        ("early_stopping", "min_delta"),
        "Min. change",
        "float",
        when=_early,
        tip="The smallest change that counts as an improvement",
    ),
    Field(("shuffle",), "Shuffle", "bool"),
    Field(
        ("balanced",),
        "Balanced sampling",
        "bool",
        tip="Draw each class about equally often (for unbalanced classes; the Data tab shows the balance)",
    ),
    Field(("workers",), "Loader workers", "workers", tip=WORKERS_TIP),
    Field(
        ("device",),
        "Device",
        "choice",
        ("auto", "cpu", "cuda", "mps"),
        labels=("auto (a GPU if there is one)", "CPU", "CUDA GPU", "Apple GPU (MPS)"),
    ),
    Field(
        ("precision",),
        "Precision",
        "choice",
        PRECISIONS,
        labels=PRECISION_LABELS,
        tip="Mixed precision: the layers that gain from it compute in 16-bit floats on a GPU",
    ),
    Field(("seed",), "Seed", "int", tip="The initial weights and the order of the batches"),
    Field(
        ("split_seed",),
        "Split seed",
        "int",
        when=lambda d: not d.get("val_data") and d.get("val_split") != 0,
        tip="Which rows the validation split holds out; kept when the seed changes, so runs are "
        "compared on the same rows",
    ),
)


def _parse(kind: str, text: str):
    """The typed value, or the raw text (so validate() can name it), or None for empty."""
    text = text.strip()
    if not text:
        return None
    if kind == "workers" and text.lower() == AUTO:
        return AUTO
    if kind == "ints":  # "32, 32", "32x32" or "(32, 32)": a list, as a project file holds it
        parts = [
            p
            for p in text.strip("()[]").replace("×", ",").replace("x", ",").split(",")
            if p.strip()
        ]
        try:
            return [int(p) for p in parts]
        except ValueError:
            return text
    try:
        return int(text) if kind in ("int", "workers") else float(text)
    except ValueError:
        return text


class SettingsForm(QWidget):
    edited = Signal(object, str)  # new settings dict (valid), key of the changed field
    #: where the last Browse… found its file: the next one starts there (not in the package's
    #: examples folder, where an example project lives)
    last_folder = ""

    def __init__(self, parent=None):
        super().__init__(parent)
        self._dict: dict = {}
        self._loading = False
        #: the folder relative data paths are read from (the project's; set by the panel's owner)
        self.folder = lambda: None
        self.form = QFormLayout()
        self.form.setContentsMargins(4, 4, 4, 4)
        self.editors: dict[tuple, QWidget] = {}
        self.browse_buttons: dict[tuple, QPushButton] = {}  # Browse… beside each path
        self._rows: dict[tuple, QWidget] = {}  # the widget holding each field's row
        #: beside the batch size: its peak memory and the largest batch that fits (set_batch_hint)
        self.batch_hint = ElidedLabel()  # gives way in a narrow column, whole in its tooltip
        self.batch_hint.setStyleSheet("color: palette(placeholder-text);")
        for f in FIELDS:
            w = self._make(f)
            w.setToolTip(f.tip)
            self.editors[f.path] = w
            if f.path == ("batch_size",):
                self._rows[f.path] = self._beside(w, self.batch_hint)
            elif f.kind == "path":
                self._rows[f.path] = self._with_browse(f, w)
            else:
                self._rows[f.path] = w
            self.form.addRow(f.label, self._rows[f.path])
        self.errors = QLabel()
        self.errors.setWordWrap(True)
        self.errors.setStyleSheet("color: #c62828;")
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.addLayout(self.form)
        box.addWidget(self.errors)
        box.addStretch(1)

    @staticmethod
    def _beside(editor: QWidget, hint: QLabel) -> QWidget:
        row = QWidget()
        box = QHBoxLayout(row)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(editor, 1)
        box.addWidget(hint, 2)
        return row

    def _with_browse(self, f: Field, editor: QLineEdit) -> QWidget:
        """A path's row: the text, and Browse… for the file or folder the chosen kind reads."""
        row = QWidget()
        box = QHBoxLayout(row)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(editor, 1)
        button = QPushButton("Browse…")
        button.setToolTip("Choose it in a file dialog")
        button.clicked.connect(lambda: self.browse(f))
        box.addWidget(button)
        self.browse_buttons[f.path] = button
        return row

    def _path_param(self):
        """The chosen dataset kind's path declaration (`DataPath`), or None."""
        kind = kinds.DATASETS.get(_get(self._dict, ("data", "kind"), ""))
        param = kind.options.get("path") if kind is not None else None
        return param if getattr(param, "kind", "") == "path" else None

    def browse(self, f: Field) -> None:
        """Ask for the file or folder in a dialog (`choose_path`) and put it in the row."""
        param = self._path_param()
        if param is None:
            return
        editor = self.editors[f.path]
        folder = self.folder()  # the project's: data often lies beside it (not an example's)
        if folder is not None and Path(folder).resolve() == EXAMPLES_DIR:
            folder = None
        start = editor.text().strip() or SettingsForm.last_folder or str(folder or Path.home())
        path = self.choose_path(param, f"Choose the {_lower_first(param.label)}", start)
        if path:
            SettingsForm.last_folder = str(Path(path).parent)  # the next Browse… starts there
            editor.setText(path)
            self._changed(f, path)

    @staticmethod
    def choose_path(param, title: str, start: str) -> str:
        """The dialog (a hook for tests): a folder or a file, "" when cancelled."""
        if param.pick == "folder":
            return QFileDialog.getExistingDirectory(None, title, start)
        return QFileDialog.getOpenFileName(None, title, start, param.filters)[0]

    def set_batch_hint(self, text: str, tip: str = "") -> None:
        """The memory a step needs at the batch size (the window's cost estimate)."""
        self.batch_hint.setText(text)
        self.batch_hint.setToolTip(f"{text}\n{tip}" if tip else text)

    def _make(self, f: Field) -> QWidget:
        if f.kind == "choice":
            w = QComboBox()
            for i, option in enumerate(f.options):
                w.addItem(f.labels[i] if f.labels else str(option), option)
                if f.tips:
                    w.setItemData(i, f.tips[i], Qt.ItemDataRole.ToolTipRole)
            w.currentIndexChanged.connect(lambda i, f=f, w=w: self._changed(f, w.itemData(i)))
        elif f.kind == "bool":
            w = QCheckBox()
            w.toggled.connect(lambda on, f=f: self._changed(f, bool(on)))
        else:
            w = QLineEdit()
            w.textEdited.connect(lambda text, f=f: self._changed(f, text))
        return wheel_only_with_focus(w)

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
                    if (
                        w.findData(value) < 0 and value is not None
                    ):  # a file's value no declaration offers
                        w.addItem(str(value), value)
                    w.setCurrentIndex(w.findData(value))
                elif isinstance(w, QCheckBox):
                    w.setChecked(bool(value))
                else:
                    w.setText("" if value is None else _fmt(value))
        finally:
            self._loading = False
        self._show_visibility()
        self._label_paths()
        self._placeholders()
        self._check(self._dict)
        workers = self.editors[("workers",)]
        auto = auto_workers(self._dict.get("data"))
        workers.setToolTip(f"{WORKERS_TIP}. For this data on this computer, auto is {auto}.")

    def _placeholders(self) -> None:
        """What each empty row falls back to; the data's own values follow its path."""
        for f in FIELDS:
            w = self.editors[f.path]
            if isinstance(w, QLineEdit):
                w.setPlaceholderText(_placeholder(self._dict, f, self.folder()))

    def _label_paths(self) -> None:
        """The path rows are named for what the chosen kind reads ("CSV file", "Image folder")."""
        param = self._path_param()
        for path in self.browse_buttons:
            label = self.form.labelForField(self._rows[path])
            if label is not None and param is not None:
                label.setText(
                    param.label if path[0] == "data" else f"Validation {_lower_first(param.label)}"
                )

    def settings(self) -> dict:
        return copy.deepcopy(self._dict)

    # ------------------------------------------------------------------ form -> model
    def _changed(self, f: Field, raw) -> None:
        if self._loading:
            return
        new = copy.deepcopy(self._dict)
        if f.kind == "choice":
            value = raw
            section = f.path[0]
            if (
                len(f.path) == 2
                and section in KIND_SECTIONS
                and f.path[1] == KIND_SECTIONS[section][0]
            ):
                new[section] = _fresh_section(new, section, value)  # another kind: its own defaults
                if section == "data":
                    new.pop("val_data", None)
                self._dict = new
                self.load(new)  # every row refilled from the new kind
                if section == "data" or self._check(new, f):  # a dataset may need its file first
                    self.edited.emit(copy.deepcopy(new), section)
                return
        elif f.kind == "bool":
            value = raw
        elif f.kind in ("text", "path"):
            value = raw.strip() or None
            if f.path == ("data", "target") and value is not None and value.lstrip("-").isdigit():
                value = int(value)
        else:
            value = _parse(f.kind, raw)
        self._set_value(f, new, value)
        self._dict = new
        self._show_visibility()
        if f.kind == "path":  # another folder: its images' own size
            self._placeholders()
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
                value = _get(d, f.path)
                bad = (
                    f.kind in ("int", "float", "workers")
                    and isinstance(value, str)
                    and value != AUTO
                )
                w.setStyleSheet("border: 1px solid #c62828;" if bad else "")
        self.errors.setText("\n".join(problems))
        self.errors.setVisible(bool(problems))
        return not problems

    def _show_visibility(self) -> None:
        for f in FIELDS:
            visible = f.when is None or bool(f.when(self._dict))
            self.form.setRowVisible(self._rows[f.path], visible)

    def label_for(self, key: str) -> str:
        """The words the form shows for the field `key`, as in a sentence ("data.size" -> "image
        size", "data.path" -> "CSV file", a kind's section "data" -> "dataset"): what the undo step
        is called. `key` itself when the form has no such row."""
        path = tuple(key.split("."))
        if len(path) == 1 and path[0] in KIND_SECTIONS:
            path = (path[0], KIND_SECTIONS[path[0]][0])
        row = self._rows.get(path)
        label = self.form.labelForField(row) if row is not None else None
        return _lower_first(label.text()) if label is not None and label.text() else key

    def row_shown(self, path: tuple[str, ...]) -> bool:
        """Whether the row of the field at `path` is shown (its kind declares it)."""
        return self.form.isRowVisible(self._rows[path])

    def problems(self) -> list[str]:
        return TrainingSettings.from_dict(self._dict).validate()


def _lower_first(text: str) -> str:
    """ "Image folder" -> "image folder" in a sentence; an acronym ("CSV file") stays."""
    return text if text[1:2].isupper() else text[:1].lower() + text[1:]


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (tuple, list)):
        return ", ".join(_fmt(v) for v in value)
    return str(value)
