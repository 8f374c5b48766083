"""The one adapter between model commands and Qt's undo stack."""

from __future__ import annotations

from PySide6.QtGui import QUndoCommand

from studio.graph.commands import Command
from studio.graph.model import Graph

MERGEABLE_ID = 1  # QUndoStack only compares ints; the model's merge_id decides the rest


class UndoAdapter(QUndoCommand):
    """``redo`` runs ``cmd.do(graph)``, ``undo`` runs ``cmd.undo(graph)``.

    The document applies a command *before* pushing it (so a refused edit raises and never
    reaches the stack); ``already_done`` makes the redo() that ``QUndoStack.push`` calls a no-op.
    """

    def __init__(self, graph: Graph, cmd: Command, already_done: bool = False) -> None:
        super().__init__(cmd.text)
        self.graph = graph
        self.cmd = cmd
        self._skip_redo = already_done

    def redo(self) -> None:
        if self._skip_redo:
            self._skip_redo = False
            return
        self.cmd.do(self.graph)
        self.setText(self.cmd.text)

    def undo(self) -> None:
        self.cmd.undo(self.graph)

    def id(self) -> int:
        return -1 if self.cmd.merge_id is None else MERGEABLE_ID

    def mergeWith(self, other: QUndoCommand) -> bool:
        if not isinstance(other, UndoAdapter) or other.cmd.merge_id != self.cmd.merge_id:
            return False
        if self.cmd.merge(other.cmd):
            self.setText(self.cmd.text)
            return True
        return False
