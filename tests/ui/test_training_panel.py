"""Training from the window (pytest-qt): what a user sees while and after a run."""

import math

import numpy as np
import pytest

from studio.graph.project import load_project
from studio.ui.canvas.items import BlockLook
from tests.ui.conftest import EXAMPLE, by_name, pills_leave_counts_whole

TINY = {"data": {"kind": "moons", "n": 200}, "epochs": 2, "batch_size": 32}

#: how long a test waits for an event from a training process before it fails (ms). A wait ends
#: at the event, so a generous bound costs nothing on an idle machine; on one loaded 10-20 a
#: spawned process needs about 20 s just to import torch (these tests pass under
#: `stress --cpu 4` on 2 cores), so the bound is minutes, not a guess at the usual seconds.
WAIT = 240_000


def set_training(window, **over):
    t = window.training
    window.doc.project.training.update({**TINY, **over})
    t.panel.form.load(window.doc.project.training)
    return t


def wait_done(qtbot, t, timeout=WAIT):
    qtbot.waitUntil(lambda: not t.running, timeout=timeout)


def test_train_runs_an_epoch_and_points_appear(window, qtbot):
    t = set_training(window)
    t.train_action.trigger()
    assert t.running and not window.undo_group.canUndo()
    wait_done(qtbot, t)
    plots = t.panel.plots
    assert plots.point_count() > 0
    plots.redraw()
    x, y = plots.raw.item.getOriginalDataset()
    assert len(x) == plots.point_count() and np.isfinite(y).all()
    assert plots.train_loss.series.n == 2 and plots.val_loss.series.n == 2
    assert t.panel.progress.format() == "completed"
    # learning indicators on the layers that have weights
    fc1 = by_name(window.doc.graph, "fc1")
    look = window.scene.blocks[fc1.id].look
    assert look.learning.startswith("∇") and look.learning_state == "ok"
    assert pills_leave_counts_whole(window.scene) == 3  # fc1, fc2, classifier
    # try it: decision regions and a confusion matrix, computed off the GUI thread
    t.panel.try_panel.run()
    qtbot.waitUntil(lambda: t.panel.try_panel.last is not None, timeout=WAIT)
    r = t.panel.try_panel.last
    assert r["confusion"].sum() == 40 and r["grid"][2].shape == (160, 160)


def test_stop_ends_the_run_after_the_current_batch(window, qtbot):
    t = set_training(window, epochs=500)
    t.train()
    qtbot.waitUntil(lambda: t.panel.plots.point_count() > 0, timeout=WAIT)
    t.stop_action.trigger()
    wait_done(qtbot, t)  # the event, not a stopwatch: the flag is read between batches
    assert t.panel.progress.format() == "stopped"
    rec = t.store.runs()[-1]
    assert rec.state == "stopped" and rec.last_checkpoint is not None or rec.status["epochs_done"] == 0
    # the line under the bar says where the run ended, as its message and its curve do; no ETA
    rate, message = t.panel.rate.text(), t.panel.message.text()
    assert "ETA" not in rate and "samples/s" not in rate
    last = int(rec.steps()[-1, 0])
    assert last < 500 * 7 // 4  # it stopped, long before the 500 epochs (7 batches each) ended
    assert rate.startswith(f"step {last:,}") and f"step {last}." in message, (rate, message)


def test_the_pretrained_example_trains_from_the_window_with_a_frozen_backbone(qtbot):
    """Pretrained weights come from the (offline, test) torch cache in the training process too;
    the frozen backbone says so on the canvas, and images are tried as thumbnails."""
    from studio.ui.main_window import MainWindow

    w = MainWindow(load_project("resources/examples/transfer_learning.studio.json"))
    qtbot.addWidget(w)
    w.ensure_compiler()
    t = set_training(w, data={"kind": "shapes", "n": 120}, epochs=1, batch_size=20)
    t.train()
    wait_done(qtbot, t)
    assert t.panel.progress.format() == "completed", t.failure_text()
    backbone = by_name(w.doc.graph, "backbone")
    head = by_name(w.doc.graph, "head")
    assert w.scene.blocks[backbone.id].look.learning_state == "frozen"
    assert w.scene.blocks[head.id].look.learning.startswith("∇")
    t.panel.try_panel.run()
    qtbot.waitUntil(lambda: t.panel.try_panel.last is not None, timeout=WAIT)
    r = t.panel.try_panel.last
    assert "error" not in r and r["input_shape"] == (1, 28, 28) and r["confusion"].sum() == 24


