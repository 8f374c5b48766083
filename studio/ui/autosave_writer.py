"""`AutosaveWriter`: the recovery file's JSON and its write, in one worker thread.

At 2,000 blocks the autosave held the GUI thread 51-183 ms under load (building the dict about a
third, ``json.dumps`` and the fsync'd write the rest). The GUI thread now only takes the
snapshot; the text and the atomic write follow here. One thread, so the writes land in the
order they were asked for: an edit made while a write runs is in the next snapshot, which is
written after it, never overwritten by the older one.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_all

from PySide6.QtCore import QObject, Signal


class AutosaveWriter(QObject):
    """Runs each ``write()`` in turn in a worker thread; ``done(error)`` arrives on the GUI
    thread after each, with None or the exception it raised."""

    done = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="autosave")
        self._pending: set[Future] = set()
        self._asked = self._answered = 0  # writes asked for, and their `done` delivered
        self.done.connect(self._count)

    def submit(self, write: Callable[[], object]) -> None:
        self._asked += 1
        self._pending = {f for f in self._pending if not f.done()}
        future = self._pool.submit(write)
        self._pending.add(future)
        future.add_done_callback(self._finished)

    def _finished(self, future: Future) -> None:  # the worker thread
        try:
            self.done.emit(future.exception())  # queued to the GUI thread
        except RuntimeError:  # the window is gone: nobody to tell
            pass

    def _count(self, _error) -> None:
        self._answered += 1

    def busy(self) -> bool:
        """True until every write asked for has ended and said so on the GUI thread."""
        return self._answered < self._asked

    def wait(self) -> None:
        """Let the writes asked for finish (before the recovery file is removed, or on close)."""
        wait_all(list(self._pending))
        self._pending.clear()
