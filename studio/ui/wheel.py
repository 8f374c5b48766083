"""Editors take the mouse wheel only when they have focus.

A combo box or spin box under the pointer would otherwise change its value while the user scrolls
the inspector or the settings form past it (a backbone's choice flipped, Adam became AdamW). An
editor without focus hands the wheel event to the scroll area it sits in, which scrolls; clicking
or tabbing into the editor gives it focus, and then the wheel edits as usual.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QAbstractScrollArea, QApplication, QWidget


class _WheelGuard(QObject):
    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        if event.type() != QEvent.Type.Wheel or not isinstance(obj, QWidget) or obj.hasFocus():
            return False
        area = _scroll_area(obj)
        if area is None:
            event.ignore()  # unaccepted: Qt offers it to the parents
            return True
        viewport = area.viewport()
        pos = QPointF(viewport.mapFromGlobal(event.globalPosition().toPoint()))
        QApplication.sendEvent(
            viewport,
            QWheelEvent(
                pos,
                event.globalPosition(),
                event.pixelDelta(),
                event.angleDelta(),
                event.buttons(),
                event.modifiers(),
                event.phase(),
                event.inverted(),
            ),
        )
        event.accept()  # scrolled: not passed on again
        return True


def _scroll_area(w: QWidget) -> QAbstractScrollArea | None:
    parent = w.parentWidget()
    while parent is not None and not isinstance(parent, QAbstractScrollArea):
        parent = parent.parentWidget()
    return parent


_GUARD: _WheelGuard | None = None


def wheel_only_with_focus(widget: QWidget) -> QWidget:
    """Make `widget` (an editor) ignore the wheel until it has focus; returns it."""
    global _GUARD
    if _GUARD is None:
        _GUARD = _WheelGuard()
    widget.setFocusPolicy(Qt.FocusPolicy.StrongFocus)  # the wheel does not give it focus either
    widget.installEventFilter(_GUARD)
    return widget
