"""The window as it opens: the canvas has the largest share, the whole model is in view at a
readable zoom, blocks out of view are announced, and the layout is remembered (QSettings in the
test's temporary config folder) with View > Reset layout."""

import pytest
from PySide6.QtCore import Qt

from studio.ui.canvas.view import READABLE_ZOOM
from studio.ui.welcome import list_examples
from studio.ui.window_layout import Bottom

SIZES = [(1400, 860), (1280, 720)]


def _open(qtbot, window, size):
    window.resize(*size)
    window.show()
    qtbot.waitExposed(window)
    qtbot.wait(5)


@pytest.mark.parametrize("size", SIZES)
def test_the_canvas_gets_at_least_half_the_window(window, qtbot, size):
    _open(qtbot, window, size)
    c = window.centralWidget()
    share = c.width() * c.height() / (window.width() * window.height())
    assert share >= 0.5, f"canvas {c.width()}x{c.height()} in {window.width()}x{window.height()}"
    for dock in (
        window.blocks_dock,
        window.start_dock,
        window.inspector_dock,
        window.problems_dock,
    ):
        assert dock.isVisible()
    assert window.centralWidget().width() > max(
        window.start_dock.width(), window.inspector_dock.width()
    )


def _in_view(window):
    seen = window.view.mapToScene(window.view.viewport().rect()).boundingRect()
    return [
        bid for bid, item in window.scene.blocks.items() if seen.contains(item.sceneBoundingRect())
    ]


def _out_of_view(window):
    seen = window.view.mapToScene(window.view.viewport().rect()).boundingRect()
    return [
        bid
        for bid, item in window.scene.blocks.items()
        if not seen.intersects(item.sceneBoundingRect())
    ]


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("example", [path for path, _, _ in list_examples()], ids=lambda p: p.name)
def test_every_example_opens_in_view_at_a_readable_zoom(window, qtbot, size, example):
    """Wrapped to fit the window; a model too big even then (the 22-block residual network)
    starts at its input, readable, and says how many blocks are out of view."""
    _open(qtbot, window, size)
    assert window.files.open_path(str(example))
    qtbot.wait(80)
    g = window.doc.graph
    assert window.view.zoom() >= READABLE_ZOOM - 1e-6
    shown = _in_view(window)
    inputs = [b.id for b in g.blocks.values() if b.type == "input"]
    assert set(inputs) <= set(shown)
    if len(g.blocks) <= 13:  # every example but the residual network fits whole
        assert len(shown) == len(g.blocks)
    if _out_of_view(window):
        # the indicator follows the view on a timer: wait until it says what is out of view now
        offscreen = window.view.offscreen
        qtbot.waitUntil(
            lambda: (
                offscreen.isVisible()
                and offscreen.text().startswith(f"{len(_out_of_view(window))} block")
            ),
            timeout=120_000,
        )
    else:
        qtbot.waitUntil(lambda: not window.view.offscreen.isVisible(), timeout=120_000)
    assert window.doc.undo_stack.isClean()  # wrapping an example is not a change of the user's
    if window.doc.undo_stack.count():
        assert "fit the window" in window.actions_.undo.text()  # ... but it can be undone


def test_blocks_out_of_view_are_announced_and_a_click_shows_them(window, qtbot):
    _open(qtbot, window, (1280, 720))
    view = window.view
    view.resetTransform()
    view.zoom_by(2.0)
    first = next(iter(window.scene.blocks.values()))
    view.centerOn(first)
    qtbot.waitUntil(
        lambda: (
            view.offscreen.isVisible()
            and view.offscreen.text().startswith(f"{len(_out_of_view(window))} block")
        ),
        timeout=120_000,
    )
    hidden = len(_out_of_view(window))
    assert hidden > 0
    assert view.offscreen.text().startswith(f"{hidden} block")
    qtbot.mouseClick(view.offscreen, Qt.MouseButton.LeftButton)
    assert len(_in_view(window)) == len(window.doc.graph.blocks)
    qtbot.waitUntil(lambda: not view.offscreen.isVisible(), timeout=120_000)


