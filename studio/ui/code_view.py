"""The generated Python, live and read-only, with syntax colours and a Copy button.

The text is exactly what Export writes (``studio.compiler.generate``); when the graph has
errors it shows a comment listing them instead.

Writing the whole class costs about 30-90 us a block (at 2,000 blocks, 90% of an edit's 370 ms
when it was written at every edit), so the view writes it only where someone can read it or
has asked for it: while it is visible, once after a burst of edits has settled (``SETTLE_MS``);
when it is shown after edits; and for Export Python and Copy. It is written on the GUI thread
in slices of a few milliseconds between turns of the event loop (:mod:`studio.ui.code_writer`,
which says why not in a thread), so the window answers throughout; until the new text arrives
the status line says it is being written. An edit stops a write under way; the next starts once
the analysis has followed the edit."""

from __future__ import annotations

from collections.abc import Callable

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

from studio.ui.code_highlight import LazyHighlighter
from studio.ui.code_writer import SlicedWrite, Written, finish, write_steps
from studio.ui.document import Document
from studio.ui.theme import current_theme

#: a burst of edits (a spin box held, typing) is written once, this long after the last one
SETTLE_MS = 150
COPIED_MS = 1500  # how long the Copy button says it copied


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
        self._ok = False  # whether _source is the model's class (not a list of problems)
        self.text.setPlainText(self._source)
        self._stale = True
        self._edits = 0  # how many edits made the code stale: a write's token
        self._writer: SlicedWrite | None = None  # the write under way, if any
        self._edited = False  # the graph changed since the analysis last followed it
        self._waiting: list[Callable[[str, bool], None]] = []  # Export, Copy: the current code
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
        self._follow_graph(connect=True)

    def _follow_graph(self, connect: bool) -> None:
        """The graph's edits as they happen (the code's analysis follows them on the next turn
        of the event loop): a write under way reads the graph, so an edit stops it."""
        ev, library = self.doc.graph.events, self.doc.graph.library
        pairs = [(ev.block_changed, self._block_changed), (library.changed, self._graph_edited)]
        pairs += [
            (e, self._graph_edited)
            for e in (ev.block_added, ev.block_removed, ev.edge_added, ev.edge_removed)
        ]
        for event, slot in pairs:
            (event.connect if connect else event.disconnect)(slot)

    def _block_changed(self, block, what: str) -> None:
        if what != "position":
            self._graph_edited()

    def _graph_edited(self, *_: object) -> None:
        self._edited = True
        if self._writer is not None:
            self._writer.cancel()
            self._writer = None

    @property
    def source(self) -> str:
        """The current code (what Export writes and Copy copies), written now, at once, if an
        edit made the shown text stale (tests, scripts; Export and Copy use :meth:`when_current`)."""
        if self._stale or self._writer is not None:
            self.regenerate()
        return self._source

    @property
    def writing(self) -> bool:
        """Whether the code is being written."""
        return self._writer is not None

    def when_current(self, callback: Callable[[str, bool], None]) -> None:
        """Call ``callback(source, ok)`` with the current code (``ok``: the model's class, not a
        list of its problems): at once if the text is current, otherwise once it is written, in
        slices, the window answering meanwhile (Export Python, Copy)."""
        if not self._stale and self._writer is None and not self._edited:
            callback(self._source, self._ok)
            return
        self._waiting.append(callback)
        self.write_in_background()

    def detach(self) -> None:
        self._settle.stop()
        self._laid_out.stop()
        self.doc.code_stale.disconnect(self._mark_stale)
        self._follow_graph(connect=False)
        if self._writer is not None:
            self._writer.cancel()
            self._writer = None
        self._waiting.clear()
        self._detached = True

    def _mark_stale(self) -> None:
        """The analysis followed the edits (``Document.code_stale``)."""
        self._stale = True
        self._edited = False
        self._edits += 1
        if self._waiting:
            self.write_in_background()  # Export or Copy is waiting for it
        elif self.readable():
            self._settle.start()  # restarted by each edit of a burst

    def readable(self) -> bool:
        """On screen: a dock tab behind another stays ``isVisible()``, with nothing of it shown."""
        return self.isVisible() and not self.visibleRegion().isEmpty()

    def shown(self) -> None:
        """Its dock or tab came to the front: write the current code (once, however many edits
        it missed); the status line says so until it arrives."""
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
        """Write the current code in slices on the GUI thread (one write at a time: edits made
        meanwhile stop it, and the next starts when the analysis has followed them)."""
        if self.doc.analysis is None or self._edited or self._detached:
            return  # no compiler yet, or _mark_stale comes after the analysis follows the edit
        self._settle.stop()
        if self._writer is not None:
            return  # _finished starts the next one if still stale
        name, token = self.doc.project.name, self._edits
        steps = write_steps(self.doc.graph, name, self.doc.analysis)
        self._writer = SlicedWrite(steps, lambda written: self._written(token, name, written), self)
        self.status.setText("Writing the code of the current model…")
        self._writer.start()

    def _written(self, token: int, name: str, written: Written) -> None:
        self._writer = None
        if token == self._edits and self._stale:  # else the project was renamed meanwhile
            self._stale = False
            self._name = name
            self._show(*written)
            waiting, self._waiting = self._waiting, []
            for callback in waiting:
                callback(self._source, self._ok)
        if self._stale and (self._waiting or self.readable()):
            self.write_in_background()
        elif not self._stale:
            self.status.setText(self._status)

    def regenerate(self) -> None:
        """Write the current code now, at once, on the GUI thread."""
        if self.doc.analysis is None:
            return
        self._settle.stop()
        if self._writer is not None:
            self._writer.cancel()
            self._writer = None
        self._stale = False
        self._name = self.doc.project.name
        self._show(*finish(write_steps(self.doc.graph, self._name, self.doc.analysis)))
        waiting, self._waiting = self._waiting, []
        for callback in waiting:
            callback(self._source, self._ok)

    def _show(self, source: str, status: str, spans: list, ok: bool) -> None:
        self._status = status
        self._ok = ok
        self.status.setText(status)
        if source != self._source:
            self._source = source
            bar = self.text.verticalScrollBar().value()
            self.highlighter.set_spans([])  # the old text's colours must not reach the new lines
            self.text.setPlainText(source)
            self.text.verticalScrollBar().setValue(bar)
            self.highlighter.set_spans(spans)

    def copy(self) -> None:
        """The Copy button: the current code to the clipboard (once written, if an edit made
        it stale)."""
        self.when_current(self._copied)

    def _copied(self, source: str, ok: bool) -> None:
        """Put ``source`` on the clipboard and say so on the button for a moment."""
        QGuiApplication.clipboard().setText(source)
        self.copy_button.setText("Copied")
        QTimer.singleShot(COPIED_MS, self.copy_button, lambda: self.copy_button.setText("Copy"))
