"""Where new blocks land: dropped on a wire they go in between; copies and generated blocks go
into free space, a column apart, so nothing covers another block or a wire's shape label."""

from PySide6.QtCore import QPoint, QPointF

from studio.graph.layout import BLOCK_BOX, COLUMN_GAP
from studio.ui.canvas.geometry import BLOCK_WIDTH
from tests.ui.conftest import by_name, drop_block


def _shown(window, qtbot):
    window.show()
    qtbot.waitExposed(window)
    window.view.resetTransform()


def test_dropping_a_block_on_a_wire_splices_it_in_as_one_undo_step(window, qtbot):
    _shown(window, qtbot)
    g = window.doc.graph
    fc1, relu1 = by_name(g, "fc1"), by_name(g, "relu1")
    edge = g.edge_into(relu1.id, "in")
    wire = window.scene.wires[edge.id]
    window.view.centerOn(wire.sceneBoundingRect().center())
    before, index = g.to_dict(), window.doc.undo_stack.index()
    drop_block(window, "dropout", wire._mid)
    new = next(b for b in g.blocks.values() if b.type == "dropout")
    assert g.edge_into(new.id, "in").src == fc1.id
    assert g.edge_into(relu1.id, "in").src == new.id
    assert not any(e.src == fc1.id and e.dst == relu1.id for e in g.edges.values())
    _assert_apart(g, [new.id])  # the blocks after it made room
    assert window.doc.undo_stack.index() == index + 1
    assert "Insert" in window.actions_.undo.text()
    window.doc.undo_stack.undo()
    assert g.to_dict() == before


def test_dropping_beside_a_wire_only_adds_the_block(window, qtbot):
    _shown(window, qtbot)
    g = window.doc.graph
    n_edges = len(g.edges)
    drop_block(window, "dropout", QPointF(400, 600))
    new = next(b for b in g.blocks.values() if b.type == "dropout")
    assert len(g.edges) == n_edges and not g.edges_of(new.id)


def test_an_output_dropped_on_a_wire_is_only_added(window, qtbot):
    _shown(window, qtbot)
    g = window.doc.graph
    edge = g.edge_into(by_name(g, "relu1").id, "in")
    n_edges = len(g.edges)
    drop_block(window, "output", window.scene.wires[edge.id]._mid)
    assert len(g.edges) == n_edges and edge.id in g.edges


def _overlap(a, b) -> bool:
    w, h = BLOCK_BOX
    return abs(a[0] - b[0]) < w and abs(a[1] - b[1]) < h


def _assert_apart(g, new_ids):
    for bid in new_ids:
        for other in g.blocks.values():
            if other.id != bid:
                assert not _overlap(g.blocks[bid].position, other.position), (
                    g.blocks[bid].name,
                    other.name,
                )


def test_duplicate_and_paste_land_in_free_space_not_on_the_originals(window, qtbot):
    g = window.doc.graph
    ids = [by_name(g, "fc1").id, by_name(g, "relu1").id]
    window.scene.select_blocks(ids)
    window.duplicate()
    copies = window.scene.selected_block_ids()
    assert len(copies) == 2
    _assert_apart(g, copies)
    window.duplicate()  # a copy of the copies: again somewhere free
    _assert_apart(g, window.scene.selected_block_ids())
    window.scene.select_blocks(ids)
    window.copy()
    window.paste()
    _assert_apart(g, window.scene.selected_block_ids())


def test_paste_at_a_point_puts_the_copy_there(window, qtbot):
    g = window.doc.graph
    window.scene.select_blocks([by_name(g, "fc1").id])
    window.copy()
    window.paste(QPointF(2000, 800))
    (bid,) = window.scene.selected_block_ids()
    assert g.blocks[bid].position == (2000, 800)


