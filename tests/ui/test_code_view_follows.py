"""The Code tab writes the class only where it can be read: hidden, an edit costs it nothing and
showing it brings the current code; visible, a burst of edits is written once when it settles."""

import pytest

import studio.compiler
from tests.ui.conftest import by_name


@pytest.fixture
def shown(window, qtbot, monkeypatch):
    """The window on screen with the Inspector tab raised (the Code tab hidden behind it), and
    a count of how often the class is written."""
    calls = []
    real = studio.compiler.generate

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    window.show()
    qtbot.waitExposed(window)
    window.inspector_dock.raise_()
    qtbot.waitUntil(lambda: window.code_view.visibleRegion().isEmpty(), timeout=120_000)
    window.doc.refresh()
    monkeypatch.setattr(studio.compiler, "generate", counting)
    return window, calls


def set_width(w, qtbot, name, width):
    """Type a width into the inspector as a user would, and let the edit's refresh run."""
    block = by_name(w.doc.graph, name)
    w.scene.select_blocks([block.id])
    w.inspector.editors["out_features"].widget.setValue(width)
    qtbot.waitUntil(
        lambda: w.doc.graph.blocks[block.id].params["out_features"] == width, timeout=120_000
    )
    w.doc.refresh()


def test_an_edit_behind_the_inspector_tab_shows_when_the_code_tab_is_raised(shown, qtbot):
    w, calls = shown
    view = w.code_view
    set_width(w, qtbot, "fc1", 32)
    set_width(w, qtbot, "fc2", 48)
    qtbot.wait(400)  # longer than the settling time: still nothing written for a hidden tab
    assert calls == []
    assert "nn.Linear(2, 32)" not in view.text.toPlainText()
    w.code_dock.raise_()
    qtbot.waitUntil(lambda: not view.visibleRegion().isEmpty(), timeout=120_000)
    text = view.text.toPlainText()
    assert "nn.Linear(2, 32)" in text and "nn.Linear(32, 48)" in text and "nn.Linear(48, 2)" in text
    assert len(calls) == 1  # both edits written once, when shown


def test_a_burst_of_edits_in_the_visible_code_tab_is_written_once_after_it_settles(shown, qtbot):
    w, calls = shown
    view = w.code_view
    w.code_dock.raise_()
    qtbot.waitUntil(lambda: not view.visibleRegion().isEmpty(), timeout=120_000)
    calls.clear()
    for width in (10, 11, 12, 13):  # a spin box's arrow held down
        set_width(w, qtbot, "fc1", width)
    qtbot.waitUntil(lambda: "nn.Linear(2, 13)" in view.text.toPlainText(), timeout=120_000)
    assert "nn.Linear(13, 64)" in view.text.toPlainText()
    assert len(calls) == 1
    set_width(w, qtbot, "classifier", 3)
    qtbot.waitUntil(lambda: "nn.Linear(64, 3)" in view.text.toPlainText(), timeout=120_000)


def test_export_reads_the_current_code_while_the_code_tab_is_hidden(shown, qtbot):
    w, calls = shown
    set_width(w, qtbot, "fc2", 40)
    assert calls == []
    assert "nn.Linear(64, 40)" in w.code_view.source  # what Export and Copy read
    assert len(calls) == 1
    w.code_dock.raise_()
    qtbot.waitUntil(lambda: not w.code_view.visibleRegion().isEmpty(), timeout=120_000)
    assert "nn.Linear(64, 40)" in w.code_view.text.toPlainText() and len(calls) == 1


def test_a_project_opened_while_the_code_tab_is_in_front_shows_its_code(shown, qtbot):
    from studio.graph.project import load_project

    w, _ = shown
    w.code_dock.raise_()
    qtbot.waitUntil(lambda: "class " in w.code_view.text.toPlainText(), timeout=120_000)
    path = "resources/examples/shapes_cnn.studio.json"
    expected = studio.compiler.generate(load_project(path).graph, "x").source.split("class ", 1)[1]
    expected_line = next(line for line in expected.splitlines() if "nn.Conv2d(" in line)
    assert w.files.open_path(path, ask=False)
    qtbot.waitUntil(lambda: expected_line in w.code_view.text.toPlainText(), timeout=120_000)
