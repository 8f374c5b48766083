"""The generated Python, live and read-only, with syntax colours and a Copy button.

The text is exactly what Export writes (``studio.compiler.generate``); when the graph has
errors it shows a comment listing them instead.

Writing the whole class costs about 30 us a block (at 2,000 blocks, 90% of an edit's 370 ms), so
the view writes it only where someone can read it: while it is visible, once after a burst of
edits has settled (``SETTLE_MS``), and when it is shown after edits. It is written off the GUI
thread (:mod:`studio.ui.code_writer`): raising the tab at 2,000 blocks blocked the window for
0.2-0.5 s. Until the new text arrives the status line says it is being written. Reading
``source`` (Export, Copy) always gives the current code, written then on the GUI thread if stale."""

from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtGui import QFontDatabase, QGuiApplication
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from studio.ui.code_highlight import LazyHighlighter, python_spans
from studio.ui.code_writer import write_code, write_snapshot
from studio.ui.document import Document
from studio.ui.jobs import Job
from studio.ui.theme import current_theme

#: a burst of edits (a spin box held, typing) is written once, this long after the last one
SETTLE_MS = 150


class CodeView(QWidget):
    def __init__(self, doc: Document, parent=None) -> None:
        super().__init__(parent)
        self.doc = doc
        self.text = QPlainTextEdit(readOnly=True)
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.highlighter = LazyHighlighter(self.text, current_theme().dark)
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
        self._edits = 0  # how many edits made the code stale: a write's token
        self._writer: Job | None = None  # the write in the background, if any
        self._detached = False
        self._name: str | None = None  # the project name the shown class was named from
        self._status = ""
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
        """The current code (what Export writes and Copy copies), written now on the GUI thread
        if an edit made the shown text stale while the view was hidden or a write was under way."""
        if self._stale:
            self.regenerate()
        return self._source

    @property
    def writing(self) -> bool:
        """Whether the code is being written in the background."""
        return self._writer is not None

    def detach(self) -> None:
        self._settle.stop()
        self._laid_out.stop()
        self.doc.code_stale.disconnect(self._mark_stale)
        self._detached = True  # a write under way ends unseen

    def _mark_stale(self) -> None:
        self._stale = True
        self._edits += 1
        if self.readable():
            self._settle.start()  # restarted by each edit of a burst

    def readable(self) -> bool:
        """On screen: a dock tab behind another stays ``isVisible()``, with nothing of it shown."""
        return self.isVisible() and not self.visibleRegion().isEmpty()

    def shown(self) -> None:
        """Its dock or tab came to the front: write the current code in the background (once,
        however many edits it missed); the status line says so until it arrives."""
        self._write_if_stale()

    def showEvent(self, event) -> None:
        """Put in a dock that is in front (a project opened), or its window shown: once laid
        out, catch up if it is on screen (a tab behind another is shown too, and stays stale)."""
        super().showEvent(event)
        self._laid_out.start()

    def _catch_up(self) -> None:
        if self.readable():
            self._write_if_stale()

    def _write_if_stale(self) -> None:
        if self._stale:
            self.write_in_background()

    def follow_name(self) -> None:
        """The project was renamed (Save As names an untitled project): name the class now,
        not at the next edit."""
        if self._name is not None and self._name != self.doc.project.name:
            self._mark_stale()

    def write_in_background(self) -> None:
        """Write the code of a snapshot of the project in a thread (one at a time: edits made
        meanwhile are written by the next one, when this one ends)."""
        if self.doc.analysis is None:
            return
        self._settle.stop()
        if self._writer is not None:
            return  # _finished starts the next one if still stale
        snapshot, name, token = [self.doc.graph.to_dict()], self.doc.project.name, self._edits
        trust = self.doc.analysis.trust
        self._writer = Job(lambda: write_snapshot(snapshot, name, trust))
        self._writer.succeeded.connect(lambda result: self._written(token, name, *result))
        self._writer.finished.connect(self._finished)
        self.status.setText("Writing the code of the current model…")
        self._writer.begin()

    def _written(self, token: int, name: str, source: str, status: str, spans: list) -> None:
        if self._detached or token != self._edits or not self._stale:
            return  # an edit came after the snapshot (or the code was written since): dropped
        self._stale = False
        self._name = name
        self._show(source, status, spans)

    def _finished(self) -> None:
        self._writer = None
        if self._detached:
            return
        if self._stale and self.readable():
            self.write_in_background()
        elif not self._stale:
            self.status.setText(self._status)

    def regenerate(self) -> None:
        """Write the current code now, on the GUI thread (Export, Copy)."""
        if self.doc.analysis is None:
            return
        self._settle.stop()
        self._stale = False
        self._name = self.doc.project.name
        source, status = write_code(self.doc.graph, self._name, self.doc.analysis)
        self._show(source, status, None)

    def _show(self, source: str, status: str, spans: list | None) -> None:
        self._status = status
        self.status.setText(status)
        if source != self._source:
            self._source = source
            bar = self.text.verticalScrollBar().value()
            self.highlighter.set_spans([])  # the old text's colours must not reach the new lines
            self.text.setPlainText(source)
            self.text.verticalScrollBar().setValue(bar)
            self.highlighter.set_spans(spans if spans is not None else python_spans(source))

    def copy(self) -> None:
        QGuiApplication.clipboard().setText(self.source)
