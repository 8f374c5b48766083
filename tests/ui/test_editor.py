"""What a user sees in the editor: blocks, wires with shapes, inspector, code, undo."""

from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtWidgets import QApplication

from tests.ui.conftest import by_name, drop_block


def settle(qtbot):
    qtbot.wait(1)  # let the coalesced 0-ms refresh run


def test_dropping_a_block_from_the_palette_adds_it(window, qtbot):
    n = len(window.doc.graph.blocks)
    bid = window.view.drop_block("dropout", QPointF(400, 300))
    settle(qtbot)
    assert len(window.doc.graph.blocks) == n + 1
    assert bid in window.scene.blocks and window.scene.blocks[bid].isSelected()
    assert window.inspector.block_id == bid  # selecting it shows it in the inspector
    assert (
        window.actions_.undo.text() == "&Undo Add dropout1"
        or "Add dropout" in window.actions_.undo.text()
    )


def test_a_real_mime_drop_event_adds_the_block(window, qtbot):
    window.show()
    qtbot.waitExposed(window)
    view = window.view
    n = len(window.doc.graph.blocks)
    drop_block(window, "gelu", view.mapToScene(view.viewport().rect().center()))
    assert len(window.doc.graph.blocks) == n + 1
    assert any(b.type == "gelu" for b in window.doc.graph.blocks.values())


def test_palette_search_and_double_click(window, qtbot):
    window.palette_widget.search.setText("nn.GELU")
    assert window.palette_widget.visible_types() == ["gelu"]
    window.palette_widget.search.setText("conv")
    assert "conv2d" in window.palette_widget.visible_types()
    n = len(window.doc.graph.blocks)
    window.palette_widget.activated.emit("conv2d")  # what double-click / Enter emits
    assert len(window.doc.graph.blocks) == n + 1


def _port_view_pos(window, block_id, output, port):
    item = window.scene.blocks[block_id]
    return window.view.mapFromScene(item.port_scene(output, port))


def test_dragging_from_an_output_port_to_an_input_connects_and_labels_the_wire(window, qtbot):
    window.show()
    qtbot.waitExposed(window)
    g = window.doc.graph
    view = window.view
    bid = window.editor.add_block("linear", (0, 400))
    src = by_name(g, "relu3") if g.block_by_name("relu3") else by_name(g, "fc2")
    view.resetTransform()
    view.centerOn(QPointF(100, 300))
    settle(qtbot)
    start = _port_view_pos(window, src.id, True, "out")
    end = _port_view_pos(window, bid, False, "in")
    qtbot.mousePress(view.viewport(), Qt.MouseButton.LeftButton, pos=start)
    qtbot.mouseMove(view.viewport(), pos=(start + end) / 2)
    qtbot.mouseMove(view.viewport(), pos=end)
    qtbot.mouseRelease(view.viewport(), Qt.MouseButton.LeftButton, pos=end)
    settle(qtbot)
    edge = g.edge_into(bid, "in")
    assert edge is not None and edge.src == src.id
    assert window.scene.wires[edge.id].label == "N×64"


def test_an_invalid_connection_is_refused_with_a_reason(window, qtbot):
    g = window.doc.graph
    fc1, fc2 = by_name(g, "fc1"), by_name(g, "fc2")
    before = g.to_dict()
    reason = window.editor.connect(fc2.id, "out", fc1.id, "in")  # a loop (and fc1's input is taken)
    assert reason and "loop" in reason
    assert g.to_dict() == before
    assert (
        "Cannot" in window.statusBar().currentMessage()
        or reason in window.statusBar().currentMessage()
    )
    x = by_name(g, [b.name for b in g if b.type == "input"][0])
    reason = window.editor.connect(x.id, "out", fc1.id, "in")
    assert reason and "already has a wire" in reason
    assert g.to_dict() == before


def test_editing_a_parameter_updates_shapes_and_code(window, qtbot):
    g = window.doc.graph
    fc1 = by_name(g, "fc1")
    window.scene.select_blocks([fc1.id])
    ed = window.inspector.editors["out_features"]
    ed.widget.setValue(32)
    settle(qtbot)
    assert g.blocks[fc1.id].params["out_features"] == 32
    out_edge = g.outgoing(fc1.id)[0]
    assert window.scene.wires[out_edge.id].label == "N×32"
    assert "nn.Linear(2, 32)" in window.code_view.source
    assert window.scene.blocks[fc1.id].look.key_params == "out features=32"


def test_an_invalid_value_shows_red_and_pushes_nothing(window, qtbot):
    g = window.doc.graph
    inp = next(b for b in g.blocks.values() if b.type == "input")
    window.scene.select_blocks([inp.id])
    ed = window.inspector.editors["shape"]
    index = window.doc.undo_stack.index()
    ed.widget.clear()
    qtbot.keyClicks(ed.widget, "2, a")
    assert ed.widget.property("invalid") is True
    assert "whole numbers" in window.inspector.message.text()
    ed.widget.editingFinished.emit()
    assert window.doc.undo_stack.index() == index
    ed.widget.setText("2")
    ed.widget.editingFinished.emit()
    assert ed.widget.property("invalid") is False


