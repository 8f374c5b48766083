"""Sizes of blocks and ports on the canvas (pure numbers, shared by items and the scene)."""

from __future__ import annotations

BLOCK_WIDTH = 184.0
HEADER = 24.0
LINE = 15.0
BODY_LINES = 3  # type, key parameters, parameter count
PORT_GAP = 18.0
PORT_RADIUS = 5.0
PORT_HIT = 9.0
GRID = 20.0


def block_height(n_in: int, n_out: int, extra_lines: int = 0) -> float:
    body = HEADER + (BODY_LINES + extra_lines) * LINE + 10
    ports = HEADER + 8 + max(n_in, n_out, 1) * PORT_GAP
    return max(body, ports)


def port_y(index: int, count: int, height: float) -> float:
    """Vertical centre of port ``index`` of ``count`` on a block of ``height``."""
    top = HEADER + (height - HEADER - count * PORT_GAP) / 2
    return top + (index + 0.5) * PORT_GAP


def snap(value: float, grid: float = GRID) -> float:
    return round(value / grid) * grid
