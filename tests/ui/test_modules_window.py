"""Sub-networks in the window, as a user works with them: group a selection (Ctrl+G), see the
module block, open it (double-click, Enter) with a breadcrumb back, edit inside with the same
undo, ungroup, detach a copy, add a use from the palette, and set repeat in the inspector."""

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QSpinBox

from studio.graph.project import Project
from tests.modules_helpers import small_resnet
from tests.ui.conftest import by_name

LAYERS = ["fc1", "relu1", "fc2"]


@pytest.fixture
def named(window, monkeypatch):
    """The name asked for a new module is 'Body'."""
    monkeypatch.setattr(window.modules, "ask_module_name", lambda suggestion: "Body")
    return window


def group(window, names=LAYERS):
    g = window.doc.graph
    window.scene.select_blocks([by_name(g, n).id for n in names])
    window.actions_.group.trigger()
    window.doc.refresh()
    return window.scene.selected_block_ids()[0]


def palette_modules(window):
    top = window.palette_widget._modules
    return [] if top.isHidden() else [top.child(i).text(0) for i in range(top.childCount())]


def view_point(window, block_id):
    item = window.scene.blocks[block_id]
    return window.view.mapFromScene(item.sceneBoundingRect().center() + QPoint(0, 8))


def test_group_into_module_replaces_the_selection_by_one_use(named):
    w = named
    g = w.doc.graph
    text = g.to_dict()
    count = w.doc.analysis.totals().params
    use_id = group(w)
    use = g.blocks[use_id]
    assert [b.name for b in g] == ["points", "body1", "relu2", "classifier", "logits"]
    look = w.scene.blocks[use_id].look
    assert look.type_label == "Body · module" and look.count == "4,352 params"
    assert look.extra == ["N×2 → N×64", "3 blocks"]  # shapes in and out, what is inside
    assert look.chips == ("Layers", "Activations", "Layers") and "fc1 (Linear)" in look.tooltip
    assert use.type == "module:Body" and palette_modules(w) == ["Body"]
    assert w.doc.analysis.totals().params == count
    assert "class Body(nn.Module):" in w.code_view.source
    w.doc.undo_stack.undo()
    assert g.to_dict() == text and palette_modules(w) == []


def test_grouping_input_blocks_is_refused_in_the_status_bar(named):
    w = named
    w.scene.select_blocks([by_name(w.doc.graph, "points").id])
    w.actions_.group.trigger()
    assert "leave Input and Output blocks out" in w.statusBar().currentMessage()
    assert not len(w.doc.graph.library)


def test_double_click_opens_the_definition_and_the_breadcrumb_goes_back(named, qtbot):
    w = named
    w.show()
    qtbot.waitExposed(w)
    use_id = group(w)
    w.view.centre_on_block(use_id)
    qtbot.mouseDClick(w.view.viewport(), Qt.MouseButton.LeftButton, pos=view_point(w, use_id))
    defn = w.doc.graph.library.get("Body")
    assert w.scene.graph is defn.graph
    assert w.modules.bar.isVisible() and w.modules.bar.labels() == ["Model", "body1 (Body)"]
    fc1 = defn.graph.block_by_name("fc1")
    assert w.scene.blocks[fc1.id].look.count == "192 params"  # analysed for this use: 2 inputs
    # an edit inside, through the inspector: every use follows, and it undoes on the one stack
    w.scene.select_blocks([fc1.id])
    spin = w.inspector.editors["out_features"].widget
    assert isinstance(spin, QSpinBox)
    spin.setValue(32)
    w.doc.refresh()
    assert fc1.params["out_features"] == 32
    assert w.scene.blocks[fc1.id].look.count == "96 params"
    qtbot.mouseClick(w.modules.bar.buttons[0], Qt.MouseButton.LeftButton)
    assert w.scene.graph is w.doc.graph and not w.modules.bar.isVisible()
    assert w.scene.selected_block_ids() == [use_id]
    assert w.scene.blocks[use_id].look.count == "2,208 params"
    w.doc.undo_stack.undo()
    w.doc.refresh()
    assert fc1.params["out_features"] == 64 and w.scene.blocks[use_id].look.count == "4,352 params"


