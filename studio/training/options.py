"""Option types the training kinds need beyond the block parameters, and the strict check of
stored values (pure Python)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from studio.blocks.params import Float, Param, ParamError, Text


@dataclass(frozen=True)
class Number(Float):
    """A Float whose maximum may itself be excluded ("less than 1")."""

    exclusive_max: bool = False

    def coerce(self, value: Any, name: str = "value") -> float:
        real = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        if self.exclusive_max and real and value >= self.max:
            raise ParamError(f"{name} must be less than {self.max:g} (got {value:g}).")
        return super().coerce(value, name)


@dataclass(frozen=True)
class Char(Text):
    """One character (a CSV delimiter): csv.reader takes nothing longer."""

    def coerce(self, value: Any, name: str = "value") -> str:
        if not isinstance(value, str) or len(value) != 1 or value in "\r\n\"":
            shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
            raise ParamError(f"{name} must be exactly one character, like , or ; (got {shown}).")
        return value


@dataclass(frozen=True)
class DataPath(Text):
    """The file or folder a dataset kind reads: the settings form offers Browse… beside it, for a
    file (`pick` "file", with the dialog's `filters`) or a folder (`pick` "folder")."""

    pick: str = "file"
    filters: str = ""
    max_len: int = 4096
    kind = "path"


@dataclass(frozen=True)
class Column(Param):
    """A CSV column: its header name, or its number from 0 (negative counts from the end)."""

    kind = "text"

    @staticmethod
    def column_words(value: Any) -> str:
        """The column `value` names, in words: "the last column", "column 2", "'label'"."""
        if isinstance(value, bool) or not isinstance(value, int):
            return repr(value)
        return {0: "the first column", -1: "the last column"}.get(value, f"column {value}")

    def coerce(self, value: Any, name: str = "value") -> int | str:
        if isinstance(value, bool) or not isinstance(value, (int, str)) or value == "":
            raise ParamError(f"{name} must be a column name or number (got {value!r}).")
        return value


def check_option(param: Param, value: Any, label: str) -> str | None:
    """The problem with a stored option value, or None. Stricter than the editors' `coerce`:
    a file holds numbers as numbers, so the text "3" is not a whole number here."""
    if isinstance(value, str) and param.kind in ("int", "float", "ints"):
        what = "whole number" if param.kind == "int" else "number"
        return f"{label} must be a {what} (got {value!r})."
    if param.kind == "int" and isinstance(value, float):
        return f"{label} must be a whole number (got {value!r})."
    try:
        param.coerce(value, label)
    except ParamError as e:
        return str(e)
    return None


def option_problems(options: Mapping[str, Param], values: Mapping[str, Any]) -> list[str]:
    """One sentence per declared option whose value in `values` does not fit (missing: default)."""
    out = []
    for key, param in options.items():
        if key in values:
            problem = check_option(param, values[key], param.label or key)
            if problem:
                out.append(problem)
    return out
