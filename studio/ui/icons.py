"""SVG icons from resources/icons (scalable, so sharp on high-DPI screens)."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from PySide6.QtGui import QIcon

ICON_DIR = Path(__file__).resolve().parents[2] / "resources" / "icons"


@cache
def icon(name: str) -> QIcon:
    path = ICON_DIR / f"{name}.svg"
    return QIcon(str(path)) if path.exists() else QIcon()


def category_icon(category: str) -> QIcon:
    slug = re.sub(r"[^a-z]+", "-", category.lower()).strip("-")
    return icon(f"category-{slug}")
