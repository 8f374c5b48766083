"""The open project as the GUI sees it: the graph, its undo stack and its (lazy) analysis.

The compiler (and so torch) is loaded in a background thread after the window shows; until
then ``analysis`` is ``None`` and views show what they can without shapes. Afterwards every
edit marks the analysis stale and one 0-ms timer refreshes it once per burst of edits.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QThread, QTimer, Signal
from PySide6.QtGui import QUndoStack

from studio.graph.commands import Command
from studio.graph.model import Block, Graph
from studio.graph.project import Project
from studio.ui.undo import UndoAdapter


class CompilerLoader(QThread):
    """Imports ``studio.compiler`` (torch) off the GUI thread."""

    failed = Signal(str)

    def run(self) -> None:
        try:
            import studio.compiler  # noqa: F401
        except Exception as e:  # pragma: no cover - broken torch install
            self.failed.emit(f"{type(e).__name__}: {e}")


class Document(QObject):
    #: block ids whose shapes/counts/errors changed (empty set: only diagnostics may differ)
    analysed = Signal(object)
    #: the generated code may differ (names, params, wires changed)
    code_stale = Signal()
    edit_refused = Signal(str)

    def __init__(self, project: Project, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.project = project
        self.graph: Graph = project.graph
        self.undo_stack = QUndoStack(self)
        self.analysis = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self.refresh)
        self._code_stale = True
        ev = self.graph.events
        ev.changed.connect(self._schedule)
        ev.block_changed.connect(self._on_block_changed)
        ev.block_added.connect(self._structure_changed)
        ev.block_removed.connect(self._structure_changed)
        ev.edge_added.connect(self._structure_changed)
        ev.edge_removed.connect(self._structure_changed)

    # ------------------------------------------------------------------ edits
    def push(self, cmd: Command) -> bool:
        """Apply ``cmd`` and put it on the undo stack; a refused edit changes nothing."""
        from studio.blocks.params import ParamError
        from studio.graph.model import GraphError

        try:
            cmd.do(self.graph)
        except (GraphError, ParamError) as e:
            self.edit_refused.emit(str(e))
            return False
        self.undo_stack.push(UndoAdapter(self.graph, cmd, already_done=True))
        return True

    # --------------------------------------------------------------- analysis
    def attach_compiler(self) -> None:
        """Called on the GUI thread once ``studio.compiler`` is imported."""
        if self.analysis is not None:
            return
        from studio.compiler import Analysis

        self.analysis = Analysis(self.graph)
        self._code_stale = True
        self.analysed.emit(set(self.graph.blocks))
        self.code_stale.emit()

    def refresh(self) -> None:
        self._timer.stop()
        if self.analysis is not None:
            changed = self.analysis.refresh()
            self.analysed.emit(changed)
        if self._code_stale:
            self._code_stale = False
            self.code_stale.emit()

    def _schedule(self) -> None:
        if not self._timer.isActive():
            self._timer.start()

    def _structure_changed(self, *_: object) -> None:
        self._code_stale = True

    def _on_block_changed(self, block: Block, what: str) -> None:
        if what != "position":
            self._code_stale = True

    def close(self) -> None:
        self._timer.stop()
        if self.analysis is not None:
            self.analysis.close()
            self.analysis = None
        ev = self.graph.events
        ev.changed.disconnect(self._schedule)
        ev.block_changed.disconnect(self._on_block_changed)
        for e in (ev.block_added, ev.block_removed, ev.edge_added, ev.edge_removed):
            e.disconnect(self._structure_changed)