def test_shape_errors_show_on_the_block_and_in_problems(window, qtbot):
    g = window.doc.graph
    inp = next(b for b in g.blocks.values() if b.type == "input")
    flat = window.editor.add_block("conv2d", (0, 500))
    window.editor.connect(inp.id, "out", flat, "in")
    settle(qtbot)
    assert window.scene.blocks[flat].look.severity == "error"
    texts = window.problems.problem_texts()
    assert any(g.blocks[flat].name in t for t in texts)
    assert "problems" in window.code_view.source.splitlines()[0]
    row = next(
        i
        for i in range(window.problems.count())
        if g.blocks[flat].name in window.problems.item(i).text()
    )
    window.problems.itemClicked.emit(window.problems.item(row))
    assert window.scene.selected_block_ids() == [flat]


def test_undo_redo_restores_the_exact_graph(window, qtbot):
    g = window.doc.graph
    stack = window.doc.undo_stack
    states = [g.to_dict()]
    fc1 = by_name(g, "fc1")
    bid = window.editor.add_block("dropout", (600, 300))
    states.append(g.to_dict())
    window.editor.set_params(bid, {"p": 0.25})
    states.append(g.to_dict())
    window.editor.rename(bid, "drop")
    states.append(g.to_dict())
    window.editor.move_blocks({fc1.id: (20, 20)})
    window.editor.move_blocks({fc1.id: (40, 60)})  # merges with the previous move
    states.append(g.to_dict())
    window.scene.select_blocks([fc1.id, bid])
    window.duplicate()
    states.append(g.to_dict())
    window.scene.select_blocks([fc1.id])
    window.delete_selection()
    states.append(g.to_dict())
    window.arrange()
    states.append(g.to_dict())
    assert stack.count() == len(states) - 1
    assert "Auto-arrange" in window.actions_.undo.text()
    for expected in reversed(states[:-1]):
        stack.undo()
        assert g.to_dict() == expected
    for expected in states[1:]:
        stack.redo()
        assert g.to_dict() == expected
    # the scene follows: one item per block and wire, at the model's positions
    assert set(window.scene.blocks) == set(g.blocks) and set(window.scene.wires) == set(g.edges)
    for b in g.blocks.values():
        pos = window.scene.blocks[b.id].pos()
        assert (pos.x(), pos.y()) == b.position


def test_dragging_a_block_pushes_one_move(window, qtbot):
    window.show()
    qtbot.waitExposed(window)
    g = window.doc.graph
    view = window.view
    view.resetTransform()
    fc1 = by_name(g, "fc1")
    item = window.scene.blocks[fc1.id]
    view.centerOn(item)
    start = view.mapFromScene(item.sceneBoundingRect().center())
    index = window.doc.undo_stack.index()
    qtbot.mousePress(view.viewport(), Qt.MouseButton.LeftButton, pos=start)
    for dx in (10, 30, 60):
        qtbot.mouseMove(view.viewport(), pos=start + QPoint(dx, dx))
    qtbot.mouseRelease(view.viewport(), Qt.MouseButton.LeftButton, pos=start + QPoint(60, 60))
    assert window.doc.undo_stack.index() == index + 1
    x, y = g.blocks[fc1.id].position
    assert x % 20 == 0 and y % 20 == 0  # snapped to the grid
    window.doc.undo_stack.undo()
    assert window.scene.blocks[fc1.id].pos() == QPointF(*g.blocks[fc1.id].position)


def test_copy_paste_gives_unique_names(window, qtbot):
    g = window.doc.graph
    fc1 = by_name(g, "fc1")
    window.scene.select_blocks([fc1.id])
    window.copy()
    window.paste()
    names = [b.name for b in g.blocks.values()]
    assert len(names) == len(set(names))
    assert len(window.scene.selected_block_ids()) == 1
    QApplication.clipboard().setText("not a block")
    n = len(g.blocks)
    window.paste()
    assert len(g.blocks) == n


def test_rename_refuses_duplicates_with_the_model_message(window, qtbot):
    g = window.doc.graph
    fc1 = by_name(g, "fc1")
    window.scene.select_blocks([fc1.id])
    ins = window.inspector
    ins.name_edit.setText("fc2")
    ins.name_edit.editingFinished.emit()
    assert "already called 'fc2'" in ins.message.text()
    assert g.blocks[fc1.id].name == "fc1"
    ins.name_edit.setText("hidden")
    ins.name_edit.editingFinished.emit()
    assert g.blocks[fc1.id].name == "hidden"
    settle(qtbot)
    assert "self.hidden" in window.code_view.source


