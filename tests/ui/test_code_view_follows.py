"""The Code tab writes the class only where it can be read: hidden, an edit costs it nothing and
showing it brings the current code; visible, a burst of edits is written once when it settles.
The class is written in slices between turns of the event loop (the window keeps answering
meanwhile), and so are Export Python and Copy when an edit made the code stale."""

import threading

import pytest

import studio.compiler
from tests.ui.conftest import by_name


@pytest.fixture
def shown(window, qtbot, monkeypatch):
    """The window on screen with the Inspector tab raised (the Code tab hidden behind it), and
    the threads the class was written in, one per time."""
    calls = []
    real = studio.compiler.generate_steps

    def counting(*args, **kwargs):
        calls.append(threading.current_thread())
        return (yield from real(*args, **kwargs))

    window.show()
    qtbot.waitExposed(window)
    window.inspector_dock.raise_()
    qtbot.waitUntil(lambda: window.code_view.visibleRegion().isEmpty(), timeout=120_000)
    window.doc.refresh()
    monkeypatch.setattr(studio.compiler, "generate_steps", counting)
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
    qtbot.waitUntil(lambda: "nn.Linear(2, 32)" in view.text.toPlainText(), timeout=120_000)
    text = view.text.toPlainText()
    assert "nn.Linear(32, 48)" in text and "nn.Linear(48, 2)" in text
    assert len(calls) == 1  # both edits written once, when shown
    assert view.status.text().startswith("class ")
    # written in slices, it is exactly what generate() writes at once
    w.doc.refresh()
    assert text == studio.compiler.generate(w.doc.graph, w.doc.project.name, w.doc.analysis).source


def test_a_burst_of_edits_in_the_visible_code_tab_is_written_once_after_it_settles(shown, qtbot):
    w, calls = shown
    view = w.code_view
    w.code_dock.raise_()
    qtbot.waitUntil(lambda: not view.visibleRegion().isEmpty(), timeout=120_000)
    qtbot.waitUntil(lambda: not view.writing, timeout=120_000)
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
    assert calls == [threading.main_thread()]  # at once: Export needs it now
    w.code_dock.raise_()
    qtbot.waitUntil(lambda: not w.code_view.visibleRegion().isEmpty(), timeout=120_000)
    qtbot.wait(50)
    assert "nn.Linear(64, 40)" in w.code_view.text.toPlainText() and len(calls) == 1
    assert not w.code_view.writing


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


@pytest.fixture
def gated(shown, monkeypatch):
    """``shown``, with each write of the class held (its steps going on, writing nothing) until
    the test sets ``gate``."""
    window, calls = shown
    gate = threading.Event()
    counting = studio.compiler.generate_steps

    def held(*args, **kwargs):
        while not gate.is_set():
            yield
        return (yield from counting(*args, **kwargs))

    monkeypatch.setattr(studio.compiler, "generate_steps", held)
    yield window, calls, gate
    gate.set()


def ticks_while(w, qtbot, n=5):
    """Wait until a 5-ms timer has fired ``n`` times: the event loop turns."""
    ticks = []
    timer_id = w.startTimer(5)
    w.timerEvent = lambda event: ticks.append(1)
    qtbot.waitUntil(lambda: len(ticks) >= n, timeout=120_000)
    w.killTimer(timer_id)


def test_the_window_keeps_answering_while_the_code_tab_writes_the_class(gated, qtbot):
    w, calls, gate = gated
    view = w.code_view
    set_width(w, qtbot, "fc1", 32)
    old = view.text.toPlainText()
    w.code_dock.raise_()
    qtbot.waitUntil(lambda: view.writing, timeout=120_000)
    assert view.status.text() == "Writing the code of the current model…"
    ticks_while(w, qtbot)
    assert view.text.toPlainText() == old  # the class is still being written
    gate.set()
    qtbot.waitUntil(lambda: "nn.Linear(2, 32)" in view.text.toPlainText(), timeout=120_000)
    assert view.status.text().startswith("class ") and not view.writing


