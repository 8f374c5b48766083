"""Dark appearance: widgets match the dark canvas, and the text on blocks keeps a readable
contrast (WCAG's 4.5:1 for normal text) in both themes."""

import pytest
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QApplication

from studio.ui.theme import CATEGORY_COLOURS, Theme, apply_widget_palette


def _luminance(c: QColor) -> float:
    def channel(v: float) -> float:
        return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4

    return 0.2126 * channel(c.redF()) + 0.7152 * channel(c.greenF()) + 0.0722 * channel(c.blueF())


def contrast(a: QColor, b: QColor) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
def test_block_text_is_readable_in_both_themes(qapp, dark):
    t = Theme(dark)
    for category in CATEGORY_COLOURS:
        header, _ = t.category(category)
        assert contrast(t.title_pen.color(), header) >= 3.0, category  # bold title text
    for pen in (t.text_pen, t.subtle_pen):
        assert contrast(pen.color(), t.block_fill) >= 4.5
    assert contrast(t.text_pen.color(), t.label_brush.color()) >= 4.5  # wire labels


def test_a_dark_appearance_darkens_the_widgets_too(qtbot, monkeypatch, config_dir):
    monkeypatch.setenv("STUDIO_APPEARANCE", "dark")
    from studio.graph.project import load_project
    from studio.ui.main_window import MainWindow
    from tests.ui.conftest import EXAMPLE

    app = QApplication.instance()
    light = app.palette()
    try:
        w = MainWindow(load_project(EXAMPLE))
        qtbot.addWidget(w)
        assert app.palette().window().color().lightness() < 128
        assert contrast(app.palette().text().color(), app.palette().base().color()) >= 4.5
        pixmap = w.actions_.save.icon().pixmap(24, 24).toImage()
        strokes = [pixmap.pixelColor(x, y) for x in range(24) for y in range(24) if pixmap.pixelColor(x, y).alpha() > 200]
        assert strokes and min(c.lightness() for c in strokes) > 150  # light lines on the dark toolbar
    finally:
        from studio.ui.theme import set_theme

        set_theme(False)
        apply_widget_palette(False)
        app.setPalette(light)