def test_the_spare_training_process_is_warmed_only_for_a_shown_idle_window(window, qtbot):
    from studio.training import remote

    remote.discard_spare()
    window.training.prewarm(0)
    qtbot.wait(50)
    assert remote._spare is None  # not shown (closed): nothing to start a run from
    window.show()
    qtbot.waitExposed(window)
    window.training.prewarm(0)
    qtbot.waitUntil(lambda: remote._spare is not None, timeout=WAIT)
    spare = remote._spare.process
    t = set_training(window, epochs=1)
    t.train()
    assert t.worker.remote.process is spare  # the first run needs no new process
    wait_done(qtbot, t)
    assert t.panel.progress.format() == "completed"


def test_a_paused_run_can_be_tried_then_resumed(window, qtbot):
    t = set_training(window, epochs=500)
    t.train()
    qtbot.waitUntil(lambda: t.panel.plots.point_count() > 0, timeout=WAIT)
    assert window.totals_label.text().endswith("training…")
    t.pause_action.trigger()
    assert t.pause_action.text() == "Resume" and window.totals_label.text().endswith("paused")
    qtbot.waitUntil(lambda: t.last_model is not None, timeout=WAIT)  # the paused state arrived
    assert t.panel.message.text().startswith("Paused")
    points = t.panel.plots.point_count()
    t.panel.try_panel.run()
    qtbot.waitUntil(lambda: t.panel.try_panel.last is not None, timeout=WAIT)
    assert t.panel.try_panel.last["confusion"].sum() == 40
    assert t.panel.plots.point_count() == points  # nothing trained while paused
    t.pause_action.trigger()
    assert t.pause_action.text() == "Pause"
    qtbot.waitUntil(lambda: t.panel.plots.point_count() > points, timeout=WAIT)
    t.stop()
    wait_done(qtbot, t)
    assert t.panel.progress.format() == "stopped"
    assert not (t.record.folder / "paused-state.pt").exists()
    assert window.totals_label.text().endswith("ready to train")


def test_a_nan_run_shows_the_message_keeps_curves_and_leaves_the_editor_usable(window, qtbot):
    t = set_training(window, epochs=3, optimizer={"name": "sgd", "lr": 1e30})
    t.train()
    wait_done(qtbot, t)
    assert t.panel.progress.format() == "failed"
    assert "loss became" in t.failure_text()
    assert window.problems.item(0).text().startswith("Training: The loss became")
    # the editor works again: an edit goes through and can be undone
    fc1 = by_name(window.doc.graph, "fc1")
    assert window.editor.set_params(fc1.id, {"out_features": 8})
    assert window.doc.graph.blocks[fc1.id].params["out_features"] == 8
    window.undo_group.undo()
    assert window.doc.graph.blocks[fc1.id].params["out_features"] == 64


FLAKY = """
import os
import time

from torch import nn


class Flaky(nn.Module):
    \"\"\"Fine while shapes are inferred (meta tensors); fails on real data.\"\"\"

    def __init__(self, crash=False, hang=False):
        super().__init__()
        self.crash, self.hang = crash, hang

    def forward(self, x):
        if not x.is_meta:
            if self.crash:
                os._exit(3)  # native code dying: the process ends without a word
            if self.hang:
                time.sleep(600)  # a forward that never returns in time
            raise IndexError("index 5 is out of bounds for dimension 1 with size 2")
        return x
"""


