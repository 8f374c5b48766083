"""studio.gctune: a large project's objects frozen while it is open, collected once replaced."""

from __future__ import annotations

import gc
import weakref

import pytest

from studio import gctune


class Node:
    """A project's object: in a cycle, so only the collector can free it (as blocks and their
    graph, or a view and its signals, are)."""

    def __init__(self) -> None:
        self.me = self


@pytest.fixture(autouse=True)
def fresh_collector(monkeypatch):
    threshold = gc.get_threshold()
    monkeypatch.setattr(gctune, "_holds_project", False)
    gc.collect()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


def walked(obj) -> bool:
    """Whether a full collection would walk ``obj`` (it is tracked and not frozen)."""
    return any(o is obj for o in gc.get_objects())


def project() -> weakref.ref:
    """A weak reference to a new project's object, kept alive only by a cycle."""
    node = Node()
    return weakref.ref(node)


def test_a_large_project_is_frozen_and_collected_once_another_takes_its_place():
    old = project()
    gc.set_threshold(700, 10, 10)
    assert gctune.project_opened(5000) is True and gctune.holds_project()
    # the freeze alone (at 700) kept as many full collections as without it: see GEN0_THRESHOLD
    assert gc.get_threshold() == (gctune.GEN0_THRESHOLD, 10, 10)
    assert old() is not None and not walked(old())
    gc.collect()
    assert old() is not None  # frozen: out of the collector's reach while its project is open
    gctune.project_opened(5000)  # another project takes its place
    assert old() is None


def test_the_objects_frozen_leave_the_full_collections_walk():
    kept = [Node() for _ in range(2000)]
    walked = len(gc.get_objects())
    gctune.project_opened(2000)
    assert len(gc.get_objects()) < walked - 2000
    assert gc.get_freeze_count() >= 2000
    assert all(k.me is k for k in kept)


def test_a_small_project_is_left_to_the_collector():
    frozen = gc.get_freeze_count()
    threshold = gc.get_threshold()
    assert gctune.project_opened(gctune.MIN_BLOCKS - 1) is False
    assert gc.get_freeze_count() == frozen and gc.get_threshold() == threshold
    assert not gctune.holds_project()


def test_a_small_project_after_a_large_one_frees_it_and_keeps_the_rest_frozen():
    big = project()
    gctune.project_opened(5000)
    modules = Node()  # alive for the whole process, as torch's modules are
    assert gctune.project_opened(10) is False and not gctune.holds_project()
    assert big() is None  # the large project's memory went
    assert not walked(modules)  # what lives on is frozen again
    small = project()
    gctune.project_opened(5000)  # the small one was not held: not collected here (no full pass)
    assert small() is not None


def test_the_young_threshold_is_raised_never_lowered_and_an_off_collector_stays_off():
    gc.set_threshold(700, 10, 10)
    gctune.raise_young_threshold()
    assert gc.get_threshold() == (gctune.GEN0_THRESHOLD, 10, 10)
    gc.set_threshold(50_000, 5, 5)
    gctune.raise_young_threshold()
    assert gc.get_threshold() == (50_000, 5, 5)
    gc.set_threshold(0, 10, 10)
    gctune.raise_young_threshold()
    assert gc.get_threshold() == (0, 10, 10)
