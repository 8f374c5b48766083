"""The inspector's drop-downs, for every block type that has a choice: plain options, options
read on first use, and options that depend on another value (a Backbone's weights)."""

import pytest

from studio.blocks.params import Choice
from studio.blocks.registry import all_block_types
from studio.graph.model import Graph
from studio.graph.project import Project

CHOOSING = [spec for spec in all_block_types() if any(isinstance(p, Choice) for p in spec.params.values())]


@pytest.fixture
def empty_window(qtbot):
    import studio.compiler  # noqa: F401
    from studio.ui.main_window import MainWindow

    w = MainWindow(Project(name="t", graph=Graph()))
    qtbot.addWidget(w)
    return w


def combo_items(editor):
    w = editor.widget
    return [(w.itemText(i), w.itemData(i)) for i in range(w.count())]


@pytest.mark.parametrize("spec", CHOOSING, ids=lambda s: s.id)
def test_selecting_a_block_lists_each_choice_and_shows_its_value(empty_window, spec):
    w = empty_window
    block = w.doc.graph.add_block(spec.id)
    w.inspector.show_block(block.id)
    for name, param in spec.params.items():
        if isinstance(param, Choice):
            items = combo_items(w.inspector.editors[name])
            assert [data for _, data in items] == list(param.options_for(block.params)), name
            assert w.inspector.editors[name].widget.currentData() == block.params[name], name


def test_changing_a_backbones_model_refits_its_weights_in_one_undo_step(empty_window, qtbot):
    w = empty_window
    b = w.doc.graph.add_block("backbone", params={"model": "resnet50", "weights": "IMAGENET1K_V2"})
    w.inspector.show_block(b.id)
    weights = w.inspector.editors["weights"]
    texts = dict((data, text) for text, data in combo_items(weights))
    assert texts["IMAGENET1K_V2"] != "IMAGENET1K_V2"  # the longer text (accuracy, size) is shown
    model = w.inspector.editors["model"].widget
    model.setCurrentIndex(model.findData("vit_b_16"))
    assert b.params["model"] == "vit_b_16" and b.params["weights"] == "DEFAULT"  # vit has no V2
    assert "IMAGENET1K_V2" not in [data for _, data in combo_items(weights)]  # the list followed
    w.doc.undo_stack.undo()
    assert (b.params["model"], b.params["weights"]) == ("resnet50", "IMAGENET1K_V2")