def insert_flaky(window, tmp_path, **kwargs):
    """relu2 replaced by a trusted Custom module from a file, fine on meta tensors only."""
    from studio.trust import trust

    path = tmp_path / "flaky.py"
    path.write_text(FLAKY)
    trust(str(path))
    window.doc.reanalyse()  # as the block's Trust action does: the analysis is given the new policy
    g, ed = window.doc.graph, window.editor
    fc2, relu2, head = (by_name(g, n) for n in ("fc2", "relu2", "classifier"))
    ed.delete([relu2.id])
    bid = ed.add_block("custom_module", (0, 0))
    assert ed.set_params(bid, {"source": f"{path}:Flaky", "kwargs": repr(kwargs)})
    assert ed.connect(fc2.id, "out", bid, "in") is None and ed.connect(bid, "out", head.id, "in") is None
    window.ensure_compiler()
    assert window.doc.analysis.ok, window.doc.analysis.diagnostics
    return bid


def test_an_exception_in_the_model_marks_its_block(window, qtbot, tmp_path):
    bid = insert_flaky(window, tmp_path)
    t = set_training(window)
    t.train()
    wait_done(qtbot, t)
    assert t.panel.progress.format() == "failed"
    assert "IndexError" in t.failure_text() and "index 5 is out of bounds" in t.failure_text()
    # one short red line; the traceback is one click away, not a wall of text
    bar = t.panel.message
    summary = bar.label.text()
    assert "\n" not in summary and len(summary) <= 140 and "<studio:" not in summary
    assert "IndexError: index 5 is out of bounds" in summary
    assert bar.details_button.isVisibleTo(bar) and not bar.details.isVisibleTo(bar)
    bar.details_button.click()
    assert bar.details.isVisibleTo(bar) and "Traceback" in bar.details.toPlainText()
    assert "line" in bar.details.toPlainText()  # where in the generated model it happened
    assert window.scene.blocks[bid].look.severity == "error"  # the generated line's block
    assert window.problems.item(0).text().startswith("Training:")
    window.problems.item(0).setSelected(True)
    window.problems.itemClicked.emit(window.problems.item(0))
    assert window.scene.selected_block_ids() == [bid]
    assert t.train_action.isEnabled()
    # the run's message stays at the top of the list while the model is edited and re-checked
    fc1 = by_name(window.doc.graph, "fc1")
    window.editor.delete([], [next(e.id for e in window.doc.graph.edges.values() if e.dst == fc1.id)])
    window.ensure_compiler()
    texts = [window.problems.item(i).text() for i in range(window.problems.count())]
    assert texts[0].startswith("Training:") and len(texts) >= 2 and "fc1" in " ".join(texts[1:])


def test_a_crashing_run_is_a_failed_run_not_a_crashed_app(window, qtbot, tmp_path):
    insert_flaky(window, tmp_path, crash=True)
    t = set_training(window)
    t.train()
    wait_done(qtbot, t)
    assert t.panel.progress.format() == "failed"
    assert "ended unexpectedly (exit code 3)" in t.failure_text()
    assert t.store.runs()[-1].state == "failed"
    fc1 = by_name(window.doc.graph, "fc1")
    assert window.editor.set_params(fc1.id, {"out_features": 8})  # the editor works on


def test_a_run_that_ignores_stop_is_ended(window, qtbot, tmp_path, monkeypatch):
    import studio.ui.training.worker as worker

    monkeypatch.setattr(worker, "STOP_GRACE_S", 0.5)
    insert_flaky(window, tmp_path, hang=True)
    t = set_training(window)
    t.train()
    qtbot.waitUntil(lambda: "Training" in t.panel.message.text() or "Preparing" in t.panel.message.text(), timeout=WAIT)
    pid = t.worker.remote.process.pid
    t.stop()
    wait_done(qtbot, t)
    assert t.panel.progress.format() == "stopped"
    assert "did not stop within 0.5 s" in t.failure_text()
    import os

    with pytest.raises(OSError):
        os.kill(pid, 0)  # the process is gone


