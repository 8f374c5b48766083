"""Undoable edits of the search ranges and applying a trial's values (pure: no Qt).

They go through `Document.push` like every graph edit, so they land on the same undo stack.
`ApplyValues` is one undo step however many blocks and settings a trial sets."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from studio.graph.commands import Command, SetParams
from studio.graph.search import Search


@dataclass
class SetSearch(Command):
    project: Any  # studio.graph.project.Project
    search: Search
    text: str = "Change search ranges"
    _old: Search | None = field(default=None, repr=False)

    def do(self, graph) -> None:
        if self._old is None:
            self._old = self.project.search
        self.project.search = self.search
        graph.events.changed.emit()  # the canvas shows ranges on the blocks

    def undo(self, graph) -> None:
        self.project.search = self._old
        graph.events.changed.emit()


@dataclass
class ApplyValues(Command):
    """Set a trial's values: block parameters (keys ``blockid.param``) and the training dict the
    caller computed with them (`studio.training.search_targets.apply_settings`)."""

    project: Any
    values: dict[str, Any]
    training: dict
    text: str = "Apply sweep trial"
    _params: list[SetParams] = field(default_factory=list, repr=False)
    _old_training: dict | None = field(default=None, repr=False)

    def do(self, graph) -> None:
        by_block: dict[str, dict[str, Any]] = {}
        for key, value in self.values.items():
            block_id, dot, param = key.partition(".")
            if (
                dot
                and block_id in graph.blocks
                and graph.blocks[block_id].params.get(param) != value
            ):
                by_block.setdefault(block_id, {})[param] = value
        self._params = []
        try:
            for block_id, params in by_block.items():
                cmd = SetParams(block_id, params)
                cmd.do(graph)
                self._params.append(cmd)
        except Exception:
            for cmd in reversed(self._params):
                cmd.undo(graph)
            raise
        self._old_training = copy.deepcopy(self.project.training)
        self.project.training = copy.deepcopy(self.training)

    def undo(self, graph) -> None:
        for cmd in reversed(self._params):
            cmd.undo(graph)
        self.project.training = copy.deepcopy(self._old_training)
