"""One editor widget per parameter kind, built from the block's Param declarations.

Each editor reports a candidate value; the editor checks it with ``Param.coerce_in`` given the
block's other values (a backbone's weights depend on its model) and only then the inspector
pushes a command. Editors never hold the truth: ``set_value`` shows the model's value."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QLineEdit, QSpinBox, QWidget

from studio.blocks.params import Choice, Param, ParamError
from studio.ui.wheel import wheel_only_with_focus

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
        #: the block's current values: what dependent options and checks are computed from
        self.values: Mapping[str, Any] = {}
        self.widget: QWidget = wheel_only_with_focus(self._make())
        self.widget.setToolTip(param.doc)
        self._updating = False

    @property
    def label(self) -> str:
        return (self.param.label or self.name).replace("_", " ")

    def _make(self) -> QWidget:
        raise NotImplementedError

    def set_value(self, value: Any, values: Mapping[str, Any] | None = None) -> None:
        """Show ``value``; ``values`` are all of the block's parameters (for dependent choices)."""
        if values is not None:
            self.values = dict(values)
        self._updating = True
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
            value = self.param.coerce_in(raw, self.label, self.values)
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
        w.setSpecialValueText(self.param.special)  # shown for the minimum, where it has a meaning
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
            self.param.coerce_in(text, self.label, self.values)
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
    """A combo box of ``options_for(values)``, labelled with ``option_text``; the item data is
    the option itself (what files store). The list is refilled whenever the values it depends
    on change, so a different backbone model offers its own weights and stages."""

    param: Choice

    def _make(self) -> QWidget:
        w = QComboBox()
        w.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        w.setMinimumContentsLength(8)
        w.currentIndexChanged.connect(lambda i: self._submit(w.itemData(i)) if i >= 0 else None)
        self._shown: list[tuple[str, str]] = []
        return w

    def items(self) -> list[tuple[str, str]]:
        """(option, label) pairs for the block's current values."""
        try:
            options = self.param.options_for(self.values)
        except Exception:  # a lazy list that cannot be made (missing package)
            options = ()
        return [(o, self.param.text_for(o, self.values)) for o in options]

    def _show(self, value: Any) -> None:
        w: QComboBox = self.widget
        items = self.items()
        if value not in [o for o, _ in items]:  # keep an old file's value visible, not lost
            items.append((value, str(value)))
        if items != self._shown:
            w.clear()
            for option, text in items:
                w.addItem(text, option)
                w.setItemData(w.count() - 1, text, Qt.ItemDataRole.ToolTipRole)
            w.view().setMinimumWidth(w.view().sizeHintForColumn(0) + 24)  # long labels read whole
            self._shown = items
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


class FloatsEditor(TextEditor):
    """``0.5, 1.25``: a list of numbers (a Standardize block's statistics)."""

    def _show(self, value: Any) -> None:
        self.widget.setText(", ".join(repr(float(v)) for v in value))


EDITORS: dict[str, type[ParamEditor]] = {
    "int": IntEditor,
    "floats": FloatsEditor,
    "float": FloatEditor,
    "bool": BoolEditor,
    "choice": ChoiceEditor,
    "ints": IntsEditor,
    "text": TextEditor,
}


def editor_for(name: str, param: Param) -> ParamEditor:
    return EDITORS.get(param.kind, TextEditor)(name, param)


def with_dependents(params: Mapping[str, Param], values: Mapping[str, Any], name: str, value: Any) -> dict[str, Any]:
    """The block's values after setting ``name`` to ``value``: every choice that depends on a
    changed value (directly or through another) keeps its value when still allowed, else takes
    its default, so one edit of the model also picks weights that model has."""
    new = {**values, name: value}
    changed = {name}
    for key, param in params.items():  # declaration order: what a choice depends on comes first
        if key != name and isinstance(param, Choice) and changed & set(param.depends_on):
            try:
                fitted = param.fit(new.get(key), new)
            except Exception:  # options that cannot be listed: leave the value
                continue
            if fitted != new.get(key):
                new[key] = fitted
                changed.add(key)
    return new
