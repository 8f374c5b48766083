"""The window runs outside code named in a project only after the user says yes.

Opened through File > Open, a project whose Custom module (by module name or by file) or Hub
model names outside code shows the reason in the Problems and runs nothing; the block's menu
asks, and only then does the code run (the canary file appears). File > Import of a module
or file outside Studio's own packages asks too.
"""

from __future__ import annotations

import pytest

from tests.canary import canaries, file_project, hub_project, module_project
from tests.ui.test_block_actions import menu_texts


@pytest.fixture
def folder(tmp_path, monkeypatch):
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.syspath_prepend(str(work))
    return work


@pytest.mark.parametrize("make", [module_project, file_project, hub_project], ids=["module", "file", "hub"])
def test_opening_runs_nothing_until_the_user_trusts_the_block(window, qtbot, folder, make):
    from studio.ui.block_actions import HANDLERS

    path, name = make(folder)
    assert window.files.open_path(path)
    window.ensure_compiler()
    errors = [d.message for d in window.doc.analysis.errors]
    assert any("until you trust it" in m for m in errors), errors
    assert canaries(folder) == []
    block = window.doc.graph.block_by_name("outside")
    assert len(menu_texts(window, block.id)) == 1 and menu_texts(window, block.id)[0].startswith("Trust this")
    (action,) = block.spec.actions  # the block's declared trust action, as its menu offers it
    trust_code = HANDLERS[action.id]
    assert not trust_code(window, block.id, ask=lambda text: False)
    window.ensure_compiler()
    assert canaries(folder) == []
    assert trust_code(window, block.id, ask=lambda text: True)
    qtbot.waitUntil(lambda: window.doc.analysis is not None and window.doc.analysis.ok, timeout=120_000)
    assert canaries(folder) == [f"CANARY-{name}"]


@pytest.mark.parametrize("make", [module_project, file_project], ids=["module", "file"])
def test_import_dialog_asks_before_running_a_module_or_file(window, qtbot, folder, make):
    from studio.ui.interop_dialogs import ImportDialog

    _, name = make(folder)
    spec = f"{name}:Net" if make is module_project else f"{name}.py:Net"
    dialog = ImportDialog(window)
    qtbot.addWidget(dialog)
    dialog.spec.setText(spec)
    dialog.shapes.setText("2")
    assert dialog.trust.isVisibleTo(dialog)
    assert dialog.start() is None
    assert "I trust this file" in dialog.status.text()
    assert canaries(folder) == []
    dialog.trust.setChecked(True)
    job = dialog.start()
    assert job is not None
    qtbot.waitUntil(lambda: dialog.job is None, timeout=120_000)
    assert canaries(folder) == [f"CANARY-{name}"]


def test_torchvision_import_does_not_ask(window, qtbot):
    from studio.ui.interop_dialogs import ImportDialog

    dialog = ImportDialog(window)
    qtbot.addWidget(dialog)
    dialog.spec.setText("torchvision.ops:MLP")
    assert not dialog.trust.isVisibleTo(dialog)


def test_train_refuses_an_untrusted_block_and_runs_nothing(window, folder):
    path, _ = module_project(folder)
    assert window.files.open_path(path)
    window.ensure_compiler()
    t = window.training
    messages = []
    original = t.panel.show_message
    t.panel.show_message = lambda msg, error=False: messages.append(msg) or original(msg, error=error)
    t.train_action.trigger()
    assert not t.running
    assert messages and "fix them before training" in messages[-1]
    assert canaries(folder) == []