def test_new_head_places_its_blocks_apart_so_the_wire_labels_show(window, qtbot):
    from studio.ui.block_actions import new_head

    g = window.doc.graph
    image = window.editor.add_block("input", (-300, 400))
    window.editor.set_params(image, {"shape": (3, 64, 64)})
    bid = window.editor.add_block("backbone", (0, 400))
    window.editor.set_params(bid, {"weights": "none", "mode": "feature map"})
    window.editor.connect(image, "out", bid, "in")
    window.doc.refresh()
    before = set(g.blocks)
    assert new_head(window, bid, 10)
    added = [b for b in g.blocks if b not in before]
    assert [g.blocks[b].type for b in added] == [
        "adaptive_avgpool2d",
        "flatten",
        "linear",
        "output",
    ]
    _assert_apart(g, added)
    xs = [g.blocks[b].position[0] for b in [bid, *added]]
    assert all(b - a >= COLUMN_GAP for a, b in zip(xs, xs[1:]))
    window.doc.refresh()
    for e in g.edges_of(added[1]):
        wire = window.scene.wires[e.id]
        label_w = len(wire.label) * 7 + 10
        a, b = g.blocks[e.src].position[0], g.blocks[e.dst].position[0]
        assert b - a - BLOCK_WIDTH >= label_w, wire.label  # the label fits between the blocks


def test_splicing_into_a_wrapped_model_moves_only_its_row(window, qtbot):
    _shown(window, qtbot)
    g = window.doc.graph
    fc1, relu1, fc2 = by_name(g, "fc1"), by_name(g, "relu1"), by_name(g, "fc2")
    window.editor.move_blocks({fc2.id: (0.0, 400.0)}, snap_to_grid=False)  # fc2 on a band below
    before = g.blocks[fc2.id].position
    edge = g.edge_into(relu1.id, "in")
    window.view.centerOn(window.scene.wires[edge.id].sceneBoundingRect().center())
    drop_block(window, "dropout", window.scene.wires[edge.id]._mid)
    new = next(b for b in g.blocks.values() if b.type == "dropout")
    assert g.edge_into(new.id, "in").src == fc1.id
    assert g.blocks[fc2.id].position == before
    _assert_apart(g, [new.id, relu1.id])


def test_double_clicking_a_palette_entry_three_times_gives_three_visible_blocks(window, qtbot):
    """Each double-click put its block at the view's centre: three Linears stacked on one spot,
    only the last one seen (and five problems for blocks the user could not find)."""
    _shown(window, qtbot)
    g = window.doc.graph
    palette = window.palette_widget
    linear = palette._items["linear"]
    before = set(g.blocks)
    for _ in range(3):
        palette.tree.itemActivated.emit(linear, 0)  # what a double-click (or Enter) sends
    new = set(g.blocks) - before
    assert len(new) == 3
    _assert_apart(g, new)


def test_a_block_dropped_beside_another_leaves_its_port_free(window, qtbot):
    """Dropped 175 px right of a block's centre, a Linear covered the block's output port with its
    own input port: dragging from there moved the new block instead of drawing a wire."""
    _shown(window, qtbot)
    g = window.doc.graph
    last = by_name(g, "logits")
    x, y = last.position
    before = set(g.blocks)
    drop_block(window, "linear", QPointF(x + 90 + 175, y + 30))
    (new,) = set(g.blocks) - before
    _assert_apart(g, [new])
    assert g.blocks[new].position[1] == y and g.blocks[new].position[0] > x  # beside it, right
    window.doc.undo_stack.undo()
    assert set(g.blocks) == before  # still one step


def test_a_block_added_at_the_edge_of_the_view_is_scrolled_into_sight(window, qtbot):
    """Tab's quick add near the canvas's left edge put the new block half out of the view."""
    _shown(window, qtbot)
    view = window.view
    edge = view.mapToScene(view.viewport().rect().topLeft() + QPoint(5, 40))
    before = set(window.doc.graph.blocks)
    window.view.drop_block("dropout", edge)  # what quick add does at the cursor
    (new,) = set(window.doc.graph.blocks) - before
    shown = view.mapToScene(view.viewport().rect()).boundingRect()
    assert shown.contains(window.scene.blocks[new].sceneBoundingRect())
