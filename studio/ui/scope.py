"""An opened module definition as the canvas, editor and inspector see it: a document whose
graph is the definition's, whose edits go on the model's one undo stack, and whose analysis
is the definition's for the use it was opened from (that use's input shapes and values).

The analysis is not computed again here: the model's analysis already analyses every use's
inside (``use_results[use].copies[0]``), so the opened graph shows exactly what that use runs.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from studio.graph.commands import Command
from studio.graph.module_commands import InGraph
from studio.graph.modules import Definition
from studio.ui.undo import UndoAdapter


class DefinitionScope(QObject):
    """Inside ``definition``, reached from the model through the uses ``path`` (block ids: a
    use in the model, then a use inside that use's definition, ...)."""

    analysed = Signal(object)
    code_stale = Signal()
    edit_refused = Signal(str)

    def __init__(self, root, definition: Definition, path: list[str], labels: list[str], parent=None) -> None:
        super().__init__(parent)
        self.root = root
        self.definition = definition
        self.graph = definition.graph
        self.path = list(path)
        #: the breadcrumb text of each step ("layer1 (ResidualUnit)")
        self.labels = list(labels)
        self.project = root.project
        self.undo_stack = root.undo_stack
        self.analysis = None
        self._own = None  # an analysis of our own, when the use's is not there
        root.analysed.connect(self._root_analysed)
        root.code_stale.connect(self.code_stale)
        root.edit_refused.connect(self.edit_refused)
        self.update_analysis()

    @property
    def _warmer(self):  # what the window waits for on closing: the model's
        return self.root._warmer

    def push(self, cmd: Command) -> bool:
        """Apply ``cmd`` inside the definition and put it on the model's undo stack."""
        from studio.blocks.params import ParamError
        from studio.graph.errors import GraphError

        wrapped = InGraph(self.graph, cmd)
        try:
            wrapped.do()
        except (GraphError, ParamError) as e:
            self.edit_refused.emit(str(e))
            return False
        self.undo_stack.push(UndoAdapter(self.graph, wrapped, already_done=True))
        return True

    def refresh(self) -> None:
        self.root.refresh()

    def reanalyse(self) -> None:
        self.root.reanalyse()

    # --------------------------------------------------------------- analysis
    def use_analysis(self):
        """The analysis of this definition's graph for the use it was opened from, or None
        (no compiler yet, or the path no longer leads here)."""
        analysis = self.root.analysis
        for use_id in self.path:
            if analysis is None:
                return None
            result = analysis.use_results.get(use_id)
            if result is None or not result.copies:
                return None
            analysis = result.copies[0]
        return analysis if analysis is not None and analysis.graph is self.graph else None

    def update_analysis(self) -> None:
        found = self.use_analysis()
        if found is None and self.root.analysis is not None:
            from studio.compiler import Analysis

            if self._own is None:
                self._own = Analysis(self.graph)  # the Input blocks' own shapes
            self._own.refresh()
            found = self._own
        self.analysis = found

    def _root_analysed(self, _changed) -> None:
        self.update_analysis()
        self.analysed.emit(set(self.graph.blocks))

    def close(self) -> None:
        self.root.analysed.disconnect(self._root_analysed)
        self.root.code_stale.disconnect(self.code_stale)
        self.root.edit_refused.disconnect(self.edit_refused)
        if self._own is not None:
            self._own.close()
            self._own = None
