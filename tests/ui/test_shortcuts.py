"""Keyboard shortcuts: no two enabled actions share a key, on this platform or any other, and
each shortcut triggers its action when pressed in the window. Quick add ranks names first."""

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence

from studio.ui.actions import SK, resolve_shortcuts

# Qt's standard bindings on every platform theme (qplatformtheme.cpp), as far as we use them
EVERY_PLATFORM = {
    SK.New: ["Ctrl+N"], SK.Open: ["Ctrl+O"], SK.Save: ["Ctrl+S"], SK.SaveAs: ["Ctrl+Shift+S"],
    SK.Quit: ["Ctrl+Q"], SK.Cut: ["Ctrl+X", "Shift+Del", "F20"], SK.Copy: ["Ctrl+C", "Ctrl+Ins", "F16"],
    SK.Paste: ["Ctrl+V", "Shift+Ins", "F18"], SK.Delete: ["Del", "Ctrl+D", "Meta+D", "Backspace"],
    SK.SelectAll: ["Ctrl+A"], SK.ZoomIn: ["Ctrl++"], SK.ZoomOut: ["Ctrl+-"],
    SK.Undo: ["Ctrl+Z", "Alt+Backspace"], SK.Redo: ["Ctrl+Y", "Ctrl+Shift+Z", "Alt+Shift+Backspace"],
}


def _every_platform(key):
    return [QKeySequence(k) for k in EVERY_PLATFORM.get(key, [])]


def _owners(actions):
    owners: dict[str, list[str]] = {}
    for a in actions:
        for seq in a.shortcuts():
            owners.setdefault(seq.toString(), []).append(a.text())
    return owners


def test_no_two_enabled_actions_share_a_key_sequence(window):
    actions = [a for a in window.findChildren(QAction) if a.isEnabled()]
    assert len(actions) > 20
    shared = {k: v for k, v in _owners(actions).items() if len(v) > 1}
    assert not shared


def test_no_shared_keys_with_any_platform_themes_bindings(window):
    a = window.actions_
    wishes = a.wishes()
    others = [s.toString() for x in window.findChildren(QAction) if x not in wishes for s in x.shortcuts()]
    resolved = resolve_shortcuts(wishes, others, bindings=_every_platform)
    owners: dict[str, list[QAction]] = {}
    for action, keys in resolved.items():
        for k in keys:
            owners.setdefault(k.toString(), []).append(action)
    assert all(len(v) == 1 for v in owners.values())
    assert set(others).isdisjoint(owners)
    assert owners["Ctrl+D"] == [a.duplicate]  # X11's Delete includes Ctrl+D: Duplicate keeps it
    assert owners["Ctrl+Y"] == [a.redo] and owners["Ctrl+Shift+Z"] == [a.redo]
    assert owners["Del"] == [a.delete] and owners["Backspace"] == [a.delete]
    assert owners["Ctrl+G"] == [a.group] and owners["Ctrl+Shift+G"] == [a.ungroup]


def _press(qtbot, widget, seq: QKeySequence) -> None:
    combo = seq[0]
    qtbot.keyClick(widget, combo.key(), combo.keyboardModifiers())


def test_each_actions_shortcut_triggers_it(window, qtbot):
    window.show()
    window.activateWindow()
    qtbot.waitExposed(window)
    fc1 = window.doc.graph.block_by_name("fc1")
    window.editor.move_blocks({fc1.id: (40, 60)})  # something to undo
    window.doc.undo_stack.undo()  # ... and to redo
    window.view.setFocus()
    qtbot.waitUntil(window.view.hasFocus)
    tried = 0
    for action in window.findChildren(QAction):
        if not action.isEnabled() or not action.shortcuts():
            continue
        action.triggered.disconnect()  # count instead of acting (Open would show a dialog)
        hits = []
        action.triggered.connect(lambda *_, h=hits: h.append(1))
        for seq in action.shortcuts():
            if seq.toString() in ("Tab",) or seq[0].key() >= Qt.Key.Key_Back:  # media / named keys
                continue
            before = len(hits)
            _press(qtbot, window.view, seq)
            assert len(hits) == before + 1, f"{seq.toString()} did not trigger {action.text()!r}"
            tried += 1
    assert tried >= 20


QUERIES = [
    ("output", "output"), ("Output", "output"), ("input", "input"), ("linear", "linear"),
    ("relu", "relu"), ("conv", "conv1d"), ("conv2", "conv2d"), ("drop", "dropout"), ("gelu", "gelu"),
    ("nn.GELU", "gelu"), ("lstm", "lstm"), ("soft", "softmax"), ("add", "add"), ("flat", "flatten"),
    ("reshape", "reshape"), ("back", "backbone"), ("leaky", "leaky_relu"), ("concat", "concatenate"),
]


@pytest.mark.parametrize(("query", "expected"), QUERIES)
def test_quick_add_ranks_the_name_first_and_enter_adds_it(window, qtbot, query, expected):
    qa = window.quick_add
    window.quick_add_at_cursor()
    qtbot.keyClicks(qa.search, query)
    n = len(window.doc.graph.blocks)
    qtbot.keyClick(qa.search, Qt.Key.Key_Return)
    assert len(window.doc.graph.blocks) == n + 1
    added = list(window.doc.graph.blocks.values())[-1]
    assert added.type == expected


def test_enter_in_the_palette_search_adds_the_best_match(window, qtbot):
    search = window.palette_widget.search
    qtbot.keyClicks(search, "output")
    n = len(window.doc.graph.blocks)
    qtbot.keyClick(search, Qt.Key.Key_Return)
    assert len(window.doc.graph.blocks) == n + 1
    assert list(window.doc.graph.blocks.values())[-1].type == "output"
