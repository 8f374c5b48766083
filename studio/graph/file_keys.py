"""The keys a project file may hold, declared once per object, and the refusal of any other.

A misspelt key would otherwise be ignored and its default used without a word ("dataset" for
"data" trained spirals). Every object in the file is checked against its declaration here; the
training settings declare theirs in `studio.training.settings` (its dataclass fields and the
kinds' options) and refuse unknown keys in their `validate()`. A key added to the file format is
added to its tuple below.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any

from studio.blocks.text import short_repr

# "search" (optional, its own version inside: studio.graph.search) holds a sweep's ranges
PROJECT = ("format_version", "app", "saved_by", "name", "graph", "training", "metadata", "search")
GRAPH = ("modules", "blocks", "edges")
BLOCK = ("id", "type", "version", "name", "params", "position", "frozen")
EDGE = ("id", "from", "to")
MODULE = ("name", "sequential", "params", "graph")
MODULE_PARAM = ("name", "targets", "doc")


def nearest(key: Any, valid: Iterable[str]) -> str:
    """The end of the sentence: "did you mean" the valid key nearest to `key`, or the valid keys
    when none is near (a short list), or a pointer to the docs (a long one)."""
    valid = list(valid)
    close = difflib.get_close_matches(str(key), valid, n=1, cutoff=0.5)
    if close:
        return f"; did you mean '{close[0]}'?"
    if len(valid) <= 8:
        return f"; the valid keys are {', '.join(valid)}."
    return "; docs/training.md lists the settings."


def unknown_key(where: str, key: Any, valid: Iterable[str]) -> str:
    """One line naming an unknown key and the nearest valid one."""
    return f"Unknown {where} {short_repr(key)}{nearest(key, valid)}"


def first_unknown(d: dict, declared: Iterable[str], where: str) -> str | None:
    """The sentence for the first key of `d` not in `declared`, or None."""
    declared = tuple(declared)
    for key in d:
        if key not in declared:
            return unknown_key(where, key, declared)
    return None
