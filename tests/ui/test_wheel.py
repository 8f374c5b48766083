"""Scrolling past an editor never edits it: the wheel reaches an editor only when it has focus,
otherwise it scrolls the inspector or the settings form behind it (every editor kind)."""

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication, QCheckBox, QComboBox, QScrollArea, QVBoxLayout, QWidget

from studio.blocks.catalogue.preprocess import Floats
from studio.blocks.params import Bool, Choice, Float, Int, Ints, Text
from studio.ui.param_editors import EDITORS, editor_for
from studio.ui.training.settings_form import SettingsForm

SAMPLES = {
    "int": Int(5, "Count", min=0, max=100),
    "float": Float(0.5, "Rate", min=0.0),
    "bool": Bool(False, "Frozen"),
    "choice": Choice("b", "Mode", options=("a", "b", "c")),
    "ints": Ints((3, 3), "Kernel", min_len=1, max_len=2, min=1, max=99),
    "text": Text("x", "Name"),
    "floats": Floats((0.5, 1.5), "Mean"),
}


def _value(w):
    if isinstance(w, QComboBox):
        return w.currentIndex()
    if isinstance(w, QCheckBox):
        return w.isChecked()
    return w.value() if hasattr(w, "value") else w.text()


def _wheel(w, steps=-3):
    """A real wheel event at the editor's centre, sent the way the window system delivers it
    (Qt passes an unaccepted wheel event on to the parent widgets)."""
    pos = QPointF(w.rect().center())
    glob = QPointF(w.mapToGlobal(pos.toPoint()))
    event = QWheelEvent(
        pos,
        glob,
        QPoint(),
        QPoint(0, 120 * steps),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(w, event)


def _in_scroll_area(qtbot, editor: QWidget) -> QScrollArea:
    inner = QWidget()
    box = QVBoxLayout(inner)
    box.addWidget(editor)
    box.addSpacing(3000)  # taller than the area: there is somewhere to scroll
    area = QScrollArea()
    area.setWidget(inner)
    area.resize(300, 200)
    qtbot.addWidget(area)
    area.show()
    qtbot.waitExposed(area)
    return area


def test_every_editor_kind_is_covered():
    assert set(SAMPLES) == set(EDITORS)


@pytest.mark.parametrize("kind", list(SAMPLES))
def test_the_wheel_scrolls_past_an_editor_without_focus_and_edits_it_with_focus(qtbot, kind):
    editor = editor_for("p", SAMPLES[kind])
    editor.set_value(SAMPLES[kind].default, {"p": SAMPLES[kind].default})
    edits = []
    editor.edited.connect(edits.append)
    w = editor.widget
    area = _in_scroll_area(qtbot, w)
    before = _value(w)
    _wheel(w)
    assert _value(w) == before and edits == []
    assert area.verticalScrollBar().value() > 0  # the page scrolled instead
    assert w.focusPolicy() == Qt.FocusPolicy.StrongFocus  # and the wheel did not give it focus
    if isinstance(w, QComboBox) or hasattr(w, "stepBy"):
        area.verticalScrollBar().setValue(0)
        w.setFocus()
        qtbot.waitUntil(w.hasFocus)
        _wheel(w, steps=1 if kind == "choice" else -1)
        assert _value(w) != before and edits  # focused: the wheel edits as usual


def test_scrolling_the_settings_form_changes_none_of_its_editors(qtbot):
    form = SettingsForm()
    form.load({"data": {"kind": "spirals"}, "optimizer": {"name": "adam"}})
    edits = []
    form.edited.connect(lambda d, k: edits.append(k))
    area = QScrollArea()
    area.setWidget(form)
    area.setWidgetResizable(True)
    area.resize(320, 150)
    qtbot.addWidget(area)
    area.show()
    qtbot.waitExposed(area)
    before = form.settings()
    combos = [w for w in form.editors.values() if isinstance(w, QComboBox)]
    assert combos
    for w in form.editors.values():
        if w.isVisible():
            _wheel(w)
    assert edits == [] and form.settings() == before
    assert form.editors[("optimizer", "name")].currentText() == "Adam"
    assert area.verticalScrollBar().value() > 0
