"""The Runs tab as a table: what differs between runs, sorting, overlay, the Compare plot, CSV."""

from __future__ import annotations

import csv
import json

import pytest
from PySide6.QtCore import Qt

from studio.graph.project import dumps, load_project
from studio.training.run_table import RunTable
from studio.training.runs import RunStore
from studio.ui.training.history_view import RECORD_ROLE, RunList

SPIRAL = "resources/examples/mlp_classifier.studio.json"


def fake_run(store, lr, width, losses, sweep="", trial=None, status="completed"):
    """A finished run as the trainer leaves one: settings, kept model, metrics.csv, status."""
    project = load_project(SPIRAL)
    project.graph.set_params("b2", {"out_features": width})
    settings = {**project.training, "optimizer": {"name": "adam", "lr": lr}}
    rec = store.create(settings, project.name, model_json=dumps(project))
    with open(rec.folder / "metrics.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["epoch", "train_loss", "val_loss", "val_accuracy", "lr"])
        for i, loss in enumerate(losses, 1):
            w.writerow([i, loss + 0.1, loss, 1 - loss, lr])
    store.finish(
        rec,
        status,
        history=[{}] * len(losses),
        best_epoch=len(losses),
        best_value=min(losses),
        monitor="val_loss",
    )
    store.update(rec, ended=rec.status["started"] + 10 * len(losses))
    if sweep:
        store.update(rec, sweep=sweep, trial=trial, params={"lr": lr, "fc1.out_features": width})
    return rec


@pytest.fixture
def runs(tmp_path):
    store = RunStore(tmp_path / "p.runs")
    recs = [
        fake_run(store, 0.01, 64, [0.5, 0.3]),
        fake_run(store, 0.001, 16, [0.6, 0.45, 0.4], sweep="s", trial=0),
        fake_run(store, 0.1, 128, [0.4, 0.2], sweep="s", trial=1, status="pruned"),
    ]
    return store, recs


def column(table, name) -> int:
    heads = [table.horizontalHeaderItem(c).text() for c in range(table.columnCount())]
    return heads.index(name)


def cells(table, name) -> list[str]:
    c = column(table, name)
    return [table.item(r, c).text() for r in range(table.rowCount())]


def test_the_table_has_a_column_for_each_thing_that_differs(qtbot, runs):
    store, recs = runs
    view = RunList()
    qtbot.addWidget(view)
    view.set_runs(store.runs())
    t = view.list
    heads = [t.horizontalHeaderItem(c).text() for c in range(t.columnCount())]
    assert heads[:7] == ["Run", "Started", "Status", "Sweep", "Trial", "Epochs", "Time (s)"]
    # what differs: the rate and the hidden width; what does not (the data, fc2) has no column
    assert "optimizer.lr" in heads and "fc1.out_features" in heads
    assert "fc2.out_features" not in heads and "data.kind" not in heads and "epochs" not in heads
    assert {"final_val_loss", "final_val_accuracy", "Best"} <= set(heads)
    assert cells(t, "Run") == [r.id for r in reversed(recs)]  # newest first
    assert cells(t, "Status") == ["pruned", "completed", "completed"]
    assert cells(t, "Sweep") == ["s", "s", ""] and cells(t, "Trial") == ["1", "0", ""]
    assert cells(t, "fc1.out_features") == ["128", "16", "64"]
    assert cells(t, "Time (s)") == ["20", "30", "20"]


def test_sorting_a_column_sorts_numbers_as_numbers(qtbot, runs):
    store, recs = runs
    view = RunList()
    qtbot.addWidget(view)
    view.set_runs(store.runs())
    t = view.list
    t.horizontalHeader().sectionClicked.emit(column(t, "fc1.out_features"))  # what a click does
    t.sortItems(column(t, "fc1.out_features"), Qt.SortOrder.AscendingOrder)
    assert cells(t, "fc1.out_features") == ["16", "64", "128"]  # not "128" < "16" as text
    t.sortItems(column(t, "Best"), Qt.SortOrder.AscendingOrder)
    assert cells(t, "Best") == ["0.2", "0.3", "0.4"]
    assert [r.id for r in view.records()] == [recs[2].id, recs[0].id, recs[1].id]
    # the record follows its row: the current run after sorting is the one clicked
    view.list.setCurrentRow(0)
    assert view.selected().id == recs[2].id


def test_ticking_rows_overlays_them(qtbot, runs):
    store, recs = runs
    view = RunList()
    qtbot.addWidget(view)
    view.set_runs(store.runs())
    with qtbot.waitSignal(view.overlay_changed) as sig:
        view.list.item(1).setCheckState(Qt.CheckState.Checked)
    assert [r.id for r in sig.args[0]] == [recs[1].id]
    view.set_runs(store.runs())  # a refresh keeps the ticks
    assert [r.id for r in view.ticked()] == [recs[1].id]


def test_selected_rows_are_plotted_parameter_against_metric(qtbot, runs):
    from studio.ui.training.run_scatter import RunScatter

    store, recs = runs
    view = RunList()
    scatter = RunScatter()
    qtbot.addWidget(view)
    qtbot.addWidget(scatter)
    view.selection_changed.connect(lambda sel: scatter.set_table(view.table, sel))
    view.set_runs(store.runs())
    scatter.set_table(view.table, [])
    x_items = [scatter.x.itemText(i) for i in range(scatter.x.count())]
    y_items = [scatter.y.itemText(i) for i in range(scatter.y.count())]
    assert x_items[:2] == ["optimizer.lr", "fc1.out_features"] and "best" in y_items
    assert scatter.y.currentText() == "best"
    assert len(scatter.points.data) == 3  # fewer than two selected: every run
    view.list.selectRow(0)
    view.list.selectionModel().select(
        view.list.model().index(2, 0),
        view.list.selectionModel().SelectionFlag.Select
        | view.list.selectionModel().SelectionFlag.Rows,
    )
    ids = sorted(p.data() for p in scatter.points.points())
    assert ids == sorted([recs[2].id, recs[0].id])
    scatter.x.setCurrentText("fc1.out_features")
    xs = sorted(p.pos().x() for p in scatter.points.points())
    assert xs == [64.0, 128.0]
    assert scatter.plot.getAxis("bottom").labelText == "fc1.out_features"


def test_export_writes_the_table_as_shown(qtbot, runs, tmp_path):
    store, recs = runs
    view = RunList()
    qtbot.addWidget(view)
    view.set_runs(store.runs())
    view.list.sortItems(column(view.list, "Best"), Qt.SortOrder.AscendingOrder)
    path = tmp_path / "runs.csv"
    assert view.export_csv(str(path))
    rows = list(csv.DictReader(open(path)))
    assert [r["run"] for r in rows] == [recs[2].id, recs[0].id, recs[1].id]
    assert rows[0]["fc1.out_features"] == "128" and float(rows[0]["best"]) == 0.2
    assert rows[1]["sweep"] == ""


def test_studio_runs_prints_the_same_table_and_json(runs, capsys, tmp_path):
    from studio.cli import main
    from studio.graph.project import save_project

    store, recs = runs
    save_project(load_project(SPIRAL), tmp_path / "p.studio.json")
    assert main(["runs", str(tmp_path / "p.studio.json")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[:3] == ["run", "started", "status"] and "fc1.out_features" in out[0]
    assert len(out) == 2 + 3 and out[2].startswith(recs[0].id) and out[-1].startswith(recs[2].id)
    assert main(["runs", str(tmp_path / "p.studio.json"), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [d["run"] for d in data] == [r.id for r in recs]
    assert (
        data[1]["parameters"]["fc1.out_features"] == 16
        and data[1]["sweep_parameters"]["lr"] == 0.001
    )
    assert data[1]["metrics"]["final_val_loss"] == 0.4 and data[1]["best"]["value"] == 0.4
    assert data[0]["settings"]["optimizer"]["lr"] == 0.01
    assert main(["runs", str(tmp_path / "p.studio.json"), "--sweep", "s", "--csv"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 3


def test_one_sweep_run_alone_shows_the_values_its_sweep_chose(runs):
    store, recs = runs
    table = RunTable.build([store.find(recs[1].id)])
    assert table.varying == ["optimizer.lr", "fc1.out_features"]
    assert table.rows[0]["optimizer.lr"] == 0.001
    assert (
        RunTable.build([store.find(recs[0].id)]).varying == []
    )  # an ordinary run: nothing differs


def test_a_run_without_its_model_file_still_has_a_row(qtbot, runs):
    store, recs = runs
    recs[0].model_file.unlink()
    view = RunList()
    qtbot.addWidget(view)
    view.set_runs(store.runs())
    assert cells(view.list, "fc1.out_features")[-1] == ""
    assert view.list.item(2).data(RECORD_ROLE).id == recs[0].id


def test_parallel_coordinates_draw_one_line_per_run_coloured_by_the_metric(qtbot, runs):
    from studio.ui.training.run_scatter import RunScatter

    store, recs = runs
    scatter = RunScatter()
    qtbot.addWidget(scatter)
    view = RunList()
    qtbot.addWidget(view)
    view.set_runs(store.runs())
    scatter.set_table(view.table, [])
    scatter.parallel.setChecked(True)
    assert len(scatter.lines) == 3 and not scatter.line.isVisible() and not scatter.x.isEnabled()
    ticks = [t for _, t in scatter.plot.getAxis("bottom")._tickLevels[0]]
    assert ticks == ["optimizer.lr", "fc1.out_features", "best"]
    # every axis is scaled to its own range: the lowest rate (log scale) at 0, the highest at 1
    by_run = {line.toolTip().split(":")[0][4:]: line.getData()[1] for line in scatter.lines}
    assert list(by_run[recs[1].id]) == [0.0, 0.0, 1.0]  # lr 0.001, width 16, best 0.4 (worst)
    assert list(by_run[recs[2].id]) == [1.0, 1.0, 0.0]  # lr 0.1, width 128, best 0.2
    # the best run is drawn blue, the worst red
    colour = {line.toolTip().split(":")[0][4:]: line.opts["pen"].color() for line in scatter.lines}
    assert colour[recs[2].id].blue() > colour[recs[2].id].red()
    assert colour[recs[1].id].red() > colour[recs[1].id].blue()
    scatter.parallel.setChecked(False)
    assert scatter.lines == [] and scatter.line.isVisible()


def test_the_compare_axes_follow_the_runs_until_the_user_picks_one(qtbot, tmp_path):
    """Trained one after the other, the first run set x to "epochs" (all there was), and the
    second run, at another learning rate, kept it: two dots over one x value. Until the user
    picks an axis, x is what differs between the runs; a pick is kept as runs come."""
    from studio.ui.training.run_scatter import RunScatter

    store = RunStore(tmp_path / "p.runs")
    scatter = RunScatter()
    qtbot.addWidget(scatter)
    fake_run(store, 0.01, 64, [0.5, 0.3])
    scatter.set_table(RunTable.build(store.runs()), [])
    assert scatter.x.currentText() == "epochs" and scatter.note.text() == "1 run: every run"
    fake_run(store, 0.001, 64, [0.6, 0.45])
    scatter.set_table(RunTable.build(store.runs()), [])
    assert scatter.x.currentText() == "optimizer.lr" and scatter.note.text().startswith("2 runs:")
    i = scatter.x.findText("epochs")
    scatter.x.setCurrentIndex(i)
    scatter.x.activated.emit(i)  # what picking it from the list does
    fake_run(store, 0.1, 32, [0.4, 0.2, 0.1])
    scatter.set_table(RunTable.build(store.runs()), [])
    assert scatter.x.currentText() == "epochs"  # the user's pick stays


def test_a_new_run_becomes_the_selected_one_and_a_later_choice_is_kept(qtbot, runs):
    """After Train the table showed the new run but stayed on the one selected before (t22 saw
    it): the run being trained, the first time the table holds it, is selected, and the Compare
    view hears of it; once it is there, the user's own selection is left alone."""
    store, recs = runs
    view = RunList()
    qtbot.addWidget(view)
    view.set_runs(store.runs())
    def row_of(run_id):
        return next(r for r in range(view.list.rowCount()) if view.list.item(r).data(RECORD_ROLE).id == run_id)

    view.list.selectRow(row_of(recs[0].id))
    assert [r.id for r in view.selected_rows()] == [recs[0].id]
    heard = []
    view.selection_changed.connect(lambda rows: heard.append([r.id for r in rows]))
    new = fake_run(store, 0.02, 32, [0.5], status="running")
    view.set_runs(store.runs(), new.id)
    assert [r.id for r in view.selected_rows()] == [new.id] and heard[-1] == [new.id]
    view.list.selectRow(row_of(recs[0].id))  # the user goes back to an older run while it trains
    view.set_runs(store.runs(), new.id)
    assert [r.id for r in view.selected_rows()] == [recs[0].id]
