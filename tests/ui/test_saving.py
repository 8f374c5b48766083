"""Saving never loses work and never fails silently: Save, autosave and Export in the window."""

from __future__ import annotations

import json
import tempfile

import pytest

from studio.ui import file_ops
from tests.ui.conftest import by_name


def written(qtbot, window):
    """Wait for the recovery file the window is writing (in a thread) and for its report."""
    qtbot.waitUntil(lambda: not window.files.autosave_busy(), timeout=120_000)


def _refuse_temporary_files(monkeypatch) -> list[bool]:
    """mkstemp fails as in a read-only folder while the returned switch holds True."""
    real, switch = tempfile.mkstemp, [True]

    def refuse(*args, **kwargs):
        if switch[0]:
            raise PermissionError(13, "Permission denied")
        return real(*args, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    return switch


def test_save_into_a_read_only_folder_keeps_the_old_file_and_says_why(window, tmp_path, monkeypatch, no_dialogs):
    target = tmp_path / "mine.studio.json"
    target.write_text("old contents")
    monkeypatch.setattr(window.files, "choose_save_path", lambda *a: str(target))
    window.editor.add_block("relu", (0, 0))
    _refuse_temporary_files(monkeypatch)
    assert not window.files.save()
    assert target.read_text() == "old contents"
    assert len(no_dialogs) == 1 and "read-only" in no_dialogs[0] and str(target) in no_dialogs[0]
    assert window.isWindowModified()  # the edits are still there and still unsaved


def test_export_python_into_a_read_only_folder_says_why(window, qtbot, tmp_path, monkeypatch, no_dialogs):
    out = tmp_path / "model.py"
    out.write_text("# old")
    monkeypatch.setattr(window.files, "choose_save_path", lambda *a: str(out))
    _refuse_temporary_files(monkeypatch)
    window.files.export_python()  # the file is written once the code is (in slices)
    qtbot.waitUntil(lambda: bool(no_dialogs), timeout=120_000)
    assert out.read_text() == "# old" and "read-only" in no_dialogs[0]


def test_a_failing_autosave_says_so_once_and_in_the_status_bar(window, qtbot, monkeypatch, no_dialogs):
    window.editor.add_block("relu", (0, 0))
    refusing = _refuse_temporary_files(monkeypatch)
    window.files.autosave()
    written(qtbot, window)
    window.files.autosave()
    written(qtbot, window)
    assert len(no_dialogs) == 1 and "Autosave failed" in no_dialogs[0] and "read-only" in no_dialogs[0]
    assert "Autosave failed" in window.statusBar().currentMessage()
    refusing[0] = False
    window.files.autosave()
    written(qtbot, window)
    assert window.files.recovery.current.exists()
    assert "works again" in window.statusBar().currentMessage()


def test_nan_put_in_the_settings_makes_save_and_autosave_say_so(window, qtbot, tmp_path, monkeypatch, no_dialogs):
    window.doc.project.metadata["note"] = float("nan")
    window.editor.add_block("relu", (0, 0))
    window.files.autosave()
    written(qtbot, window)
    # the write's report reaches the window after the writer is idle (a queued signal): wait
    # for the message itself (on a loaded machine the save's came first and the test failed)
    qtbot.waitUntil(lambda: len(no_dialogs) == 1, timeout=120_000)
    monkeypatch.setattr(window.files, "choose_save_path", lambda *a: str(tmp_path / "n.studio.json"))
    assert not window.files.save()
    assert len(no_dialogs) == 2 and all("NaN" in m for m in no_dialogs)
    assert not (tmp_path / "n.studio.json").exists()


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_the_recovery_file_follows_the_edits_within_a_second(window, qtbot, monkeypatch, tmp_path):
    """The first edit after a project opens is written within 1 s; while the user keeps
    editing, the recovery file is never more than MAX_WAIT_MS behind (times from a fake clock:
    what is checked is when the write is scheduled, not how fast the machine is)."""
    path = tmp_path / "p.studio.json"
    path.write_text(open("resources/examples/mlp_classifier.studio.json").read())
    assert window.files.open_path(path)
    clock = Clock()
    monkeypatch.setattr(file_ops.time, "monotonic", clock)
    timer = window.files.autosave_timer
    g = window.doc.graph
    first = clock.now
    window.editor.rename(by_name(g, "fc1").id, "hidden")
    assert timer.isActive() and timer.remainingTime() <= 1000
    for i in range(20):  # an edit every 0.1 s for 2 s: the write may not slip past the limit
        clock.now += 0.1
        window.editor.move_blocks({by_name(g, "hidden").id: (10.0 * i, 0.0)}, snap_to_grid=False)
        assert clock.now + timer.interval() / 1000 <= first + file_ops.MAX_WAIT_MS / 1000 + 1e-6
        if clock.now + timer.interval() / 1000 >= first + file_ops.MAX_WAIT_MS / 1000 - 1e-6:
            window.files.autosave()  # the timer fires here
            written(qtbot, window)
            first = clock.now + 0.1
    qtbot.waitUntil(lambda: window.files.recovery.current is not None, timeout=120_000)
    qtbot.waitUntil(lambda: not timer.isActive(), timeout=120_000)
    written(qtbot, window)  # after the timer's last shot: its write may still be under way
    saved = json.loads(window.files.recovery.current.read_text())["project"]["graph"]
    assert saved == g.to_dict()
    leftovers = [p for p in window.files.recovery.folder.iterdir() if p.suffix == ".tmp"]
    assert leftovers == []


@pytest.mark.parametrize("edits", [1, 5])
def test_the_timer_itself_writes_the_recovery_file(window, qtbot, edits):
    g = window.doc.graph
    for i in range(edits):
        window.editor.move_blocks({by_name(g, "fc1").id: (5.0 * i, 0.0)}, snap_to_grid=False)
    qtbot.waitUntil(lambda: window.files.recovery.current is not None, timeout=120_000)
    written(qtbot, window)
    assert json.loads(window.files.recovery.current.read_text())["project"]["graph"] == g.to_dict()


def test_an_edit_made_while_the_recovery_file_is_written_is_in_the_next_one(window, qtbot, monkeypatch):
    """The JSON and the write run in a thread: the window answers while a write is held up,
    an edit made meanwhile is written after it (never overwritten by the older one), and the
    file holds exactly what a project file would (the compact form)."""
    import threading

    from studio.graph.project import dumps
    from studio.ui import recovery

    real, gate, started = recovery.write_atomic, threading.Event(), threading.Event()

    texts = []

    def slow_write(path, text):
        texts.append(text)
        started.set()
        assert gate.wait(60)
        real(path, text)

    monkeypatch.setattr(recovery, "write_atomic", slow_write)
    g = window.doc.graph
    window.editor.rename(by_name(g, "fc1").id, "first")
    window.files.autosave()  # returns at once: the write waits in its thread
    assert started.wait(60) and window.files.autosave_busy()
    window.editor.rename(by_name(g, "first").id, "second")  # the user edits on meanwhile
    window.files.autosave()
    window.files.autosave_timer.stop()  # the edits' own timer: no third write to race the checks
    gate.set()
    written(qtbot, window)
    first = json.loads(texts[0])["project"]["graph"]["blocks"]  # as it was when it was asked for
    assert [b["name"] for b in first if b["name"] in ("first", "second")] == ["first"]
    text = window.files.recovery.current.read_text(encoding="utf-8")
    saved = json.loads(text)
    assert saved["project"]["graph"] == g.to_dict() and by_name(g, "second")
    project = window.doc.project
    original = json.dumps(str(project.path) if project.path else None)
    expected = f'{{"original": {original}, "saved_at": {saved["saved_at"]!r}, "project": {dumps(project, compact=True)}}}'
    assert text == expected
    leftovers = [p for p in window.files.recovery.folder.iterdir() if p.suffix == ".tmp"]
    assert leftovers == []


def test_a_clean_save_while_the_recovery_file_is_written_leaves_none(window, qtbot, tmp_path, monkeypatch):
    """Saving removes the recovery file even if a write of it was still under way."""
    window.editor.add_block("relu", (0, 0))
    window.files.autosave()
    monkeypatch.setattr(window.files, "choose_save_path", lambda *a: str(tmp_path / "x.studio.json"))
    assert window.files.save()
    written(qtbot, window)
    assert list(window.files.recovery.folder.glob("*.json")) == []


def test_a_project_with_a_module_is_autosaved_and_restored_exactly(window, qtbot, config_dir):
    """Blocks grouped into a module: the recovery file holds the definition and its use, as a
    project file would, and a restart restores the same graph."""
    from studio.graph.project import dumps
    from studio.ui.main_window import MainWindow

    g = window.doc.graph
    window.editor.group([by_name(g, "fc1").id, by_name(g, "relu1").id], "Hidden")
    assert len(g.library) == 1
    window.files.autosave()
    written(qtbot, window)
    rec = window.files.recovery.current
    text = rec.read_text(encoding="utf-8")
    saved_at = json.loads(text)["saved_at"]
    original = json.dumps(str(window.doc.project.path) if window.doc.project.path else None)
    expected = f'{{"original": {original}, "saved_at": {saved_at!r}, "project": {dumps(window.doc.project, compact=True)}}}'
    assert text == expected
    dead = rec.with_name("999998-1.json")
    rec.rename(dead)
    window.files.recovery.current = None
    fresh = MainWindow()
    qtbot.addWidget(fresh)
    assert fresh.files.restore(fresh.files.recoverable_files()[0])
    assert fresh.doc.project.to_dict()["graph"] == window.doc.project.to_dict()["graph"]
    fresh.doc.undo_stack.setClean()


def test_the_recovery_file_of_a_large_graph_is_the_json_of_its_dict():
    """The autosave's JSON is encoded a few hundred blocks at a time (so its thread lets the
    window run between pieces): the text is exactly ``json.dumps`` of the project's dict."""
    from studio.graph.model import Graph
    from studio.graph.project import PIECE, Project, dumps_data

    g = Graph()
    prev = g.add_block("input", params={"shape": (8,)})
    for i in range(2 * PIECE + 7):
        blk = g.add_block("linear" if i % 2 else "relu", params={"out_features": 8} if i % 2 else {})
        g.connect(prev.id, "out", blk.id, "in")
        prev = blk
    g.rename(prev.id, "last_é")
    data = Project(name="Größe", graph=g, training={"lr": 0.1, "steps": list(range(PIECE + 1))}).to_dict()
    assert len(data["graph"]["blocks"]) > 2 * PIECE and len(data["graph"]["edges"]) > 2 * PIECE
    assert dumps_data(data, compact=True) == json.dumps(data, ensure_ascii=False, allow_nan=False) + "\n"