def test_an_edit_made_while_the_class_is_written_is_what_the_code_tab_ends_up_showing(gated, qtbot):
    w, calls, gate = gated
    view = w.code_view
    shown_texts = []
    view.text.textChanged.connect(lambda: shown_texts.append(view.text.toPlainText()))
    set_width(w, qtbot, "fc1", 32)
    w.code_dock.raise_()
    qtbot.waitUntil(lambda: view.writing, timeout=120_000)
    set_width(w, qtbot, "fc1", 40)  # while the class with 32 is being written
    gate.set()
    qtbot.waitUntil(lambda: "nn.Linear(2, 40)" in view.text.toPlainText(), timeout=120_000)
    qtbot.waitUntil(lambda: not view.writing, timeout=120_000)
    assert not any("nn.Linear(2, 32)" in t for t in shown_texts)  # the overtaken write is dropped
    assert "nn.Linear(40, 64)" in view.text.toPlainText()
    assert view.source == view.text.toPlainText()  # not stale: Export writes what is shown


def test_export_python_after_an_edit_writes_the_current_code_while_the_window_answers(
    gated, qtbot, tmp_path, monkeypatch
):
    w, calls, gate = gated
    out = tmp_path / "model.py"
    monkeypatch.setattr(w.files, "choose_save_path", lambda *a: str(out))
    set_width(w, qtbot, "fc2", 40)  # the Code tab hidden: its text is stale
    assert w.files.export_python()
    ticks_while(w, qtbot)  # the window answers while the class is written
    assert not out.exists() and w.statusBar().currentMessage() == "Writing the code to export…"
    set_width(w, qtbot, "fc2", 44)  # an edit meanwhile: the export writes the code after it
    gate.set()
    qtbot.waitUntil(out.exists, timeout=120_000)
    text = out.read_text()
    assert "nn.Linear(64, 44)" in text and "class SpiralClassifier(nn.Module)" in text
    assert w.statusBar().currentMessage() == f"Exported {out}"
    w.doc.refresh()
    assert text == studio.compiler.generate(w.doc.graph, w.doc.project.name, w.doc.analysis).source
    assert w.code_view.source == text and all(t is threading.main_thread() for t in calls)


def test_export_python_of_a_model_broken_while_it_was_written_says_so(
    gated, qtbot, tmp_path, monkeypatch
):
    w, calls, gate = gated
    errors = []
    out = tmp_path / "model.py"
    monkeypatch.setattr(w.files, "choose_save_path", lambda *a: str(out))
    monkeypatch.setattr(w.files, "error", errors.append)
    set_width(w, qtbot, "fc2", 40)
    assert w.files.export_python()
    fc2 = by_name(w.doc.graph, "fc2")
    w.doc.graph.disconnect(w.doc.graph.wires_into(fc2.id)[0].id)
    w.doc.refresh()
    gate.set()
    qtbot.waitUntil(lambda: bool(errors), timeout=120_000)
    assert "fix them before exporting" in errors[0] and not out.exists()


def test_copy_after_an_edit_copies_the_current_code_while_the_window_answers(gated, qtbot):
    from PySide6.QtGui import QGuiApplication

    w, calls, gate = gated
    clipboard = QGuiApplication.clipboard()
    clipboard.setText("before")
    w.code_dock.raise_()
    qtbot.waitUntil(lambda: not w.code_view.visibleRegion().isEmpty(), timeout=120_000)
    set_width(w, qtbot, "fc1", 24)
    w.code_view.copy_button.click()
    ticks_while(w, qtbot)
    assert clipboard.text() == "before"  # still being written
    gate.set()
    qtbot.waitUntil(lambda: "nn.Linear(2, 24)" in clipboard.text(), timeout=120_000)
    assert clipboard.text() == w.code_view.text.toPlainText()
    assert w.code_view.copy_button.text() == "Copied"  # the click shows it did something
    qtbot.waitUntil(lambda: w.code_view.copy_button.text() == "Copy", timeout=120_000)
    w.code_view.copy_button.click()  # current: copied at once
    assert clipboard.text() == w.code_view.text.toPlainText()


