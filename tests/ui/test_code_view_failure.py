"""A failure while writing the model's code is shown in the Code view, never raised into the
event loop (where it would print a traceback and leave the view stale)."""

import studio.compiler


def test_an_unexpected_failure_in_code_generation_is_shown_in_the_view(window, qtbot, monkeypatch):
    view = window.code_view
    qtbot.waitUntil(lambda: "class " in view.source, timeout=120_000)

    def broken(*args, **kwargs):
        raise RuntimeError("AST constructor recursion depth mismatch")

    monkeypatch.setattr(studio.compiler, "generate_steps", broken)
    view.regenerate()
    assert "could not write this model's code" in view.source
    assert "recursion depth mismatch" in view.text.toPlainText()
    assert view.status.text() == "The code could not be written"
    monkeypatch.undo()
    view.regenerate()
    assert "class " in view.source and view.status.text().startswith("class ")
