"""Search ranges: the settings a sweep may vary, kept in the project file. Pure Python.

A range names its target in one of two ways: a block parameter (``{"block": "b2", "param":
"out_features"}``, by id so renaming the block keeps it) or a training setting by name
(``{"setting": "lr"}``; which names exist and where they live in the settings is declared in
``studio.training.search_targets``, the training layer). Its values are either numbers from
``low`` to ``high`` (``log`` for a logarithmic scale, ``step`` for a grid) or a list of
``choices``. The project stores them under ``"search"``::

    "search": {"version": 1, "ranges": [
        {"setting": "lr", "low": 0.0001, "high": 0.1, "log": true},
        {"block": "b2", "param": "out_features", "low": 8, "high": 128},
        {"setting": "optimizer", "choices": ["adam", "sgd"]}]}

On the command line a range is ``TARGET=LOW..HIGH[:log][:step=S]`` or ``TARGET=A,B,C`` where
TARGET is a setting name or ``BLOCK.PARAM`` with the block's name (`parse`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from studio.blocks.text import short_repr
from studio.graph.serialize import FormatError

SEARCH_VERSION = 1
#: the keys a range may hold in the file (the project's unknown-key check reads these)
RANGE_KEYS = ("block", "param", "setting", "low", "high", "log", "step", "choices")
SECTION_KEYS = ("version", "ranges")
MAX_CHOICES = 100


class SearchError(ValueError):
    """A range that cannot be read or does not fit its target; the message is for the user."""


@dataclass(frozen=True)
class SearchRange:
    """One searched value. Exactly one of (``block``, ``param``) and ``setting`` is set."""

    block: str = ""  # block id (block parameters)
    param: str = ""
    setting: str = ""  # training setting name (``lr``, ``batch_size``...)
    low: float | int | None = None
    high: float | int | None = None
    log: bool = False
    step: float | int | None = None
    choices: tuple = ()

    @property
    def key(self) -> str:
        """The stable key of the target: ``b2.out_features`` or ``lr``."""
        return f"{self.block}.{self.param}" if self.block else self.setting

    @property
    def is_choice(self) -> bool:
        return bool(self.choices)

    @property
    def is_int(self) -> bool:
        return not self.choices and all(
            isinstance(v, int) and not isinstance(v, bool)
            for v in (self.low, self.high, self.step)
            if v is not None
        )

    def label(self, graph=None) -> str:
        """The target as the user names it: ``fc1.out_features`` or ``lr``."""
        if not self.block:
            return self.setting
        block = graph.blocks.get(self.block) if graph is not None else None
        return f"{block.name if block is not None else self.block}.{self.param}"

    def describe(self) -> str:
        """The values, as on the command line: ``8..128``, ``0.0001..0.1 log``, ``adam, sgd``."""
        if self.choices:
            return ", ".join(str(c) for c in self.choices)
        text = f"{_num(self.low)}..{_num(self.high)}"
        if self.log:
            text += " log"
        if self.step is not None:
            text += f" step {_num(self.step)}"
        return text

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = (
            {"block": self.block, "param": self.param} if self.block else {"setting": self.setting}
        )
        if self.choices:
            d["choices"] = list(self.choices)
        else:
            d["low"], d["high"] = self.low, self.high
            if self.log:
                d["log"] = True
            if self.step is not None:
                d["step"] = self.step
        return d

    @classmethod
    def from_dict(cls, d: Any, where: str = "a search range") -> SearchRange:
        if not isinstance(d, dict):
            raise FormatError(f"{where} must be an object")
        unknown = sorted(set(d) - set(RANGE_KEYS))
        if unknown:
            raise FormatError(f"{where} has an unknown key {short_repr(unknown[0])}")
        block, param, setting = d.get("block", ""), d.get("param", ""), d.get("setting", "")
        if not all(isinstance(v, str) for v in (block, param, setting)):
            raise FormatError(f"{where}: 'block', 'param' and 'setting' must be text")
        if bool(block) == bool(setting) or bool(block) != bool(param):
            raise FormatError(f"{where} needs either 'block' and 'param', or 'setting'")
        choices = d.get("choices", [])
        if not isinstance(choices, list) or len(choices) > MAX_CHOICES:
            raise FormatError(f"{where}: 'choices' must be a list of at most {MAX_CHOICES} values")
        if not all(isinstance(c, (str, int, float, bool)) for c in choices):
            raise FormatError(f"{where}: each choice must be text, a number, or true/false")
        log = d.get("log", False)
        if not isinstance(log, bool):
            raise FormatError(f"{where}: 'log' must be true or false")
        rng = cls(
            block, param, setting, d.get("low"), d.get("high"), log, d.get("step"), tuple(choices)
        )
        try:
            rng.check()
        except SearchError as e:
            raise FormatError(f"{where} ({rng.key}): {e}") from None
        return rng

    def check(self) -> None:
        """The range's own consistency (not its target's): raises SearchError."""
        if self.choices:
            if len(self.choices) < 2:
                raise SearchError("a choice needs at least two values")
            if any(v is not None for v in (self.low, self.high, self.step)) or self.log:
                raise SearchError("a range has either choices or low..high, not both")
            if len(set(map(repr, self.choices))) != len(self.choices):
                raise SearchError("the choices repeat a value")
            return
        for name, v in (("low", self.low), ("high", self.high)):
            if not _is_num(v):
                raise SearchError(f"'{name}' must be a number")
        if self.step is not None and not (_is_num(self.step) and self.step > 0):
            raise SearchError("'step' must be a number greater than 0")
        if not self.low < self.high:
            raise SearchError(f"low ({_num(self.low)}) must be less than high ({_num(self.high)})")
        if self.log and self.low <= 0:
            raise SearchError("a log scale needs low greater than 0")
        if self.log and self.step is not None:
            raise SearchError("a log scale cannot have a step")

    def contains(self, value: Any) -> bool:
        if self.choices:
            return value in self.choices
        return _is_num(value) and self.low <= value <= self.high


@dataclass
class Search:
    """The project's search ranges, in the order the user added them (one per target)."""

    ranges: list[SearchRange] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.ranges)

    def get(self, key: str) -> SearchRange | None:
        return next((r for r in self.ranges if r.key == key), None)

    def for_block(self, block_id: str) -> list[SearchRange]:
        return [r for r in self.ranges if r.block == block_id]

    def with_range(self, rng: SearchRange) -> Search:
        """A copy with ``rng`` set (replacing the range of the same target)."""
        out = [r for r in self.ranges if r.key != rng.key]
        index = next((i for i, r in enumerate(self.ranges) if r.key == rng.key), len(out))
        out.insert(index, rng)
        return Search(out)

    def without(self, key: str) -> Search:
        return Search([r for r in self.ranges if r.key != key])

    def merged(self, other: Search) -> Search:
        """These ranges, overridden and extended by ``other``'s (command-line ranges)."""
        out = self
        for r in other.ranges:
            out = out.with_range(r)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"version": SEARCH_VERSION, "ranges": [r.to_dict() for r in self.ranges]}

    @classmethod
    def from_dict(cls, data: Any) -> Search:
        if data is None:
            return cls()
        if not isinstance(data, dict):
            raise FormatError("'search' must be an object with 'version' and 'ranges'")
        unknown = sorted(set(data) - set(SECTION_KEYS))
        if unknown:
            raise FormatError(f"'search' has an unknown key {short_repr(unknown[0])}")
        version = data.get("version", SEARCH_VERSION)
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise FormatError("'search': 'version' must be a whole number")
        if version > SEARCH_VERSION:
            raise FormatError(f"the search ranges were saved by a newer Studio (version {version})")
        ranges = data.get("ranges", [])
        if not isinstance(ranges, list):
            raise FormatError("'search': 'ranges' must be a list")
        out: list[SearchRange] = []
        for i, d in enumerate(ranges):
            rng = SearchRange.from_dict(d, f"search range {i + 1}")
            if any(r.key == rng.key for r in out):
                raise FormatError(f"search range {i + 1}: {rng.key} has two ranges")
            out.append(rng)
        return cls(out)

    def block_problems(self, graph) -> list[tuple[str, str]]:
        """(block id or '', message) for every block range whose block or parameter is gone, or
        whose values the parameter does not accept."""
        out = []
        for r in self.ranges:
            if not r.block:
                continue
            block = graph.blocks.get(r.block)
            if block is None:
                out.append(
                    (
                        "",
                        f"The search range {r.key} names a block that no longer exists; remove it.",
                    )
                )
                continue
            message = param_problem(r, block)
            if message:
                out.append((r.block, f"{block.name}: {message}"))
        return out


