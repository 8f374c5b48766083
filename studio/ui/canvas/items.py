"""Canvas items. They paint what the scene tells them and answer hit tests; no logic, no state
beyond what they draw. Pens, brushes and fonts come from the shared Theme (no per-paint
allocations); when zoomed out they draw a plain box (level of detail)."""

from __future__ import annotations

from dataclasses import dataclass, field

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPainterPathStroker, QPen
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem

from studio.ui.canvas.block_layout import BAND_GAP, BlockLayout, PortLabel
from studio.ui.canvas.geometry import BLOCK_WIDTH, HEADER, LINE, PORT_HIT, PORT_RADIUS
from studio.ui.theme import current_theme

LOD_TEXT = 0.3  # below this zoom, blocks are plain boxes and wire labels are hidden
STACK_OFFSET = 5.0  # how far each card behind a repeated module shows

@dataclass
class BlockLook:
    """Everything a block item shows (filled in by the scene from the model and analysis)."""

    title: str
    type_label: str
    category: str
    key_params: str = ""
    count: str = ""
    inputs: list[tuple[str, str]] = field(default_factory=list)  # (port name, title)
    outputs: list[tuple[str, str]] = field(default_factory=list)
    problem: str = ""
    severity: str = ""  # "", "error", "warning"
    frozen: bool = False
    tooltip: str = ""
    learning: str = ""  # live training indicator text (gradient norm...), "" when not training
    learning_state: str = ""  # ok | dead | exploding | frozen: its colour
    extra: list[str] = field(default_factory=list)  # more lines (a module: shapes, what is inside)
    chips: tuple[str, ...] = ()  # a module: the category of each block inside, drawn on the last line
    badge: str = ""  # a repeated module: "×3" in the header, drawn as a stack of cards
    heat: str = ""  # the cost overlay's text ("12.3 MB · 41%"), "" when the overlay is off
    heat_share: float = 0.0  # the block's share of the step: its colour, and a mark when large

    @property
    def stacked(self) -> int:
        return 3 if self.badge else 1


