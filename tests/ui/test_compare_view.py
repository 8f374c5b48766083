"""View > Compare With…: two canvases, blocks outlined by their change, the differences below."""

from studio.graph.project import load_project, save_project
from studio.ui import compare_view
from studio.ui.compare_view import COLOURS
from tests.graph.test_diff import edited
from tests.ui.conftest import open_window

CNN = "resources/examples/shapes_cnn.studio.json"


def test_compare_with_a_file_outlines_added_changed_and_renamed_blocks(
    qtbot, tmp_path, monkeypatch
):
    w = open_window(qtbot, CNN)
    other = edited(load_project(CNN))
    other.training = {**other.training, "epochs": 42}
    save_project(other, tmp_path / "b.studio.json")
    monkeypatch.setattr(compare_view, "choose_file", lambda window: str(tmp_path / "b.studio.json"))
    w.compare_action.trigger()
    view = w.compare_window
    qtbot.addWidget(view)
    a, b = view.side_a, view.side_b
    colour = {bid: o.pen().color().name() for bid, o in b.outlines.items()}
    names = {b.project.graph.blocks[bid].name: c for bid, c in colour.items()}
    assert names == {
        "drop1": COLOURS["added"],
        "conv2": COLOURS["changed"],
        "hidden": COLOURS["renamed"],
    }
    assert {a.project.graph.blocks[bid].name for bid in a.outlines} == {"conv2", "fc"}
    # each outline sits on its block
    drop = next(bid for bid in b.outlines if b.project.graph.blocks[bid].name == "drop1")
    assert b.outlines[drop].rect().contains(b.scene.blocks[drop].sceneBoundingRect())
    # the settings and the code's diff are below
    text = view.text.toPlainText()
    assert "~ setting epochs: 10 -> 42" in text or "~ setting epochs:" in text
    assert "+        self.drop1 = nn.Dropout(p=0.1)" in text
    # selecting a changed block shows its old and new values
    conv2 = next(bid for bid in b.outlines if b.project.graph.blocks[bid].name == "conv2")
    b.scene.blocks[conv2].setSelected(True)
    assert "out_channels: 32 → 64" in view.details.text()
    # the open project is not touched by the comparison
    assert (
        w.doc.undo_stack.count() == 0
        and w.doc.graph.block_by_name("conv2").params["out_channels"] == 32
    )


def test_the_compare_window_fits_the_screen(qtbot, monkeypatch):
    """It asked 1300x820 of any screen: at 1280x720 its lower part (the differences as text) was
    off the screen. The offscreen screen here is 800x800."""
    from PySide6.QtGui import QGuiApplication

    w = open_window(qtbot, CNN)
    monkeypatch.setattr(compare_view, "choose_file", lambda window: CNN)
    w.compare_action.trigger()
    view = w.compare_window
    qtbot.addWidget(view)
    avail = QGuiApplication.primaryScreen().availableGeometry()
    assert view.width() <= avail.width() and view.height() <= avail.height()
    assert view.text.isVisible() and view.frameGeometry().bottom() <= avail.bottom() + 1


def test_a_bad_file_is_one_message(qtbot, tmp_path, monkeypatch, no_dialogs):
    w = open_window(qtbot, CNN)
    (tmp_path / "bad.studio.json").write_text("{")
    monkeypatch.setattr(
        compare_view, "choose_file", lambda window: str(tmp_path / "bad.studio.json")
    )
    w.compare_action.trigger()
    assert "not valid JSON" in no_dialogs[0]


def test_two_runs_selected_in_the_table_compare_their_models(qtbot, tmp_path):
    from tests.ui.test_runs_table import fake_run

    w = open_window(qtbot, "resources/examples/mlp_classifier.studio.json")
    from studio.training.runs import RunStore

    store = RunStore(tmp_path / "p.runs")
    fake_run(store, 0.01, 64, [0.5])
    fake_run(store, 0.001, 16, [0.4])
    runs = w.training.panel.runs
    runs.set_runs(store.runs())
    assert not runs.compare_button.isEnabled()
    runs.list.selectAll()
    assert runs.compare_button.isEnabled()
    runs.compare_button.click()
    view = w.compare_window
    qtbot.addWidget(view)
    text = view.text.toPlainText()
    assert (
        "~ block fc1: out_features 16 -> 64" in text or "~ block fc1: out_features 64 -> 16" in text
    )
    assert "~ setting optimizer.lr" in text


def test_two_runs_ticked_in_the_table_compare_their_models(qtbot, tmp_path):
    """Ticking two runs' boxes (the table's only visible affordance) left Compare greyed out: it
    read the selected rows only, which a click on a tick box does not make."""
    from PySide6.QtCore import Qt

    from studio.training.runs import RunStore
    from tests.ui.test_runs_table import fake_run

    w = open_window(qtbot, "resources/examples/mlp_classifier.studio.json")
    store = RunStore(tmp_path / "p.runs")
    fake_run(store, 0.01, 64, [0.5])
    fake_run(store, 0.001, 16, [0.4])
    fake_run(store, 0.1, 32, [0.6])
    runs = w.training.panel.runs
    runs.set_runs(store.runs())
    runs.list.item(0).setCheckState(Qt.CheckState.Checked)
    assert not runs.compare_button.isEnabled()  # one run ticked: nothing to compare yet
    runs.list.item(2).setCheckState(Qt.CheckState.Checked)
    assert runs.selected_rows() == [] and runs.compare_button.isEnabled()
    runs.compare_button.click()
    view = w.compare_window
    qtbot.addWidget(view)
    ids = {runs.list.item(0).text(), runs.list.item(2).text()}
    assert all(i in view.windowTitle() for i in ids)
    assert "~ block fc1: out_features" in view.text.toPlainText()


def test_two_runs_differ_in_what_the_user_set_not_in_how_often_they_reported(qtbot, tmp_path):
    """A sweep's trial against a run from the window listed 'setting report_seconds: 0.1 -> 0.045'
    (the window reports more often; nobody set it) and 'optimizer.lr: 0.01605191133358762'."""
    from studio.training.runs import RunStore
    from tests.ui.test_runs_table import fake_run

    w = open_window(qtbot, "resources/examples/mlp_classifier.studio.json")
    store = RunStore(tmp_path / "p.runs")
    trial, mine = fake_run(store, 0.01605191133358762, 64, [0.5]), fake_run(store, 0.01, 64, [0.4])
    for rec, seconds, every in ((trial, 0.1, 50), (mine, 0.045, 10)):
        store.update(rec)
        rec.settings = {**rec.settings, "report_seconds": seconds, "report_every": every}
    from studio.ui.compare_view import compare_runs

    view = compare_runs(w, [trial, mine])
    qtbot.addWidget(view)
    lines = view.text.toPlainText().splitlines()
    assert [ln for ln in lines if ln.startswith("~ setting")] == [
        "~ setting optimizer.lr: 0.0160519 -> 0.01"
    ]
