"""The document as the editor sees it while a run may train: every edit asks first.

The run trains the graph as it was when Train was pressed; an edit in between would make the
kept run's model, its weights and the canvas disagree, so the controller's `allow(cmd)` asks
to stop the run (or refuses) before the edit reaches the real document.
"""

from __future__ import annotations


class GatedDocument:
    """The document as the editor sees it: `push` asks `allow(cmd)` first."""

    def __init__(self, doc, allow):
        self._doc, self._allow = doc, allow

    def __getattr__(self, name):
        return getattr(self._doc, name)

    def push(self, cmd) -> bool:
        return self._allow(cmd) and self._doc.push(cmd)
