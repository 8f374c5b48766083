"""The window's actions, menus and toolbar (standard shortcuts, SVG icons).

Shortcuts are given as wishes (a platform's standard key and/or fixed keys) and resolved once
for the whole window: fixed keys are claimed first, and a standard binding that another action
already has is dropped. Qt's X11 Delete includes Ctrl+D, which made Ctrl+D (Duplicate) an
ambiguous shortcut that did nothing; resolved this way no two actions share a key on any
platform theme."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu, QToolBar

from studio.ui.icons import icon

SK = QKeySequence.StandardKey
Wish = Sequence["SK | str"]  # standard keys and fixed key texts, in order of preference


def resolve_shortcuts(
    wishes: dict[QAction, Wish], taken: Iterable[str] = (),
    bindings: Callable[[SK], list[QKeySequence]] = QKeySequence.keyBindings,
) -> dict[QAction, list[QKeySequence]]:
    """Each action's key sequences: fixed keys first (for every action), then standard
    bindings not already claimed. ``taken`` are keys other actions own; ``bindings`` is the
    platform's table (tests pass every platform's)."""
    claimed = {QKeySequence(t).toString() for t in taken}
    out: dict[QAction, list[QKeySequence]] = {a: [] for a in wishes}
    for action, wish in wishes.items():
        for w in wish:
            if isinstance(w, str) and QKeySequence(w).toString() not in claimed:
                out[action].append(QKeySequence(w))
                claimed.add(QKeySequence(w).toString())
    for action, wish in wishes.items():
        for w in wish:
            if isinstance(w, SK):
                for seq in bindings(w):
                    if seq.toString() and seq.toString() not in claimed:
                        out[action].append(seq)
                        claimed.add(seq.toString())
    return out


def _action(window, text: str, slot, shortcut=None, icon_name: str | None = None, tip: str = "") -> QAction:
    a = QAction(text, window)
    a.studio_wish = shortcut  # resolved by Actions.assign_shortcuts together with all the others
    if icon_name:
        a.setIcon(icon(icon_name))
    if tip:
        a.setStatusTip(tip)
    a.triggered.connect(lambda checked=False: slot())
    return a


class Actions:
    """Attribute bag of QActions, connected to the window's slots."""

    def __init__(self, w) -> None:
        f = w.files
        self.new = _action(w, "&New", f.new, SK.New, "new")
        self.open = _action(w, "&Open…", f.open_dialog, SK.Open, "open")
        self.save = _action(w, "&Save", f.save, SK.Save, "save")
        self.save_as = _action(w, "Save &As…", f.save_as, SK.SaveAs)
        self.export_python = _action(w, "Export &Python…", f.export_python, "Ctrl+E", "code")
        self.export_diagram = _action(w, "Export &Diagram (PNG/SVG)…", f.export_diagram, None, "export")
        self.quit = _action(w, "&Quit", w.close, SK.Quit)
        self.cut = _action(w, "Cu&t", w.cut, SK.Cut)
        self.copy = _action(w, "&Copy", w.copy, SK.Copy, "copy")
        self.paste = _action(w, "&Paste", w.paste, SK.Paste)
        self.duplicate = _action(w, "D&uplicate", w.duplicate, "Ctrl+D")
        self.delete = _action(w, "&Delete", w.delete_selection, (SK.Delete, "Backspace"), "delete")
        self.select_all = _action(w, "Select &All", w.select_all, SK.SelectAll)
        self.rename = _action(w, "&Rename…", w.rename_selected, "F2")
        self.freeze = _action(w, "&Freeze / Unfreeze", w.toggle_freeze, "Ctrl+Shift+F")
        self.zoom_in = _action(w, "Zoom &In", lambda: w.view.zoom_by(1.25), SK.ZoomIn, "zoom-in")
        self.zoom_out = _action(w, "Zoom &Out", lambda: w.view.zoom_by(0.8), SK.ZoomOut, "zoom-out")
        self.fit = _action(w, "&Fit to View", lambda: w.view.fit_all(), "Ctrl+0", "fit")
        self.arrange = _action(w, "Auto-&arrange", w.arrange, "Ctrl+L", "arrange")
        self.quick_add = _action(w, "&Quick Add Block…\tTab", w.quick_add_at_cursor, None)
        m = w.modules
        self.group = _action(w, "&Group into Module…", m.group_selection, "Ctrl+G",
                             tip="Move the selected blocks into a new module of this project, used once here")
        self.ungroup = _action(w, "U&ngroup", m.ungroup_selection, "Ctrl+Shift+G",
                               tip="Put the blocks of the selected module block back in its place")
        self.open_module = _action(w, "&Open Module\tEnter", lambda: m.open_use(None), None,
                                   tip="Show what is inside the selected module block (double-click it)")
        self.detach_copy = _action(w, "Detach &Copy", m.detach_selection, None,
                                   tip="Give the selected module block its own copy of the module, to change it alone")
        self.snap = QAction("&Snap to Grid", w, checkable=True, checked=True)
        self.snap.toggled.connect(lambda on: setattr(w.view, "snap", on))
        self.undo = w.undo_group.createUndoAction(w, "&Undo")
        self.undo.studio_wish = (SK.Undo,)
        self.undo.setIcon(icon("undo"))
        self.redo = w.undo_group.createRedoAction(w, "&Redo")
        self.redo.studio_wish = ("Ctrl+Y", "Ctrl+Shift+Z", SK.Redo)  # Ctrl+Y on every platform
        self.redo.setIcon(icon("redo"))
        self.assign_shortcuts(w)

    def wishes(self) -> dict[QAction, Wish]:
        out = {}
        for a in vars(self).values():
            wish = getattr(a, "studio_wish", None) if isinstance(a, QAction) else None
            if wish is not None:
                out[a] = tuple(wish) if isinstance(wish, (tuple, list)) else (wish,)
        return out

    def assign_shortcuts(self, w) -> None:
        wishes = self.wishes()
        taken = [s.toString() for a in w.findChildren(QAction) if a not in wishes for s in a.shortcuts()]
        for action, keys in resolve_shortcuts(wishes, taken).items():
            action.setShortcuts(keys)

    def build_menus(self, w) -> None:
        bar = w.menuBar()
        m = w.file_menu = bar.addMenu("&File")
        for a in (self.new, self.open):
            m.addAction(a)
        w.recent_menu = QMenu("Open &Recent", w)
        m.addMenu(w.recent_menu)
        m.addSeparator()
        for a in (self.save, self.save_as):
            m.addAction(a)
        m.addSeparator()
        m.addAction(self.export_python)
        m.addAction(self.export_diagram)
        m.addSeparator()
        m.addAction(self.quit)
        m = bar.addMenu("&Edit")
        for a in (self.undo, self.redo, None, self.cut, self.copy, self.paste, self.duplicate, self.delete,
                  None, self.select_all, self.rename, self.freeze,
                  None, self.group, self.ungroup, self.open_module, self.detach_copy):
            m.addSeparator() if a is None else m.addAction(a)
        m = bar.addMenu("&View")
        for a in (self.zoom_in, self.zoom_out, self.fit, None, self.arrange, self.snap, self.quick_add):
            m.addSeparator() if a is None else m.addAction(a)
        w.view_menu = m
        m = bar.addMenu("&Train")  # Train / Pause / Stop (the training panel's actions)
        for a in w.training.actions:
            m.addAction(a)

    def build_toolbar(self, w) -> QToolBar:
        tb = QToolBar("Main", w)
        tb.setObjectName("main-toolbar")
        for a in (self.new, self.open, self.save, None, self.undo, self.redo, None,
                  self.zoom_in, self.zoom_out, self.fit, self.arrange, None, self.export_python,
                  None, *w.training.actions):
            tb.addSeparator() if a is None else tb.addAction(a)
        w.addToolBar(tb)
        return tb
