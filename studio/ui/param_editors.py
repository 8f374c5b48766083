"""One editor widget per parameter kind, built from the block's Param declarations.

Each editor reports a candidate value; the inspector checks it with ``Param.coerce`` and only
then pushes a command. Editors never hold the truth: ``set_value`` shows the model's value."""

from __future__ import annotations

import math
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QLineEdit, QSpinBox, QWidget

from studio.blocks.params import Param, ParamError

INT_LIMIT = 2**31 - 1
INVALID_STYLE = "border: 2px solid #d32f2f; border-radius: 3px;"


class ParamEditor(QObject):
    """Wraps one widget. ``edited(value)`` fires with a coerced value; ``invalid(message)``
    fires when the text cannot be a valid value (nothing is pushed then)."""

    edited = Signal(object)
    invalid = Signal(str)

    def __init__(self, name: str, param: Param) -> None:
        super().__init__()
        self.name = name
        self.param = param
        self.widget: QWidget = self._make()
        self.widget.setToolTip(param.doc)
        self._updating = False
        self.values: dict[str, Any] = {}  # the block's values, for options that depend on them

    @property
    def label(self) -> str:
        return (self.param.label or self.name).replace("_", " ")

    def _make(self) -> QWidget:
        raise NotImplementedError

    def set_value(self, value: Any, values: dict[str, Any] | None = None) -> None:
        self._updating = True
        self.values = dict(values or {})
        try:
            self._show(value)
            self._mark_valid(True)
        finally:
            self._updating = False

    def _show(self, value: Any) -> None:
        raise NotImplementedError

    def _submit(self, raw: Any) -> None:
        if self._updating:
            return
        try:
            value = self.param.coerce(raw, self.label)
        except ParamError as e:
            self._mark_valid(False, str(e))
            self.invalid.emit(str(e))
            return
        self._mark_valid(True)
        self.edited.emit(value)

    def _mark_valid(self, ok: bool, message: str = "") -> None:
        self.widget.setStyleSheet("" if ok else INVALID_STYLE)
        self.widget.setToolTip(self.param.doc if ok else message)
        self.widget.setProperty("invalid", not ok)


class IntEditor(ParamEditor):
    def _make(self) -> QWidget:
        w = QSpinBox()
        w.setRange(max(int(self.param.min), -INT_LIMIT), min(int(self.param.max), INT_LIMIT))
        w.setKeyboardTracking(False)
        w.valueChanged.connect(self._submit)
        return w

    def _show(self, value: Any) -> None:
        self.widget.setValue(int(value))


class FloatEditor(ParamEditor):
    """A line edit (floats like 1e-5 do not fit a spin box), validated as you type."""

    def _make(self) -> QWidget:
        w = QLineEdit()
        w.textEdited.connect(self._check)
        w.editingFinished.connect(lambda: self._submit(w.text()))
        return w

    def _check(self, text: str) -> None:
        try:
            self.param.coerce(text, self.label)
            self._mark_valid(True)
        except ParamError as e:
            self._mark_valid(False, str(e))
            self.invalid.emit(str(e))

    def _show(self, value: Any) -> None:
        self.widget.setText(repr(float(value)) if math.isfinite(value) else str(value))


class BoolEditor(ParamEditor):
    def _make(self) -> QWidget:
        w = QCheckBox()
        w.toggled.connect(self._submit)
        return w

    def _show(self, value: Any) -> None:
        self.widget.setChecked(bool(value))


class ChoiceEditor(ParamEditor):
    """Lists the options each time it shows a value: a Backbone's weights follow its model.
    Items show ``Choice.text_for`` and carry the option itself, which is what gets submitted."""

    def _make(self) -> QWidget:
        w = QComboBox()
        w.currentIndexChanged.connect(lambda i: self._submit(w.itemData(i)) if i >= 0 else None)
        return w

    def _show(self, value: Any) -> None:
        w = self.widget
        w.clear()
        for option in self.param.options_for(self.values):
            w.addItem(self.param.text_for(option, self.values), option)
        if w.findData(value) < 0:
            w.addItem(str(value), value)
        w.setCurrentIndex(w.findData(value))


class TextEditor(ParamEditor):
    def _make(self) -> QWidget:
        w = QLineEdit()
        w.textEdited.connect(self._check)
        w.editingFinished.connect(lambda: self._submit(w.text()))
        return w

    _check = FloatEditor._check

    def _show(self, value: Any) -> None:
        self.widget.setText(str(value))


class IntsEditor(TextEditor):
    """``1, 28, 28``: checked with Param.coerce as you type."""

    def _show(self, value: Any) -> None:
        self.widget.setText(", ".join(str(v) for v in value))


EDITORS: dict[str, type[ParamEditor]] = {
    "int": IntEditor,
    "float": FloatEditor,
    "bool": BoolEditor,
    "choice": ChoiceEditor,
    "ints": IntsEditor,
    "text": TextEditor,
}


def editor_for(name: str, param: Param) -> ParamEditor:
    return EDITORS.get(param.kind, TextEditor)(name, param)
