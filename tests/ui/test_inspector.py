"""The inspector as a user meets it: every parameter of every block type is editable through
its widget, dependent choices follow what they depend on, and the window never grows."""

import math

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QComboBox, QLineEdit, QSpinBox

from studio.blocks.params import ParamError
from studio.blocks.registry import all_block_types

ALL_TYPES = [spec.id for spec in all_block_types()]


def _candidates(param, value):
    """Values a user might type, other than the current one."""
    kind = param.kind
    if kind == "float":
        return [value / 2 if value else 0.5, value + 0.5, 0.25, 0.75, 2.0]
    if kind == "ints":
        return [tuple(v + 1 if v > 0 else v for v in value), (*value, 1), value[:-1], (2,)]
    if kind == "text":
        return [value + "x" if value else "x"]
    if kind == "floats":
        return [tuple(v + 1.5 for v in value)]
    return []


def _type_text(qtbot, widget: QLineEdit, text: str) -> None:
    widget.clear()
    qtbot.keyClicks(widget, text)
    qtbot.keyClick(widget, Qt.Key.Key_Return)


def _edit_through_widget(qtbot, window, bid, name, ed):
    """Change one parameter as a user would; returns the value the model should now hold."""
    block = window.doc.graph.blocks[bid]
    value, param, w = block.params[name], ed.param, ed.widget
    if isinstance(w, QCheckBox):
        qtbot.mouseClick(w, Qt.MouseButton.LeftButton, pos=w.rect().center() if not w.text() else None)
        if w.isChecked() == value:
            w.click()
        return not value
    if isinstance(w, QSpinBox):
        target = value + 1 if value + 1 <= w.maximum() else value - 1
        w.setFocus()
        w.lineEdit().selectAll()
        qtbot.keyClicks(w, str(target))
        qtbot.keyClick(w, Qt.Key.Key_Return)
        return target
    if isinstance(w, QComboBox):
        index = next(i for i in range(w.count()) if w.itemData(i) != value)
        target = w.itemData(index)
        w.setCurrentIndex(index)  # what picking the item from the popup does
        return target
    for candidate in _candidates(param, value):
        try:
            target = param.coerce_in(candidate, name, block.params)
        except ParamError:
            continue
        if target != value:
            shown = ", ".join(map(str, target)) if param.kind in ("ints", "floats") else str(target)
            _type_text(qtbot, w, shown)
            return target
    raise AssertionError(f"no other value to try for {block.type}.{name}")


@pytest.mark.parametrize("type_id", ALL_TYPES)
def test_every_parameter_of_every_block_is_editable_in_the_inspector(window, qtbot, type_id):
    window.show()
    qtbot.waitExposed(window)
    g = window.doc.graph
    bid = window.editor.add_block(type_id, (1200, 900))
    window.scene.select_blocks([bid])
    ins = window.inspector
    assert ins.block_id == bid
    assert set(ins.editors) == set(g.blocks[bid].spec.params)
    for name in g.blocks[bid].spec.params:
        ed = ins.editors[name]  # the inspector refills after each edit: look the editor up again
        index = window.doc.undo_stack.index()
        before = g.blocks[bid].params[name]
        expected = _edit_through_widget(qtbot, window, bid, name, ed)
        got = g.blocks[bid].params[name]
        if isinstance(expected, float):
            assert math.isclose(got, expected), (type_id, name)
        else:
            assert got == expected, (type_id, name, ins.message.text())
        assert window.doc.undo_stack.index() == index + 1, (type_id, name)
        assert not ins.editors[name].widget.property("invalid"), ins.message.text()
        window.doc.undo_stack.undo()
        assert g.blocks[bid].params[name] == before


