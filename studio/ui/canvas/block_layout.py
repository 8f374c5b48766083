"""Where everything on a block goes: the title, the text lines, each port and its label.

A block with at most one port a side keeps its ports on the middle of its edges. A block with
several ports on a side (an LSTM's output, h_n, c_n; attention's query, key, value; a merge's
in1...in64) gets a band of port rows below its text, one row per port, so no label is drawn
over the title or the parameter line; a label too long for its half of the row is elided.
`BlockItem` paints exactly these rectangles, and hit-tests ports with the same points."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QFontMetricsF

from studio.ui.canvas.geometry import (
    BLOCK_WIDTH,
    BODY_LINES,
    HEADER,
    LINE,
    PORT_GAP,
    block_height,
    port_y,
)

TEXT_TOP = HEADER + 4  # the first text line's top
BAND_GAP = 4.0  # between the last text line and the first port row
LABEL_INSET = 10.0  # from the block's edge (the port's circle) to its label
LABEL_GAP = 8.0  # between an input's label and an output's label on one row
LABEL_HEIGHT = PORT_GAP - 2  # rows never touch


def has_port_rows(n_in: int, n_out: int) -> bool:
    return max(n_in, n_out) > 1


def text_lines(extra_lines: int) -> int:
    return BODY_LINES + extra_lines


def band_top(extra_lines: int) -> float:
    return TEXT_TOP + text_lines(extra_lines) * LINE + BAND_GAP


def height_of(n_in: int, n_out: int, extra_lines: int) -> float:
    if not has_port_rows(n_in, n_out):
        return block_height(n_in, n_out, extra_lines)
    return band_top(extra_lines) + max(n_in, n_out) * PORT_GAP + 6


@dataclass(frozen=True)
class PortLabel:
    rect: QRectF
    text: str  # elided to fit `rect`
    full: str
    output: bool


class BlockLayout:
    """Computed once per look (the scene sets a new look when anything on the block changes)."""

    def __init__(self, n_in: int, n_out: int, extra_lines: int, has_inputs: bool) -> None:
        self.n_in, self.n_out = n_in, n_out
        self.rows = has_port_rows(n_in, n_out)
        self.height = height_of(n_in, n_out, extra_lines)
        self.lines = text_lines(extra_lines)
        self.band = band_top(extra_lines)
        self.text_left = 12 + (6 if has_inputs else 0)
        self.text_width = BLOCK_WIDTH - self.text_left - 16

    # --------------------------------------------------------------- text
    def title_rect(self) -> QRectF:
        return QRectF(0, 0, BLOCK_WIDTH, HEADER)

    def line_rect(self, i: int) -> QRectF:
        return QRectF(self.text_left, TEXT_TOP + i * LINE, self.text_width, LINE)

    def text_rects(self) -> list[QRectF]:
        """The title and every text line, whole width (what no port label may cross)."""
        return [self.title_rect(), *(self.line_rect(i) for i in range(self.lines))]

    # -------------------------------------------------------------- ports
    def port_y(self, output: bool, index: int) -> float:
        count = self.n_out if output else self.n_in
        if not self.rows:
            return port_y(index, count, self.height)
        rows = max(self.n_in, self.n_out)
        top = self.band + (rows - count) * PORT_GAP / 2
        return top + (index + 0.5) * PORT_GAP

    def port_point(self, output: bool, index: int) -> QPointF:
        return QPointF(BLOCK_WIDTH if output else 0.0, self.port_y(output, index))

    def labels(self, inputs: list[str], outputs: list[str], fm: QFontMetricsF) -> list[PortLabel]:
        """A label per port on each side with several ports, elided to its room on the row."""
        if not self.rows:
            return []
        both = len(inputs) > 1 and len(outputs) > 1
        room = (BLOCK_WIDTH - 2 * LABEL_INSET - LABEL_GAP) / 2 if both else BLOCK_WIDTH - 2 * LABEL_INSET - 14
        out: list[PortLabel] = []
        for output, titles in ((False, inputs), (True, outputs)):
            if len(titles) < 2:
                continue
            x = BLOCK_WIDTH - LABEL_INSET - room if output else LABEL_INSET
            for i, title in enumerate(titles):
                y = self.port_y(output, i)
                text = fm.elidedText(title, Qt.TextElideMode.ElideRight, room)
                out.append(PortLabel(QRectF(x, y - LABEL_HEIGHT / 2, room, LABEL_HEIGHT), text, title, output))
        return out
