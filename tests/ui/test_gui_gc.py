"""While a window is open, garbage (Qt objects in it) is collected on the GUI thread only: a
worker that collected it deleted Qt objects there and could hang the window for good
(studio/ui/gui_gc.py says how)."""

from __future__ import annotations

import gc
import threading
import weakref

from PySide6.QtCore import QObject

from studio.ui import gui_gc


def _garbage_qt_cycle(finalized: list) -> None:
    """A QObject that only a reference cycle keeps: the collector, not reference counting,
    frees it; `finalized` gets the thread it was freed on."""
    cycle = QObject()
    cycle.itself = cycle
    weakref.finalize(cycle, lambda: finalized.append(threading.get_ident()))


def _allocate_in_a_worker() -> None:
    """What an export's or an estimate's worker does: new objects, some in cycles (the young
    generation's count, which counts the tracked objects made less those freed, passes its
    threshold several times over: gctune's 2,000 as much as Python's 700)."""

    def work():
        for _ in range(20_000):
            cycle = []
            cycle.append(cycle)

    worker = threading.Thread(target=work)
    worker.start()
    worker.join()


def test_a_window_has_the_gui_thread_collect_the_garbage_a_worker_would(window, qtbot):
    assert gui_gc.holding() and not gc.isenabled()
    finalized: list[int] = []
    gc.collect()
    _garbage_qt_cycle(finalized)
    _allocate_in_a_worker()
    assert finalized == []  # the worker's allocations did not collect it
    qtbot.waitUntil(lambda: bool(finalized), timeout=30_000)  # the GUI thread's timer did
    assert finalized == [threading.get_ident()]


def test_the_last_window_closed_turns_automatic_collection_back_on(qtbot, tmp_path):
    from tests.ui.conftest import EXAMPLE, open_window

    first, second = open_window(qtbot, EXAMPLE), open_window(qtbot, EXAMPLE)
    assert not gc.isenabled()
    first.close()
    assert not gc.isenabled() and gui_gc.holding()  # the second is still open
    second.close()
    assert gc.isenabled() and not gui_gc.holding()
    finalized: list[int] = []
    _garbage_qt_cycle(finalized)
    _allocate_in_a_worker()  # no window: the collector runs where it runs, as in any program
    gc.collect()
    assert len(finalized) == 1


def test_collect_due_runs_the_oldest_generation_past_its_threshold(monkeypatch):
    calls = []
    monkeypatch.setattr(gc, "collect", lambda generation=2: calls.append(generation) or 0)
    monkeypatch.setattr(gc, "get_threshold", lambda: (2000, 10, 10))
    for counts, expected in [((5, 0, 0), None), ((2001, 3, 0), 0), ((2001, 11, 0), 1),
                             ((2001, 11, 11), 2), ((0, 0, 11), 2)]:
        monkeypatch.setattr(gc, "get_count", lambda counts=counts: counts)
        assert gui_gc.collect_due() == expected
    assert calls == [0, 1, 2, 2]
    monkeypatch.setattr(gc, "get_threshold", lambda: (0, 10, 10))  # the collector is off
    assert gui_gc.collect_due() is None
