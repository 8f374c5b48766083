"""Colours for light and dark appearance, following the system colour scheme.

One ``Theme`` object holds every colour the canvas paints with, so items allocate no pens or
brushes per paint: they take them from here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetricsF, QGuiApplication, QPalette, QPen

#: "dark" or "light" overrides the system's appearance (where the desktop reports none)
APPEARANCE_ENV = "STUDIO_APPEARANCE"

# block header colour per palette category (light, dark)
CATEGORY_COLOURS = {
    "Input / Output": ("#2e7d32", "#66bb6a"),
    "Layers": ("#1565c0", "#64a0f0"),
    "Convolution & pooling": ("#6a1b9a", "#b27ad6"),
    "Normalisation & regularisation": ("#00838f", "#4dc4cf"),
    "Shape": ("#5d4037", "#b08a7c"),
    "Sequence & attention": ("#ad1457", "#ef6fa0"),
    "Activations": ("#ef6c00", "#ffa552"),
    "Merge & ops": ("#37474f", "#9fb3bd"),
    "Modules": ("#283593", "#8c9eff"),
}
DEFAULT_CATEGORY_COLOUR = ("#455a64", "#90a4ae")


def system_is_dark() -> bool:
    forced = os.environ.get(APPEARANCE_ENV, "").strip().lower()
    if forced in ("dark", "light"):
        return forced == "dark"
    app = QGuiApplication.instance()
    if app is None:
        return False
    try:
        return QGuiApplication.styleHints().colorScheme() == Qt.ColorScheme.Dark
    except AttributeError:  # pragma: no cover - Qt < 6.5
        return app.palette().window().color().lightness() < 128


@dataclass
class Theme:
    dark: bool
    background: QColor = field(init=False)
    grid: QColor = field(init=False)
    block_fill: QColor = field(init=False)
    block_border: QColor = field(init=False)
    text: QColor = field(init=False)
    subtle_text: QColor = field(init=False)
    wire: QColor = field(init=False)
    error: QColor = field(init=False)
    warning: QColor = field(init=False)
    selection: QColor = field(init=False)
    port: QColor = field(init=False)

    def __post_init__(self) -> None:
        d = self.dark
        self.background = QColor("#1e1f22" if d else "#f7f7f9")
        self.grid = QColor("#2a2b2f" if d else "#e6e7eb")
        self.block_fill = QColor("#2b2d31" if d else "#ffffff")
        self.block_border = QColor("#4a4d55" if d else "#c5c8cf")
        self.text = QColor("#e8e8ea" if d else "#1d1f23")
        self.subtle_text = QColor("#a0a3aa" if d else "#5f636b")
        self.wire = QColor("#8a8f99" if d else "#7a808a")
        self.error = QColor("#ff6b6b" if d else "#d32f2f")
        self.warning = QColor("#e0b040" if d else "#b7791f")
        self.selection = QColor("#4aa3ff" if d else "#1a73e8")
        self.port = QColor("#c9ccd3" if d else "#5f6672")
        # shared drawing tools (never allocated in paint())
        self.border_pen = QPen(self.block_border, 1.2)
        self.selected_pen = QPen(self.selection, 2.4)
        self.error_pen = QPen(self.error, 2.4)
        self.warning_pen = QPen(self.warning, 2.0)
        self.wire_pen = QPen(self.wire, 2.0)
        self.wire_pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        self.wire_error_pen = QPen(self.error, 2.4)
        self.wire_selected_pen = QPen(self.selection, 3.0)
        self.pending_pen = QPen(self.selection, 2.0, Qt.PenStyle.DashLine)
        self.fill_brush = QBrush(self.block_fill)
        self.port_brush = QBrush(self.port)
        self.label_brush = QBrush(self.background)
        self.text_pen = QPen(self.text)
        self.subtle_pen = QPen(self.subtle_text)
        self.error_text_pen = QPen(self.error)
        self.title_font = QFont()
        self.title_font.setBold(True)
        self.title_font.setPointSizeF(9.5)
        self.title_metrics = QFontMetricsF(self.title_font)
        self.small_font = QFont()
        self.small_font.setPointSizeF(8.0)
        self.small_metrics = QFontMetricsF(self.small_font)
        self.white_pen = QPen(QColor('#ffffff'))
        # block titles: white on the light theme's deep header colours, near-black on the dark
        # theme's light ones (white on light green/orange was unreadable)
        self.title_pen = QPen(QColor("#141518" if d else "#ffffff"))
        self.no_pen = QPen(Qt.PenStyle.NoPen)
        self.no_brush = QBrush(Qt.BrushStyle.NoBrush)
        self._category: dict[str, tuple[QColor, QBrush]] = {}

    def category(self, name: str) -> tuple[QColor, QBrush]:
        """(colour, brush) of a category's block header."""
        got = self._category.get(name)
        if got is None:
            light, dark = CATEGORY_COLOURS.get(name, DEFAULT_CATEGORY_COLOUR)
            colour = QColor(dark if self.dark else light)
            got = self._category[name] = (colour, QBrush(colour))
        return got


_current: Theme | None = None


def current_theme() -> Theme:
    global _current
    if _current is None:
        _current = Theme(system_is_dark())
    return _current


def set_theme(dark: bool) -> Theme:
    global _current
    _current = Theme(dark)
    return _current


def dark_palette() -> QPalette:
    """Widgets to match the dark canvas where the platform gives no dark palette of its own
    (X11 without a desktop theme reported light widgets around a dark canvas)."""
    p = QPalette()
    R = QPalette.ColorRole
    colours = {
        R.Window: "#26272b", R.WindowText: "#e8e8ea", R.Base: "#1e1f22", R.AlternateBase: "#2b2d31",
        R.ToolTipBase: "#2b2d31", R.ToolTipText: "#e8e8ea", R.Text: "#e8e8ea", R.Button: "#313338",
        R.ButtonText: "#e8e8ea", R.BrightText: "#ff6b6b", R.Highlight: "#2f6fb5", R.HighlightedText: "#ffffff",
        R.Link: "#6cb0ff", R.PlaceholderText: "#8d9098", R.Mid: "#3a3c42", R.Dark: "#18191c",
        R.Midlight: "#3a3c42", R.Light: "#4a4d55", R.Shadow: "#000000",
    }
    for role, colour in colours.items():
        p.setColor(role, QColor(colour))
    for role in (R.WindowText, R.Text, R.ButtonText):
        p.setColor(QPalette.ColorGroup.Disabled, role, QColor("#6f727a"))
    return p


def apply_widget_palette(dark: bool) -> None:
    """Give the widgets the appearance the canvas has, when the platform's palette differs."""
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    if app is None:
        return
    widgets_dark = app.palette().window().color().lightness() < 128
    if dark and not widgets_dark:
        app.setStyle("Fusion")
        app.setPalette(dark_palette())
        app.setProperty("studio_dark_palette", True)
    elif not dark and app.property("studio_dark_palette"):
        app.setPalette(app.style().standardPalette())
        app.setProperty("studio_dark_palette", False)
