"""The augmentation pipeline editor: add, remove and reorder transforms, edit their options.

It edits a copy of the `augment` list and emits `changed(list)` after each valid edit; the
controller pushes it onto the undo stack like any other training setting. The transforms and
their options come from the declarations (`studio.training.transforms`); an option that does not
fit its declaration turns its field red with the declaration's message, and nothing is emitted.
"""

from __future__ import annotations

import copy

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from studio.blocks.params import ParamError
from studio.training.transforms import TRANSFORMS, describe, get_transform, step, transforms_for


class PipelineEditor(QWidget):
    changed = Signal(object)  # the new augment list

    def __init__(self, parent=None):
        super().__init__(parent)
        self.steps: list[dict] = []
        self.data = "image"
        self.title = QLabel(
            "<b>Augmentation</b> (training only where marked ⟳; validation runs the rest)"
        )
        self.title.setWordWrap(True)
        self.list = QListWidget()
        self.list.setMaximumHeight(104)
        self.list.currentRowChanged.connect(self._show_options)
        self.choice = QComboBox()
        self.choice.setMinimumContentsLength(16)
        self.choice.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.add_button = QPushButton("Add")
        self.add_button.setToolTip("Add the chosen step at the end")
        # the steps' own buttons stand beside the list, small: in a row with the choice they made
        # the editor 530 px wide, more than the Data tab leaves it at 1280x720
        self.remove_button = QPushButton("✕")
        self.up_button = QPushButton("↑")
        self.down_button = QPushButton("↓")
        for button, tip in ((self.remove_button, "Remove the selected step"),
                            (self.up_button, "Move the selected step up"),
                            (self.down_button, "Move the selected step down")):
            button.setToolTip(tip)
            button.setFixedWidth(button.fontMetrics().horizontalAdvance("WW") + 16)
        self.add_button.clicked.connect(self.add_current)
        self.remove_button.clicked.connect(self.remove_current)
        self.up_button.clicked.connect(lambda: self.move_current(-1))
        self.down_button.clicked.connect(lambda: self.move_current(1))
        row = QHBoxLayout()
        row.addWidget(self.choice, 1)
        row.addWidget(self.add_button)
        beside = QVBoxLayout()
        for b in (self.up_button, self.down_button, self.remove_button):
            beside.addWidget(b)
        beside.addStretch(1)
        steps = QHBoxLayout()
        steps.addWidget(self.list, 1)
        steps.addLayout(beside)
        self.options = QFormLayout()
        self.fields: dict[str, QLineEdit] = {}
        self.error = QLabel("")
        self.error.setStyleSheet("color: #c62828")
        self.error.setWordWrap(True)
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(self.title)
        box.addLayout(steps)
        box.addLayout(row)
        box.addLayout(self.options)
        box.addWidget(self.error)

    # -- model in ----------------------------------------------------------------------------------

    def set_steps(self, steps: list, data: str) -> None:
        """Show `steps` for a dataset of `data` ("image", "table" or "": cannot be augmented)."""
        steps = copy.deepcopy(steps) if isinstance(steps, list) else []
        if steps == self.steps and data == self.data and self.choice.count():
            return
        self.steps, self.data = steps, data
        self.choice.clear()
        for kind in transforms_for(data) if data else []:
            self.choice.addItem(kind.label, kind.id)
            self.choice.setItemData(self.choice.count() - 1, kind.help, 3)  # tooltip role
        self.setEnabled(bool(data) or bool(self.steps))
        self._fill(self.list.currentRow())

    def _fill(self, keep: int = -1) -> None:
        self.list.blockSignals(True)
        self.list.clear()
        for n, s in enumerate(self.steps, 1):
            kind = TRANSFORMS.get(s.get("id")) if isinstance(s, dict) else None
            mark = " ⟳" if kind is not None and kind.random else ""
            text = describe([s]) if kind is not None else repr(s)
            self.list.addItem(f"{n}. {text}{mark}")
        if not self.steps and self.data:
            self.list.addItem("(none: the data is used as it is)")
        self.list.blockSignals(False)
        self.list.setCurrentRow(max(0, min(keep, len(self.steps) - 1)) if self.steps else -1)
        self._show_options(self.list.currentRow())

    def _show_options(self, row: int) -> None:
        while self.options.rowCount():  # later: this may run inside one of these fields' signals
            row_items = self.options.takeRow(0)
            for item in (row_items.labelItem, row_items.fieldItem):
                if item is not None and item.widget() is not None:
                    item.widget().hide()
                    item.widget().deleteLater()
        self.fields = {}
        self.error.setText("")
        if not 0 <= row < len(self.steps):
            return
        s = self.steps[row]
        kind = TRANSFORMS.get(s.get("id"))
        if kind is None:
            return
        for key, param in kind.options.items():
            edit = QLineEdit(param.describe(s.get(key, param.default)).replace("×", ", "))
            edit.setToolTip(param.doc or param.label)
            edit.editingFinished.connect(lambda k=key, e=edit: self._edited(k, e))
            self.options.addRow(param.label or key, edit)
            self.fields[key] = edit

    # -- edits ----------------------------------------------------------------------------------

    def _emit(self, row: int) -> None:
        self._fill(row)
        self.changed.emit(copy.deepcopy(self.steps))

    def add_current(self) -> None:
        kind_id = self.choice.currentData()
        if not kind_id:
            return
        new = step(kind_id)
        row = self.list.currentRow() + 1 if self.steps else 0
        if kind_id == "resize":
            row = 0
        elif "normalize" in [s.get("id") for s in self.steps] and kind_id != "normalize":
            row = min(row, len(self.steps) - 1)  # Normalise stays last
        else:
            row = len(self.steps) if kind_id == "normalize" else row
        self.steps.insert(row, new)
        self._emit(row)

    def remove_current(self) -> None:
        row = self.list.currentRow()
        if 0 <= row < len(self.steps):
            del self.steps[row]
            self._emit(row)

    def move_current(self, delta: int) -> None:
        row = self.list.currentRow()
        to = row + delta
        if 0 <= row < len(self.steps) and 0 <= to < len(self.steps):
            self.steps[row], self.steps[to] = self.steps[to], self.steps[row]
            self._emit(to)

    def _edited(self, key: str, edit: QLineEdit) -> None:
        row = self.list.currentRow()
        if not 0 <= row < len(self.steps):
            return
        kind = get_transform(self.steps[row]["id"])
        param = kind.options[key]
        try:
            value = param.to_json(param.coerce(edit.text(), param.label or key))
            trial = {k: v for k, v in {**self.steps[row], key: value}.items() if k != "id"}
            problems = kind.problems(trial)
        except ParamError as e:
            problems = [str(e)]
        if problems:
            edit.setStyleSheet("border: 1px solid #c62828")
            self.error.setText(problems[0])
            return
        edit.setStyleSheet("")
        self.error.setText("")
        if self.steps[row].get(key) != value:
            self.steps[row][key] = value
            self._emit(row)
