"""What every torch.fx rule shares: the results a rule returns (:class:`Mapped`,
:class:`Alias`, :data:`ABSORBED`), :class:`Unsupported`, helpers that read a node's
arguments, and :func:`function_call`, the Function block for any public torch function or
Tensor method without a rule of its own (the long tail). The rules themselves are in
:mod:`studio.interop.fx_rules` and :mod:`studio.interop.fx_module_rules`.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import fx


class Unsupported(Exception):
    """This node or module has no block; the message says why."""


class LengthDependent(Unsupported):
    """A size that follows the input's length (a text model's sequence): it cannot be a
    constant, so the node is written as a Function block reading it from a tensor's shape."""


@dataclass
class Mapped:
    type: str
    params: dict[str, Any] = field(default_factory=dict)
    #: the tensor nodes feeding the block's input ports, in port order
    inputs: list[fx.Node] = field(default_factory=list)


@dataclass
class Match:
    """Several nodes that are one block (a pattern, or a module call returning a tuple).

    ``root``'s value is the block's output (or, with ``ports``, each of those nodes is the
    value of one output port); the ``claimed`` nodes are computed inside the block and get
    no block of their own. ``key`` is the node the block is named after (an attribute's
    ``call_module`` or ``get_attr``), ``path`` the module or parameter its weights come from.
    """

    mapped: Mapped
    key: fx.Node
    path: str | None = None
    claimed: set[fx.Node] = field(default_factory=set)
    ports: dict[fx.Node, str] = field(default_factory=dict)


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


# --------------------------------------------------------------------------- the long tail
#: where a function without a dedicated rule may come from, as the Function block spells it
_NAMESPACES = (
    ("torch", torch), ("F", F), ("torch.special", torch.special), ("torch.linalg", torch.linalg),
    ("torch.fft", torch.fft),
)


_COMPARISONS = {
    operator.lt: "torch.lt", operator.le: "torch.le", operator.gt: "torch.gt",
    operator.ge: "torch.ge", operator.eq: "torch.eq", operator.ne: "torch.ne",
}


def function_name(node: fx.Node) -> str | None:
    """``F.layer_norm``, ``torch.roll``, ``Tensor.expand``: how the Function block names the
    node's callee, or None when it is not a public function of torch."""
    if node.op == "call_method":
        return f"Tensor.{node.target}" if isinstance(node.target, str) else None
    name = getattr(node.target, "__name__", None)
    if node.op != "call_function" or not isinstance(name, str):
        return None
    if node.target in _COMPARISONS:  # x < 8 (T5's position buckets) -> torch.lt(in1, 8)
        return _COMPARISONS[node.target]
    for prefix, module in _NAMESPACES:
        if getattr(module, name, None) is node.target:
            return f"{prefix}.{name}"
    return None


def _size_source(value: Any, t) -> Any:
    """A size read from a tensor (``x.shape[0]``, ``x.size(0)``) -> ``(x, dim)``, else None."""
    if not isinstance(value, fx.Node):
        return None
    if value.op == "call_function" and value.target is operator.getitem and len(value.args) == 2:
        shape, dim = value.args
        dims = _shape_dims(shape, t)
        if dims is not None and isinstance(dim, int) and -len(dims[1]) <= dim < len(dims[1]):
            return dims[0], dims[1][dim]
    if value.op == "call_method" and value.target == "size" and len(value.args) == 2:
        x, dim = value.args
        if t.is_tensor(x) and isinstance(dim, int):
            return x, dim
    return None


def _shape_dims(value: Any, t) -> tuple[fx.Node, list[int]] | None:
    """``x.shape``, ``x.size()`` or a slice of them (BERT's ``input_ids.size()[:-1]``) ->
    ``(x, the dimensions of x they hold)``, else None."""
    if not isinstance(value, fx.Node):
        return None
    whole = _whole_size(value, t)
    if whole is not None:
        return whole, list(range(len(t.s1[whole].shape)))
    if value.op == "call_function" and value.target is operator.getitem and len(value.args) == 2:
        inner, index = value.args
        dims = _shape_dims(inner, t)
        parts = (index.start, index.stop, index.step) if isinstance(index, slice) else (0.5,)
        if dims is not None and all(v is None or isinstance(v, int) for v in parts):
            return dims[0], dims[1][index]
    return None


