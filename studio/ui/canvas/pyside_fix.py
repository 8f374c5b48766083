"""Workaround for a reference-count bug of the installed PySide6 (6.12) on Python < 3.12.

Every call of a void Qt method from Python (``QPainter.setPen``, ``drawRect``...) drops one
reference to ``None`` that it never took. ``None`` is not immortal before Python 3.12, so after
a few thousand calls (one repaint of a large canvas) the interpreter aborts with "deallocating
None". ``install()`` detects the leak once and, if present, gives ``None`` a huge reserve of
references (ob_refcnt is the first field of every PyObject), so it can never reach zero.
"""

from __future__ import annotations

import ctypes
import sys

RESERVE = 1 << 40
_installed = False


def leaks_none() -> bool:
    from PySide6.QtGui import QImage, QPainter

    image = QImage(4, 4, QImage.Format.Format_ARGB32)
    painter = QPainter(image)
    before = sys.getrefcount(None)
    for _ in range(50):
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    lost = before - sys.getrefcount(None)
    painter.end()
    return lost >= 50


def install() -> None:
    global _installed
    if _installed or sys.version_info >= (3, 12):
        return
    _installed = True
    if leaks_none():
        ctypes.c_ssize_t.from_address(id(None)).value += RESERVE


def render_scene(scene, painter, target=None, source=None) -> None:
    """``scene.render`` (kept as one entry point for image/SVG export)."""
    install()
    if target is None:
        scene.render(painter)
    else:
        scene.render(painter, target, source)


install()