def test_an_edit_during_a_run_asks_to_stop_it(window, qtbot, monkeypatch):
    t = set_training(window, epochs=500)
    asked = []
    monkeypatch.setattr(type(t), "ask_stop_for_edit", lambda self: asked.append(1) or False)
    t.train()
    qtbot.waitUntil(lambda: t.panel.plots.point_count() > 0, timeout=WAIT)
    fc1 = by_name(window.doc.graph, "fc1")
    assert not window.editor.set_params(fc1.id, {"out_features": 8})
    assert asked and t.running
    monkeypatch.setattr(type(t), "ask_stop_for_edit", lambda self: True)
    assert window.editor.set_params(fc1.id, {"out_features": 8})
    assert not t.running and window.doc.graph.blocks[fc1.id].params["out_features"] == 8


def test_settings_edits_are_undoable_and_saved(window, qtbot, tmp_path):
    form = window.training.panel.form
    epochs = form.editors[("epochs",)]
    epochs.setText("7")
    epochs.textEdited.emit("7")
    assert window.doc.project.training["epochs"] == 7 and window.isWindowModified()
    epochs.setText("-1")
    epochs.textEdited.emit("-1")
    assert "Epochs must be at least 1" in form.errors.text()
    assert window.doc.project.training["epochs"] == 7  # invalid: not pushed
    window.undo_group.undo()
    assert window.doc.project.training.get("epochs") == 30
    assert form.editors[("epochs",)].text() == "30"
    window.undo_group.redo()
    window.files.choose_save_path = lambda *a: str(tmp_path / "mine.studio.json")
    assert window.files.save()
    assert load_project(tmp_path / "mine.studio.json").training["epochs"] == 7


def test_the_form_shows_each_choices_own_options(window):
    form = window.training.panel.form

    def shown(*path):
        return form.row_shown(path)

    assert not shown("early_stopping", "patience") and not shown("schedule", "patience")
    form.editors[("early_stopping", "enabled")].setChecked(True)
    assert shown("early_stopping", "patience") and window.doc.project.training["early_stopping"]["enabled"]
    form.editors[("schedule", "name")].setCurrentText("Reduce on plateau")
    assert shown("schedule", "factor") and shown("schedule", "patience") and not shown("schedule", "pct_start")
    assert shown("loss", "label_smoothing")
    smoothing = form.editors[("loss", "label_smoothing")]
    smoothing.setText("1.5")
    smoothing.textEdited.emit("1.5")
    assert "smoothing" in form.errors.text().lower()  # out of range: shown, not pushed
    assert window.doc.project.training.get("loss", {}).get("label_smoothing") is None
    smoothing.setText("0.1")
    smoothing.textEdited.emit("0.1")
    assert window.doc.project.training["loss"]["label_smoothing"] == 0.1
    form.editors[("monitor",)].setCurrentText("validation accuracy or MAE")
    from studio.training import TrainingSettings

    s = TrainingSettings.from_dict(window.doc.project.training)
    assert s.resolved_monitor() == "val_accuracy" and s.schedule.name == "reduce_on_plateau"
    assert s.loss.label_smoothing == 0.1 and s.early_stopping.enabled
    assert not s.validate()


