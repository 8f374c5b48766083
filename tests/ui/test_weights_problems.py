"""Pretrained weights that are not on this computer are listed in Problems before Train, with
one-click fixes; a frozen backbone with random weights is warned about."""

from pathlib import Path

import pytest
from PySide6.QtWidgets import QFileDialog

from tests.ui.conftest import by_name, open_window

TRANSFER = "resources/examples/transfer_learning.studio.json"


@pytest.fixture
def offline_window(qtbot, config_dir, monkeypatch):
    import studio.hub.weights

    monkeypatch.setattr(studio.hub.weights, "cached_path", lambda weights: None)  # nothing cached
    w = open_window(qtbot, TRANSFER)
    w.problems.refresh()
    return w


def _row(window, fragment):
    rows = {
        text: buttons
        for text, buttons in window.problems.all_fix_buttons().items()
        if fragment in text
    }
    assert len(rows) == 1, window.problems.problem_texts()
    return next(iter(rows.items()))


def test_missing_weights_are_listed_before_train_with_two_fixes(offline_window, qtbot):
    w = offline_window
    text, buttons = _row(w, "are not on this computer yet")
    assert text.startswith(
        "backbone: The pretrained weights MobileNet_V3_Small_Weights.IMAGENET1K_V1"
    )
    assert [b.text() for b in buttons] == [
        "Start from random weights",
        "Choose a local weights file…",
    ]
    backbone = by_name(w.doc.graph, "backbone")
    buttons[0].click()  # one click: random weights, undoable
    assert backbone.params["weights"] == "none"
    qtbot.waitUntil(
        lambda: any(
            "frozen but starts from random weights" in t for t in w.problems.problem_texts()
        )
    )
    assert not any("not on this computer" in t for t in w.problems.problem_texts())
    w.doc.undo_stack.undo()
    assert backbone.params["weights"] == "IMAGENET1K_V1"


def test_choosing_a_local_file_uses_it(offline_window, qtbot, monkeypatch, tmp_path):
    w = offline_window
    weights = tmp_path / "mine.pth"
    weights.write_bytes(b"")
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(weights), ""))
    _, buttons = _row(w, "are not on this computer yet")
    buttons[1].click()
    backbone = by_name(w.doc.graph, "backbone")
    assert backbone.params["weights"] == "file" and Path(backbone.params["weights_file"]) == weights
    qtbot.waitUntil(
        lambda: not any("not on this computer" in t for t in w.problems.problem_texts())
    )


def test_cached_weights_give_no_row(qtbot, config_dir):
    w = open_window(qtbot, TRANSFER)  # the test cache holds these weights
    w.problems.refresh()
    assert not any("not on this computer" in t for t in w.problems.problem_texts())
