"""Where the docks go, and remembering it: the default arrangement gives the canvas the largest
share (at least half of a 1280x720 window), QSettings keeps geometry and dock layout between
starts, and View > Reset layout puts everything back.

Design mode is the default: Blocks/Start on the left, Inspector/Code and Problems on the right,
the canvas gets the full height. The Training dock (its plots need width) opens below when the
user trains or asks for it, and stays where they leave it."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QMainWindow

#: bump when the set or default arrangement of docks changes: an older saved state is ignored
LAYOUT_VERSION = 2
DEFAULT_SIZE = (1400, 860)
LEFT_WIDTH, RIGHT_WIDTH, PROBLEMS_HEIGHT = 210, 330, 170

Left, Right, Bottom = (
    Qt.DockWidgetArea.LeftDockWidgetArea,
    Qt.DockWidgetArea.RightDockWidgetArea,
    Qt.DockWidgetArea.BottomDockWidgetArea,
)


def window_settings(folder: Path) -> QSettings:
    """The window's QSettings, in the app's config folder (a test's temporary one in tests)."""
    return QSettings(str(Path(folder) / "window.ini"), QSettings.Format.IniFormat)


def arrange_default(w: QMainWindow) -> None:
    """Put every dock in its default place and size, and the window at its default size."""
    for dock in (w.start_dock, w.blocks_dock):
        dock.setFloating(False)
        w.addDockWidget(Left, dock)
        dock.show()
    w.tabifyDockWidget(w.start_dock, w.blocks_dock)
    w.start_dock.raise_()  # a new user meets the examples first
    for dock in (w.inspector_dock, w.code_dock, w.problems_dock):
        dock.setFloating(False)
        w.addDockWidget(Right, dock)
        dock.show()
    w.splitDockWidget(w.inspector_dock, w.problems_dock, Qt.Orientation.Vertical)
    w.tabifyDockWidget(w.inspector_dock, w.code_dock)  # after the split, or Problems joins the tabs
    w.inspector_dock.raise_()
    w.training_dock.setFloating(False)
    w.addDockWidget(Bottom, w.training_dock)
    w.training_dock.hide()
    width, height = default_size()
    w.resize(width, height)
    left, right = (
        min(LEFT_WIDTH, int(width * 0.16)),
        min(RIGHT_WIDTH, int(width * 0.26)),
    )  # small screens too
    w.resizeDocks([w.start_dock, w.inspector_dock], [left, right], Qt.Orientation.Horizontal)
    w.resizeDocks(
        [w.inspector_dock, w.problems_dock],
        [height - PROBLEMS_HEIGHT, PROBLEMS_HEIGHT],
        Qt.Orientation.Vertical,
    )


def default_size() -> tuple[int, int]:
    """1400x860, or the screen's available area when that is smaller (a 1280x720 laptop)."""
    screen = QGuiApplication.primaryScreen()
    if screen is None:
        return DEFAULT_SIZE
    avail = screen.availableGeometry()
    return min(DEFAULT_SIZE[0], avail.width()), min(DEFAULT_SIZE[1], avail.height())


def fit_to_screen(widget, width: int, height: int) -> None:
    """Resize a window to width x height, or, on a smaller screen, to 95% x 90% of its available
    area, which leaves room for the frame and title bar (the Compare window asked 1300x820 of a
    1280x720 screen: its bottom and right were off it)."""
    screen = widget.screen() or QGuiApplication.primaryScreen()
    if screen is not None:
        avail = screen.availableGeometry()
        width = min(width, int(avail.width() * 0.95))
        height = min(height, int(avail.height() * 0.9))
    widget.resize(width, height)


def restore(w: QMainWindow, settings: QSettings) -> bool:
    """The geometry and dock layout of the last session, if there is one of this version."""
    geometry, state = settings.value("geometry"), settings.value("state")
    if not isinstance(geometry, QByteArray) or not isinstance(state, QByteArray):
        return False
    if settings.value("layout_version") not in (LAYOUT_VERSION, str(LAYOUT_VERSION)):
        return False
    return w.restoreGeometry(geometry) and w.restoreState(state, LAYOUT_VERSION)


def save(w: QMainWindow, settings: QSettings) -> None:
    settings.setValue("geometry", w.saveGeometry())
    settings.setValue("state", w.saveState(LAYOUT_VERSION))
    settings.setValue("layout_version", LAYOUT_VERSION)
    settings.sync()
