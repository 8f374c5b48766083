"""Shape helpers shared by block declarations, validation and views (pure Python)."""

from __future__ import annotations

from collections.abc import Sequence

from studio.blocks.registry import BATCH

_POWERS = {1: "", 2: "²", 3: "³"}


def fmt_size(d: int) -> str:
    """One size in terms of the batch size N: ``BATCH`` -> ``N``, ``BATCH**2`` -> ``N²``,
    ``2 * BATCH`` -> ``2N`` (a call that mixed the samples of a batch), others as they are."""
    if d <= 0 or d % BATCH:
        return str(d)
    power = 0
    while d % BATCH == 0:
        d //= BATCH
        power += 1
    return f"{d if d != 1 else ''}N{_POWERS.get(power, f'^{power}')}"


def fmt_shape(shape: Sequence[int] | None) -> str:
    """``(BATCH, 64)`` -> ``N×64``; unknown -> ``?``."""
    if shape is None:
        return "?"
    if len(shape) == 0:
        return "scalar"
    # only the first size is read as a multiple of N: a later one of 15838 is likelier a real size
    return "×".join(
        fmt_size(d) if i == 0 else "N" if d == BATCH else str(d) for i, d in enumerate(shape)
    )


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
