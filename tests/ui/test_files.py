"""Files: save / reopen, dirty marker, export, autosave and recovery."""

import json
from pathlib import Path

from PySide6.QtWidgets import QMessageBox

from studio.graph.project import load_project
from studio.ui.main_window import MainWindow
from tests.ui.conftest import by_name


def written(qtbot, window):
    """Wait for the recovery file the window is writing (in a thread) and for its report."""
    qtbot.waitUntil(lambda: not window.files.autosave_busy(), timeout=120_000)


def test_save_close_and_reopen_gives_the_same_project(window, qtbot, tmp_path, monkeypatch):
    g = window.doc.graph
    window.editor.add_block("dropout", (600, 200))
    assert window.isWindowModified()
    target = tmp_path / "mine.studio.json"
    monkeypatch.setattr(window.files, "choose_save_path", lambda *a: str(target))
    assert window.files.save()  # an example is never overwritten: Save asks for a name
    assert not window.isWindowModified()
    saved = window.doc.project.to_dict()
    window.close()
    again = MainWindow(load_project(target))
    qtbot.addWidget(again)
    assert again.doc.project.to_dict() == saved
    assert again.doc.graph.to_dict() == g.to_dict()
    assert str(target.resolve()) in again.settings.recent_files()


def test_closing_with_changes_asks_and_cancel_keeps_the_window(window, qtbot, monkeypatch):
    window.show()
    window.editor.add_block("relu", (0, 0))
    monkeypatch.setattr(window.files, "ask_save_changes", lambda: QMessageBox.StandardButton.Cancel)
    assert not window.close()
    monkeypatch.setattr(
        window.files, "ask_save_changes", lambda: QMessageBox.StandardButton.Discard
    )
    assert window.close()


def test_export_python_writes_the_code_view_text(window, qtbot, tmp_path, monkeypatch):
    out = tmp_path / "model.py"
    monkeypatch.setattr(window.files, "choose_save_path", lambda *a: str(out))
    assert window.files.export_python()
    qtbot.waitUntil(out.exists, timeout=120_000)  # written once the code is (in slices)
    assert out.read_text() == window.code_view.source
    assert "class SpiralClassifier(nn.Module)" in out.read_text()


def test_export_diagram_png_and_svg(window, tmp_path, monkeypatch):
    for name in ("d.png", "d.svg"):
        monkeypatch.setattr(window.files, "choose_save_path", lambda *a, n=name: str(tmp_path / n))
        assert window.files.export_diagram()
    assert (tmp_path / "d.png").read_bytes()[:4] == b"\x89PNG"
    assert "<svg" in (tmp_path / "d.svg").read_text()


def test_autosave_writes_a_recovery_file_and_the_next_start_offers_it(
    window, qtbot, config_dir, tmp_path
):
    g = window.doc.graph
    window.editor.rename(by_name(g, "fc1").id, "hidden")
    assert window.files.autosave_timer.isActive() and window.files.autosave_timer.interval() <= 5000
    window.files.autosave()
    written(qtbot, window)
    rec = window.files.recovery.current
    assert rec is not None and rec.parent == config_dir / "recovery"
    assert json.loads(rec.read_text())["project"]["graph"] == g.to_dict()
    # simulate a crash: the file now belongs to a process that is gone
    dead = rec.with_name("999999-1.json")
    rec.rename(dead)
    window.files.recovery.current = None
    expected = g.to_dict()
    fresh = MainWindow()
    qtbot.addWidget(fresh)
    items = fresh.files.recoverable_files()
    assert [i.name for i in items] == ["Spiral classifier"]
    assert fresh.files.restore(items[0])
    assert fresh.doc.graph.to_dict() == expected
    assert fresh.isWindowModified()
    assert not dead.exists()
    fresh.doc.undo_stack.setClean()


def test_a_clean_save_removes_the_recovery_file(window, qtbot, tmp_path, monkeypatch):
    window.editor.add_block("relu", (0, 0))
    window.files.autosave()
    written(qtbot, window)
    rec = window.files.recovery.current
    assert rec.exists()
    monkeypatch.setattr(
        window.files, "choose_save_path", lambda *a: str(tmp_path / "x.studio.json")
    )
    window.files.save()
    assert not rec.exists()


def test_first_start_opens_the_example_and_later_the_last_project(tmp_path, config_dir):
    from studio.ui.app import DEFAULT_EXAMPLE, initial_project_path
    from studio.ui.settings import Settings

    s = Settings()
    assert initial_project_path(None, s) == DEFAULT_EXAMPLE
    p = tmp_path / "a.studio.json"
    p.write_text(Path(DEFAULT_EXAMPLE).read_text())
    s.add_recent(p)
    assert initial_project_path(None, Settings()) == p.resolve()
    assert initial_project_path(str(p), s) == p


