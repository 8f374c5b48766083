"""Train > Sweep… in the window: the dialog's ranges, a sweep in its own process whose trials
fill the Runs table, and Apply Best Trial as one undo step."""

import pytest

pytest.importorskip("optuna")

from tests.ui.conftest import by_name  # noqa: E402
from tests.ui.test_training_panel import TINY  # noqa: E402


def test_a_sweep_from_the_window_fills_the_runs_table_and_applies_its_best(window, qtbot, tmp_path):
    w = window
    w.doc.project.training.update({**TINY, "data": {"kind": "spirals", "n": 200}, "epochs": 1})
    w.files.choose_save_path = lambda *a: str(tmp_path / "s.studio.json")
    fc1 = by_name(w.doc.graph, "fc1")
    seen = {}

    def fill(dialog):
        assert (
            dialog.ranges.count() == 1 and dialog.start.isEnabled()
        )  # fc1's, set in the inspector
        dialog.setting.setCurrentText("lr")
        dialog.values.setText("1e-3..1e-1:log")
        dialog.add.click()
        dialog.setting.setCurrentText("optimizer")
        dialog.values.setText("adam,nadam")
        assert not dialog._add() and "'nadam'" in dialog.message.text()
        dialog.trials.setValue(2)
        seen["ranges"] = [dialog.ranges.item(i).text() for i in range(dialog.ranges.count())]
        dialog.start.click()
        return dialog.result() == dialog.DialogCode.Accepted

    w.sweeps.run_dialog = fill
    from studio.graph.search import parse

    w.doc.project.search = w.doc.project.search.with_range(
        parse("fc1.out_features=4..32", w.doc.graph)
    )
    assert w.sweeps.open_dialog()
    assert seen["ranges"] == ["fc1.out_features: 4..32", "lr: 0.001..0.1 log"]
    assert w.sweeps.running and not w.sweeps.sweep_action.isEnabled()
    qtbot.waitUntil(lambda: not w.sweeps.running, timeout=300_000)
    text = w.training.panel.message.text()
    assert text.startswith("Sweep finished. Best: trial ") and text.endswith(". Train > Apply Best Trial sets its values."), text
    assert "studio sweep" not in text  # the command line's own advice stays in the command line
    runs = w.training.panel.runs
    assert runs.list.rowCount() == 2
    heads = [runs.list.horizontalHeaderItem(c).text() for c in range(runs.list.columnCount())]
    assert "fc1.out_features" in heads and "optimizer.lr" in heads
    sweep_col = heads.index("Sweep")
    assert {runs.list.item(r, sweep_col).text() for r in range(2)} == {"Spiral_classifier"}
    # apply the best: one undo step sets the width and the rate
    before = (fc1.params["out_features"], w.doc.project.training["optimizer"]["lr"])
    count = w.doc.undo_stack.count()
    assert w.sweeps.apply_best()
    assert w.doc.undo_stack.count() == count + 1
    best = min((r for r in runs.records()), key=lambda r: r.status["best_value"])
    assert fc1.params["out_features"] == best.status["params"]["fc1.out_features"]
    assert w.doc.project.training["optimizer"]["lr"] == pytest.approx(best.status["params"]["lr"])
    assert w.training.panel.form.settings()["optimizer"]["lr"] == pytest.approx(
        best.status["params"]["lr"]
    )
    w.doc.undo_stack.undo()
    assert (fc1.params["out_features"], w.doc.project.training["optimizer"]["lr"]) == before


def test_apply_best_without_a_sweep_says_so(window, qtbot):
    """Train > Apply Best Trial with the Training panel closed: the panel opens and says why."""
    window.show()
    qtbot.waitExposed(window)
    window.training_dock.hide()
    window.sweeps.apply_action.trigger()
    assert "has run yet for this project" in window.training.panel.message.text()
    assert window.training_dock.isVisible() and window.training.panel.message.label.isVisible()


def test_the_dialog_cannot_start_without_a_range(window):
    from studio.ui.training.sweeps import SweepDialog

    dialog = SweepDialog(window.doc.project, window)
    assert not dialog.start.isEnabled()
    dialog.setting.setCurrentText("batch_size")
    dialog.values.setText("16..128:step=16")
    assert dialog._add() and dialog.start.isEnabled()
    dialog.ranges.item(0).setSelected(True)
    dialog.remove.click()
    assert not dialog.start.isEnabled() and dialog.search.ranges == []


def test_the_dialog_is_a_dialog_sized_window_that_says_what_to_do_when_empty(window, qtbot):
    """It opened 1,090 px wide (its first sentence did not wrap) with an empty white list and
    nothing saying how to fill it; Remove selected spanned the dialog and was always enabled."""
    from studio.ui.training.sweeps import SweepDialog

    dialog = SweepDialog(window.doc.project, window)
    dialog.show()
    qtbot.waitExposed(dialog)
    assert dialog.width() <= 700
    assert dialog.empty.isVisible() and not dialog.ranges.isVisible()
    assert "Search range" in dialog.empty.text() and not dialog.remove.isEnabled()
    dialog.setting.setCurrentText("lr")
    qtbot.keyClicks(dialog.values, "1e-4..1e-1:log")
    dialog.add.click()
    assert dialog.ranges.isVisible() and not dialog.empty.isVisible()
    assert not dialog.remove.isEnabled()  # nothing selected yet
    dialog.ranges.item(0).setSelected(True)
    assert dialog.remove.isEnabled() and dialog.remove.width() < dialog.width() / 2
    dialog.remove.click()
    assert dialog.empty.isVisible() and dialog.width() <= 700
