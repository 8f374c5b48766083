"""Double-clicking a welcome page entry opens it once, and opening may refill the list."""

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from studio.ui.welcome import WelcomeView


@pytest.mark.parametrize("which", ["recent", "examples"])
def test_a_double_click_opens_the_entry_once(qtbot, tmp_path, which):
    recent = [str(tmp_path / "a.studio.json"), str(tmp_path / "b.studio.json")]
    view = WelcomeView(recent)
    qtbot.addWidget(view)
    view.resize(600, 700)
    view.show()
    qtbot.waitExposed(view)
    opened = []

    def open_it(path):  # as the window does: the list is refilled when a file opens
        opened.append(path)
        view.set_recent([path, *recent])

    view.open_requested.connect(open_it)
    lst = getattr(view, which)
    item = lst.item(0)
    expected = item.data(Qt.ItemDataRole.UserRole)
    pos = lst.visualItemRect(item).center()
    # a real double-click: a click, then the second press that Qt reports as a double-click
    QTest.mouseClick(lst.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, pos)
    QTest.mouseDClick(
        lst.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, pos
    )
    qtbot.wait(50)
    assert opened == [expected]
