"""The block catalogue, by category, with a search box. Drag a block onto the canvas, or
double-click it to add it at the centre of the view."""

from __future__ import annotations

from PySide6.QtCore import QMimeData, Qt, Signal
from PySide6.QtGui import QDrag
from PySide6.QtWidgets import QLineEdit, QMenu, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from studio.blocks.registry import BlockType, categories, get_block_type
from studio.graph.modules import CATEGORY, MODULE_PREFIX
from studio.ui.canvas.view import BLOCK_MIME
from studio.ui.icons import category_icon

TYPE_ROLE = Qt.ItemDataRole.UserRole


def matches(spec: BlockType, query: str) -> bool:
    """Search over label, id, keywords and the torch name (every word must match): anywhere in
    the names ("norm" finds BatchNorm2d), at the start of a word of the category and keywords
    ("linear" listed all 24 activations, whose keywords say "nonlinearity")."""
    names = " ".join([spec.label, spec.id, spec.torch_name]).lower()
    words = " ".join([spec.category, *spec.keywords]).lower().replace("/", " ").split()
    return all(q in names or any(w.startswith(q) for w in words) for q in query.lower().split())


def match_rank(spec: BlockType, query: str) -> int | None:
    """How well ``spec`` answers ``query`` (lower is better; None: no match). The block's own
    name comes first: typing "output" must offer Output before Input (whose keywords mention
    outputs). Exact name, then name prefix, then a word of the name, then the torch name or
    id, then category and keywords."""
    if not matches(spec, query):
        return None
    q = " ".join(query.lower().split())
    if not q:
        return 5
    label, ident = spec.label.lower(), spec.id.lower()
    torch_name = spec.torch_name.lower().removeprefix("nn.").removeprefix("torch.")
    if q in (label, ident) or q == torch_name:
        return 0
    if label.startswith(q) or ident.startswith(q):
        return 1
    if any(word.startswith(q) for word in label.replace("/", " ").split()):
        return 2
    if q in label or q in ident or q in spec.torch_name.lower():
        return 3
    return 4


def ranked(specs, query: str) -> list[BlockType]:
    """The matching specs, best first (ties keep catalogue order)."""
    scored = [(r, i, s) for i, s in enumerate(specs) if (r := match_rank(s, query)) is not None]
    return [s for _, _, s in sorted(scored, key=lambda t: t[:2])]


class _Tree(QTreeWidget):
    def mimeData(self, items) -> QMimeData:
        mime = QMimeData()
        for item in items:
            type_id = item.data(0, TYPE_ROLE)
            if type_id:
                mime.setData(BLOCK_MIME, type_id.encode())
                mime.setText(type_id)
                break
        return mime

    def mimeTypes(self) -> list[str]:
        return [BLOCK_MIME]

    def startDrag(self, actions) -> None:
        item = self.currentItem()
        if item is None or not item.data(0, TYPE_ROLE):
            return
        drag = QDrag(self)
        drag.setMimeData(self.mimeData([item]))
        drag.setPixmap(item.icon(0).pixmap(24, 24))
        drag.exec(Qt.DropAction.CopyAction)


