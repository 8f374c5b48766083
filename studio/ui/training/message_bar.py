"""The training panel's message line: one short line, and for a failure a Details button that
opens the whole story (the full message and the traceback) below it.

A failed run used to print its whole message in bold red, wrapped over several lines and
pushing the plots down; the summary is now one line, cut at the first line or the location
("(at <studio:...>, line 23: ...)"), which belongs to the details.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPlainTextEdit, QToolButton, QVBoxLayout, QWidget

SUMMARY_CHARS = 140
ERROR_STYLE = "color: #c62828;"


def summarize(message: str, limit: int = SUMMARY_CHARS) -> str:
    """The first line of `message`, without the generated-source location, at most `limit` chars."""
    first = message.strip().splitlines()[0] if message.strip() else ""
    first = first.split(" (at <", 1)[0].rstrip()
    return first if len(first) <= limit else first[: limit - 1].rstrip() + "…"


class MessageBar(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.label = QLabel("")
        self.label.setWordWrap(True)  # a status may take two lines; a failure's summary is one
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details_button = QToolButton(text="Details")
        self.details_button.setCheckable(True)
        self.details_button.setToolTip("Show the whole message and where in the model it happened")
        self.details_button.toggled.connect(self._show_details)
        self.details_button.hide()
        self.details = QPlainTextEdit()
        self.details.setReadOnly(True)
        self.details.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.details.setMaximumHeight(160)
        self.details.hide()
        row = QHBoxLayout()
        row.setContentsMargins(4, 0, 4, 0)
        row.addWidget(self.label, 1)
        row.addWidget(self.details_button)
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(2)
        box.addLayout(row)
        box.addWidget(self.details)

    def show_message(self, text: str, error: bool = False, details: str = "") -> None:
        """A status line; an error shows its summary in red, and its details on request."""
        summary = summarize(text) if error else text.strip()
        full = "\n\n".join(part for part in (text.strip(), details.strip()) if part)
        self.label.setText(summary)
        self.label.setToolTip(text if summary != text.strip() else "")
        self.label.setStyleSheet(ERROR_STYLE if error else "")
        self.details.setPlainText(full)
        has_more = error and full != summary
        self.details_button.setVisible(has_more)
        if not has_more:
            self.details_button.setChecked(False)
        self.details.setVisible(has_more and self.details_button.isChecked())

    def text(self) -> str:
        return self.label.text()

    def full_text(self) -> str:
        return self.details.toPlainText()

    def _show_details(self, on: bool) -> None:
        self.details.setVisible(on)
