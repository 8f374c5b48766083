"""SVG icons from resources/icons (scalable, so sharp on high-DPI screens)."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from PySide6.QtCore import QByteArray, Qt
from PySide6.QtGui import QIcon, QPainter, QPixmap

ICON_DIR = Path(__file__).resolve().parents[2] / "resources" / "icons"
STROKE, DARK_STROKE = b"#5b6470", b"#c9ccd3"  # the icons' grey lines, and the same on a dark toolbar


def icon(name: str) -> QIcon:
    from studio.ui.theme import current_theme

    return _icon(name, current_theme().dark)


@cache
def _icon(name: str, dark: bool) -> QIcon:
    path = ICON_DIR / f"{name}.svg"
    if not path.exists():
        return QIcon()
    if not dark:
        return QIcon(str(path))
    from PySide6.QtSvg import QSvgRenderer

    renderer = QSvgRenderer(QByteArray(path.read_bytes().replace(STROKE, DARK_STROKE)))
    out = QIcon()
    for size in (16, 24, 32, 48):  # drawn at each size: as sharp as the light ones
        pixmap = QPixmap(size, size)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        renderer.render(painter)
        painter.end()
        out.addPixmap(pixmap)
    return out


def category_icon(category: str) -> QIcon:
    slug = re.sub(r"[^a-z]+", "-", category.lower()).strip("-")
    return icon(f"category-{slug}")