def param_problem(rng: SearchRange, block) -> str:
    """Why ``rng`` does not fit ``block``'s parameter, or ''."""
    param = block.spec.params.get(rng.param)
    if param is None:
        return f"{block.name} has no parameter {short_repr(rng.param)} to search."
    if param.kind not in ("int", "float", "choice", "bool"):
        return f"{rng.param} cannot be searched (only numbers and choices can)."
    if param.kind in ("choice", "bool") and not rng.choices:
        return f"{rng.param} is a choice: give its values as a list (a,b,c)."
    if param.kind == "int" and not rng.choices and not rng.is_int:
        return f"{rng.param} is a whole number: give whole numbers for its range."
    values = list(rng.choices) if rng.choices else [rng.low, rng.high]
    for v in values:
        try:
            param.coerce_in(v, rng.param, block.params)
        except (ValueError, TypeError) as e:
            return f"search range: {e}"
    return ""


def parse(text: str, graph=None) -> SearchRange:
    """A range from the command line: ``lr=1e-4..1e-1:log``, ``fc1.out_features=8..128``,
    ``optimizer=adam,sgd``. ``BLOCK.PARAM`` names the block by its name (or id) in ``graph``."""
    target, sep, values = text.partition("=")
    target, values = target.strip(), values.strip()
    if not sep or not target or not values:
        raise SearchError(
            f"{short_repr(text)}: write TARGET=LOW..HIGH[:log][:step=S] or TARGET=A,B,C"
        )
    block_id = param = setting = ""
    if "." in target:
        name, _, param = target.rpartition(".")
        block = graph.block_by_name(name) if graph is not None else None
        if block is None and graph is not None:
            block = graph.blocks.get(name)
        if block is None:
            raise SearchError(f"{short_repr(text)}: there is no block called {short_repr(name)}")
        block_id = block.id
    else:
        setting = target
    fields_: dict[str, Any] = {"block": block_id, "param": param, "setting": setting}
    head, *options = values.split(":")
    if ".." in head:
        low, _, high = head.partition("..")
        fields_["low"], fields_["high"] = _number(low, text), _number(high, text)
        for opt in options:
            opt = opt.strip()
            if opt == "log":
                fields_["log"] = True
            elif opt.startswith("step="):
                fields_["step"] = _number(opt[5:], text)
            else:
                raise SearchError(
                    f"{short_repr(text)}: unknown option {short_repr(opt)} (log or step=S)"
                )
    else:
        if options:
            raise SearchError(f"{short_repr(text)}: a list of choices takes no options")
        fields_["choices"] = tuple(_choice(c) for c in head.split(","))
    rng = SearchRange(**fields_)
    try:
        rng.check()
    except SearchError as e:
        raise SearchError(f"{short_repr(text)}: {e}") from None
    if block_id and graph is not None:
        problem = param_problem(rng, graph.blocks[block_id])
        if problem:
            raise SearchError(f"{short_repr(text)}: {problem}")
    return rng


def _number(text: str, whole: str) -> int | float:
    text = text.strip()
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        raise SearchError(f"{short_repr(whole)}: {short_repr(text)} is not a number") from None
    if not math.isfinite(value):
        raise SearchError(f"{short_repr(whole)}: {short_repr(text)} is not a finite number")
    return value


def _choice(text: str) -> Any:
    text = text.strip()
    if text in ("true", "false"):
        return text == "true"
    try:
        return _number(text, text)
    except SearchError:
        return text


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _num(v: Any) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def apply_to_graph(graph, values: dict[str, Any]) -> None:
    """Set the block parameters among ``values`` (keys ``blockid.param``) on ``graph``."""
    by_block: dict[str, dict[str, Any]] = {}
    for key, value in values.items():
        block_id, dot, param = key.partition(".")
        if dot and block_id in graph.blocks:
            by_block.setdefault(block_id, {})[param] = value
    for block_id, params in by_block.items():
        graph.set_params(block_id, {**graph.blocks[block_id].params, **params})


__all__ = ["Search", "SearchRange", "SearchError", "parse", "apply_to_graph", "param_problem"]
