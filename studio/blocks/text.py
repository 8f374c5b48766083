"""User text as messages may echo it: at most about 80 characters, then an ellipsis.

A project file can hold a 50 MB block type or name; a message that quotes it whole is not a
message. Every place that puts a value from a file or a field into an error uses these.
"""

from __future__ import annotations

from typing import Any

LIMIT = 80


def shorten(text: Any, limit: int = LIMIT) -> str:
    text = str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def short_repr(value: Any, limit: int = LIMIT) -> str:
    """``repr(value)``, shortened; never builds the whole repr of a huge string or list."""
    if isinstance(value, str) and len(value) > limit:
        value = value[:limit]  # repr may still grow it (escapes): cut below
    if isinstance(value, (list, tuple, dict)) and len(value) > limit:
        return f"a {type(value).__name__} of {len(value):,} items"
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 256:
        return f"a number of about {int(value.bit_length() * 0.30103):,} digits"
    try:
        text = repr(value)
    except (ValueError, RecursionError):
        return f"a {type(value).__name__}"
    return text if len(text) <= limit else text[: limit - 1] + "…"
