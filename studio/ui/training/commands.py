"""The undoable edit of a project's training settings (pure: no Qt).

It goes through `Document.push` like every graph edit, so it lands on the same undo stack and
marks the document modified; Save then writes `project.training`.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from studio.graph.commands import Command


@dataclass
class SetTraining(Command):
    project: object  # studio.graph.project.Project
    settings: dict
    key: str = ""  # what changed; consecutive edits of one field merge into one undo step
    #: the words the form shows for it ("Image size"): Edit > Undo read "Training setting data.size"
    label: str = ""
    _old: dict | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.text = f"Change {self.label or self.key}" if self.key else "Change training settings"
        self.merge_id = ("training", self.key) if self.key else None

    def do(self, graph) -> None:
        if self._old is None:
            self._old = copy.deepcopy(self.project.training)
        self.project.training = copy.deepcopy(self.settings)

    def undo(self, graph) -> None:
        self.project.training = copy.deepcopy(self._old)

    def merge(self, other: Command) -> bool:
        if (
            not isinstance(other, SetTraining)
            or other.key != self.key
            or other.project is not self.project
        ):
            return False
        self.settings = copy.deepcopy(other.settings)
        return True
