"""The open project as the GUI sees it: the graph, its undo stack and its (lazy) analysis.

The compiler (and so torch) is loaded in a background thread after the window shows; until
then ``analysis`` is ``None`` and views show what they can without shapes. Afterwards every
edit marks the analysis stale and one 0-ms timer refreshes it once per burst of edits.
"""

from __future__ import annotations

import contextlib
import gc

from PySide6.QtCore import QObject, QThread, QTimer, Signal
from PySide6.QtGui import QUndoStack

from studio import trust
from studio.graph.commands import Command
from studio.graph.model import Block, Graph
from studio.graph.project import Project
from studio.ui.undo import UndoAdapter


class CompilerLoader(QThread):
    """Imports ``studio.compiler`` (torch) and pyqtgraph off the GUI thread, once the window shows.

    Not earlier: an import is Python work that needs the GIL, so one running while the window is
    built or a file opens slows the GUI thread down, and the more so the busier the machine (the
    thread holding the GIL gets descheduled by the OS with it). Opening 2,000 blocks took
    3.1-3.4 s at load 20 with pyqtgraph importing beside it, 1.4-2.5 s without
    (benchmarks/canvas_scale.py; before, the training panel imported pyqtgraph in a thread of its
    own as soon as it was built)."""

    failed = Signal(str)

    def run(self) -> None:
        try:
            import pyqtgraph  # noqa: F401  (the training plots; imported here rather than on first use)

            import studio.compiler  # noqa: F401
            from studio.compiler.shapes import warm_up

            warm_up()  # torch loads its meta kernels lazily: do that here, not on the GUI thread
            # the spare training process is started from the GUI thread soon after (the
            # training dock's prewarm): its module and the trainer's (70-120 ms) load here
            with contextlib.suppress(ImportError):  # how the process starts (POSIX)
                import multiprocessing.popen_spawn_posix  # noqa: F401
            import studio.training.child  # noqa: F401
            import studio.training.remote  # noqa: F401
            _freeze_once()
        except Exception as e:  # pragma: no cover - broken torch install
            self.failed.emit(f"{type(e).__name__}: {e}")


_frozen = False


def _freeze_once() -> None:
    """torch's and Studio's modules live as long as the app: kept out of the collector's full
    passes, which walked all of them holding the GIL (one set off by writing a 2,000-block class
    in the background stopped the GUI 280-610 ms at load 5; 37 ms frozen). Once a process: what
    is frozen is never collected, so later windows' objects are left to the collector."""
    global _frozen
    if not _frozen:
        _frozen = True
        gc.freeze()


class ShapeWarmer(QThread):
    """Infers the shapes of a large graph's snapshot off the GUI thread. Results land in the
    shape cache, so the Analysis then built on the GUI thread is made of cache hits."""

    def __init__(self, snapshot: dict, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.snapshot = snapshot

    def run(self) -> None:
        from studio.compiler import analyze

        try:
            analyze(Graph.from_dict(self.snapshot))
        except Exception:  # the real Analysis on the GUI thread reports any problem
            pass


#: graphs with more blocks than this have their first shape inference done off the GUI thread
BACKGROUND_ANALYSIS_BLOCKS = 150


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
        self._warmer: ShapeWarmer | None = None
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
        # an edit inside a module definition changes every use: code and shapes follow
        self.graph.library.changed.connect(self._definition_changed)

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
        """Called on the GUI thread once ``studio.compiler`` is imported. A large graph is first
        analysed in a background thread (the window stays responsive meanwhile)."""
        if self.analysis is not None or self._warmer is not None:
            return
        if len(self.graph) > BACKGROUND_ANALYSIS_BLOCKS:
            self._warmer = ShapeWarmer(self.graph.to_dict(), self)
            self._warmer.finished.connect(self._attach_analysis)
            self._warmer.start()
            return
        self._attach_analysis()

    def wait_for_analysis(self) -> None:
        """Block until the first analysis exists (tests and benchmarks)."""
        if self._warmer is not None:
            self._warmer.wait()
        self._attach_analysis()

    def _attach_analysis(self) -> None:
        if self.analysis is not None:
            return
        from studio.compiler import Analysis

        self.analysis = Analysis(self.graph)
        self._code_stale = True
        self.analysed.emit(set(self.graph.blocks))
        self.code_stale.emit()

    def reanalyse(self) -> None:
        """Infer every block again (something outside the graph changed, e.g. trust)."""
        if self.analysis is not None:
            self.analysis.set_trust(trust.policy())
        self._code_stale = True
        self._schedule()

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

    def _definition_changed(self, *_: object) -> None:
        self._code_stale = True
        self._schedule()

    def _on_block_changed(self, block: Block, what: str) -> None:
        if what != "position":
            self._code_stale = True

    def close(self) -> None:
        self._timer.stop()
        if self.analysis is not None:
            self.analysis.close()
            self.analysis = None
        self.graph.library.changed.disconnect(self._definition_changed)
        ev = self.graph.events
        ev.changed.disconnect(self._schedule)
        ev.block_changed.disconnect(self._on_block_changed)
        for e in (ev.block_added, ev.block_removed, ev.edge_added, ev.edge_removed):
            e.disconnect(self._structure_changed)
