"""The canvas context menu: what can be done with the block under the mouse (and the
selection), or, on empty canvas, blocks to add there, the project's own modules included."""

from __future__ import annotations

from PySide6.QtCore import QPointF
from PySide6.QtWidgets import QMenu

from studio.blocks.registry import categories
from studio.graph.modules import CATEGORY as MODULES
from studio.ui.block_actions import add_block_actions
from studio.ui.icons import category_icon


def context_menu(w, block_id: str | None, scene_pos: QPointF) -> QMenu:
    menu = QMenu(w)
    a = w.actions_
    if block_id is not None:
        for action in (a.rename, a.duplicate, a.delete, a.freeze, None, a.copy, a.cut):
            menu.addSeparator() if action is None else menu.addAction(action)
        if w.modules.current is w.doc:  # a type's own actions (new head...) edit the model
            add_block_actions(menu, w, block_id)
        w.modules.add_to_menu(menu, block_id)
        return menu
    add = menu.addMenu("Add block")
    for cat, specs in categories().items():
        sub = add.addMenu(category_icon(cat), cat)
        for spec in specs:
            sub.addAction(spec.label, lambda t=spec.id: w.view.drop_block(t, scene_pos))
    library = w.scene.graph.library
    if len(library):
        sub = add.addMenu(category_icon(MODULES), MODULES)
        for defn in library:
            sub.addAction(defn.name, lambda t=defn.type_id: w.view.drop_block(t, scene_pos))
    menu.addAction("Paste", lambda: w.paste(scene_pos))
    menu.addAction(a.arrange)
    menu.addAction(a.fit)
    if w.scene.selected_block_ids():
        menu.addSeparator()
        menu.addAction(a.group)
    return menu