def test_a_backbone_offers_the_chosen_models_own_choices_with_their_labels(window, qtbot):
    g = window.doc.graph
    bid = window.editor.add_block("backbone", (1200, 900))
    window.scene.select_blocks([bid])
    eds = window.inspector.editors
    spec = g.blocks[bid].spec
    weights = eds["weights"].widget
    labels = [weights.itemText(i) for i in range(weights.count())]
    assert any("top-1" in t for t in labels)  # option_text, not the bare option
    assert weights.itemData(weights.currentIndex()) == "DEFAULT"
    # pick a model with other stages: the stage and freeze lists are refilled for it
    window.editor.set_params(bid, {"stage": spec.params["stage"].options_for({"model": "resnet18"})[-1]})
    model = eds["model"].widget
    model.setCurrentIndex(model.findData("alexnet"))
    block = g.blocks[bid]
    assert block.params["model"] == "alexnet"
    stages = window.inspector.editors["stage"].widget
    shown = [stages.itemData(i) for i in range(stages.count())]
    assert shown == list(spec.params["stage"].options_for({"model": "alexnet"}))
    assert block.params["stage"] in shown  # re-fitted (was a ResNet layer name)
    freeze = window.inspector.editors["freeze"].widget
    assert "train only the head" in freeze.itemText(freeze.findData("backbone"))
    window.doc.undo_stack.undo()  # one step undoes the model and what followed it
    assert g.blocks[bid].params["model"] == "resnet18"
    assert g.blocks[bid].params["stage"] == spec.params["stage"].options_for({"model": "resnet18"})[-1]


@pytest.mark.parametrize("size", [(1280, 720), (1400, 860)])
def test_selecting_any_block_never_changes_the_window_size(window, qtbot, size):
    window.resize(*size)
    window.show()
    qtbot.waitExposed(window)
    qtbot.wait(20)
    before = window.size()
    docks = {d.objectName(): d.height() for d in (window.problems_dock, window.training_dock)}
    for type_id in ALL_TYPES:
        bid = window.editor.add_block(type_id, (1400, 900))
        window.scene.select_blocks([bid])
        qtbot.wait(1)
        assert window.size() == before, type_id
    window.scene.select_blocks([])
    qtbot.wait(1)
    assert {d.objectName(): d.height() for d in (window.problems_dock, window.training_dock)} == docks


def test_frozen_is_offered_only_for_blocks_with_weights(window, qtbot):
    window.show()
    qtbot.waitExposed(window)
    g = window.doc.graph
    for name, offered in (("fc1", True), ("relu1", False), ("logits", False)):
        bid = g.block_by_name(name).id
        window.scene.select_blocks([bid])
        window.doc.refresh()
        assert window.inspector.frozen_box.isVisible() == offered, name
        if offered:
            window.inspector.frozen_box.click()
            assert g.blocks[bid].frozen


SPECIAL = [
    (spec.id, name)
    for spec in all_block_types()
    for name, param in spec.params.items()
    if getattr(param, "special", "")
]


@pytest.mark.parametrize(("type_id", "name"), SPECIAL)
def test_a_number_whose_minimum_means_work_it_out_says_so(window, qtbot, type_id, name):
    """A "max length=0" reads as a length of nothing: where the minimum stands for "from the input"
    (or "the kernel size"), the spin box and the block's card say that instead of the number,
    and a real number reads as a number again."""
    assert len(SPECIAL) >= 4  # both position blocks, both pools' strides, the custom module's index
    window.show()
    qtbot.waitExposed(window)
    bid = window.editor.add_block(type_id, (1200, 900))
    window.scene.select_blocks([bid])
    param = window.doc.graph.blocks[bid].spec.params[name]
    w = window.inspector.editors[name].widget
    assert window.doc.graph.blocks[bid].params[name] == param.min
    assert w.text() == param.special
    look = window.scene.blocks[bid].look
    if param.key:
        assert f"={param.special}" in look.key_params and "=0" not in look.key_params
    w.setFocus()
    w.lineEdit().selectAll()
    qtbot.keyClicks(w, str(param.min + 3))
    qtbot.keyClick(w, Qt.Key.Key_Return)
    assert window.doc.graph.blocks[bid].params[name] == param.min + 3
    w = window.inspector.editors[name].widget
    assert w.text() == str(param.min + 3)
    if param.key:
        assert f"={param.min + 3}" in window.scene.blocks[bid].look.key_params