def _whole_size(value: Any, t) -> fx.Node | None:
    """``x.size()`` or ``x.shape`` -> ``x``, else None."""
    if not isinstance(value, fx.Node):
        return None
    if value.op == "call_method" and value.target == "size" and len(value.args) == 1 and t.is_tensor(value.args[0]):
        return value.args[0]
    if (
        value.op == "call_function" and value.target is getattr and value.args[1:] == ("shape",)
        and t.is_tensor(value.args[0])
    ):
        return value.args[0]
    return None


def _plus_nothing(v: fx.Node) -> Any:
    """``n + 0``, ``0 + n``, ``n - 0``, ``n * 1``: ``n``; else None."""
    if v.op != "call_function" or len(v.args) != 2:
        return None
    a, b = v.args
    if v.target in (operator.add, operator.sub) and b == 0 and not isinstance(b, bool):
        return a
    if v.target is operator.add and a == 0 and not isinstance(a, bool):
        return b
    if v.target is operator.mul and 1 in (a, b):
        return b if a == 1 else a
    return None


class _Operands:
    """The tensor nodes a call reads, numbered in1, in2... in order of first use."""

    def __init__(self, t, params: tuple[fx.Node, ...] = ()) -> None:
        self.t = t
        self.nodes: list[fx.Node] = []
        #: the shapes of the parameters the call reads: a size written as one is their shape
        self.shapes = {tuple(t.s1[n].shape): n for n in reversed(params) if t.s1[n].shape}

    def ref(self, node: fx.Node, dim: int | None = None, attr: str | None = None) -> Any:
        from studio.blocks.catalogue.function import InputRef

        if node not in self.nodes:
            self.nodes.append(node)
        return InputRef(self.nodes.index(node), dim, attr)

    def value(self, v: Any) -> Any:
        if self.t.is_tensor(v):
            return self.ref(v)
        if isinstance(v, (list, tuple)):
            items = [self.value(x) for x in v]
            return self._sized(tuple(items) if isinstance(v, tuple) else items)
        if isinstance(v, fx.Node):
            try:
                return self._sized(self._literal(self.t.const(v)))
            except Unsupported:  # a size computed from the input: kept computed
                kept = _plus_nothing(v)
                if kept is not None:  # BERT's seq_length + past_key_values_length (0)
                    return self.value(kept)
                return symbolic(v, self.t, self)
        return self._literal(v)

    def _sized(self, value: Any) -> Any:
        """``(40,)`` where a parameter read by the call is shaped 40: that parameter's shape
        (``F.layer_norm(x, self.weight.shape, ...)`` in timm's LayerNorm2d), so the uses of a
        class that differ only in a width share one class with the width as its argument."""
        ints = isinstance(value, (tuple, list)) and value and all(type(x) is int for x in value)
        node = self.shapes.get(tuple(value)) if ints else None
        return self.ref(node, attr="shape") if node is not None else value

    def _literal(self, v: Any) -> Any:
        from studio.blocks.catalogue.function import DTYPES, DType

        if isinstance(v, (list, tuple)):
            items = [self._literal(x) for x in v]
            return tuple(items) if isinstance(v, tuple) else items
        if isinstance(v, torch.dtype) and str(v).removeprefix("torch.") in DTYPES:
            return DType(str(v).removeprefix("torch."))
        if isinstance(v, torch.device):
            return _DEVICE  # the device of the call's first tensor: the model runs where its input is
        ok = v is None or isinstance(v, (bool, int, str)) or (isinstance(v, float) and math.isfinite(v))
        _require(ok, f"an argument {v!r} that is not a number, text or None")
        return v


_DEVICE = object()


def _devices(v: Any, first: Any) -> Any:
    if v is _DEVICE:
        return first
    if isinstance(v, (list, tuple)):
        items = [_devices(x, first) for x in v]
        return tuple(items) if isinstance(v, tuple) else items
    return v


