"""The learning indicator's text on a block (gradient norm and update ratio), kept short: the
canvas pill is small. No Qt."""

from __future__ import annotations

import math


def describe_learning(v) -> tuple[str, str]:
    """(text, state) for a block's indicator on the canvas."""
    state = v.state
    if state == "frozen":
        return "frozen", state
    g = v.grad_norm
    if math.isnan(g):
        return "", ""
    text = f"∇{_short(g)}"
    if math.isfinite(v.update_ratio):
        text += f" Δ{_short(v.update_ratio)}"
    return text, state


def _short(x: float) -> str:
    """1.4e-4 rather than 1.4e-04: the canvas pill is small."""
    if not math.isfinite(x):
        return str(x)
    m, _, e = f"{x:.1e}".partition("e")
    return f"{m.removesuffix('.0')}e{int(e)}"
