"""Opening another project deletes the widgets that showed the old one: the docks' setWidget
left each old Inspector, CodeView and ProblemsList a hidden child of its dock, holding the old
project's document, graph and analysis until the window closed."""

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