def test_a_csv_project_can_validate_on_its_own_file(window, qtbot, tmp_path):
    rng = np.random.default_rng(0)
    for name, n in (("train.csv", 160), ("val.csv", 40)):
        rows = "\n".join(f"{a:.3f},{b:.3f},{'yes' if a > b else 'no'}" for a, b in rng.normal(size=(n, 2)))
        (tmp_path / name).write_text("a,b,label\n" + rows + "\n")
    form = window.training.panel.form
    form.editors[("data", "kind")].setCurrentText("CSV file")
    path, val = form.editors[("data", "path")], form.editors[("val_data", "path")]
    assert form.row_shown(("val_data", "path")) and form.row_shown(("val_split",))
    for editor, text in ((path, str(tmp_path / "train.csv")), (val, str(tmp_path / "val.csv"))):
        editor.setText(text)
        editor.textEdited.emit(text)
    assert not form.row_shown(("val_split",))  # no split with a file of its own
    target = form.editors[("data", "target")]
    target.setText("label")
    target.textEdited.emit("label")
    training = window.doc.project.training
    assert training["val_data"] == {"kind": "csv", "path": str(tmp_path / "val.csv"), "target": "label"}
    t = set_training(window, data=training["data"], epochs=1)
    t.train()
    wait_done(qtbot, t)
    assert t.panel.progress.format() == "completed", t.failure_text()
    t.panel.try_panel.run()
    qtbot.waitUntil(lambda: t.panel.try_panel.last is not None, timeout=WAIT)
    assert t.panel.try_panel.last["confusion"].sum() == 40  # the 40 rows of val.csv
    val.setText("")
    val.textEdited.emit("")
    assert "val_data" not in window.doc.project.training  # back to a split


def test_the_run_list_keeps_runs_after_reopening_and_overlays_them(window, qtbot, tmp_path):
    window.files.choose_save_path = lambda *a: str(tmp_path / "p.studio.json")
    assert window.files.save()
    t = set_training(window, epochs=1)
    t.train()
    wait_done(qtbot, t)
    assert (tmp_path / "p.runs").is_dir()
    assert window.files.open_path(EXAMPLE, ask=False)
    assert t.panel.plots.point_count() == 0  # a project without runs: empty plots
    assert window.files.open_path(tmp_path / "p.studio.json", ask=False)
    runs = window.training.panel.runs
    assert len(runs.records()) == 1 and runs.records()[0].state == "completed"
    # the kept run's curves are back: every step and its epoch, and the line names the run
    plots = window.training.panel.plots
    kept = runs.records()[0]
    assert plots.point_count() == len(kept.steps()) > 0 and plots.train_loss.series.n == 1
    # and its learning rate, one point per epoch (an empty 0-1 plot before)
    xs, ys = plots.lr.series.data()
    assert list(xs) == kept.epoch_steps[:1] and list(ys) == [kept.history()[0]["lr"]]
    plots.redraw()
    assert len(plots.raw.item.getOriginalDataset()[0]) == plots.point_count()
    assert kept.id in window.training.panel.rate.text() and window.training.panel.progress.format() == "completed"
    from PySide6.QtCore import Qt

    runs.list.item(0).setCheckState(Qt.CheckState.Checked)
    assert len(window.training.panel.plots._overlays) >= 2
    # resume continues the same run from its checkpoint, with more epochs from the form
    set_training(window, epochs=2)
    runs.list.setCurrentRow(0)
    runs.resume_button.click()
    wait_done(qtbot, t)
    rec = window.training.store.runs()[0]
    assert rec.status["epochs_done"] == 2 and len(rec.history()) == 2
    assert window.training.panel.plots.lr.series.data()[0][0] == rec.epoch_steps[0]  # epoch 1 kept
    # a kept run can be tried: its weights go into the model as it is now
    t = window.training
    runs.list.setCurrentRow(0)
    t.panel.try_panel.last = None
    runs.try_button.click()
    qtbot.waitUntil(lambda: t.panel.try_panel.last is not None, timeout=WAIT)
    assert t.panel.try_panel.last["confusion"].sum() == 40
    # after an edit the run is tried with the graph it was trained with (kept in its folder)
    fc1 = by_name(window.doc.graph, "fc1")
    assert window.editor.set_params(fc1.id, {"out_features": 8})
    t.panel.try_panel.last = None
    runs.try_button.click()
    assert "as it was trained" in t.panel.try_panel.message.text()
    qtbot.waitUntil(lambda: t.panel.try_panel.last is not None, timeout=WAIT)
    assert "error" not in t.panel.try_panel.last
    # that graph opens as a new, unsaved project (fc1 as it was trained)
    folder = rec.folder
    runs.open_button.click()
    assert window.doc.project.path is None and rec.id in window.doc.project.name
    assert by_name(window.doc.graph, "fc1").params["out_features"] == 64
    assert sorted(p.name for p in folder.iterdir()) == sorted(p.name for p in rec.folder.iterdir())
    assert window.files.open_path(tmp_path / "p.studio.json", ask=False)  # the edit was discarded
    assert window.editor.set_params(by_name(window.doc.graph, "fc1").id, {"out_features": 8})
    runs = window.training.panel.runs
    runs.list.setCurrentRow(0)
    # a run without that copy tries the model as it is now, and says when its weights do not fit
    rec.model_file.unlink()
    runs.try_button.click()
    qtbot.waitUntil(lambda: "do not fit" in t.panel.try_panel.message.text(), timeout=WAIT)


