"""The window tells studio.gctune each project it opens, with its size, once the event loop turns."""

from __future__ import annotations

from studio import gctune
from tests.ui.conftest import EXAMPLE


def test_each_project_opened_reaches_the_collectors_policy_with_its_block_count(
    window, qtbot, monkeypatch
):
    calls = []
    monkeypatch.setattr(gctune, "project_opened", lambda blocks: calls.append(blocks) or False)
    assert window.files.open_path(EXAMPLE, ask=False)
    qtbot.waitUntil(lambda: bool(calls), timeout=10_000)
    assert calls == [len(window.doc.graph)] and calls[0] > 1
