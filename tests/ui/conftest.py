import pytest

EXAMPLE = "resources/examples/mlp_classifier.studio.json"


@pytest.fixture(autouse=True)
def config_dir(tmp_path, monkeypatch):
    """Settings, recent files and recovery files go to a temporary folder, never the home."""
    folder = tmp_path / "config"
    monkeypatch.setenv("STUDIO_CONFIG_DIR", str(folder))
    return folder


@pytest.fixture(autouse=True)
def no_dialogs(monkeypatch):
    """Modal questions would block an offscreen test: closing discards, errors are recorded."""
    from PySide6.QtWidgets import QMessageBox

    from studio.ui.file_ops import FileController

    errors = []
    monkeypatch.setattr(FileController, "ask_save_changes", lambda self: QMessageBox.StandardButton.Discard)
    monkeypatch.setattr(FileController, "error", lambda self, message: errors.append(message))
    return errors


def open_window(qtbot, path):
    """A main window on the project at `path`, its compiler attached."""
    import studio.compiler  # noqa: F401  (loaded once for the session: windows attach at once)
    from studio.graph.project import load_project
    from studio.ui.main_window import MainWindow

    w = MainWindow(load_project(path))
    qtbot.addWidget(w)
    w.ensure_compiler()
    return w


@pytest.fixture
def window(qtbot, config_dir):
    return open_window(qtbot, EXAMPLE)


def drop_block(window, type_id: str, scene_pos) -> None:
    """A palette block of `type_id` dropped on the canvas at `scene_pos`, as Qt delivers it."""
    from PySide6.QtCore import QMimeData, QPointF, Qt
    from PySide6.QtGui import QDropEvent

    from studio.ui.canvas.view import BLOCK_MIME

    view = window.view
    mime = QMimeData()
    mime.setData(BLOCK_MIME, type_id.encode())
    event = QDropEvent(QPointF(view.mapFromScene(scene_pos)), Qt.DropAction.CopyAction, mime,
                       Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    view.dropEvent(event)


def by_name(graph, name):
    b = graph.block_by_name(name)
    assert b is not None, name
    return b


def pills_leave_counts_whole(scene) -> int:
    """Every block's parameter count is written whole beside its pill (the learning state or
    the cost overlay), and each pill holds its own text; returns how many pills were checked."""
    from PySide6.QtCore import Qt

    from studio.ui.canvas.items import BLOCK_WIDTH
    from studio.ui.theme import current_theme

    theme, checked = current_theme(), 0
    fm = theme.small_metrics
    for item in scene.blocks.values():
        look = item.look
        whole = look.learning or look.heat
        if not whole or not look.count:
            continue
        width, text = item.pill(theme)
        assert text in (whole, whole.split(" · ")[0], whole.split(" ")[0]), (text, whole)
        room = min(item.layout.text_width, BLOCK_WIDTH - 8 - width - 4 - item.layout.text_left)
        elided = fm.elidedText(look.count, Qt.TextElideMode.ElideRight, room)
        assert elided == look.count, (look.count, whole)
        assert fm.horizontalAdvance(text) <= width - 4, (text, width)
        checked += 1
    return checked