def test_enter_opens_the_selected_module_and_undoing_its_grouping_closes_it(named, qtbot):
    w = named
    use_id = group(w)
    w.view.setFocus()
    qtbot.keyClick(w.view, Qt.Key.Key_Return)
    assert w.modules.bar.labels() == ["Model", "body1 (Body)"]
    w.doc.undo_stack.undo()  # the grouping: the definition is gone, so the canvas shows the model
    assert w.scene.graph is w.doc.graph and not w.modules.bar.isVisible()
    assert use_id not in w.doc.graph.blocks


def test_ungroup_puts_the_blocks_back(named):
    w = named
    group(w)
    w.actions_.ungroup.trigger()
    g = w.doc.graph
    assert [b.name for b in g] == ["points", *LAYERS, "relu2", "classifier", "logits"]
    assert sorted(g.blocks[b].name for b in w.scene.selected_block_ids()) == sorted(LAYERS)
    assert palette_modules(w) == []
    w.doc.undo_stack.undo()
    assert palette_modules(w) == ["Body"] and g.block_by_name("body1") is not None


def test_detach_copy_and_add_a_use_from_the_palette(named, qtbot):
    w = named
    use_id = group(w)
    w.quick_add_at_cursor()
    qtbot.keyClicks(w.quick_add.search, "body")
    assert w.quick_add.list.currentItem().data(Qt.ItemDataRole.UserRole) == "module:Body"  # Tab finds it too
    w.quick_add.hide()
    w.palette_widget.activated.emit("module:Body")  # what double-clicking it in the palette does
    second = w.scene.selected_block_ids()[0]
    assert w.doc.graph.blocks[second].type == "module:Body"
    w.scene.select_blocks([use_id])
    w.actions_.detach_copy.trigger()
    assert w.doc.graph.blocks[use_id].type == "module:Body2"
    assert palette_modules(w) == ["Body", "Body2"]
    assert "Body2" in w.statusBar().currentMessage()


@pytest.fixture
def resnet_window(qtbot):
    import studio.compiler  # noqa: F401
    from studio.ui.main_window import MainWindow

    w = MainWindow(Project(name="resnet", graph=small_resnet()))
    qtbot.addWidget(w)
    w.ensure_compiler()
    return w


def test_the_inspector_edits_repeat_and_the_per_use_parameters(resnet_window):
    w = resnet_window
    g = w.doc.graph
    layer3 = by_name(g, "layer3")
    w.scene.select_blocks([layer3.id])
    assert set(w.inspector.editors) == {"repeat", "weights", "planes", "stride"}
    w.inspector.editors["repeat"].widget.setValue(3)
    w.doc.refresh()
    assert layer3.params["repeat"] == 3
    look = w.scene.blocks[layer3.id].look
    assert look.badge == "×3" and look.type_label == "3 × ResidualUnit"
    assert "self.layer3 = nn.Sequential(*[ResidualUnit(16) for _ in range(3)])" in w.code_view.source
    w.inspector.editors["planes"].widget.setValue(32)
    w.doc.refresh()
    assert layer3.params["planes"] == 32
    assert w.scene.blocks[layer3.id].look.key_params == "planes=32, stride=1"


def test_an_opened_definition_shows_the_values_of_its_use(resnet_window, qtbot):
    w = resnet_window
    g = w.doc.graph
    w.scene.select_blocks([by_name(g, "layer3").id])
    assert w.inspector.open_button.text() == "Open ResidualUnit"
    qtbot.mouseClick(w.inspector.open_button, Qt.MouseButton.LeftButton)
    conv1 = w.scene.graph.block_by_name("conv1")
    assert "out channels=16" in w.scene.blocks[conv1.id].look.key_params  # layer3's planes
    w.modules.go_to(0)
    w.modules.open_use(by_name(g, "layer1").id)
    assert "out channels=8" in w.scene.blocks[conv1.id].look.key_params
    assert w.modules.bar.labels() == ["Model", "layer1 (ResidualUnit)"]


