"""Shape helpers shared by block declarations, validation and views (pure Python)."""

from __future__ import annotations

from collections.abc import Sequence

from studio.blocks.registry import BATCH


def fmt_shape(shape: Sequence[int] | None) -> str:
    """``(BATCH, 64)`` -> ``N×64``; unknown -> ``?``."""
    if shape is None:
        return "?"
    if len(shape) == 0:
        return "scalar"
    return "×".join("N" if d == BATCH else str(d) for d in shape)


def fmt_count(n: int | None) -> str:
    """``56_500_000`` -> ``56.5 M``: a count of MACs or parameters short enough for a status bar."""
    if n is None:
        return "?"
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return str(n)


def numel(shape: Sequence[int], skip_batch: bool = True) -> int:
    n = 1
    for d in shape:
        if skip_batch and d == BATCH:
            continue
        n *= d
    return n
