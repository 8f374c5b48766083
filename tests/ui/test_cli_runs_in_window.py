"""A run made with `studio train` on the command line is in the window's Runs table."""

import shutil

from studio.cli import main
from studio.places import EXAMPLES_DIR
from tests.ui.conftest import open_window


def test_a_command_line_run_shows_in_the_runs_table(qtbot, tmp_path, monkeypatch):
    project = tmp_path / "p.studio.json"
    shutil.copy(EXAMPLES_DIR / "mlp_classifier.studio.json", project)
    monkeypatch.chdir(tmp_path)
    assert main(["train", str(project), "--epochs", "1"]) == 0
    window = open_window(qtbot, project)
    runs = window.training.panel.runs
    table = runs.list
    assert table.rowCount() == 1
    cells = [table.item(0, c).text() for c in range(table.columnCount()) if table.item(0, c)]
    (rec,) = runs.records()
    assert rec.id in cells and "completed" in cells and rec.state == "completed"
    # and it can be tried: its weights load into the graph it was trained with
    table.selectRow(0)
    runs.try_button.click()
    try_panel = window.training.panel.try_panel
    qtbot.waitUntil(lambda: "accuracy" in try_panel.message.text().lower(), timeout=30000)


def test_a_run_made_while_the_window_is_open_appears_without_reopening(
    qtbot, tmp_path, monkeypatch
):
    project = tmp_path / "p.studio.json"
    shutil.copy(EXAMPLES_DIR / "mlp_classifier.studio.json", project)
    window = open_window(qtbot, project)
    runs = window.training.panel.runs
    assert runs.list.rowCount() == 0
    monkeypatch.chdir(tmp_path)
    assert main(["train", str(project), "--epochs", "1"]) == 0  # "in a terminal", meanwhile
    qtbot.waitUntil(lambda: runs.list.rowCount() == 1, timeout=10_000)
    (rec,) = runs.records()
    assert rec.state == "completed"
    cells = [
        runs.list.item(0, c).text() for c in range(runs.list.columnCount()) if runs.list.item(0, c)
    ]
    assert rec.id in cells and "completed" in cells


def test_a_run_another_process_trains_shows_how_it_ended(qtbot, tmp_path):
    import subprocess
    import sys

    from studio.training.runs import RunStore

    project = tmp_path / "p.studio.json"
    shutil.copy(EXAMPLES_DIR / "mlp_classifier.studio.json", project)
    window = open_window(qtbot, project)
    runs = window.training.panel.runs
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        store = RunStore(tmp_path / "p.runs")
        rec = store.create({"epochs": 1}, "p")
        store.update(rec, pid=other.pid)  # a terminal's `studio train`, still training
        store.release(rec)
        qtbot.waitUntil(lambda: [r.state for r in runs.records()] == ["running"], timeout=10_000)
        store.update(rec, status="completed", ended=rec.status["started"] + 1)
        qtbot.waitUntil(lambda: [r.state for r in runs.records()] == ["completed"], timeout=10_000)
        # one killed mid-run never writes how it ended: it reads as interrupted all the same
        again = store.create({"epochs": 1}, "p")
        store.update(again, pid=other.pid)
        store.release(again)
        qtbot.waitUntil(lambda: "running" in [r.state for r in runs.records()], timeout=10_000)
    finally:
        other.kill()
        other.wait()
    qtbot.waitUntil(
        lambda: sorted(r.state for r in runs.records()) == ["completed", "interrupted"],
        timeout=15_000,
    )


def test_try_it_on_a_reopened_project_tries_its_newest_run(qtbot, tmp_path, monkeypatch):
    """Trained in a terminal, opened in the window: Run on validation samples tries the newest
    kept run (the one the Curves show), not "No trained model yet"."""
    project = tmp_path / "p.studio.json"
    shutil.copy(EXAMPLES_DIR / "mlp_classifier.studio.json", project)
    monkeypatch.chdir(tmp_path)
    assert main(["train", str(project), "--epochs", "1", "--seed", "1"]) == 0
    assert main(["train", str(project), "--epochs", "1", "--seed", "2"]) == 0
    window = open_window(qtbot, project)
    t = window.training
    t.ensure_views()
    newest = t.panel.runs.records()[0]  # the table lists the newest first
    panel = t.panel.try_panel
    panel.run()
    assert panel.message.text().startswith(f"Loading the weights of run {newest.id}")
    qtbot.waitUntil(lambda: panel.last is not None, timeout=60_000)
    assert "validation samples, accuracy" in panel.message.text()
