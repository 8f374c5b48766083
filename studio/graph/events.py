"""A tiny event system: the model emits, views subscribe. No Qt here."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class Event:
    """A list of callbacks called in order when the event is emitted."""

    __slots__ = ("_callbacks", "name")

    def __init__(self, name: str) -> None:
        self.name = name
        self._callbacks: list[Callable[..., Any]] = []

    def connect(self, callback: Callable[..., Any]) -> Callable[..., Any]:
        self._callbacks.append(callback)
        return callback

    def disconnect(self, callback: Callable[..., Any]) -> None:
        try:
            self._callbacks.remove(callback)
        except ValueError:
            pass

    def emit(self, *args: Any) -> None:
        for callback in list(self._callbacks):
            callback(*args)

    def __len__(self) -> int:
        return len(self._callbacks)

    def __repr__(self) -> str:
        return f"Event({self.name!r}, {len(self._callbacks)} listeners)"


class GraphEvents:
    """The events a :class:`~studio.graph.model.Graph` emits.

    ``block_added(block)``, ``block_removed(block)``, ``block_changed(block, what)`` where
    ``what`` is one of ``"params"``, ``"name"``, ``"position"``, ``"frozen"``;
    ``edge_added(edge)``, ``edge_removed(edge)``, ``renamed(name)`` for the graph name, and
    ``changed()`` once after every mutation.
    """

    def __init__(self) -> None:
        self.block_added = Event("block_added")
        self.block_removed = Event("block_removed")
        self.block_changed = Event("block_changed")
        self.edge_added = Event("edge_added")
        self.edge_removed = Event("edge_removed")
        self.changed = Event("changed")