def test_geometry_and_docks_are_remembered_and_reset_layout_restores_them(qtbot, config_dir):
    from studio.graph.project import load_project
    from studio.ui.main_window import MainWindow
    from tests.ui.conftest import EXAMPLE

    w = MainWindow(load_project(EXAMPLE))
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    w.resize(700, 500)
    w.problems_dock.hide()
    w.show_training()
    qtbot.wait(5)
    size = w.size().toTuple()
    assert size != (1400, 860)
    w.close()
    assert (config_dir / "window.ini").exists()  # in the test's folder, not the home

    again = MainWindow(load_project(EXAMPLE))
    qtbot.addWidget(again)
    again.show()
    qtbot.waitExposed(again)
    assert again.size().toTuple() == size
    assert not again.problems_dock.isVisible() and again.training_dock.isVisible()

    reset = next(a for a in again.view_menu.actions() if a.text() == "Reset &Layout")
    reset.trigger()
    qtbot.wait(5)
    assert again.problems_dock.isVisible() and not again.training_dock.isVisible()
    assert not again.start_dock.visibleRegion().isEmpty()
    again.close()


def test_train_opens_the_training_panel_below_the_canvas(window, qtbot):
    from tests.ui.test_training_panel import set_training, wait_done

    _open(qtbot, window, (1280, 720))
    assert not window.training_dock.isVisible()  # design mode: the canvas has the room
    toggle = next(
        a for a in window.findChildren(type(window.actions_.new)) if a.text() == "Training panel"
    )
    toggle.trigger()
    assert window.training_dock.isVisible()
    toggle.trigger()
    assert not window.training_dock.isVisible()
    t = set_training(window, epochs=1)
    t.train_action.trigger()  # F5 / the toolbar's Train
    assert window.training_dock.isVisible()
    assert window.dockWidgetArea(window.training_dock) == Bottom
    wait_done(qtbot, t)


@pytest.mark.parametrize("size", [(1400, 860), (1280, 720)])
def test_the_toolbars_training_panel_button_opens_it_as_tall_as_train_does(qtbot, config_dir, size):
    """The toolbar's Training panel button brought the dock back at its minimum: three rows of
    settings and a plot area too short to read (seen at 1400x860)."""
    from PySide6.QtWidgets import QToolBar, QToolButton

    from studio.graph.project import load_project
    from studio.ui.main_window import MainWindow
    from tests.ui.conftest import EXAMPLE

    w = MainWindow(load_project(EXAMPLE))
    qtbot.addWidget(w)
    w.resize(*size)
    w.show()
    qtbot.waitExposed(w)
    assert not w.training_dock.isVisible()
    toolbar = w.findChild(QToolBar, "main-toolbar")
    action = next(a for a in toolbar.actions() if a.text() == "Training panel")
    button = toolbar.widgetForAction(action)
    assert isinstance(button, QToolButton)
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(
        lambda: w.training_dock.isVisible() and w.training_dock.height() >= 300, timeout=5000
    )
    assert w.training_dock.height() >= min(300, int(size[1] * 0.4))
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)  # and the same button closes it
    qtbot.waitUntil(lambda: not w.training_dock.isVisible(), timeout=5000)


@pytest.mark.parametrize("size", [(1400, 860), (1280, 720)])
def test_the_training_panel_leaves_the_canvas_its_share_with_every_view_built(
    qtbot, config_dir, size
):
    """The Data tab's chart and pipeline editor (362 px at least) set the whole Training panel's
    minimum: at 1280x720 the panel took 453 px and left the canvas 220. Its column scrolls now."""
    from studio.graph.project import load_project
    from studio.ui.main_window import MainWindow
    from tests.ui.conftest import EXAMPLE

    w = MainWindow(load_project(EXAMPLE))
    qtbot.addWidget(w)
    w.resize(*size)
    w.show()
    qtbot.waitExposed(w)
    w.ensure_compiler()  # the plots, Try it, Data and Compare runs are built
    w.show_training()
    qtbot.wait(20)
    height = size[1]
    assert w.training_dock.height() <= max(300, int(height * 0.48)) + 10
    assert w.view.height() >= 0.35 * height, (w.view.height(), w.training_dock.height())


