"""File > Export ▸ (every format) and File > Import…, run off the GUI thread."""

from __future__ import annotations

import textwrap

import pytest
from PySide6.QtWidgets import QFileDialog, QPushButton

from studio.interop.exporters import FORMATS

NET = textwrap.dedent('''
    import torch
    from torch import nn


    class Net(nn.Module):
        def __init__(self, width=4):
            super().__init__()
            self.conv = nn.Conv2d(3, width, 3, padding=1)
            self.fc = nn.Linear(width * 8 * 8, 10)

        def forward(self, x):
            x = torch.relu(self.conv(x))
            return self.fc(x.flatten(1))


    class Moody(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 2)

        def forward(self, x):
            if x.sum() > 0:
                return self.fc(x)
            return -self.fc(x)
''')


@pytest.fixture
def messages(window, monkeypatch):
    shown = []
    monkeypatch.setattr(window.interop, "show_message", lambda title, text: shown.append((title, text)))
    return shown


def _wait(qtbot, job):
    if job is not None:
        qtbot.waitUntil(job.isFinished, timeout=120_000)


def test_the_file_menu_has_import_and_an_export_entry_per_format(window):
    file_actions = window.file_menu.actions()
    assert window.interop.import_action in file_actions
    assert window.interop.export_menu.menuAction() in file_actions
    entries = [a.text() for a in window.interop.export_menu.actions()]
    assert len(entries) == len(FORMATS) and set(window.interop.export_actions) == set(FORMATS)
    assert entries[:2] == ["Python module…", "Training script…"]
    assert {f"{fmt.label}…" for fmt in FORMATS.values()} == set(entries)


def test_exporting_python_writes_the_file_in_the_background_and_says_so(window, qtbot, tmp_path, monkeypatch, messages):
    out = tmp_path / "model.py"
    monkeypatch.setattr(window.files, "choose_save_path", lambda *a: str(out))
    job = window.interop.export("python")
    assert job is not None
    # the job's own end and the message it leads to (waiting for `succeeded` after export()
    # returned raced a quick job: the signal could come before the wait began)
    _wait(qtbot, job)
    qtbot.waitUntil(lambda: bool(messages), timeout=120_000)
    window.code_view.regenerate()
    assert out.read_text() == window.code_view.source
    assert messages[0][0] == "Export Python module" and str(out) in messages[0][1]


def test_exporting_the_training_script_from_the_menu(window, qtbot, tmp_path, monkeypatch, messages):
    out = tmp_path / "train.py"
    monkeypatch.setattr(window.files, "choose_save_path", lambda *a: str(out))
    window.interop.export_actions["script"].trigger()
    _wait(qtbot, window.interop.last_job)
    qtbot.waitUntil(lambda: bool(messages))
    assert "class SpiralClassifier(nn.Module)" in out.read_text()
    # the settings are argparse defaults and literals (no SETTINGS dict for generated data)
    assert "def main():" in out.read_text() and 'add_argument("--epochs", type=int, default=30)' in (
        out.read_text()
    )


def test_an_export_error_is_shown_not_raised(window, qtbot, tmp_path, monkeypatch, no_dialogs):
    blocked = tmp_path / "file"
    blocked.write_text("")
    monkeypatch.setattr(window.files, "choose_save_path", lambda *a: str(blocked / "model.py"))
    _wait(qtbot, window.interop.export("python"))
    qtbot.waitUntil(lambda: bool(no_dialogs))
    assert no_dialogs[0].startswith("Export Python module failed:")


def test_import_a_file_asks_for_trust_then_opens_the_project(window, qtbot, tmp_path, messages):
    path = tmp_path / "nets.py"
    path.write_text(NET)
    dialog = window.interop.import_dialog()
    dialog.spec.setText(f"{path}:Net")
    dialog.kwargs.setText("width=6")
    dialog.shapes.setText("3,8,8")
    assert dialog.trust.isVisibleTo(dialog) and dialog.warning.isVisibleTo(dialog)
    assert dialog.start() is None  # not confirmed: nothing runs
    assert "trust" in dialog.status.text()
    dialog.trust.setChecked(True)
    job = dialog.start()
    assert job is not None and not dialog.import_button.isEnabled()
    _wait(qtbot, job)
    qtbot.waitUntil(lambda: window.doc.project.name == "Net", timeout=120_000)
    graph = window.doc.graph
    assert any(b.type == "conv2d" and b.params["out_channels"] == 6 for b in graph.blocks.values())
    assert window.isWindowModified()  # imported work is unsaved
    assert messages and messages[0][0] == "Import" and "outputs match" in messages[0][1]
    window.ensure_compiler()
    assert window.doc.analysis.ok