def test_runs_of_an_unsaved_project_follow_it_when_it_is_first_saved(window, qtbot, tmp_path, config_dir):
    from studio.training.runs import RunStore

    t = set_training(window, epochs=1)
    t.train()
    wait_done(qtbot, t)
    waiting = t.runs_root()
    assert waiting.is_relative_to(config_dir) and len(RunStore(waiting).runs()) == 1
    # a run another session kept for a project of the same name stays where it is
    other = RunStore(waiting).create({"epochs": 1}, "Spiral classifier")
    RunStore(waiting).update(other, pid=-1)
    window.files.choose_save_path = lambda *a: str(tmp_path / "p.studio.json")
    assert window.files.save()
    assert t.runs_root() == tmp_path / "p.runs"
    kept = RunStore(tmp_path / "p.runs").runs()
    assert len(kept) == 1 and kept[0].state == "completed" and kept[0].weights is not None
    assert [r.id for r in RunStore(waiting).runs()] == [other.id]
    assert len(t.panel.runs.records()) == 1


def test_plots_are_nan_safe(window):
    plots = window.training.panel.plots
    plots.add_steps(np.arange(1, 5.0), np.array([1.0, math.inf, -math.inf, 0.5]))
    plots.set_log(True)
    plots.redraw()
    assert plots.frames >= 1
    _, y = plots.smooth.item.getOriginalDataset()
    assert y[0] == 1.0 and y[1] == 1.0 and 0.5 < y[3] < 1.0  # inf and -inf: gaps, not spikes


def test_a_million_steps_reach_pyqtgraph_as_a_bounded_peak_envelope(window):
    plots = window.training.panel.plots
    steps = np.arange(1, 1_000_001, dtype=np.float64)
    plots.add_steps(steps, 1 / steps)
    plots.redraw()
    x, _ = plots.raw.item.getOriginalDataset()
    assert len(x) < 10_000 and x[-1] == 1_000_000
    plots.step_plot.vb.sigRangeChangedManually.emit([True, True])  # the user zooms: every point
    plots.redraw()
    assert len(plots.raw.item.getOriginalDataset()[0]) == 1_000_000


def test_exports(window, qtbot, tmp_path):
    t = set_training(window, epochs=1)
    t.train()
    wait_done(qtbot, t)
    assert t.export_png(str(tmp_path / "p.png")) and (tmp_path / "p.png").stat().st_size > 1000
    assert t.export_csv(str(tmp_path / "m.csv"))
    text = (tmp_path / "m.csv").read_text()
    assert text.startswith("kind,x,loss") and "\nepoch,1," in text


@pytest.mark.parametrize("state", ["ok", "dead", "exploding", "frozen"])
def test_block_items_paint_learning_indicators(window, state):
    """The pill is drawn, and each state in its own colour."""
    from PySide6.QtGui import QImage, QPainter

    item = next(iter(window.scene.blocks.values()))
    base = item.look.__dict__

    def painted(**look):
        item.set_look(BlockLook(**{**base, **look}))
        rect = item.sceneBoundingRect()
        img = QImage(int(rect.width()) + 2, int(rect.height()) + 2, QImage.Format.Format_ARGB32)
        img.fill(0)
        painter = QPainter(img)
        window.scene.render(painter, source=rect)
        painter.end()
        return img

    plain = painted(learning="", learning_state="")
    shown = painted(learning="∇ 1e-3", learning_state=state)
    assert shown != plain
    for other in ("ok", "dead", "exploding", "frozen"):
        if other != state:
            assert painted(learning="∇ 1e-3", learning_state=other) != shown, other


