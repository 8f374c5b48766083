"""The Runs tab says where a run's TensorBoard files are and how to open them."""

from __future__ import annotations

import shlex

import pytest
from PySide6.QtGui import QGuiApplication

from studio.training import tensorboard
from studio.training.runs import RunStore
from studio.ui.training.history_view import RECORD_ROLE, RunList
from tests.ui.test_training_panel import set_training, wait_done


def select_run(runs: RunList, rec) -> None:
    row = next(i for i in range(runs.list.count()) if runs.list.item(i).data(RECORD_ROLE).id == rec.id)
    runs.list.setCurrentRow(row)


@pytest.fixture
def store(tmp_path):
    return RunStore(tmp_path / "my project.runs")


def with_events(store: RunStore):
    """A run whose tensorboard/ folder holds an event file written by tensorboard itself."""
    from torch.utils.tensorboard import SummaryWriter

    rec = store.create({"epochs": 1})
    writer = SummaryWriter(str(rec.folder / "tensorboard"))
    writer.add_scalar("loss/train", 0.5, 1)
    writer.close()
    return rec


@pytest.mark.skipif(not tensorboard.available(), reason="needs the tensorboard extra")
def test_a_run_with_tensorboard_files_shows_their_folder_and_a_command_to_copy(qtbot, store):
    runs = RunList()
    qtbot.addWidget(runs)
    rec = with_events(store)
    runs.set_runs(store.runs())
    assert runs.board.isHidden()  # nothing selected, nothing to say
    select_run(runs, rec)
    folder = rec.folder / "tensorboard"
    command = f"tensorboard --logdir {shlex.quote(str(folder))}"
    assert not runs.board.isHidden()
    assert str(folder) in runs.board.label.text() and command in runs.board.label.text()
    assert "pip install" not in runs.board.label.text()
    runs.board.copy_button.click()
    assert QGuiApplication.clipboard().text() == command
    assert "'" in command  # the folder has a space: the copied command still works in a shell
    # a run that wrote no event files (an older run) has no line at all
    plain = store.create({"epochs": 1})
    runs.set_runs(store.runs())
    select_run(runs, plain)
    assert runs.board.isHidden()


def test_without_tensorboard_the_tab_gives_the_install_command(qtbot, store, monkeypatch):
    monkeypatch.setattr(tensorboard, "available", lambda: False)
    runs = RunList()
    qtbot.addWidget(runs)
    rec = store.create({"epochs": 1})
    runs.set_runs(store.runs())
    select_run(runs, rec)
    assert not runs.board.isHidden()
    assert runs.board.label.text() == 'TensorBoard is not installed: pip install "studio-pytorch[tensorboard]"'
    runs.board.copy_button.click()
    assert QGuiApplication.clipboard().text() == 'pip install "studio-pytorch[tensorboard]"'


@pytest.mark.skipif(not tensorboard.available(), reason="needs the tensorboard extra")
def test_a_run_trained_in_the_window_points_to_its_tensorboard_files(window, qtbot):
    t = set_training(window, epochs=1)
    t.train()
    wait_done(qtbot, t)
    runs = t.panel.runs
    (rec,) = runs.records()
    select_run(runs, rec)
    assert rec.tensorboard_dir == rec.folder / "tensorboard"
    assert f"tensorboard --logdir {shlex.quote(str(rec.folder / 'tensorboard'))}" in runs.board.label.text()