def test_welcome_lists_examples_with_descriptions(window):
    texts = [window.welcome.examples.item(i).text() for i in range(window.welcome.examples.count())]
    assert any("Spiral classifier" in t and "spirals" in t for t in texts)


def test_save_as_of_an_example_opens_where_the_users_projects_are_not_in_the_package(
    window, qtbot, tmp_path, monkeypatch
):
    """Ctrl+S on an example opened its dialog in resources/examples, inside the installed package."""
    from studio.ui import file_ops

    shown = []
    monkeypatch.setattr(
        file_ops.QFileDialog,
        "getSaveFileName",
        lambda parent, title, start, filters: (shown.append(start), ("", ""))[1],
    )
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert window.files.is_example(window.doc.project.path)
    window.editor.add_block("dropout", (600, 200))
    window.files.save()  # cancelled
    assert Path(shown[-1]).parent == tmp_path / "home"
    mine = tmp_path / "projects" / "mine.studio.json"
    mine.parent.mkdir()
    mine.write_text("{}")
    window.settings.add_recent(mine)  # opened or saved before
    window.files.save()
    assert Path(shown[-1]).parent == mine.parent


def test_opening_a_broken_file_says_why_without_asking_to_save_first(window, tmp_path, monkeypatch):
    """File > Open of a truncated file asked 'Save the changes…?' first, and only then said the
    file could not be read; the message read 'Unterminated string starting at at line 1'."""
    from studio.graph.project import SUFFIX

    window.editor.add_block("relu", (0, 0))
    asked, errors = [], []
    monkeypatch.setattr(
        window.files,
        "ask_save_changes",
        lambda: asked.append(1) or QMessageBox.StandardButton.Discard,
    )
    monkeypatch.setattr(window.files, "error", errors.append)
    broken = tmp_path / f"half{SUFFIX}"
    broken.write_text('{"name": "half')
    monkeypatch.setattr(window.files, "choose_open_path", lambda: str(broken))
    window.actions_.open.trigger()
    assert asked == [] and len(errors) == 1
    assert "not valid JSON (Unterminated string starting at line 1, column 10)" in errors[0]
    assert window.isWindowModified() and by_name(window.doc.graph, "relu1") is not None


def test_reopening_the_file_after_saving_over_it_opens_what_was_saved(
    window, tmp_path, monkeypatch
):
    target = tmp_path / "mine.studio.json"
    monkeypatch.setattr(window.files, "choose_save_path", lambda *a: str(target))
    assert window.files.save()
    window.editor.add_block("relu", (0, 0))
    monkeypatch.setattr(window.files, "ask_save_changes", lambda: QMessageBox.StandardButton.Save)
    assert window.files.open_path(target)
    assert by_name(window.doc.graph, "relu1") is not None and not window.isWindowModified()


def test_a_second_export_of_a_new_project_opens_where_the_first_went(window, tmp_path, monkeypatch):
    """Export Python… into out/, then Export > Training script…: the second dialog opened in the
    home folder again (a new project, like this example, has no folder of its own)."""
    from studio.ui import file_ops

    starts = []

    def dialog(parent, title, start, filters):
        starts.append(start)
        return str(tmp_path / "out" / Path(start).name), filters

    (tmp_path / "out").mkdir()
    monkeypatch.setattr(file_ops.QFileDialog, "getSaveFileName", dialog)
    window.actions_.export_python.trigger()
    window.interop.export_actions["script"].trigger()
    assert [Path(s).parent for s in starts] == [Path.home(), tmp_path / "out"]


def test_browse_for_the_data_starts_beside_a_saved_project(window, tmp_path, monkeypatch):
    from studio.ui.training.settings_form import SettingsForm

    monkeypatch.setattr(SettingsForm, "last_folder", "")  # no Browse… earlier in this session
    monkeypatch.setattr(
        window.files, "choose_save_path", lambda *a: str(tmp_path / "p.studio.json")
    )
    assert window.files.save()
    form = window.training.panel.form
    kind = form.editors[("data", "kind")]
    kind.setCurrentIndex(kind.findData("csv"))
    starts = []
    monkeypatch.setattr(form, "choose_path", lambda param, title, start: starts.append(start) or "")
    form.browse_buttons[("data", "path")].click()
    assert starts == [str(tmp_path)]


def test_starting_on_a_broken_file_says_why_once(window, tmp_path, no_dialogs):
    """`studio half.studio.json` showed the reason, then a second box: 'Could not open …'
    (run_gui's start, `open_initial`; run_gui itself, run here, left later tests' data reads
    hanging)."""
    from studio.ui import app

    broken = tmp_path / "half.studio.json"
    broken.write_text('{"name": "half')
    assert not app.open_initial(window, str(broken))
    assert len(no_dialogs) == 1 and "not valid JSON (Unterminated string" in no_dialogs[0]
