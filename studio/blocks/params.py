"""Typed, bounded block parameters. Pure Python: the inspector builds its editors from these.

Each parameter checks and converts a value (``coerce``) and raises :class:`ParamError` with a
message a beginner understands when the value does not fit.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from studio.blocks.text import short_repr

MAX_DIM = 1 << 20  # largest size of one tensor dimension we accept in a parameter


class ParamError(ValueError):
    """A parameter value that does not fit its declaration."""


class OptionsUnknown(Exception):
    """Raised by a :class:`Choice`'s options function that cannot list them here (the library
    that knows them is not importable, as when the pure layers open a project): the value is
    kept as saved, and checked where the options can be read (compiling, the inspector)."""


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

    def coerce_in(self, value: Any, name: str, values: Mapping[str, Any]) -> Any:
        """``coerce`` given the block's other values (checked so far, in declaration order)."""
        return self.coerce(value, name)

    @property
    def lazy(self) -> bool:
        """True when checking a value needs work the registry must not do at import."""
        return False

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
    #: what the minimum means where it stands for "work it out" (0: the input's length), shown
    #: in its place on the block and in the inspector, so nobody reads "max length=0" as a length
    special: str = ""
    kind = "int"

    def describe(self, value: Any) -> str:
        return self.special if self.special and value == self.min else repr(value)

    def coerce(self, value: Any, name: str = "value") -> int:
        if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
            value = int(value)
        if isinstance(value, str):
            try:
                value = int(value.strip())
            except ValueError:
                raise ParamError(
                    f"{name} must be a whole number (got {short_repr(value)})."
                ) from None
        if not _is_int(value):
            raise ParamError(f"{name} must be a whole number (got {short_repr(value)}).")
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
                raise ParamError(f"{name} must be a number (got {short_repr(value)}).") from None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ParamError(f"{name} must be a number (got {short_repr(value)}).")
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
        raise ParamError(f"{name} must be true or false (got {short_repr(value)}).")


OptionsSpec = tuple[str, ...] | Callable[..., Sequence[str]]


@dataclass(frozen=True)
class Choice(Param):
    """One of several texts.

    ``options`` is a tuple, or a function evaluated only when the options are needed (so the
    registry stays importable without, say, torchvision). The function takes no argument, or
    the block's other values when the options depend on them (``depends_on`` names those, so an
    editor knows when to refresh its list). ``option_text(option, values)`` gives a longer
    label for an option (accuracy, size...); an editor shows it, files store the option. A
    function may raise :class:`OptionsUnknown`; then any text is kept as it is.
    """

    options: OptionsSpec = ()
    depends_on: tuple[str, ...] = ()
    option_text: Callable[[str, Mapping[str, Any]], str] | None = None
    kind = "choice"

    @property
    def lazy(self) -> bool:
        return callable(self.options)

    def options_for(self, values: Mapping[str, Any] | None = None) -> tuple[str, ...]:
        """The allowed values (for dependent options, given the block's other values)."""
        if not callable(self.options):
            return self.options
        if _takes_argument(self.options):
            return tuple(self.options(values or {}))
        return tuple(self.options())

    def text_for(self, option: str, values: Mapping[str, Any] | None = None) -> str:
        """What an editor shows for ``option``."""
        if self.option_text is None:
            return option
        return self.option_text(option, values or {})

    def fit(self, value: Any, values: Mapping[str, Any] | None = None) -> str:
        """``value`` when still allowed, else the default, else the first option: for editors
        that change a value this choice depends on (a different model has other weights)."""
        try:
            options = self.options_for(values)
        except OptionsUnknown:
            return value
        if value in options:
            return value
        return self.default if self.default in options or not options else options[0]

    def coerce(self, value: Any, name: str = "value") -> str:
        return self.coerce_in(value, name, {})

    def coerce_in(self, value: Any, name: str, values: Mapping[str, Any]) -> str:
        try:
            options = self.options_for(values)
        except OptionsUnknown:
            if not isinstance(value, str):
                raise ParamError(f"{name} must be text (got {short_repr(value)}).") from None
            return value
        return self._check(value, name, options)

    def _check(self, value: Any, name: str, options: tuple[str, ...]) -> str:
        if value not in options:
            shown = options if len(options) <= 8 else (*options[:6], "…")
            choices = ", ".join(repr(o) if o != "…" else o for o in shown)
            raise ParamError(f"{name} must be one of {choices} (got {short_repr(value)}).")
        return value


def _takes_argument(fn: Callable[..., Any]) -> bool:
    try:
        return bool(inspect.signature(fn).parameters)
    except (TypeError, ValueError):  # pragma: no cover - builtins without a signature
        return False


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
                    f"(got {short_repr(value)})."
                ) from None
        if _is_int(value):
            value = (value,)
        if not isinstance(value, (list, tuple)) or not all(_is_int(v) for v in value):
            raise ParamError(f"{name} must be a list of whole numbers (got {short_repr(value)}).")
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
class Numbers(Param):
    """A list of numbers, given as a list or as text ("0.5, 0.5, 0.5" or "(1, 2)"). The text is
    read here; a subclass says which lists fit (``numbers``) and what text that is not numbers
    is told (``text_error``)."""

    kind = "floats"

    def text_error(self, name: str, text: str) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def numbers(self, value: Any, name: str) -> tuple[float, ...]:  # pragma: no cover - abstract
        raise NotImplementedError

    def coerce(self, value: Any, name: str = "value") -> tuple[float, ...]:
        if isinstance(value, str):
            try:
                value = [float(p) for p in value.strip().strip("()[]").split(",") if p.strip()]
            except ValueError:
                raise ParamError(self.text_error(name, value)) from None
        return self.numbers(value, name)

    def to_json(self, value: Any) -> Any:
        return list(value)


@dataclass(frozen=True)
class Text(Param):
    """Free text (a repository, a file path, keyword arguments). Reaches code only via repr()."""

    max_len: int = 500
    #: what an empty text means ("none: a random split"), shown where it is left empty
    special: str = ""
    kind = "text"

    def describe(self, value: Any) -> str:
        return self.special if self.special and value == "" else repr(value)

    def coerce(self, value: Any, name: str = "value") -> str:
        if not isinstance(value, str):
            raise ParamError(f"{name} must be text (got {short_repr(value)}).")
        if len(value) > self.max_len:
            raise ParamError(f"{name} can have at most {self.max_len} characters.")
        return value
