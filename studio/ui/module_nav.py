"""Editing sub-networks in the window: group a selection into a module, ungroup a use, detach
a use's own copy, and open a definition on the canvas with a breadcrumb bar to go back.

Gestures become commands (through the current scope's Editor); which graph the canvas shows
is the only state kept here: the stack of opened definitions, each a :class:`DefinitionScope`.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QInputDialog, QLabel, QMenu, QToolButton, QWidget

from studio.graph.module_commands import RenameDefinition
from studio.ui.scope import DefinitionScope

MODEL_LABEL = "Model"


class Breadcrumb(QWidget):
    """ "Model › layer1 (ResidualUnit)": each earlier step is a button that goes back there."""

    clicked = Signal(int)  # 0: the model, 1: the first opened definition, ...

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("breadcrumb")
        self._layout = QHBoxLayout(self)
        self._layout.setContentsMargins(8, 3, 8, 3)
        self._layout.setSpacing(4)
        self.buttons: list[QToolButton] = []
        self.set_path([MODEL_LABEL])

    def set_path(self, labels: list[str]) -> None:
        while self._layout.count():
            item = self._layout.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        self.buttons = []
        for i, label in enumerate(labels[:-1]):
            b = QToolButton()
            b.setText(label)
            b.setAutoRaise(True)
            b.setToolTip(f"Back to {label}")
            b.clicked.connect(lambda _=False, level=i: self.clicked.emit(level))
            self._layout.addWidget(b)
            self._layout.addWidget(QLabel("›"))
            self.buttons.append(b)
        self.here = QLabel(labels[-1])  # where the canvas is (plain text: names are the user's)
        self.here.setTextFormat(Qt.TextFormat.PlainText)
        font = self.here.font()
        font.setBold(True)
        self.here.setFont(font)
        self._layout.addWidget(self.here)
        self._layout.addStretch(1)
        hint = QLabel("editing a module: every use changes")
        hint.setEnabled(False)
        self._layout.addWidget(hint)
        self.setVisible(len(labels) > 1)

    def labels(self) -> list[str]:
        return [b.text() for b in self.buttons] + [self.here.text()]


class ModuleNavigator(QObject):
    """The window's module gestures and the stack of opened definitions."""

    def __init__(self, window) -> None:
        super().__init__(window)
        self.w = window
        self.scopes: list[DefinitionScope] = []
        self.bar = Breadcrumb()
        self.bar.clicked.connect(self.go_to)

    @property
    def current(self):
        """The document the canvas shows: the model, or the innermost opened definition."""
        return self.scopes[-1] if self.scopes else self.w.doc

    def attach(self, doc) -> None:
        """A project was opened: back to its model (the window binds the canvas)."""
        for scope in reversed(self.scopes):
            scope.close()
            scope.deleteLater()
        self.scopes = []
        self.bar.set_path([MODEL_LABEL])
        doc.undo_stack.indexChanged.connect(self.validate)

    # ------------------------------------------------------------ navigation
    def open_use(self, block_id: str | None = None) -> bool:
        """Show the definition of the use ``block_id`` (default: the one selected block)."""
        graph = self.current.graph
        if block_id is None:
            ids = self.w.scene.selected_block_ids()
            block_id = ids[0] if len(ids) == 1 else None
        block = graph.blocks.get(block_id) if block_id else None
        defn = block.spec.definition if block is not None else None
        if defn is None:
            self.w.show_hint("Select one module block to open it (double-click it, or press Enter).")
            return False
        path = self.scopes[-1].path if self.scopes else []
        labels = self.scopes[-1].labels if self.scopes else [MODEL_LABEL]
        scope = DefinitionScope(self.w.doc, defn, [*path, block.id], [*labels, f"{block.name} ({defn.name})"], self)
        self.scopes.append(scope)
        self._show()
        self.w.view.fit_all(readable=True)
        return True

    def go_to(self, level: int) -> None:
        """Back to breadcrumb step ``level`` (0: the model); the use we came from is selected."""
        if level >= len(self.scopes):
            return
        came_from = self.scopes[level].path[-1]
        while len(self.scopes) > level:
            scope = self.scopes.pop()
            scope.close()
            scope.deleteLater()
        self._show()
        if came_from in self.w.scene.blocks:
            self.w.scene.select_blocks([came_from])
            self.w.view.centre_on_block(came_from)

    def _show(self) -> None:
        self.w.bind_canvas(self.current)
        self.bar.set_path(self.scopes[-1].labels if self.scopes else [MODEL_LABEL])

    def validate(self, *_: object) -> None:
        """After an undo or redo: an opened definition whose use is gone (ungrouped, undone)
        closes, back to the deepest step that still leads to it."""
        graph = self.w.doc.graph
        for i, scope in enumerate(self.scopes):
            block = graph.blocks.get(scope.path[-1])
            if block is None or block.type != scope.definition.type_id or scope.definition.name not in graph.library:
                self.go_to(i)
                return
            graph = scope.graph

    # --------------------------------------------------------------- gestures
    def group_selection(self) -> str | None:
        ids = self.w.scene.selected_block_ids()
        if not ids:
            self.w.show_hint("Select the blocks to group first (drag a box around them).")
            return None
        name = self.ask_module_name(self.current.graph.library.unique_name("Module"))
        if not name:
            return None
        use_id = self.w.editor.group(ids, name)
        if use_id is not None:
            self.w.scene.select_blocks([use_id])
            self.w.show_hint(f"Grouped {len(ids)} blocks into {name}; double-click it to open it.")
        return use_id

    def ask_module_name(self, suggestion: str) -> str:
        """Hook (tests replace it): the new module's class name, '' when cancelled."""
        name, ok = QInputDialog.getText(self.w, "Group into module", "Module name (a class name):", text=suggestion)
        return name.strip() if ok else ""

    def _selected_use(self, verb: str) -> str | None:
        ids = self.w.scene.selected_block_ids()
        graph = self.current.graph
        if len(ids) == 1 and graph.blocks[ids[0]].spec.definition is not None:
            return ids[0]
        self.w.show_hint(f"Select one module block to {verb} it.")
        return None

    def ungroup_selection(self) -> list[str]:
        use_id = self._selected_use("ungroup")
        if use_id is None:
            return []
        ids = self.w.editor.ungroup(use_id)
        if ids:
            self.w.scene.select_blocks(ids)
        return ids

    def detach_selection(self) -> str | None:
        use_id = self._selected_use("detach a copy of")
        if use_id is None:
            return None
        name = self.w.editor.detach(use_id)
        if name:
            self.w.show_hint(f"{self.current.graph.blocks[use_id].name} now has its own module, {name}.")
        return name

    def rename_definition(self, old: str) -> bool:
        """Rename module ``old`` (its class name); every use follows, as one undo step."""
        new = self.ask_new_name(old)
        if not new or new == old:
            return False
        library = self.w.doc.graph.library
        if not self.w.training.gate(self.w.doc).push(RenameDefinition(library, old, new)):
            return False
        self.bar.set_path([label.replace(f"({old})", f"({new})") for label in self.bar.labels()])
        for scope in self.scopes:
            scope.labels = [label.replace(f"({old})", f"({new})") for label in scope.labels]
        return True

    def delete_definition(self, name: str) -> bool:
        """Delete module ``name`` when nothing uses it (one undo step); else say what uses it."""
        from studio.graph.insert_modules import RemoveDefinition

        return bool(self.w.training.gate(self.w.doc).push(RemoveDefinition(self.w.doc.graph.library, name)))

    def ask_new_name(self, old: str) -> str:
        """Hook (tests replace it): the module's new name, '' when cancelled."""
        name, ok = QInputDialog.getText(self.w, "Rename module", f"New name for {old} (a class name):", text=old)
        return name.strip() if ok else ""

    def add_to_menu(self, menu: QMenu, block_id: str | None) -> None:
        """The canvas context menu's module entries for what is selected."""
        a = self.w.actions_
        graph = self.current.graph
        block = graph.blocks.get(block_id) if block_id else None
        menu.addSeparator()
        if block is not None and block.spec.definition is not None:
            for action in (a.open_module, a.ungroup, a.detach_copy):
                menu.addAction(action)
        if self.w.scene.selected_block_ids():
            menu.addAction(a.group)

    def definition_shown(self):
        return self.scopes[-1].definition if self.scopes else None

