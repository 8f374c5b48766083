"""Memory sizes as people write and read them (``24GB``, ``45.6 MB``).

Standard library only, so the window can show and read sizes before torch has loaded (the
ground floor of tests/test_layers.py).
"""

from __future__ import annotations

import re

_UNITS = {
    "": 1,
    "B": 1,
    "KB": 1e3,
    "MB": 1e6,
    "GB": 1e9,
    "TB": 1e12,
    "KIB": 2**10,
    "MIB": 2**20,
    "GIB": 2**30,
    "TIB": 2**40,
    "K": 1e3,
    "M": 1e6,
    "G": 1e9,
    "T": 1e12,
}


def parse_size(text: str) -> int:
    """``"24GB"`` -> 24e9 bytes; ``"16GiB"``, ``"512 MB"``, ``"8G"`` and plain bytes too."""
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([A-Za-z]*)\s*", str(text))
    unit = m.group(2).upper() if m else None
    if m is None or unit not in _UNITS:
        raise ValueError(f"{text!r} is not a memory size; write it like 24GB, 16GiB or 512MB")
    return int(float(m.group(1)) * _UNITS[unit])


def fmt_bytes(n: float) -> str:
    """``1.23 GB``, ``45.6 MB``, ``812 KB``, ``0 B`` (decimal units, as GPU makers state them)."""
    n = float(n)
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if abs(n) >= size:
            v = n / size
            return f"{v:.3g} {unit}" if v < 100 else f"{v:.0f} {unit}"
    return f"{n:.0f} B"


def counted(n: int, noun: str) -> str:
    """'1 epoch', '8 epochs', '2 runs': a count and its noun, plural where it is not one."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"
