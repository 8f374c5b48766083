"""``run_gui``: the editor's entry point. Imports no torch: the window loads it after showing."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from studio.ui.welcome import EXAMPLES_DIR

DEFAULT_EXAMPLE = EXAMPLES_DIR / "mlp_classifier.studio.json"


def initial_project_path(project_path: str | None, settings) -> Path | None:
    """The file given, else the last project, else (first run) the example ready to train."""
    if project_path:
        return Path(project_path)
    last = settings.last_project
    if last and Path(last).exists():
        return Path(last)
    if settings.last_project is None and DEFAULT_EXAMPLE.exists():
        return DEFAULT_EXAMPLE
    return None


def run_gui(project_path: str | None) -> int:
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Studio")
    app.setOrganizationName("Studio")
    from studio.ui.main_window import MainWindow

    window = MainWindow()
    path = initial_project_path(project_path, window.settings)
    if path is not None and not window.files.open_path(path, ask=False) and project_path:
        window.files.error(f"Could not open {project_path}.")
    window.show()
    if not os.environ.get("STUDIO_STARTUP_PROBE"):
        QTimer.singleShot(300, window.files.offer_recovery)
    return app.exec()


def __getattr__(name: str):
    if name == "MainWindow":  # ``from studio.ui.app import MainWindow`` without importing Qt eagerly
        from studio.ui.main_window import MainWindow

        return MainWindow
    raise AttributeError(name)
