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
