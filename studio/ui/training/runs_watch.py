"""The Runs tab follows runs it did not start: a `studio train` (or sweep) in a terminal adds a
run folder beside the open project and rewrites its status.json as it ends. A
QFileSystemWatcher on the runs folder (its parent while it does not exist yet) and on the
status.json of each run that another process trains says so; `changed` fires once per burst
(the folder's files come in a burst) and the controller reads the runs again. A run killed
(``kill -9``) never writes its end: while another process trains, the runs are read again
every few seconds, and one whose process is gone reads as interrupted."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QFileSystemWatcher, QObject, QTimer, Signal

SETTLE_MS = 300  # a run's folder is written file by file: read it once they settled
ALIVE_MS = 5000  # while another process trains: is it still there (killed: "interrupted")


class RunsWatcher(QObject):
    changed = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._watcher = QFileSystemWatcher(self)
        self._watcher.directoryChanged.connect(self._poke)
        self._watcher.fileChanged.connect(self._poke)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(SETTLE_MS)
        self._timer.timeout.connect(self.changed)
        self._alive = QTimer(self)  # a killed run never rewrites its status: ask now and then
        self._alive.setInterval(ALIVE_MS)
        self._alive.timeout.connect(self.changed)

    def follow(self, root: Path, runs: list) -> None:
        """Watch ``root`` (or the nearest folder above it that exists) and the status of each of
        ``runs`` that another process is training now."""
        folder = Path(root)
        while not folder.is_dir() and folder.parent != folder:
            folder = folder.parent
        paths = [str(folder)] if folder.is_dir() else []
        others = [r for r in runs if r.state == "running" and r.status.get("pid") != os.getpid()]
        paths += [str(r.folder / "status.json") for r in others]
        if others and not self._alive.isActive():
            self._alive.start()
        elif not others:
            self._alive.stop()
        old = self._watcher.files() + self._watcher.directories()
        if sorted(old) != sorted(paths):
            if old:
                self._watcher.removePaths(old)
            if paths:
                self._watcher.addPaths(paths)

    def watched(self) -> list[str]:
        return self._watcher.files() + self._watcher.directories()

    def _poke(self, *_) -> None:
        self._timer.start()
