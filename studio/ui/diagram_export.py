"""Export the canvas as a picture: PNG (QImage) or SVG (QSvgGenerator)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QImage, QPainter
from PySide6.QtWidgets import QGraphicsScene

MARGIN = 40


def _area(scene: QGraphicsScene, rect: QRectF | None) -> QRectF:
    rect = rect if rect is not None else scene.itemsBoundingRect()
    return rect.adjusted(-MARGIN, -MARGIN, MARGIN, MARGIN)


def render_image(scene: QGraphicsScene, rect: QRectF | None = None, scale: float = 2.0, max_side: int = 16000) -> QImage:
    area = _area(scene, rect)
    scale = min(scale, max_side / max(area.width(), area.height(), 1))
    image = QImage(max(int(area.width() * scale), 1), max(int(area.height() * scale), 1), QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.TextAntialiasing)
    scene.render(painter, QRectF(image.rect()), area)
    painter.end()
    return image


def export_png(scene: QGraphicsScene, path: str | Path, rect: QRectF | None = None) -> Path:
    path = Path(path)
    if not render_image(scene, rect).save(str(path), "PNG"):
        raise OSError(f"cannot write {path}")
    return path


def export_svg(scene: QGraphicsScene, path: str | Path, rect: QRectF | None = None, title: str = "Studio model") -> Path:
    from PySide6.QtSvg import QSvgGenerator

    path = Path(path)
    area = _area(scene, rect)
    gen = QSvgGenerator()
    gen.setFileName(str(path))
    gen.setSize(QSize(int(area.width()), int(area.height())))
    gen.setViewBox(QRectF(0, 0, area.width(), area.height()))
    gen.setTitle(title)
    painter = QPainter(gen)
    scene.render(painter, QRectF(0, 0, area.width(), area.height()), area)
    painter.end()
    if not path.exists():
        raise OSError(f"cannot write {path}")
    return path
