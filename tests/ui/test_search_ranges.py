"""Search ranges in the window: set in the inspector, shown on the block, one undo step each,
saved with the project; and a sweep's best trial applied as one undo step."""

import pytest

from studio.graph.project import load_project
from studio.ui import search_ranges
from tests.ui.conftest import by_name


def answer(monkeypatch, param, values=None, remove=False):
    """Fill the range dialog as a user would, and press OK (or Remove range)."""

    def run(dialog):
        dialog.param.setCurrentText(param)
        if values is not None:
            dialog.values.setText(values)
        (dialog.remove if remove else dialog._ok_button()).click()
        return dialog.result() == dialog.DialogCode.Accepted

    monkeypatch.setattr(search_ranges, "run_dialog", run)


@pytest.fixture(autouse=True)
def ok_button(monkeypatch):
    from PySide6.QtWidgets import QDialogButtonBox

    def find(dialog):
        return dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Ok)

    monkeypatch.setattr(search_ranges.RangeDialog, "_ok_button", find, raising=False)


def test_a_range_set_in_the_inspector_shows_on_the_block_and_undoes(
    window, qtbot, monkeypatch, tmp_path
):
    fc1 = by_name(window.doc.graph, "fc1")
    window.inspector.show_block(fc1.id)
    assert window.inspector.search_label.text() == "<i>none</i>"
    before = window.scene.blocks[fc1.id].look.extra
    answer(monkeypatch, "out_features", "8..128")
    window.inspector.search_button.click()
    assert window.doc.project.search.get(f"{fc1.id}.out_features").describe() == "8..128"
    assert window.inspector.search_label.text() == "out_features: 8..128"
    look = window.scene.blocks[fc1.id].look
    assert look.extra == [*before, "⇄ out_features 8..128"] and "Sweep ranges" in look.tooltip
    window.doc.undo_stack.undo()  # one step
    assert not window.doc.project.search
    assert window.scene.blocks[fc1.id].look.extra == before
    window.doc.undo_stack.redo()
    assert window.scene.blocks[fc1.id].look.extra[-1] == "⇄ out_features 8..128"
    # saved with the project, and read back
    window.files.choose_save_path = lambda *a: str(tmp_path / "p.studio.json")
    assert window.files.save()
    again = load_project(tmp_path / "p.studio.json")
    assert again.search.get(f"{fc1.id}.out_features").high == 128


def test_a_bad_range_is_refused_in_the_dialog_with_the_reason(window, monkeypatch):
    fc1 = by_name(window.doc.graph, "fc1")
    window.inspector.show_block(fc1.id)
    seen = []

    def run(dialog):
        dialog.param.setCurrentText("out_features")
        dialog.values.setText("0.5..8")
        dialog._ok_button().click()
        seen.append(dialog.message.text())
        return False

    monkeypatch.setattr(search_ranges, "run_dialog", run)
    assert not search_ranges.edit_range(window.inspector, fc1.id)
    assert "whole number" in seen[0] and not window.doc.project.search


def test_choices_and_log_ranges_and_remove(window, monkeypatch):
    fc1 = by_name(window.doc.graph, "fc1")
    window.inspector.show_block(fc1.id)
    answer(monkeypatch, "bias", "true,false")
    window.inspector.search_button.click()
    answer(monkeypatch, "out_features", "4..256:log")
    window.inspector.search_button.click()
    assert window.inspector.search_label.text() == "bias: True, False<br>out_features: 4..256 log"
    answer(monkeypatch, "bias", remove=True)
    window.inspector.search_button.click()
    assert [r.param for r in window.doc.project.search.ranges] == ["out_features"]


def test_apply_best_trial_is_one_undo_step(window):
    from studio.graph.search_commands import ApplyValues
    from studio.training.search_targets import apply_settings

    fc1 = by_name(window.doc.graph, "fc1")
    values = {f"{fc1.id}.out_features": 17, "lr": 0.0042, "optimizer": "sgd"}
    training = apply_settings(window.doc.project.training, values)
    before = window.undo_group.activeStack().count() if window.undo_group.activeStack() else 0
    assert window.doc.push(ApplyValues(window.doc.project, values, training))
    assert fc1.params["out_features"] == 17
    assert window.doc.project.training["optimizer"] == {"name": "sgd", "lr": 0.0042}
    assert window.doc.undo_stack.count() == before + 1
    window.doc.undo_stack.undo()
    assert (
        fc1.params["out_features"] == 64
        and window.doc.project.training["optimizer"]["name"] == "adam"
    )


def test_a_module_use_searches_its_per_use_parameters(qtbot, monkeypatch):
    from tests.ui.conftest import open_window

    w = open_window(qtbot, "resources/examples/shapes_resnet.studio.json")
    use = next(
        b for b in w.doc.graph.blocks.values() if b.spec.definition is not None and b.spec.params
    )
    w.inspector.show_block(use.id)
    param = search_ranges.searchable_params(use)[0]
    answer(monkeypatch, param, "1..3")
    w.inspector.search_button.click()
    assert w.doc.project.search.get(f"{use.id}.{param}").describe() == "1..3"
    assert w.scene.blocks[use.id].look.extra[-1] == f"⇄ {param} 1..3"
