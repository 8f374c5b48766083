"""The Tab quick-add popup: type to filter the catalogue (best name match first), Enter adds
the block at the cursor."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QLineEdit, QListWidget, QListWidgetItem, QVBoxLayout

from studio.blocks.registry import all_block_types
from studio.ui.icons import category_icon
from studio.ui.palette import ranked

TYPE_ROLE = Qt.ItemDataRole.UserRole


class QuickAdd(QFrame):
    chosen = Signal(str)

    def __init__(self, parent=None) -> None:
        super().__init__(parent, Qt.WindowType.Popup)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.search = QLineEdit(placeholderText="Add block…")
        self.list = QListWidget()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.search)
        layout.addWidget(self.list)
        self.resize(300, 320)
        self.search.textChanged.connect(self.filter)
        self.search.returnPressed.connect(self.accept_current)
        self.list.itemActivated.connect(lambda item: self._choose(item.data(TYPE_ROLE)))
        self.search.installEventFilter(self)
        self.library = None  # the project's modules are offered too
        self.filter("")

    def filter(self, text: str) -> None:
        self.list.clear()
        modules = [d.block_type() for d in self.library] if self.library is not None else []
        for spec in ranked([*all_block_types(), *modules], text):
            item = QListWidgetItem(category_icon(spec.category), f"{spec.label}   ({spec.torch_name})")
            item.setData(TYPE_ROLE, spec.id)
            item.setToolTip(spec.description)
            self.list.addItem(item)
        self.list.setCurrentRow(0)

    def eventFilter(self, obj, event) -> bool:
        if event.type() == event.Type.KeyPress and event.key() in (Qt.Key.Key_Down, Qt.Key.Key_Up):
            row = self.list.currentRow() + (1 if event.key() == Qt.Key.Key_Down else -1)
            self.list.setCurrentRow(max(0, min(self.list.count() - 1, row)))
            return True
        return super().eventFilter(obj, event)

    def accept_current(self) -> None:
        item = self.list.currentItem()
        if item is not None:
            self._choose(item.data(TYPE_ROLE))

    def _choose(self, type_id: str) -> None:
        self.hide()
        self.chosen.emit(type_id)