def test_import_of_a_torchvision_name_needs_no_trust_and_bad_fields_are_one_line(window, qtbot):
    dialog = window.interop.import_dialog()
    dialog.spec.setText("torchvision:resnet18")
    assert not dialog.trust.isVisibleTo(dialog)
    dialog.kwargs.setText("num_classes=")
    assert dialog.start() is None and "kwargs" in dialog.status.text()
    dialog.kwargs.setText("num_classes=10")
    dialog.shapes.setText("3,0")
    assert dialog.start() is None and "input-shape" in dialog.status.text()


def test_an_untraceable_model_offers_the_one_block_import(window, qtbot, tmp_path, messages):
    path = tmp_path / "nets.py"
    path.write_text(NET)
    dialog = window.interop.import_dialog()
    dialog.spec.setText(f"{path}:Moody")
    dialog.shapes.setText("4")
    dialog.trust.setChecked(True)
    _wait(qtbot, dialog.start())
    qtbot.waitUntil(lambda: dialog.opaque.isChecked(), timeout=120_000)
    assert "cannot trace" in dialog.status.text()
    _wait(qtbot, dialog.start())
    qtbot.waitUntil(lambda: window.doc.project.name == "Moody", timeout=120_000)
    assert any(b.type == "custom_module" for b in window.doc.graph.blocks.values())


def test_import_torchvision_resnet18_opens_it_in_the_window(window, qtbot, messages):
    dialog = window.interop.import_dialog()
    dialog.spec.setText("torchvision:resnet18")
    dialog.kwargs.setText("num_classes=10")
    dialog.shapes.setText("3,64,64")
    _wait(qtbot, dialog.start())
    qtbot.waitUntil(lambda: window.doc.project.name == "resnet18", timeout=120_000)
    # the hierarchy is kept: the stages are module blocks (BasicBlock inside), not 60 layers
    assert "resnet18" in window.windowTitle()
    assert {"BasicBlock", "BasicBlock2"} <= set(window.doc.graph.library.definitions)
    assert any(b.type.startswith("module:") for b in window.doc.graph)
    assert "outputs match" in messages[0][1]


@pytest.mark.parametrize("with_module", [False, True])
def test_an_edit_made_while_python_exports_is_not_in_the_file(window, qtbot, tmp_path, monkeypatch, messages, with_module):
    """The export writes the model as it was when asked for: the GUI thread takes a quick copy
    (the slow full copy only with module definitions), the worker builds the graph from it."""
    import threading

    from studio.ui import interop_dialogs
    from tests.ui.conftest import by_name

    g = window.doc.graph
    if with_module:
        window.editor.group([by_name(g, "fc1").id, by_name(g, "relu1").id], "Hidden")
    window.ensure_compiler()
    window.code_view.regenerate()
    expected = window.code_view.source
    real, gate = interop_dialogs.snapshot, threading.Event()

    def held(project):
        assert gate.wait(60)
        return real(project)

    monkeypatch.setattr(interop_dialogs, "snapshot", held)
    out = tmp_path / "model.py"
    monkeypatch.setattr(window.files, "choose_save_path", lambda *a: str(out))
    gate.set() if with_module else None  # with a module the copy is taken on the GUI thread
    job = window.interop.export("python")
    window.editor.rename(by_name(g, "fc2").id, "edited_later")  # the user edits on meanwhile
    gate.set()
    _wait(qtbot, job)
    qtbot.waitUntil(lambda: bool(messages), timeout=120_000)
    assert out.read_text() == expected and "class SpiralClassifier" in expected
    assert "edited_later" not in expected and ("class Hidden" in expected) == with_module


def test_the_file_button_fills_in_the_model_class_and_a_bare_path_imports(window, qtbot, tmp_path, monkeypatch, messages):
    """The File… button left "path:" for the user to finish with a class name they had to look
    up; a path typed without one was refused. Now the file is read (not run) for its model."""

    two = tmp_path / "nets.py"
    two.write_text(NET)  # Net and Moody: two models, neither uses the other
    one = tmp_path / "tutorial.py"
    one.write_text(NET.split("class Moody")[0])
    dialog = window.interop.import_dialog()
    browse = next(b for b in dialog.findChildren(QPushButton) if b.text() == "File…")
    for path, spec, note in ((one, f"{one}:Net", ""), (two, f"{two}:Net", "It defines Net, Moody")):
        monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, p=path, **k: (str(p), ""))
        browse.click()
        assert dialog.spec.text() == spec
        assert dialog.status.text().startswith(note)
        assert dialog.trust.isVisibleTo(dialog)  # and it still asks before running it
    dialog.spec.setText(str(one))  # typed, without a class
    dialog.shapes.setText("3,8,8")
    assert dialog.trust.isVisibleTo(dialog)
    dialog.trust.setChecked(True)
    _wait(qtbot, dialog.start())
    qtbot.waitUntil(lambda: window.doc.project.name == "Net", timeout=120_000)
    assert messages and "outputs match" in messages[0][1]
