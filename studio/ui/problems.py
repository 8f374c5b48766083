"""The problems list (Analysis.diagnostics); clicking one selects and centres its block."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QStyle

from studio.ui.document import Document

BLOCK_ROLE = Qt.ItemDataRole.UserRole
EDGE_ROLE = Qt.ItemDataRole.UserRole + 1


class ProblemsList(QListWidget):
    block_clicked = Signal(str)
    edge_clicked = Signal(str)

    def __init__(self, doc: Document, parent=None) -> None:
        super().__init__(parent)
        self.doc = doc
        self._shown: list[tuple] | None = None
        self._pinned: tuple | None = None  # (text, block id, tooltip)
        self.setWordWrap(True)
        self.itemClicked.connect(self._clicked)
        self.itemActivated.connect(self._clicked)
        doc.analysed.connect(self.refresh)
        self.addItem("Checking the model once PyTorch has loaded…")

    def detach(self) -> None:
        self.doc.analysed.disconnect(self.refresh)

    def refresh(self, *_: object) -> None:
        analysis = self.doc.analysis
        if analysis is None:
            return
        graph = self.doc.graph
        rows = [(d.describe(graph), d.severity, d.block_id, d.edge_id) for d in analysis.diagnostics]
        if rows == self._shown:
            return
        self._shown = rows
        self._render()

    def pin(self, text: str, block_id: str | None, tooltip: str = "") -> None:
        """A row above the diagnostics that stays through re-analysis (a failed run's message),
        until `unpin`."""
        self._pinned = (text, block_id, tooltip or text)
        self._render()

    def unpin(self) -> None:
        if self._pinned is not None:
            self._pinned = None
            self._render()

    def _render(self) -> None:
        self.clear()
        style = self.style()
        err = style.standardIcon(QStyle.StandardPixmap.SP_MessageBoxCritical)
        warn = style.standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning)
        if self._pinned is not None:
            text, block_id, tooltip = self._pinned
            item = QListWidgetItem(err, text)
            if block_id is not None and block_id in self.doc.graph.blocks:  # a deleted block: no link
                item.setData(BLOCK_ROLE, block_id)
            item.setToolTip(tooltip)
            self.addItem(item)
        rows = self._shown or []
        for text, severity, block_id, edge_id in rows:
            item = QListWidgetItem(err if severity == "error" else warn, text)
            item.setData(BLOCK_ROLE, block_id)
            item.setData(EDGE_ROLE, edge_id)
            item.setToolTip(text)
            self.addItem(item)
        if self._shown is not None and not rows:
            self.addItem(QListWidgetItem(style.standardIcon(QStyle.StandardPixmap.SP_DialogApplyButton), "No problems: the model is ready to train."))

    def problem_texts(self) -> list[str]:
        return [row[0] for row in self._shown or []]

    def _clicked(self, item: QListWidgetItem) -> None:
        block_id = item.data(BLOCK_ROLE)
        edge_id = item.data(EDGE_ROLE)
        if edge_id:
            self.edge_clicked.emit(edge_id)
        elif block_id:
            self.block_clicked.emit(block_id)