class BlockItem(QGraphicsItem):
    def __init__(self, block_id: str, look: BlockLook) -> None:
        super().__init__()
        self.block_id = block_id
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable)
        self.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.setAcceptHoverEvents(False)
        self.look = look
        self._height = 0.0
        self.set_look(look)

    def set_look(self, look: BlockLook) -> None:
        layout = BlockLayout(len(look.inputs), len(look.outputs), len(look.extra), bool(look.inputs))
        if layout.height != self._height or look.stacked != self.look.stacked:
            self.prepareGeometryChange()
            self._height = layout.height
        self.look = look
        self.layout = layout
        fm = current_theme().small_metrics
        self.port_labels: list[PortLabel] = layout.labels([t for _, t in look.inputs], [t for _, t in look.outputs], fm)
        self.setToolTip(look.problem and f"{look.problem}\n\n{look.tooltip}" or look.tooltip)
        self.update()

    @property
    def height(self) -> float:
        return self._height

    def extent(self) -> tuple[float, float, float, float]:
        """Left, top, right and bottom of `boundingRect`, in the item's coordinates, as plain
        numbers (the view counts the blocks out of sight after each edit: 2,000 Qt rectangles
        took 20-50 ms)."""
        m = PORT_RADIUS + 2
        s = STACK_OFFSET * (min(self.look.stacked, 3) - 1)
        return -m, -2.0, BLOCK_WIDTH + m + s, self._height + 2 + s

    def boundingRect(self) -> QRectF:
        left, top, right, bottom = self.extent()
        return QRectF(left, top, right - left, bottom - top)

    # -------------------------------------------------------------- geometry
    def port_local(self, output: bool, name: str) -> QPointF | None:
        ports = self.look.outputs if output else self.look.inputs
        for i, (pname, _) in enumerate(ports):
            if pname == name:
                return self.layout.port_point(output, i)
        return None

    def port_scene(self, output: bool, name: str) -> QPointF:
        local = self.port_local(output, name)
        if local is None:  # a wire onto a port that no longer exists: point at the middle
            local = QPointF(BLOCK_WIDTH if output else 0.0, self._height / 2)
        return self.pos() + local

    def port_at(self, local: QPointF) -> tuple[bool, str] | None:
        """(is_output, port name) under ``local``, if any."""
        for output, ports in ((False, self.look.inputs), (True, self.look.outputs)):
            x = BLOCK_WIDTH if output else 0.0
            for i, (pname, _) in enumerate(ports):
                y = self.layout.port_y(output, i)
                if abs(local.x() - x) <= PORT_HIT and abs(local.y() - y) <= PORT_HIT:
                    return output, pname
        return None

    # --------------------------------------------------------------- painting
    def pill(self, t) -> tuple[float, str]:
        """The pill on the third line, right of the parameter count: (width, text), (0, "")
        without one; the learning state's (``∇9.2e-1 Δ4e-2``) or the cost overlay's
        (``877 KB · 5%``). It is as wide as its text, and keeps only the text's first part
        (the gradient norm; the cost without its share, which the colour shows) where the
        whole would not fit beside the count, which stays whole."""
        look = self.look
        text, cut = (look.learning, " ") if look.learning else (look.heat, " · ")
        if not text:
            return 0.0, ""
        fm = t.small_metrics
        room = BLOCK_WIDTH - 8 - 4 - self.layout.text_left - fm.horizontalAdvance(look.count or "")
        if fm.horizontalAdvance(text) + 10 > room:
            text = text.split(cut)[0]
        return min(98.0, fm.horizontalAdvance(text) + 10.0), text

    def paint(self, p: QPainter, option: QStyleOptionGraphicsItem, widget=None) -> None:
        t = current_theme()
        look = self.look
        lod = option.levelOfDetailFromTransform(p.worldTransform())
        rect = QRectF(0, 0, BLOCK_WIDTH, self._height)
        colour, brush = t.category(look.category)
        if self.isSelected():
            pen = t.selected_pen
        elif look.severity == "error":
            pen = t.error_pen
        elif look.severity == "warning":
            pen = t.warning_pen
        else:
            pen = t.border_pen
        if lod < LOD_TEXT:
            p.setPen(pen if pen is not t.border_pen else t.no_pen)
            p.setBrush(brush)
            p.drawRect(rect)
            return
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        p.setPen(t.border_pen)
        p.setBrush(t.fill_brush)
        for k in range(min(look.stacked, 3) - 1, 0, -1):  # the cards behind a repeated module
            p.drawRoundedRect(rect.translated(k * STACK_OFFSET, k * STACK_OFFSET), 6, 6)
        p.setPen(pen)
        p.drawRoundedRect(rect, 6, 6)
        header = QRectF(0, 0, BLOCK_WIDTH, HEADER)
        p.setPen(t.no_pen)
        p.setBrush(brush)
        p.drawRoundedRect(header.adjusted(1, 1, -1, 0), 5, 5)
        p.drawRect(header.adjusted(1, HEADER / 2, -1, 0))
        p.setFont(t.title_font)
        p.setPen(t.title_pen)
        title = look.title + ("  ❄" if look.frozen else "")
        right = 6
        if look.badge:
            right += t.title_metrics.horizontalAdvance(look.badge) + 8
            p.drawText(header.adjusted(8, 0, -8, 0), Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight, look.badge)
            title = t.title_metrics.elidedText(title, Qt.TextElideMode.ElideRight, BLOCK_WIDTH - 8 - right)
        p.drawText(header.adjusted(8, 0, -right, 0), Qt.AlignmentFlag.AlignVCenter, title)
        p.setFont(t.small_font)
        lay = self.layout
        inner, y = lay.text_left, lay.line_rect(0).top()
        lines = [(look.type_label, t.subtle_pen), (look.key_params, t.text_pen)]
        lines.append((look.problem, t.error_text_pen) if look.severity == "error" else (look.count, t.subtle_pen))
        lines += [(text, t.subtle_pen) for text in look.extra]
        fm = t.small_metrics
        width = lay.text_width
        chips_x = 0.0
        if look.chips:  # the blocks inside a module, before the last line's text
            chips_x = self._paint_chips(p, t, look.chips, QRectF(inner, y + (len(lines) - 1) * LINE, width, LINE))
        pill, pill_text = self.pill(t)  # on the third line, right of the parameter count
        pill_rect = QRectF(BLOCK_WIDTH - 8 - pill, HEADER + 5 + 2 * LINE, pill, LINE - 2)
        if look.learning:
            self._paint_learning(p, t, look, pill_rect, pill_text)
        elif look.heat:  # the cost overlay, in the same place
            self._paint_heat(p, t, look, rect, pill_rect, pill_text)
        for i, (text, tpen) in enumerate(lines):
            if text:
                w = min(width, pill_rect.left() - 4 - inner) if i == 2 and pill else width
                x = inner + (chips_x if i == len(lines) - 1 else 0.0)
                w -= x - inner
                p.setPen(tpen)
                p.drawText(
                    QRectF(x, y, w, LINE),
                    Qt.AlignmentFlag.AlignVCenter,
                    fm.elidedText(text, Qt.TextElideMode.ElideRight, w),
                )
            y += LINE
        self._paint_ports(p, t)

    def _paint_ports(self, p: QPainter, t) -> None:
        look, lay = self.look, self.layout
        if self.port_labels:  # a thin rule between the text and the port rows
            p.setPen(t.border_pen)
            p.drawLine(QPointF(8, lay.band - BAND_GAP / 2), QPointF(BLOCK_WIDTH - 8, lay.band - BAND_GAP / 2))
        p.setPen(t.border_pen)
        p.setBrush(t.port_brush)
        for output, ports in ((False, look.inputs), (True, look.outputs)):
            for i, _ in enumerate(ports):
                p.drawEllipse(lay.port_point(output, i), PORT_RADIUS, PORT_RADIUS)
        p.setPen(t.subtle_pen)
        for label in self.port_labels:
            align = Qt.AlignmentFlag.AlignRight if label.output else Qt.AlignmentFlag.AlignLeft
            p.drawText(label.rect, align | Qt.AlignmentFlag.AlignVCenter, label.text)

    @staticmethod
    def _paint_chips(p: QPainter, t, chips: tuple[str, ...], r: QRectF) -> float:
        """One small square per inner block in its category's colour; returns the width used."""
        x = r.left()
        for category in chips:
            p.setPen(t.no_pen)
            p.setBrush(t.category(category)[1])
            p.drawRoundedRect(QRectF(x, r.center().y() - 4, 8, 8), 2, 2)
            x += 11
        return x - r.left() + 4

    @staticmethod
    def _paint_heat(p: QPainter, t, look: BlockLook, rect: QRectF, r: QRectF, text: str) -> None:
        """The cost overlay: a pill with the block's cost, and a red outline when it is hot."""
        colour = heat_colour(look.heat_share)
        if look.heat_share >= HOT_SHARE:
            p.setPen(QPen(colour.darker(120), 3))
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawRoundedRect(rect.adjusted(-3, -3, 3, 3), 8, 8)
        p.setPen(t.no_pen)
        p.setBrush(colour)
        p.drawRoundedRect(r, 6, 6)
        p.setPen(QPen(QColor("#1a1a1a") if look.heat_share < 0.3 else QColor("white")))
        p.drawText(r, Qt.AlignmentFlag.AlignCenter, t.small_metrics.elidedText(text, Qt.TextElideMode.ElideRight, r.width() - 4))

    @staticmethod
    def _paint_learning(p: QPainter, t, look: BlockLook, r: QRectF, text: str) -> None:
        """A small pill: green learning, grey dead (no gradient), red exploding, blue frozen."""
        colour = LEARNING_COLOURS.get(look.learning_state, LEARNING_COLOURS["ok"])
        p.setPen(t.no_pen)
        p.setBrush(colour)
        p.drawRoundedRect(r, 6, 6)
        p.setPen(t.white_pen)
        p.drawText(r, Qt.AlignmentFlag.AlignCenter, t.small_metrics.elidedText(text, Qt.TextElideMode.ElideRight, r.width() - 4))