def test_copy_clicked_right_after_an_edit_copies_the_code_after_it(shown, qtbot):
    from PySide6.QtGui import QGuiApplication

    w, calls = shown
    clipboard = QGuiApplication.clipboard()
    w.code_dock.raise_()
    qtbot.waitUntil(lambda: "class " in w.code_view.text.toPlainText(), timeout=120_000)
    qtbot.waitUntil(lambda: not w.code_view.writing, timeout=120_000)
    fc1 = by_name(w.doc.graph, "fc1")
    clipboard.setText("before")
    w.doc.graph.set_params(fc1.id, {"out_features": 20})  # the analysis follows on the next turn
    w.code_view.copy_button.click()
    assert clipboard.text() == "before"  # not the text shown before the edit
    qtbot.waitUntil(lambda: "nn.Linear(2, 20)" in clipboard.text(), timeout=120_000)
    assert "nn.Linear(20, 64)" in clipboard.text()


def test_a_broken_model_shows_its_problems_from_the_background_write(shown, qtbot):
    w, calls = shown
    view = w.code_view
    w.code_dock.raise_()
    qtbot.waitUntil(lambda: "class " in view.text.toPlainText(), timeout=120_000)
    fc2 = by_name(w.doc.graph, "fc2")
    w.doc.graph.disconnect(w.doc.graph.wires_into(fc2.id)[0].id)
    w.doc.refresh()
    qtbot.waitUntil(lambda: "has problems" in view.text.toPlainText(), timeout=120_000)
    assert "nothing wired into its input" in view.text.toPlainText()
    assert view.status.text() == "The model has problems"


def test_the_code_on_screen_is_coloured_and_lines_below_are_coloured_when_scrolled_to(shown, qtbot):
    from PySide6.QtGui import QFont

    w, _ = shown
    view = w.code_view
    g = w.doc.graph
    out = next(b for b in g if b.type == "output")
    wire = g.edge_into(out.id, "in")
    g.disconnect(wire.id)
    prev = wire.src
    for _ in range(80):  # a class longer than the view
        prev = g.connect(prev, "out", g.add_block("relu").id, "in").dst
    g.connect(prev, "out", out.id, "in")
    last_relu = g.blocks[prev].name
    w.doc.refresh()
    w.code_dock.raise_()
    qtbot.waitUntil(lambda: f"self.{last_relu} =" in view.text.toPlainText(), timeout=120_000)
    qtbot.waitUntil(lambda: not view.writing, timeout=120_000)
    doc = view.text.document()
    line = next(b for b in _blocks(doc) if b.text().startswith("class "))
    bar = view.text.verticalScrollBar()
    bar.setValue(line.blockNumber())
    qtbot.wait(50)
    first = next(r for r in line.layout().formats() if r.start == 0)
    assert first.format.fontWeight() == QFont.Weight.Bold  # ``class Name``, as a definition
    assert first.length == len(line.text().split("(")[0])
    last = doc.lastBlock()
    while not last.text().strip():
        last = last.previous()
    assert bar.maximum() > line.blockNumber() + 60
    assert not last.layout().formats()  # off screen: not coloured yet
    bar.setValue(bar.maximum())
    qtbot.waitUntil(lambda: bool(last.layout().formats()), timeout=120_000)


def test_python_spans_colour_as_a_reader_expects():
    from studio.ui.code_highlight import python_spans

    source = 'class A(nn.Module):\n    """Two\n    lines."""\n    x = 3  # note if\n'
    spans = python_spans(source)
    text = source.split("\n")

    def kinds(n):
        return [(text[n][s : s + k], kind) for s, k, kind in spans[n]]

    assert kinds(0) == [("class A", "name"), ("nn", "builtin")]
    assert kinds(1) == [('"""Two', "doc")]
    assert kinds(2) == [('    lines."""', "doc")]
    assert kinds(3) == [("3", "number"), ("# note if", "comment")]
    assert spans[4] == ()


def _blocks(doc):
    block = doc.begin()
    while block.isValid():
        yield block
        block = block.next()