class Palette(QWidget):
    activated = Signal(str)  # block type id (double-click / Enter)
    rename_module_requested = Signal(str)  # a module's name (its context menu)
    delete_module_requested = Signal(str)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.search = QLineEdit(placeholderText="Search blocks (e.g. conv, dropout, nn.GELU)")
        self.search.setClearButtonEnabled(True)
        self.tree = _Tree()
        self.tree.setHeaderHidden(True)
        self.tree.setDragEnabled(True)
        self.tree.setDragDropMode(QTreeWidget.DragDropMode.DragOnly)
        self.tree.setRootIsDecorated(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.search)
        layout.addWidget(self.tree)
        self._items: dict[str, QTreeWidgetItem] = {}
        for category, specs in categories().items():
            top = QTreeWidgetItem([category])
            top.setIcon(0, category_icon(category))
            top.setFlags(Qt.ItemFlag.ItemIsEnabled)
            self.tree.addTopLevelItem(top)
            for spec in specs:
                item = QTreeWidgetItem([spec.label])
                item.setData(0, TYPE_ROLE, spec.id)
                item.setToolTip(
                    0, f"<b>{spec.label}</b> — <code>{spec.torch_name}</code><br>{spec.description}"
                )
                item.setFlags(
                    Qt.ItemFlag.ItemIsEnabled
                    | Qt.ItemFlag.ItemIsSelectable
                    | Qt.ItemFlag.ItemIsDragEnabled
                )
                top.addChild(item)
                self._items[spec.id] = item
            top.setExpanded(True)
        self.library = None
        self._modules = QTreeWidgetItem([CATEGORY])  # the project's own modules, when it has any
        self._modules.setIcon(0, category_icon(CATEGORY))
        self._modules.setFlags(Qt.ItemFlag.ItemIsEnabled)
        self._modules.setToolTip(
            0, "Modules of this project: select blocks and Group into Module (Ctrl+G)"
        )
        self.tree.addTopLevelItem(self._modules)
        self._modules.setHidden(True)
        self.search.textChanged.connect(self.filter)
        self.search.returnPressed.connect(self._activate_first)
        self.tree.itemActivated.connect(self._activated)
        self.tree.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.tree.customContextMenuRequested.connect(self._context_menu)

    # ---------------------------------------------------------------- modules
    def set_library(self, library) -> None:
        """List ``library``'s definitions under Modules, following its changes."""
        if self.library is not None:
            for event in (self.library.added, self.library.removed, self.library.changed):
                event.disconnect(self._library_changed)
        self.library = library
        for event in (library.added, library.removed, library.changed):
            event.connect(self._library_changed)
        self._library_changed()

    def _library_changed(self, *_: object) -> None:
        names = [d.name for d in self.library] if self.library is not None else []
        if names == [self._modules.child(i).text(0) for i in range(self._modules.childCount())]:
            return
        for tid in [t for t in self._items if t.startswith(MODULE_PREFIX)]:
            del self._items[tid]
        self._modules.takeChildren()
        for name in names:
            spec = self.library.spec(MODULE_PREFIX + name)
            item = QTreeWidgetItem([spec.label])
            item.setData(0, TYPE_ROLE, spec.id)
            item.setToolTip(
                0, f"<b>{spec.label}</b> — a module of this project<br>{spec.description}"
            )
            item.setFlags(
                Qt.ItemFlag.ItemIsEnabled
                | Qt.ItemFlag.ItemIsSelectable
                | Qt.ItemFlag.ItemIsDragEnabled
            )
            self._modules.addChild(item)
            self._items[spec.id] = item
        self._modules.setExpanded(True)
        self.filter(self.search.text())

    def _context_menu(self, pos) -> None:
        item = self.tree.itemAt(pos)
        type_id = item.data(0, TYPE_ROLE) if item is not None else None
        if not type_id or not type_id.startswith(MODULE_PREFIX):
            return
        menu = QMenu(self)
        name = type_id[len(MODULE_PREFIX) :]
        menu.addAction("Rename Module…", lambda: self.rename_module_requested.emit(name))
        menu.addAction("Delete Module", lambda: self.delete_module_requested.emit(name))
        menu.popup(self.tree.viewport().mapToGlobal(pos))

    def spec(self, type_id: str) -> BlockType:
        if type_id.startswith(MODULE_PREFIX) and self.library is not None:
            return self.library.spec(type_id)
        return get_block_type(type_id)

    def filter(self, text: str) -> None:
        for i in range(self.tree.topLevelItemCount()):
            top = self.tree.topLevelItem(i)
            any_shown = False
            for j in range(top.childCount()):
                child = top.child(j)
                shown = matches(self.spec(child.data(0, TYPE_ROLE)), text)
                child.setHidden(not shown)
                any_shown |= shown
            top.setHidden(not any_shown)
            if text:
                top.setExpanded(True)

    def visible_types(self) -> list[str]:
        return [
            tid
            for tid, item in self._items.items()
            if not item.isHidden() and not item.parent().isHidden()
        ]

    def _activated(self, item: QTreeWidgetItem, column: int = 0) -> None:
        type_id = item.data(0, TYPE_ROLE)
        if type_id:
            self.activated.emit(type_id)

    def _activate_first(self) -> None:
        """Enter in the search box adds the best match (not the first in catalogue order)."""
        best = ranked([self.spec(t) for t in self.visible_types()], self.search.text())
        if best:
            self.activated.emit(best[0].id)
