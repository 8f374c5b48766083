"""Inside an opened module: make a setting of an inner block a per-use parameter (each use of
the module then sets it, e.g. ``planes`` for the channels of two convolutions), or stop that.
One row at the foot of the inspector; the labels of settings set per use say by what."""

from __future__ import annotations

from PySide6.QtWidgets import QInputDialog, QMenu, QToolButton

from studio.graph.module_commands import DeclareParam, RemoveParam


def per_use_of(defn, block_id: str) -> dict[str, str]:
    """Setting name -> the per-use parameter of ``defn`` that sets it on ``block_id``."""
    return {p: dp.name for dp in defn.params.values() for b, p in dp.targets if b == block_id}


def add_per_use_row(inspector, block) -> None:
    """Add the row (and mark the set labels) when ``block`` sits inside a module definition."""
    defn = inspector.doc.graph.owner
    if defn is None or not block.spec.params:
        return
    set_by = per_use_of(defn, block.id)
    for setting, pname in set_by.items():
        label = inspector.form.labelForField(inspector.editors[setting].widget)
        if label is not None:
            label.setText(f"{label.text()} ⇐ {pname}")
            label.setToolTip(f"Each use of {defn.name} sets this with its {pname!r} parameter.")
    button = QToolButton()
    button.setText("Per-use parameters")
    button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
    menu = QMenu(button)
    for setting, param in block.spec.params.items():
        if setting in set_by:
            menu.addAction(f"Stop setting {param.label or setting} per use ({set_by[setting]})",
                           lambda p=set_by[setting]: _push(inspector, block.id, RemoveParam(defn, p)))
        else:
            menu.addAction(f"Make {(param.label or setting).replace('_', ' ')} per use…",
                           lambda s=setting: declare(inspector, defn, block.id, s))
    button.setMenu(menu)
    button.setToolTip(f"Let each use of {defn.name} set a setting of {block.name}")
    inspector.form.addRow("", button)
    inspector.per_use_menu = menu


def declare(inspector, defn, block_id: str, setting: str) -> bool:
    name = ask_param_name(inspector, defn, setting)
    if not name:
        return False
    return _push(inspector, block_id, DeclareParam(defn, name, [(block_id, setting)]))


def _push(inspector, block_id: str, cmd) -> bool:
    ok = inspector.editor.doc.push(cmd)
    inspector.block_id = None
    inspector.show_block(block_id)  # the labels say what is now set per use
    return ok


def ask_param_name(inspector, defn, setting: str) -> str:
    """The parameter's name, '' when cancelled (tests replace this)."""
    name, ok = QInputDialog.getText(
        inspector, "Per-use parameter", f"Name of the parameter each use of {defn.name} sets:", text=setting
    )
    return name.strip() if ok else ""