def test_the_welcome_text_is_never_cut_when_the_training_panel_squeezes_it(qtbot, config_dir):
    """At 1280x720 with the Training panel open, the Start dock clipped its welcome text
    mid-line ("Build a PyTorch model by" and half a line); it scrolls now."""
    from PySide6.QtWidgets import QLabel

    from studio.graph.project import load_project
    from studio.ui.main_window import MainWindow
    from tests.ui.conftest import EXAMPLE

    w = MainWindow(load_project(EXAMPLE))
    qtbot.addWidget(w)
    w.resize(1280, 720)
    w.show()
    qtbot.waitExposed(w)
    w.ensure_compiler()
    w.show_training()
    qtbot.wait(20)
    labels = [lb for lb in w.welcome.findChildren(QLabel) if lb.text()]
    assert any("Welcome to Studio" in lb.text() for lb in labels)
    for label in labels:
        assert label.height() >= label.heightForWidth(label.width()), label.text()[:40]


def _data_tab_read(qtbot, w):
    """The Training panel's Data tab brought forward, once it has read the data (or said why)."""
    panel = w.training.panel
    data = panel.data_panel
    panel.right.setCurrentWidget(data)
    qtbot.waitUntil(
        lambda: data.summary is not None or "cannot" in data.message.text(), timeout=120_000
    )
    qtbot.wait(50)
    return data


@pytest.mark.parametrize(
    "example", ["tiny_gpt", "mlp_classifier", "shapes_cnn", "transfer_learning"]
)
def test_the_data_tab_never_makes_the_window_wider_than_the_screen(qtbot, config_dir, example):
    """At 1280x720 the Tiny GPT's Data tab said "Text file: tiny_tales.txt (173540 tokens, 49
    in the vocabulary, 5422 windows of 64) · one sample: 64" on one line that would not give
    way: the window grew past the screen's right edge, cutting the inspector and the table."""
    w = _training_window(qtbot, f"resources/examples/{example}.studio.json")
    data = _data_tab_read(qtbot, w)
    assert w.minimumSizeHint().width() <= 1280 and w.width() <= 1280, w.minimumSizeHint()
    assert data.message.toolTip()  # the whole summary, where the line is cut
    assert data.before.isVisible() == (data.summary is not None and data.summary.family == "image")


def test_the_settings_column_needs_no_sideways_scrolling_at_1280(qtbot, config_dir):
    """The batch size's memory hint ("peak 48.2 MB at batch 64 · fits in 24 GB up to batch
    29,748") widened the settings column past its width at 1280x720: a sideways scroll bar and
    the hint cut mid-word. It gives way now, whole in its tooltip."""
    w = _training_window(qtbot, "resources/examples/tiny_gpt.studio.json")
    form = w.training.panel.form
    qtbot.waitUntil(lambda: form.batch_hint.text().startswith("peak "), timeout=120_000)
    qtbot.wait(50)
    scroller = next(p for p in _ancestors(form) if hasattr(p, "horizontalScrollBar"))
    assert not scroller.horizontalScrollBar().isVisible()
    assert form.batch_hint.text() in form.batch_hint.toolTip()


def _ancestors(widget):
    while widget is not None:
        yield widget
        widget = widget.parentWidget()


def _training_window(qtbot, path, size=(1280, 720)):
    """A window on the project at ``path``, at ``size``, its Training panel open and built."""
    from studio.graph.project import load_project
    from studio.ui.main_window import MainWindow

    w = MainWindow(load_project(path))
    qtbot.addWidget(w)
    w.resize(*size)
    w.show()
    qtbot.waitExposed(w)
    w.ensure_compiler()
    w.show_training()
    return w


