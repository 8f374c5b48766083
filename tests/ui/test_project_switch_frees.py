"""Opening another project deletes the widgets that showed the old one: the docks' setWidget
left each old Inspector, CodeView and ProblemsList a hidden child of its dock, holding the old
project's document, graph and analysis until the window closed."""

import gc
import weakref

import pytest
import shiboken6
from PySide6.QtCore import QCoreApplication, QEvent

from studio.ui.code_view import CodeView
from studio.ui.inspector import Inspector
from studio.ui.problems import ProblemsList


def test_the_old_projects_panels_are_deleted_when_another_opens(window, qtbot):
    old = (window.inspector, window.code_view, window.problems)
    for _ in range(3):
        assert window.files.open_path("resources/examples/shapes_cnn.studio.json", ask=False)
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    assert not any(shiboken6.isValid(w) for w in old)
    for dock, kind in (
        (window.inspector_dock, Inspector),
        (window.code_dock, CodeView),
        (window.problems_dock, ProblemsList),
    ):
        assert len(dock.findChildren(kind)) == 1, kind.__name__


def _turn_and_collect(qtbot) -> None:
    """What the event loop does after a switch (the old widgets' deleteLater), then a full
    collection."""
    qtbot.wait(10)
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    gc.collect()


@pytest.mark.parametrize("selected", [False, True], ids=["nothing-selected", "block-selected"])
def test_the_old_projects_document_is_freed_when_another_opens(window, qtbot, selected):
    """Opening project B lets project A's Document (and with it A's graph) go. The inspector's
    name field and parameter editors (no Qt parent) held closures over the inspector in their
    connections: a cycle through C++ the collector cannot see kept A's inspector and document."""
    if selected:
        block = next(iter(window.doc.graph.blocks))
        window.scene.select_blocks([block])
        assert window.inspector.block_id == block and window.inspector.editors
    old, graph = weakref.ref(window.doc), weakref.ref(window.doc.graph)
    assert window.files.open_path("resources/examples/shapes_cnn.studio.json", ask=False)
    _turn_and_collect(qtbot)
    assert old() is None and graph() is None


def test_file_new_frees_the_old_projects_document(window, qtbot):
    """File > New: the autosave's note of which document its pending edits belong to kept the
    old one until the new project's first edit."""
    block = next(iter(window.doc.graph.blocks))
    assert window.editor.rename(block, "renamed")  # an edit: the autosave notes its document
    old = weakref.ref(window.doc)
    window.actions_.new.trigger()
    assert window.doc.project.name == "Untitled" and not len(window.doc.graph)
    _turn_and_collect(qtbot)
    assert old() is None