def function_call(node: fx.Node, t, outputs: int = 1, name: str | None = None) -> Mapped:
    """Any public torch function or Tensor method without a rule: a Function block (calling
    ``name`` where given, with the node's arguments)."""
    from studio.blocks.catalogue.function import format_arguments

    name = name or function_name(node)
    if name is None:
        raise Unsupported(_what(node))
    read: list[fx.Node] = []
    fx.node.map_arg((node.args, node.kwargs), read.append)
    ops = _Operands(t, tuple(n for n in read if n.op == "get_attr" and t.is_tensor(n)))
    args = [ops.value(a) for a in node.args]
    kwargs = {k: ops.value(v) for k, v in node.kwargs.items()}
    _require(bool(ops.nodes), f"{_what(node)} without a tensor input")
    from studio.blocks.catalogue.function import InputRef

    args = _devices(args, InputRef(0, attr="device"))
    kwargs = {k: _devices(v, InputRef(0, attr="device")) for k, v in kwargs.items()}
    if name.startswith("Tensor."):
        _require(args and args[0] == ops.ref(node.args[0]), f"{_what(node)} on something other than a tensor")
    params = {"function": name, "arguments": format_arguments(args, kwargs), "inputs": len(ops.nodes), "outputs": outputs}
    return Mapped("function", params, ops.nodes)


# --------------------------------------------------------------------------- sizes kept computed
#: the operators a size expression may use (those of the Function block's ``SizeOp``)
_OPS = {
    operator.floordiv: "//",
    operator.mul: "*",
    operator.add: "+",
    operator.sub: "-",
    operator.mod: "%",
}


def symbolic(value: fx.Node, t, ops) -> Any:
    """``value`` (a size, or a tuple of sizes, read from tensors) as Function block values:
    ``InputRef`` for ``x.size(0)``, a tuple of them for ``x.shape[:-1]``, ``SizeOp`` for
    arithmetic; each operand through ``ops.value`` (a literal where it is one). Raises
    :class:`Unsupported` for anything else."""
    from studio.blocks.catalogue.function import SizeOp

    whole = _whole_size(value, t)
    if whole is not None:  # x.size(): every size of x, the batch's too
        return tuple(ops.ref(whole, d) for d in range(len(t.s1[whole].shape)))
    source = _size_source(value, t)
    if source is not None:
        return ops.ref(source[0], source[1])
    dims = _shape_dims(value, t)
    if dims is not None:  # x.shape[:-1]
        return tuple(ops.ref(dims[0], d) for d in dims[1])
    rounded = _rounded_division(value, t)
    if rounded is not None:  # (n + k - 1) // k
        n, k, up = rounded
        return SizeOp("//", SizeOp("+", ops.value(n), up) if up else ops.value(n), k)
    op = _OPS.get(value.target) if value.op == "call_function" and not value.kwargs else None
    if op is None or len(value.args) != 2:
        raise Unsupported(f"{value.name} depends on the batch size or the data")
    left, right = (ops.value(a) for a in value.args)
    if op == "+" and isinstance(left, tuple) and isinstance(right, tuple):
        return left + right  # x.shape[:-1] + (-1,)
    if isinstance(left, tuple) or isinstance(right, tuple):
        raise Unsupported(f"{value.name} depends on the batch size or the data")
    return SizeOp(op, left, right)


def _rounded_division(value: fx.Node, t) -> tuple[Any, int, int] | None:
    """``math.ceil(n / k)`` -> ``(n, k, k - 1)``, ``math.floor(n / k)`` -> ``(n, k, 0)``, for a
    size ``n`` and a whole number ``k > 0``: written ``(n + k - 1) // k`` and ``n // k``, the
    same for every size (mobilevitv2's ``math.ceil(H / patch_h)``); else None."""
    if value.op != "call_function" or value.target not in (math.ceil, math.floor):
        return None
    inner = value.args[0] if len(value.args) == 1 else None
    if not (isinstance(inner, fx.Node) and inner.op == "call_function"):
        return None
    if inner.target is not operator.truediv or len(inner.args) != 2:
        return None
    n, k = inner.args
    if isinstance(k, fx.Node):
        try:
            k = t.const(k)
        except Unsupported:
            return None
    if type(k) is not int or k <= 0 or t.is_tensor(n):
        return None
    return n, k, (k - 1 if value.target is math.ceil else 0)
