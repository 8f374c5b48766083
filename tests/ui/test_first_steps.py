"""What a new user meets: the Start page first, a hint on an empty canvas, a status bar that
does not lie after a wire is made, and a Code dock that names the class a Save As chose."""

from PySide6.QtCore import QPointF, Qt

from tests.ui.conftest import by_name


def _shown(window, qtbot):
    window.show()
    qtbot.waitExposed(window)
    qtbot.wait(1)


def test_the_start_page_is_shown_first_not_hidden_behind_blocks(window, qtbot):
    _shown(window, qtbot)
    assert not window.start_dock.visibleRegion().isEmpty()
    assert window.blocks_dock.visibleRegion().isEmpty()
    window.welcome.new_requested.emit()  # "New empty project" on the Start page
    qtbot.wait(1)
    assert not window.blocks_dock.visibleRegion().isEmpty()  # now the blocks to drag in


def test_an_empty_canvas_says_how_to_begin(window, qtbot):
    _shown(window, qtbot)
    assert not window.view.empty_hint.isVisible()  # the example has blocks
    window.files.new()
    qtbot.wait(1)
    hint = window.view.empty_hint
    assert hint.isVisible()
    text = hint.text()
    assert "Blocks" in text and "Tab" in text and "example" in text
    qtbot.wait(50)  # the view fits the (empty) model: scrolling must not carry the hint away
    centre = window.view.viewport().rect().center()
    assert (hint.geometry().center() - centre).manhattanLength() < 10
    window.view.horizontalScrollBar().setValue(window.view.horizontalScrollBar().value() + 200)
    assert (hint.geometry().center() - centre).manhattanLength() < 10
    window.view.drop_block("linear", window.view.centre_scene_pos())
    offscreen = window.view.offscreen
    window.view.zoom_by(3.0)
    window.view.horizontalScrollBar().setValue(window.view.horizontalScrollBar().value() + 2000)
    qtbot.waitUntil(offscreen.isVisible, timeout=120_000)
    window.view.horizontalScrollBar().setValue(window.view.horizontalScrollBar().value() - 50)
    assert window.view.viewport().rect().contains(offscreen.geometry())  # stays in its corner
    assert not hint.isVisible()
    window.doc.undo_stack.undo()
    assert hint.isVisible()


def _port(window, block_id, output, port):
    return window.view.mapFromScene(window.scene.blocks[block_id].port_scene(output, port))


def test_release_to_connect_is_cleared_once_the_wire_is_made(window, qtbot):
    _shown(window, qtbot)
    g, view = window.doc.graph, window.view
    window.resize(1280, 720)
    src = by_name(g, "relu2")
    x, y = src.position
    bid = window.editor.add_block("linear", (x + 300, y + 600))  # below everything: free
    view.resetTransform()
    view.scale(0.8, 0.8)
    view.centerOn((window.scene.blocks[bid].pos() + window.scene.blocks[src.id].pos()) / 2)
    start, end = _port(window, src.id, True, "out"), _port(window, bid, False, "in")
    qtbot.mousePress(view.viewport(), Qt.MouseButton.LeftButton, pos=start)
    qtbot.mouseMove(view.viewport(), pos=(start + end) / 2)
    qtbot.mouseMove(view.viewport(), pos=end)
    assert window.statusBar().currentMessage() == "Release to connect"
    qtbot.mouseRelease(view.viewport(), Qt.MouseButton.LeftButton, pos=end)
    assert g.edge_into(bid, "in") is not None
    assert window.statusBar().currentMessage() != "Release to connect"


def test_after_save_as_the_code_names_the_new_class_at_once(window, qtbot, tmp_path, monkeypatch):
    from studio.compiler import generate

    window.files.new()
    window.ensure_compiler()
    x = window.editor.add_block("input", (0, 0))
    fc = window.editor.add_block("linear", (300, 0))
    out = window.editor.add_block("output", (600, 0))
    window.editor.connect(x, "out", fc, "in")
    window.editor.connect(fc, "out", out, "in")
    window.doc.refresh()
    qtbot.wait(1)
    assert "class Untitled" in window.code_view.source
    monkeypatch.setattr(window.files, "choose_save_path", lambda *a: str(tmp_path / "digit_reader.studio.json"))
    assert window.files.save_as()
    expected = generate(window.doc.graph, "digit_reader").class_name
    assert expected != "Untitled"
    assert f"class {expected}(" in window.code_view.source
    assert expected in window.code_view.status.text()


def test_the_out_of_view_count_names_each_side_as_the_blocks_painted_bounds_do(window, qtbot):
    """The button's count (worked out in plain numbers, 2,000 blocks after each edit) agrees
    with Qt's own rectangles of the blocks as painted, wherever the view looks and at any zoom."""
    _shown(window, qtbot)
    view, items = window.view, list(window.scene.blocks.values())
    window.editor.add_block("linear", (-900.0, 40.0))  # one far to the left of the others

    def by_qt():
        seen = view.mapToScene(view.viewport().rect()).boundingRect()
        counts = {"left": 0, "right": 0, "above": 0, "below": 0}
        for item in window.scene.blocks.values():
            r = item.sceneBoundingRect()
            if seen.intersects(r):
                continue
            side = ("left" if r.right() < seen.left() else "right" if r.left() > seen.right()
                    else "above" if r.bottom() < seen.top() else "below")
            counts[side] += 1
        return counts

    sides, bounds = set(), window.scene.itemsBoundingRect()
    for zoom in (4.0, 1.0):
        view.resetTransform()
        view.zoom_by(zoom)
        centres = [item.sceneBoundingRect().center() for item in items]  # and a fine grid, so
        step = 7.0 / zoom  # that edges fall just inside and just outside the view
        centres += [QPointF(bounds.left() + i * step * 5, bounds.top() + j * step * 3)
                    for i in range(int(bounds.width() / (step * 5)) + 1)
                    for j in range(int(bounds.height() / (step * 3)) + 1)]
        for centre in centres:
            view.centerOn(centre)
            counts = view.offscreen_counts()
            assert counts == by_qt(), (zoom, centre)
            sides |= {side for side, n in counts.items() if n}
    assert sides == {"left", "right", "above", "below"}