def shown_ticks(axis):
    """(text, rect) of each tick label pyqtgraph draws on `axis` now."""
    from PySide6.QtGui import QImage, QPainter

    img = QImage(4, 4, QImage.Format.Format_ARGB32)
    painter = QPainter(img)
    try:
        specs = axis.generateDrawSpecs(painter)
    finally:
        painter.end()
    return [(text, rect) for rect, _, text in specs[2]] if specs else []


@pytest.mark.parametrize("size", [(1280, 720), (1400, 860)])
def test_plot_axes_name_their_quantity_and_read_plain_numbers(window, qtbot, size):
    window.resize(*size)
    window.show()
    qtbot.waitExposed(window)
    plots = window.training.panel.plots
    plots.reset("accuracy")
    steps = np.arange(1, 3001.0)
    plots.expect(3000, 30)
    plots.add_steps(steps, 0.6 + 0.05 * np.sin(steps))
    plots.add_lr(steps, np.full(3000, 1e-3))
    plots.add_epochs([{"epoch": e, "train_loss": 0.6, "val_loss": 0.65, "train_accuracy": 0.4 + 0.013 * e,
                       "val_accuracy": 0.5} for e in range(1, 31)], "accuracy")
    plots.redraw(everything=True)
    qtbot.wait(50)
    names = {(p.getAxis("bottom").labelText, p.getAxis("left").labelText) for p in plots.plots}
    assert names == {("step", "loss"), ("epoch", "loss"), ("epoch", "accuracy"), ("step", "learning rate")}
    # what each value axis reads: the data's own numbers, no hidden multiplier
    for plot, lo, hi in ((plots.step_plot, 0.5, 0.7), (plots.epoch_plot, 0.55, 0.7),
                         (plots.metric_plot, 0.3, 0.9), (plots.lr_plot, 0.0008, 0.0012)):
        axis = plot.getAxis("left")
        assert "(x" not in axis.labelString()
        values = [float(text) for text, _ in shown_ticks(axis)]
        assert values and all(lo <= v <= hi for v in values), (axis.labelText, values)
    for plot in plots.plots:
        for side in ("left", "bottom"):
            ticks = shown_ticks(plot.getAxis(side))
            assert len(ticks) >= 2
            rects = [r.adjusted(-1, -1, 1, 1) for _, r in ticks]
            overlapping = [(a[0], b[0]) for i, a in enumerate(ticks) for j, b in enumerate(ticks)
                           if i < j and rects[i].intersects(rects[j])]
            assert not overlapping, (plot.getAxis(side).labelText, overlapping)


@pytest.mark.parametrize("epochs", [2, 5, 30])
def test_epoch_axes_count_whole_epochs(window, qtbot, epochs):
    """A five-epoch run read 0.5, 1, 1.5... on its epoch axes (seen at 1400x860)."""
    window.resize(1400, 860)
    window.show()
    qtbot.waitExposed(window)
    window.show_training()
    plots = window.training.panel.plots
    plots.reset("accuracy")
    plots.expect(10 * epochs, epochs)
    plots.add_epochs([{"epoch": e, "train_loss": 1 / e, "val_loss": 1.1 / e, "train_accuracy": 0.5,
                       "val_accuracy": 0.5} for e in range(1, epochs + 1)], "accuracy")
    plots.redraw(everything=True)
    qtbot.wait(50)
    for plot in (plots.epoch_plot, plots.metric_plot):
        values = [float(text) for text, _ in shown_ticks(plot.getAxis("bottom"))]
        assert len(values) >= 2 and all(v == int(v) for v in values), values


