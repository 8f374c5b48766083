"""What every torch.fx rule shares: the results a rule returns (:class:`Mapped`,
:class:`Alias`, :data:`ABSORBED`), :class:`Unsupported`, and helpers that read a node's
arguments. The rules themselves are in :mod:`studio.interop.fx_rules` and
:mod:`studio.interop.fx_module_rules`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from torch import fx


class Unsupported(Exception):
    """This node or module has no block; the message says why."""


@dataclass
class Mapped:
    type: str
    params: dict[str, Any] = field(default_factory=dict)
    #: the tensor nodes feeding the block's input ports, in port order
    inputs: list[fx.Node] = field(default_factory=list)


@dataclass
class Alias:
    """The node's value is its input's (``x.contiguous()``): no block."""

    node: fx.Node


class _Absorbed:
    def __repr__(self) -> str:
        return "ABSORBED"


#: the node is merged into its user (``a + b + c`` becomes one Add block with 3 inputs)
ABSORBED = _Absorbed()
#: a size equal to the batch (``x.size(0)``), found by running the model at two batch sizes
BATCH_DIM = "N"
MISSING = object()
#: the most inputs a merge block takes (Add, Multiply, Concatenate)
MAX_MERGE = 64

Rule = Callable[[fx.Node, Any], "Mapped | Alias | _Absorbed"]


# --------------------------------------------------------------------------- helpers
def square(value: Any, what: str) -> int:
    """``3`` or ``(3, 3)`` -> 3; anything else cannot be a single-number block parameter."""
    if isinstance(value, int):
        return value
    if isinstance(value, (tuple, list)) and value and all(v == value[0] for v in value):
        return int(value[0])
    raise Unsupported(f"{what} {tuple(value)} differs between dimensions")


def _require(cond: bool, why: str) -> None:
    if not cond:
        raise Unsupported(why)


def arg(node: fx.Node, i: int, name: str, default: Any = MISSING) -> Any:
    """Argument ``i`` (or keyword ``name``) of a call node, as written in the traced code."""
    if len(node.args) > i:
        return node.args[i]
    if name in node.kwargs:
        return node.kwargs[name]
    if default is MISSING:
        raise Unsupported(f"{_what(node)} is missing its {name!r} argument")
    return default


def varargs(node: fx.Node, start: int, name: str) -> Any:
    """``x.view(2, 3)``, ``x.view((2, 3))`` and ``x.view(size=(2, 3))`` alike -> ``(2, 3)``."""
    if name in node.kwargs:
        return node.kwargs[name]
    rest = node.args[start:]
    if len(rest) == 1 and isinstance(rest[0], (tuple, list, fx.Node)):
        return rest[0]
    return tuple(rest)


def _what(node: fx.Node) -> str:
    if node.op == "call_method":
        return f"Tensor.{node.target}"
    return getattr(node.target, "__name__", str(node.target))


def _dims(value: Any) -> tuple[int, ...]:
    return (value,) if isinstance(value, int) else tuple(value)
