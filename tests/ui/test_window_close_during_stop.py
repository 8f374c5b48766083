"""A run still stopping when its window goes (wait() gave up after 10 s on a loaded machine):
the worker QThread was the controller's child, deleted with the window while its thread still
ran, and Qt aborted the whole process ("QThread: Destroyed while thread is still running"; a
suite worker died this way). It now belongs to no Qt object and lives until its thread ends."""

import threading
from types import SimpleNamespace

from PySide6.QtCore import QThread

from studio.ui.training import controller as controller_module


class SlowToStop(QThread):
    def __init__(self, release, parent):
        super().__init__(parent)
        self.release = release

    def run(self):
        self.release.wait(30)


def test_a_run_still_stopping_at_close_is_not_deleted_with_the_window(window, qtbot, monkeypatch):
    t = window.training
    release = threading.Event()
    worker = SlowToStop(release, t)
    worker.start()
    t.worker = worker
    monkeypatch.setattr(t, "wait", lambda ms=10000: None)  # as if 10 s passed without an end
    monkeypatch.setattr(t, "control", SimpleNamespace(stop=lambda: None, paused=False))
    window.close()  # closeEvent shuts the training down
    assert worker.isRunning()
    assert worker.parent() is None  # not deleted with the controller and its window
    assert worker in controller_module._STOPPING  # kept alive from Python meanwhile
    release.set()
    qtbot.waitUntil(lambda: worker not in controller_module._STOPPING, timeout=30_000)
    assert worker.wait(5000)
    t.worker = None
