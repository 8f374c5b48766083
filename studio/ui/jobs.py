"""`Job`: one call in a `QThread`, its result or exception handed back to the GUI thread."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QThread, Signal

_RUNNING: set[Job] = set()  # jobs outlive the dialog that started them until they finish


class Job(QThread):
    """Runs ``fn()`` in a worker thread; ``succeeded(result)`` or ``failed(exception)`` arrive on
    the thread that owns the job (the GUI thread)."""

    succeeded = Signal(object)
    failed = Signal(object)

    def __init__(self, fn: Callable[[], object]) -> None:
        super().__init__()
        self.fn = fn
        self.finished.connect(self._done)

    def run(self) -> None:
        try:
            result = self.fn()
        except Exception as e:  # noqa: BLE001 - every failure is reported, none crashes the app
            self.failed.emit(e)
            return
        self.succeeded.emit(result)

    def begin(self) -> Job:
        _RUNNING.add(self)
        self.start()
        return self

    def _done(self) -> None:
        self.wait()  # `finished` comes at the thread's very end: this returns at once
        _RUNNING.discard(self)


def wait_for_jobs() -> None:
    """Let running imports and exports finish (the window is closing: a thread must not outlive
    the objects it reports to)."""
    for job in list(_RUNNING):
        job.wait()