@pytest.mark.parametrize("classes", [3, 10])
def test_the_whole_confusion_matrix_can_be_read(window, qtbot, classes):
    """Each cell is big enough for its count at 1280x720, and the matrix scrolls if it does not fit."""
    window.resize(1280, 720)
    window.show()
    qtbot.waitExposed(window)
    window.show_training()  # the Training panel opens below the canvas, as on Train
    panel = window.training.panel.try_panel
    window.training.panel.right.setCurrentWidget(panel)
    rng = np.random.default_rng(0)
    truth = rng.integers(0, classes, 400)
    labels = np.where(rng.random(400) < 0.7, truth, rng.integers(0, classes, 400))
    cm = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(cm, (truth, labels), 1)
    panel.show_result({"task": "classification", "x": rng.normal(size=(400, 1, 8, 8)).astype(np.float32),
                       "y": truth, "input_shape": (1, 8, 8), "class_names": [f"class {i}" for i in range(classes)],
                       "pred": rng.normal(size=(400, classes)), "labels": labels, "truth": truth,
                       "confusion": cm, "accuracy": float((labels == truth).mean())})
    qtbot.wait(50)
    view, scroll = panel.confusion_view, panel.confusion_scroll
    assert scroll.isVisible() and scroll.widget() is view
    plot = view.ci.getItem(0, 0)
    (x0, x1), (y0, y1) = plot.vb.viewRange()
    assert x0 <= 0 and x1 >= classes and y0 <= 0 and y1 >= classes  # every row and column in view
    cells = plot.vb.mapViewToScene(pg_rect(0, 0, classes, classes)).boundingRect()
    assert cells.width() / classes >= 20 and cells.height() / classes >= 20
    assert view.rect().contains(cells.toRect())  # inside the widget the scroll area moves
    from PySide6.QtCore import Qt

    least = view.ci.effectiveSizeHint(Qt.SizeHint.MinimumSize)
    assert least.width() <= view.width() and least.height() <= view.height()  # nothing of it cut off
    bar = scroll.horizontalScrollBar()
    assert bar.maximum() >= view.width() - scroll.viewport().width()  # scrolls to its far edge
    texts = {item.toPlainText() for item in plot.items if hasattr(item, "toPlainText")}
    texts |= {item.textItem.toPlainText() for item in plot.items if hasattr(item, "textItem")}
    assert {str(v) for v in cm.ravel()} <= texts  # every count is written in its cell


def pg_rect(x, y, w, h):
    from PySide6.QtCore import QRectF

    return QRectF(x, y, w, h)


def test_a_project_opened_at_start_up_shows_its_last_runs_curves(qtbot, tmp_path):
    """The plots are built after the window shows (pyqtgraph loads late); the kept run is drawn then."""
    import shutil

    from studio.training.runs import RunStore
    from studio.ui.main_window import MainWindow

    path = tmp_path / "p.studio.json"
    shutil.copy(EXAMPLE, path)
    store = RunStore(tmp_path / "p.runs")
    old = store.create({"epochs": 1}, "p")
    store.finish(old, "completed", history=[{"epoch": 1.0}])
    rec = store.create({"epochs": 2}, "p")
    store.save_steps(rec, np.arange(1, 21), np.linspace(1.0, 0.2, 20))
    (rec.folder / "metrics.csv").write_text("epoch,train_loss,val_loss,train_accuracy,val_accuracy\n"
                                            "1,0.8,0.85,0.6,0.55\n2,0.4,0.45,0.8,0.75\n")
    store.finish(rec, "stopped", "Stopped by request after 2 epochs, step 20.", history=[{}, {}])
    store.update(rec, epoch_steps=[10, 20])
    w = MainWindow(load_project(path))
    qtbot.addWidget(w)
    assert w.training.panel.plots is None  # not built yet
    w.ensure_compiler()
    plots = w.training.panel.plots
    assert plots.point_count() == 20 and plots.train_loss.series.n == 2 and plots.val_metric.series.n == 2
    assert w.training.panel.progress.format() == "stopped"
    assert w.training.panel.rate.text() == f"run {rec.id} · step 20  ·  2 epochs"
