"""The same mutated project files opened through the window's File > Open: a message (or the
project), never an exception."""

from __future__ import annotations

import pytest

from tests.fuzz_projects import Mutator
from tests.graph.test_fuzz import SEED


@pytest.mark.slow  # over the 10-minute budget of the default run; `pytest -m slow` runs it
def test_mutated_files_open_or_give_a_message(window, tmp_path, no_dialogs):
    opened = refused = 0
    target = tmp_path / "m.studio.json"
    for label, data in Mutator(SEED).mutants(1000):
        target.write_bytes(data)
        before = len(no_dialogs)
        ok = window.files.open_path(target, ask=False)
        if ok:
            opened += 1
            assert window.doc.project.path == target
        else:
            refused += 1
            assert len(no_dialogs) == before + 1, label
            assert "\n" not in no_dialogs[-1] and len(no_dialogs[-1]) < 400, (label, no_dialogs[-1][:500])
    assert opened + refused == 1000 and opened > 50 and refused > 100
