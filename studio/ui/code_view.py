"""The generated Python, live and read-only, with a small syntax highlighter and a Copy button.

The text is exactly what Export writes (``studio.compiler.generate``); when the graph has
errors it shows a comment listing them instead.

Writing the whole class costs about 30 us a block on the GUI thread (at 2,000 blocks, 90% of an
edit's 370 ms), so the view writes it only where someone can read it: while it is visible, once
after a burst of edits has settled (``SETTLE_MS``), and at once when it is shown after edits.
Reading ``source`` (Export, Copy) always gives the current code, written then if stale."""

from __future__ import annotations

import keyword
import re

from PySide6.QtCore import QTimer
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontDatabase,
    QGuiApplication,
    QSyntaxHighlighter,
    QTextCharFormat,
)
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from studio.ui.document import Document
from studio.ui.theme import current_theme


def _fmt(colour: str, bold: bool = False, italic: bool = False) -> QTextCharFormat:
    f = QTextCharFormat()
    f.setForeground(QColor(colour))
    if bold:
        f.setFontWeight(QFont.Weight.Bold)
    f.setFontItalic(italic)
    return f


class PythonHighlighter(QSyntaxHighlighter):
    def __init__(self, document, dark: bool = False) -> None:
        super().__init__(document)
        kw = _fmt("#c678dd" if dark else "#7b1fa2", bold=True)
        self.rules = [
            (re.compile(r"\b(" + "|".join(keyword.kwlist) + r")\b"), kw),
            (re.compile(r"\b(self|torch|nn|super)\b"), _fmt("#e5c07b" if dark else "#9a6700")),
            (re.compile(r"\b\d+(\.\d+)?([eE][-+]?\d+)?\b"), _fmt("#d19a66" if dark else "#b35900")),
            (
                re.compile(r"\bdef\s+(\w+)|\bclass\s+(\w+)"),
                _fmt("#61afef" if dark else "#1565c0", bold=True),
            ),
            (re.compile(r"'[^'\n]*'|\"[^\"\n]*\""), _fmt("#98c379" if dark else "#2e7d32")),
            (re.compile(r"#.*$"), _fmt("#7f848e" if dark else "#6a737d", italic=True)),
        ]
        self.doc_format = _fmt("#98c379" if dark else "#2e7d32")

    def highlightBlock(self, text: str) -> None:
        for pattern, fmt in self.rules:
            for m in pattern.finditer(text):
                self.setFormat(m.start(), m.end() - m.start(), fmt)
        # triple-quoted strings that span lines (block state 1: inside one)
        doc, pos, inside = self.doc_format, 0, self.previousBlockState() == 1
        while True:
            if inside:
                end = text.find('"""', pos)
                if end < 0:
                    self.setFormat(pos, len(text) - pos, doc)
                    self.setCurrentBlockState(1)
                    return
                self.setFormat(pos, end + 3 - pos, doc)
                pos, inside = end + 3, False
            else:
                start = text.find('"""', pos)
                if start < 0:
                    self.setCurrentBlockState(0)
                    return
                pos, inside = start + 3, True
                self.setFormat(start, 3, doc)


def problems_comment(lines: list[str]) -> str:
    out = [
        "# The model has problems, so there is no code yet.",
        "# Fix these and the code appears here:",
        "#",
    ]
    out += [f"#   - {line}" for line in lines]
    return "\n".join(out) + "\n"


#: a burst of edits (a spin box held, typing) is written once, this long after the last one
SETTLE_MS = 150


class CodeView(QWidget):
    def __init__(self, doc: Document, parent=None) -> None:
        super().__init__(parent)
        self.doc = doc
        self.text = QPlainTextEdit(readOnly=True)
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.highlighter = PythonHighlighter(self.text.document(), current_theme().dark)
        self.copy_button = QPushButton("Copy")
        self.copy_button.clicked.connect(self.copy)
        self.status = QLabel()
        self.status.setWordWrap(True)  # a long class name must not widen the dock
        self.status.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        top = QHBoxLayout()
        top.addWidget(self.status, 1)
        top.addWidget(self.copy_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top)
        layout.addWidget(self.text)
        self._source = "# Loading PyTorch…\n"
        self.text.setPlainText(self._source)
        self._stale = True
        self._name: str | None = None  # the project name the shown class was named from
        self._settle = QTimer(self)
        self._settle.setSingleShot(True)
        self._settle.setInterval(SETTLE_MS)
        self._settle.timeout.connect(self._catch_up)
        self._laid_out = QTimer(self)  # a shown widget is laid out before this fires
        self._laid_out.setSingleShot(True)
        self._laid_out.setInterval(0)
        self._laid_out.timeout.connect(self._catch_up)
        doc.code_stale.connect(self._mark_stale)

    @property
    def source(self) -> str:
        """The current code (what Export writes and Copy copies), written now if an edit made
        the shown text stale while the view was hidden or settling."""
        self._regenerate_if_stale()
        return self._source

    def detach(self) -> None:
        self._settle.stop()
        self._laid_out.stop()
        self.doc.code_stale.disconnect(self._mark_stale)

    def _mark_stale(self) -> None:
        self._stale = True
        if self.readable():
            self._settle.start()  # restarted by each edit of a burst

    def readable(self) -> bool:
        """On screen: a dock tab behind another stays ``isVisible()``, with nothing of it shown."""
        return self.isVisible() and not self.visibleRegion().isEmpty()

    def shown(self) -> None:
        """Its dock or tab came to the front: the current code before the next paint, so stale
        text is never seen (once, however many edits it missed)."""
        self._regenerate_if_stale()

    def showEvent(self, event) -> None:
        """Put in a dock that is in front (a project opened), or its window shown: once laid
        out, catch up if it is on screen (a tab behind another is shown too, and stays stale)."""
        super().showEvent(event)
        self._laid_out.start()

    def _catch_up(self) -> None:
        if self.readable():
            self._regenerate_if_stale()

    def _regenerate_if_stale(self) -> None:
        if self._stale:
            self.regenerate()

    def follow_name(self) -> None:
        """The project was renamed (Save As names an untitled project): name the class now,
        not at the next edit."""
        if self._name is not None and self._name != self.doc.project.name:
            self._mark_stale()

    def regenerate(self) -> None:
        if self.doc.analysis is None:
            return
        self._settle.stop()
        self._stale = False
        self._name = self.doc.project.name
        from studio.compiler import CompileError, generate

        graph = self.doc.graph
        try:
            code = generate(graph, self.doc.project.name, self.doc.analysis)
            source = code.source
            self.status.setText(f"class {code.class_name}(nn.Module) — what Export Python writes")
        except CompileError as e:
            source = problems_comment([d.describe(graph) for d in e.diagnostics])
            self.status.setText("The model has problems")
        except Exception as e:  # noqa: BLE001 - a failure in code generation is shown, never raised
            source = problems_comment([f"Studio could not write this model's code: {e}"])
            self.status.setText("The code could not be written")
        if source != self._source:
            self._source = source
            bar = self.text.verticalScrollBar().value()
            self.text.setPlainText(source)
            self.text.verticalScrollBar().setValue(bar)

    def copy(self) -> None:
        QGuiApplication.clipboard().setText(self.source)
