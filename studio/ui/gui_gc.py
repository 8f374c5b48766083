"""Garbage collection on the GUI thread only, while a window is open.

Python's collector runs in whichever thread happens to allocate when a generation's count passes
its threshold. When that thread is one of the window's workers (an export, an import, a memory
estimate, Try it, the training run's reader) and the garbage holds a Qt object, PySide deletes the
C++ object in the worker: ``QObject::~QObject`` takes Qt's lock, then waits for the GIL, while the
GUI thread holds the GIL and waits for that same lock to delete a widget. The window hangs for
good. Seen on 7 December 2026 in a test run: Export > Training script's job collected garbage in
`ast.parse` (``gc_collect_main`` -> ``QObject::~QObject`` -> ``GilState::acquire``) while the GUI
thread's ``runDeletionInMainThread`` waited in ``QBasicMutex::lockInternal``.

So, as pyqtgraph's ``GarbageCollector`` does, an open window turns the collector's automatic
runs off and collects from a timer of the GUI thread, by the collector's own thresholds (those
`studio.gctune` sets included): Qt objects are then only ever deleted on the thread that owns
them. The collection is the one CPython would run: the oldest generation whose count passed its
threshold. (CPython also holds a full pass back until a quarter as many objects are long-lived
as the last one left; with the window's freeze, `studio.gctune`, that rarely held it back, and
this does not.) Reference counting, which frees nearly everything, is untouched.
The last window to close turns automatic collection back on (tests open many windows).
"""

from __future__ import annotations

import functools
import gc

from PySide6.QtCore import QObject, QTimer

#: how often the GUI thread looks at the collector's counts: a young pass every 2,000 allocations
#: comes at most this late (a worker's garbage waits for it); each look costs about a microsecond
INTERVAL_MS = 100

_holders: set[int] = set()
_timer: QTimer | None = None
_turned_off = False


def collect_due() -> int | None:
    """Run the collection CPython would run now (the oldest generation whose count passed its
    threshold) and return that generation; None when none is due or collection is off."""
    counts, limits = gc.get_count(), gc.get_threshold()
    if not limits[0]:  # threshold 0: the collector is off by choice
        return None
    for generation in (2, 1, 0):
        if counts[generation] > limits[generation]:
            gc.collect(generation)
            return generation
    return None


def hold(owner: QObject) -> None:
    """While `owner` (a window) is open, collect only on the GUI thread; `release(owner)` when
    it closes (also called when it is destroyed without closing)."""
    global _timer, _turned_off
    key = id(owner)
    if key not in _holders:
        owner.destroyed.connect(functools.partial(_release_key, key))  # no reference to owner
    _holders.add(key)
    if _timer is None:
        _timer = QTimer()
        _timer.setInterval(INTERVAL_MS)
        _timer.timeout.connect(collect_due)
    if not _timer.isActive():
        _turned_off = gc.isenabled()
        gc.disable()
        _timer.start()


def release(owner: QObject) -> None:
    """`owner` has closed; the last to close turns automatic collection back on."""
    _release_key(id(owner))


def _release_key(key: int, *_destroyed) -> None:
    global _turned_off
    _holders.discard(key)
    if _holders or _timer is None or not _timer.isActive():
        return
    _timer.stop()
    if _turned_off:
        gc.enable()
        _turned_off = False


def holding() -> bool:
    """Whether collection runs on the GUI thread's timer now."""
    return _timer is not None and _timer.isActive()