@pytest.mark.parametrize("size", [(1400, 860), (1280, 720)])
def test_an_image_folders_augmentation_editor_shows_without_scrolling_beside_room_for_samples(
    qtbot, config_dir, tmp_path, size
):
    """At 1280x720 the pipeline editor sat below the class chart, its Add button 640 px down a
    220 px column, and its one row of buttons made that column 536 px wide: the samples had
    190 px, one thumbnail across."""
    import json

    from PIL import Image

    project = json.loads(open("resources/examples/shapes_cnn.studio.json").read())
    for k in range(3):
        (tmp_path / "pics" / f"class{k}").mkdir(parents=True)
        for i in range(4):
            Image.new("L", (28, 28), color=40 * k + i).save(
                tmp_path / "pics" / f"class{k}" / f"{i}.png"
            )
    project["training"]["data"] = {"kind": "image_folder", "path": "pics", "channels": 1}
    path = tmp_path / "folder.studio.json"
    path.write_text(json.dumps(project))
    w = _training_window(qtbot, str(path), size)
    data = _data_tab_read(qtbot, w)
    assert data.summary is not None and data.summary.family == "image", data.message.text()
    editor, viewport = data.editor, data.right.viewport()
    assert editor.isVisible() and editor.add_button.isVisible()
    corner = editor.add_button.mapTo(viewport, editor.add_button.rect().bottomRight())
    assert viewport.rect().contains(corner), (corner, viewport.size())  # seen without scrolling
    assert data.views.width() >= 0.5 * (data.views.width() + data.right.width()), data.views.width()


@pytest.mark.parametrize("size", [(1400, 860), (1280, 720)])
def test_opening_the_training_panel_keeps_the_model_in_view(qtbot, config_dir, tmp_path, size):
    """A saved project with its blocks in one row (as an older example left them) opened with the
    row across the middle of the canvas; the Training panel then took the canvas's lower half and
    the view kept its top edge: an empty canvas, "13 blocks out of view (9 right, 4 below)"."""
    import json

    from studio.graph.project import load_project
    from studio.ui.main_window import MainWindow

    project = json.loads(open("resources/examples/shapes_cnn.studio.json").read())
    for i, block in enumerate(project["graph"]["blocks"]):
        block["position"] = [290.0 * i, 0.0]
    path = tmp_path / "row.studio.json"
    path.write_text(json.dumps(project))
    w = MainWindow(load_project(path))
    qtbot.addWidget(w)
    w.resize(*size)
    w.show()
    qtbot.waitExposed(w)
    qtbot.wait(50)

    def shown():
        visible = w.view.mapToScene(w.view.viewport().rect()).boundingRect()
        return [
            b for b, item in w.scene.blocks.items() if visible.intersects(item.sceneBoundingRect())
        ]

    assert shown()
    w.show_training()
    qtbot.waitUntil(
        lambda: w.training_dock.isVisible() and w.training_dock.height() >= 250, timeout=5000
    )
    qtbot.wait(50)
    assert shown(), "the canvas shows no block once the Training panel is open"


def test_the_training_panel_button_brings_it_in_front_of_the_cost_tab(window, qtbot):
    """With Cost in front of the Training tab, the toolbar's Training panel button (checked, as
    the dock was open) closed the Training panel instead of showing it."""
    from PySide6.QtWidgets import QToolBar

    _open(qtbot, window, (1280, 720))
    window.show_training()
    window.cost_dock.toggleViewAction().trigger()  # View > Cost: in front of Training
    qtbot.waitUntil(lambda: window.training_dock.visibleRegion().isEmpty(), timeout=5000)
    toolbar = window.findChild(QToolBar, "main-toolbar")
    action = next(a for a in toolbar.actions() if a.text() == "Training panel")
    assert action.isChecked()
    qtbot.mouseClick(toolbar.widgetForAction(action), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not window.training_dock.visibleRegion().isEmpty(), timeout=5000)
    assert window.training_dock.isVisible() and action.isChecked()
    qtbot.mouseClick(toolbar.widgetForAction(action), Qt.MouseButton.LeftButton)  # in front: closes
    qtbot.waitUntil(lambda: window.training_dock.isHidden(), timeout=5000)
    assert not action.isChecked()