def test_ctrl_g_on_the_canvas_groups_the_selection(named, qtbot):
    w = named
    w.show()
    qtbot.waitExposed(w)
    w.scene.select_blocks([by_name(w.doc.graph, n).id for n in LAYERS])
    w.view.setFocus()
    qtbot.waitUntil(w.view.hasFocus)
    qtbot.keyClick(w.view, Qt.Key.Key_G, Qt.KeyboardModifier.ControlModifier)
    assert w.doc.graph.block_by_name("body1") is not None
    qtbot.keyClick(w.view, Qt.Key.Key_G, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert w.doc.graph.block_by_name("body1") is None and w.doc.graph.block_by_name("fc1") is not None


def test_grouping_inside_an_opened_module_nests_a_module(named, monkeypatch):
    w = named
    use_id = group(w)
    total = w.doc.analysis.totals().params
    w.modules.open_use(use_id)
    inner = w.scene.graph
    monkeypatch.setattr(w.modules, "ask_module_name", lambda suggestion: "Pair")
    w.scene.select_blocks([inner.block_by_name("relu1").id, inner.block_by_name("fc2").id])
    w.actions_.group.trigger()
    w.doc.refresh()
    assert [b.type for b in inner if b.type.startswith("module:")] == ["module:Pair"]
    assert palette_modules(w) == ["Body", "Pair"]
    source = w.code_view.source
    assert source.index("class Pair(nn.Module):") < source.index("class Body(nn.Module):")
    assert w.doc.analysis.totals().params == total  # nothing lost or counted twice
    w.modules.open_use(inner.block_by_name("pair1").id)
    assert w.modules.bar.labels() == ["Model", "body1 (Body)", "pair1 (Pair)"]
    w.modules.bar.buttons[1].click()
    assert w.scene.graph is inner and w.modules.bar.labels() == ["Model", "body1 (Body)"]


def test_rename_a_module_from_the_palette(named, monkeypatch):
    w = named
    use_id = group(w)
    monkeypatch.setattr(w.modules, "ask_new_name", lambda old: "Trunk")
    w.palette_widget.rename_module_requested.emit("Body")
    assert w.doc.graph.blocks[use_id].type == "module:Trunk" and palette_modules(w) == ["Trunk"]
    monkeypatch.setattr(w.modules, "ask_new_name", lambda old: "no spaces")
    w.palette_widget.rename_module_requested.emit("Trunk")
    assert "must start with a letter" in w.statusBar().currentMessage()
    w.doc.undo_stack.undo()
    assert palette_modules(w) == ["Body"]


def test_a_grouped_project_saves_and_opens_again(named, tmp_path):
    from studio.graph.project import load_project

    w = named
    group(w)
    path = tmp_path / "grouped.studio.json"
    assert w.files._write(path)
    again = load_project(path)
    assert [d.name for d in again.graph.library] == ["Body"]
    assert again.graph.to_dict() == w.doc.graph.to_dict()


def test_make_a_setting_per_use_from_the_inspector_of_an_opened_module(named, monkeypatch):
    from studio.ui import per_use

    w = named
    use_id = group(w)
    w.modules.open_use(use_id)
    fc2 = w.scene.graph.block_by_name("fc2")
    w.scene.select_blocks([fc2.id])
    monkeypatch.setattr(per_use, "ask_param_name", lambda inspector, defn, setting: "width")
    action = next(a for a in w.inspector.per_use_menu.actions() if a.text().startswith("Make out features"))
    action.trigger()
    label = w.inspector.form.labelForField(w.inspector.editors["out_features"].widget)
    assert label.text().endswith("⇐ width")
    w.modules.go_to(0)
    assert w.doc.graph.blocks[use_id].params["width"] == 64
    w.scene.select_blocks([use_id])
    w.inspector.editors["width"].widget.setValue(16)  # this use alone now has 16 outputs
    w.doc.refresh()
    source = w.code_view.source
    assert "self.fc2 = nn.Linear(64, width)" in source and " = Body(16)" in source
    assert "self.classifier = nn.Linear(16, 2)" in source
    w.doc.undo_stack.undo()
    w.doc.undo_stack.undo()
    assert "width" not in w.doc.graph.library.get("Body").params


def test_delete_an_unused_module_from_the_palette(named):
    w = named
    use_id = group(w)
    w.palette_widget.delete_module_requested.emit("Body")  # still used: refused, with the reason
    assert palette_modules(w) == ["Body"] and "still used" in w.statusBar().currentMessage()
    w.editor.delete([use_id])
    w.palette_widget.delete_module_requested.emit("Body")
    assert palette_modules(w) == [] and len(w.doc.graph.library) == 0
    w.doc.undo_stack.undo()
    assert palette_modules(w) == ["Body"]