def heat_colour(share: float) -> QColor:
    """Pale yellow (a small share of the step) to deep red (half of it or more)."""
    x = max(0.0, min(share / 0.5, 1.0))
    return QColor.fromHsvF((50 - 50 * x) / 360, 0.35 + 0.6 * x, 0.95 - 0.2 * x)


HOT_SHARE = 0.10  # a block over this share of the step is outlined


LEARNING_COLOURS = {
    "ok": QColor("#2e7d32"), "dead": QColor("#78909c"), "exploding": QColor("#c62828"), "frozen": QColor("#4f8fc0"),
}


class WireItem(QGraphicsItem):
    """A wire between two ports, labelled with its tensor shape."""

    def __init__(self, edge_id: str) -> None:
        super().__init__()
        self.edge_id = edge_id
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable)
        self.setZValue(-1)
        self.label = ""
        self.problem = ""
        self._path = QPainterPath()
        self._bounds = QRectF()
        self._shape: QPainterPath | None = None
        self._mid = QPointF()

    def set_ends(self, a: QPointF, b: QPointF) -> None:
        self.prepareGeometryChange()
        path = QPainterPath(a)
        if b.x() < a.x() - 40 and abs(b.y() - a.y()) > 40:
            # a wire back to the left (a wrapped model's next band): out, along the gap
            # between the bands, and in, like a line break, instead of a curve across blocks
            mid = (a.y() + b.y()) / 2
            r = min(30.0, abs(b.y() - a.y()) / 4)
            path.cubicTo(a + QPointF(2 * r, 0), QPointF(a.x() + 2 * r, mid), QPointF(a.x(), mid))
            path.lineTo(QPointF(b.x(), mid))
            path.cubicTo(QPointF(b.x() - 2 * r, mid), b - QPointF(2 * r, 0), b)
        else:
            dx = max(abs(b.x() - a.x()) * 0.5, 40.0)
            path.cubicTo(a + QPointF(dx, 0), b - QPointF(dx, 0), b)
        self._path = path
        self._mid = path.pointAtPercent(0.5)
        self._bounds = path.boundingRect().adjusted(-40, -14, 40, 14)
        self._shape = None

    def set_label(self, label: str, problem: str = "") -> None:
        if (label, problem) != (self.label, self.problem):
            self.label, self.problem = label, problem
            self.setToolTip(problem or (f"Tensor shape {label}" if label else ""))
            self.update()

    def boundingRect(self) -> QRectF:
        return self._bounds

    def shape(self) -> QPainterPath:
        if self._shape is None:
            stroker = QPainterPathStroker()
            stroker.setWidth(10)
            self._shape = stroker.createStroke(self._path)
        return self._shape

    def paint(self, p: QPainter, option: QStyleOptionGraphicsItem, widget=None) -> None:
        t = current_theme()
        lod = option.levelOfDetailFromTransform(p.worldTransform())
        if self.isSelected():
            pen = t.wire_selected_pen
        elif self.problem:
            pen = t.wire_error_pen
        else:
            pen = t.wire_pen
        if lod >= LOD_TEXT:
            p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        p.setPen(pen)
        p.setBrush(t.no_brush)
        p.drawPath(self._path)
        if lod < LOD_TEXT or not self.label:
            return
        p.setFont(t.small_font)
        fm = t.small_metrics
        w = fm.horizontalAdvance(self.label) + 10
        r = QRectF(self._mid.x() - w / 2, self._mid.y() - 9, w, 16)
        p.setPen(pen)
        p.setBrush(t.label_brush)
        p.drawRoundedRect(r, 7, 7)
        p.setPen(t.error_text_pen if self.problem else t.text_pen)
        p.drawText(r, Qt.AlignmentFlag.AlignCenter, self.label)