def test_auto_arrange_wraps_a_long_chain_to_fit_the_window(qtbot, tmp_path):
    """`studio import` lays a model out in one row (the tutorial's CIFAR Net: 14 blocks, 4,000
    px wide; here 12); a user who opened it pressed Ctrl+L and got the same single row. Auto-arrange now
    wraps the chain into bands that fit the window at a readable zoom, in data order."""
    from studio.graph.layout import layered_layout
    from studio.graph.model import Graph
    from studio.graph.project import Project, save_project
    from studio.ui.canvas.view import READABLE_ZOOM
    from tests.ui.conftest import open_window

    g = Graph()
    prev = g.add_block("input", name="x", params={"shape": [8]})
    for i in range(10):
        kind, params = ("linear", {"out_features": 8}) if i % 2 == 0 else ("relu", {})
        block = g.add_block(kind, name=f"b{i}", params=params)
        g.connect(prev.id, "out", block.id, "in")
        prev = block
    g.connect(prev.id, "out", g.add_block("output", name="y").id, "in")
    for bid, pos in layered_layout(g).items():
        g.blocks[bid].position = pos
    path = tmp_path / "imported.studio.json"
    save_project(Project(name="Imported", graph=g), path)
    window = open_window(qtbot, path)
    window.resize(1400, 860)
    window.show()
    window.activateWindow()
    qtbot.waitExposed(window)
    view, scene = window.view, window.scene
    assert not view.fits_readable(scene.blocks_rect())  # one long row: a user's own layout, kept
    view.setFocus()
    qtbot.waitUntil(view.hasFocus)
    qtbot.keyClick(view, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier)
    assert "Auto-arrange" in window.actions_.undo.text()
    assert view.fits_readable(scene.blocks_rect()) and view.zoom() >= READABLE_ZOOM * 0.999
    order = ["x", *(f"b{i}" for i in range(10)), "y"]
    pos = [window.doc.graph.block_by_name(n).position for n in order]
    rows = sorted({y for _, y in pos})
    assert len(rows) > 1  # wrapped
    assert pos == sorted(
        pos, key=lambda p: (p[1], p[0])
    )  # read like text: rows top down, left to right


def test_a_wire_dropped_on_a_blocks_body_goes_into_its_free_input(window, qtbot):
    """Released over the Linear's body rather than exactly on its 10 px input port, the wire
    vanished and nothing said why; it now goes into the block's free input."""
    window.show()
    qtbot.waitExposed(window)
    g = window.doc.graph
    view = window.view
    bid = window.editor.add_block("linear", (0, 400))
    src = by_name(g, "fc2")
    view.resetTransform()
    view.centerOn(QPointF(100, 300))
    settle(qtbot)
    start = _port_view_pos(window, src.id, True, "out")
    body = view.mapFromScene(window.scene.blocks[bid].sceneBoundingRect().center())
    qtbot.mousePress(view.viewport(), Qt.MouseButton.LeftButton, pos=start)
    qtbot.mouseMove(view.viewport(), pos=(start + body) / 2)
    qtbot.mouseMove(view.viewport(), pos=body)
    assert window.statusBar().currentMessage() == "Release to connect"
    qtbot.mouseRelease(view.viewport(), Qt.MouseButton.LeftButton, pos=body)
    settle(qtbot)
    edge = g.edge_into(bid, "in")
    assert edge is not None and edge.src == src.id
    # on a block whose one input is taken, the refusal says why
    other = by_name(g, "relu2")
    view.centerOn(window.scene.blocks[other.id].sceneBoundingRect().center())
    settle(qtbot)
    start = _port_view_pos(window, bid, True, "out")
    body = view.mapFromScene(window.scene.blocks[other.id].sceneBoundingRect().center())
    qtbot.mousePress(view.viewport(), Qt.MouseButton.LeftButton, pos=start)
    qtbot.mouseMove(view.viewport(), pos=(start + body) / 2)
    qtbot.mouseMove(view.viewport(), pos=body)
    assert "already has a wire" in window.statusBar().currentMessage()
    qtbot.mouseRelease(view.viewport(), Qt.MouseButton.LeftButton, pos=body)
    assert g.edge_into(other.id, "in").src != bid


def test_searching_linear_lists_linear_layers_not_every_activation(window):
    """'linear' listed Linear and then all 24 activations (their keyword: 'nonlinearity')."""
    palette = window.palette_widget
    palette.search.setText("linear")
    shown = palette.visible_types()
    assert shown[0] == "linear" and not any(
        palette.spec(t).category == "Activations" for t in shown
    )
    palette.search.setText("norm")  # inside a name still finds it
    assert {"batchnorm2d", "layernorm"} <= set(palette.visible_types())
    palette.search.setText("activ")  # the start of a keyword too
    assert "relu" in palette.visible_types()
