"""Typed, bounded block parameters. Pure Python: the inspector builds its editors from these.

Each parameter checks and converts a value (``coerce``) and raises :class:`ParamError` with a
message a beginner understands when the value does not fit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

MAX_DIM = 1 << 20  # largest size of one tensor dimension we accept in a parameter


class ParamError(ValueError):
    """A parameter value that does not fit its declaration."""


@dataclass(frozen=True)
class Param:
    default: Any
    label: str = ""
    doc: str = ""
    #: shown on the canvas block under the title
    key: bool = False

    kind = "any"

    def coerce(self, value: Any, name: str = "value") -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def to_json(self, value: Any) -> Any:
        return value

    def describe(self, value: Any) -> str:
        return repr(value)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class Int(Param):
    min: int = 0
    max: int = MAX_DIM
    kind = "int"

    def coerce(self, value: Any, name: str = "value") -> int:
        if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
            value = int(value)
        if isinstance(value, str):
            try:
                value = int(value.strip())
            except ValueError:
                raise ParamError(f"{name} must be a whole number (got {value!r}).") from None
        if not _is_int(value):
            raise ParamError(f"{name} must be a whole number (got {value!r}).")
        if value < self.min:
            raise ParamError(f"{name} must be at least {self.min} (got {_short(value)}).")
        if value > self.max:
            raise ParamError(f"{name} must be at most {self.max} (got {_short(value)}).")
        return value


def _short(value: int) -> str:
    text = str(value)
    return text if len(text) <= 20 else f"{text[:8]}…({len(text)} digits)"


@dataclass(frozen=True)
class Float(Param):
    min: float = -math.inf
    max: float = math.inf
    #: when True the minimum itself is not allowed (e.g. "greater than 0")
    exclusive_min: bool = False
    kind = "float"

    def coerce(self, value: Any, name: str = "value") -> float:
        if isinstance(value, str):
            try:
                value = float(value.strip())
            except ValueError:
                raise ParamError(f"{name} must be a number (got {value!r}).") from None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ParamError(f"{name} must be a number (got {value!r}).")
        value = float(value)
        if not math.isfinite(value):
            raise ParamError(f"{name} must be a finite number (got {value}).")
        if self.exclusive_min and value <= self.min:
            raise ParamError(f"{name} must be greater than {self.min:g} (got {value:g}).")
        if value < self.min:
            raise ParamError(f"{name} must be at least {self.min:g} (got {value:g}).")
        if value > self.max:
            raise ParamError(f"{name} must be at most {self.max:g} (got {value:g}).")
        return value


@dataclass(frozen=True)
class Bool(Param):
    kind = "bool"

    def coerce(self, value: Any, name: str = "value") -> bool:
        if isinstance(value, bool):
            return value
        if value in (0, 1) and _is_int(value):
            return bool(value)
        raise ParamError(f"{name} must be true or false (got {value!r}).")


@dataclass(frozen=True)
class Choice(Param):
    options: tuple[str, ...] = ()
    kind = "choice"

    def coerce(self, value: Any, name: str = "value") -> str:
        if value not in self.options:
            choices = ", ".join(repr(o) for o in self.options)
            raise ParamError(f"{name} must be one of {choices} (got {value!r}).")
        return value


@dataclass(frozen=True)
class Ints(Param):
    """A tuple of whole numbers: a shape, a list of dims, a kernel size."""

    min_len: int = 1
    max_len: int = 8
    min: int = 1
    max: int = MAX_DIM
    #: allow one -1 entry (reshape's "infer this size")
    allow_infer: bool = False
    kind = "ints"

    def coerce(self, value: Any, name: str = "value") -> tuple[int, ...]:
        if isinstance(value, str):
            text = value.strip().strip("()[]").replace("×", ",").replace("x", ",")
            parts = [p for p in (s.strip() for s in text.split(",")) if p]
            try:
                value = tuple(int(p) for p in parts)
            except ValueError:
                raise ParamError(
                    f"{name} must be whole numbers separated by commas, like 3, 32, 32 "
                    f"(got {value!r})."
                ) from None
        if _is_int(value):
            value = (value,)
        if not isinstance(value, (list, tuple)) or not all(_is_int(v) for v in value):
            raise ParamError(f"{name} must be a list of whole numbers (got {value!r}).")
        value = tuple(value)
        if not self.min_len <= len(value) <= self.max_len:
            if self.min_len == self.max_len:
                raise ParamError(f"{name} needs exactly {self.min_len} numbers (got {len(value)}).")
            raise ParamError(
                f"{name} needs {self.min_len} to {self.max_len} numbers (got {len(value)})."
            )
        infer = 0
        for v in value:
            if self.allow_infer and v == -1:
                infer += 1
                continue
            if v < self.min or v > self.max:
                raise ParamError(
                    f"every number in {name} must be between {self.min} and {self.max} "
                    f"(got {_short(v)})."
                )
        if infer > 1:
            raise ParamError(f"{name} can have at most one -1 (the size to infer).")
        return value

    def to_json(self, value: Any) -> Any:
        return list(value)

    def describe(self, value: Any) -> str:
        return "×".join(str(v) for v in value)


@dataclass(frozen=True)
class Text(Param):
    """Free text (a repository, a file path, keyword arguments). Reaches code only via repr()."""

    max_len: int = 500
    kind = "text"

    def coerce(self, value: Any, name: str = "value") -> str:
        if not isinstance(value, str):
            raise ParamError(f"{name} must be text (got {value!r}).")
        if len(value) > self.max_len:
            raise ParamError(f"{name} can have at most {self.max_len} characters.")
        return value
