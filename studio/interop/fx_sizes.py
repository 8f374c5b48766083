"""Sizes computed from the input, kept computed (issue #22, cause 3).

A size that differs between the import's two runs (batch 1 and 2) cannot be a literal: swin
folds the batch into its windows (``x.view(-1, 7, 7, 96)``, then ``B_ // num_win``), maxvit
reshapes to ``x.shape[:-1] + (-1,)``, edgenext builds ``torch.zeros(B, H, W)``. Such a value
is written as arithmetic on the sizes of the call's tensors (``in1.shape[0] // 64``), which
the Function block emits as it is, so the export runs at every batch size the original does.
"""

from __future__ import annotations

import operator
from typing import Any

from torch import fx

from studio.interop.fx_rule_base import Unsupported, _shape_dims, _size_source, _whole_size

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
    op = _OPS.get(value.target) if value.op == "call_function" and not value.kwargs else None
    if op is None or len(value.args) != 2:
        raise Unsupported(f"{value.name} depends on the batch size or the data")
    left, right = (ops.value(a) for a in value.args)
    if op == "+" and isinstance(left, tuple) and isinstance(right, tuple):
        return left + right  # x.shape[:-1] + (-1,)
    if isinstance(left, tuple) or isinstance(right, tuple):
        raise Unsupported(f"{value.name} depends on the batch size or the data")
    return SizeOp(op, left, right)


#: functions that make a tensor from sizes alone; made where the model's input is
_FACTORIES = frozenset(
    {"zeros", "ones", "full", "empty", "arange", "rand", "randn", "eye", "linspace"}
)


def sized_factory(node: fx.Node, t):
    """``torch.zeros((B, H, W))`` with ``B`` the batch: a Function block computing its sizes
    from the input's, on the input's device (a literal batch would fix the batch size)."""
    from studio.interop.fx_rule_base import function_call

    mapped = function_call(node, t)
    name = mapped.params["function"]
    if name.startswith("torch.") and name[6:] in _FACTORIES and "device" not in node.kwargs:
        mapped.params["arguments"] += ", device=in1.device"
    return mapped


#: dtype -> the Tensor method converting to it (``x.to(dtype=torch.bool)`` is ``x.bool()``)
_CASTS = {
    "bool": "bool",
    "float32": "float",
    "float64": "double",
    "float16": "half",
    "bfloat16": "bfloat16",
    "int64": "long",
    "int32": "int",
    "int16": "short",
    "int8": "char",
    "uint8": "byte",
}


def to(node: fx.Node, t):
    """``x.to(device=w.device, dtype=torch.bool)``, ``x.to(torch.float32)``, ``x.type(...)``:
    the device is left out (the export runs where its input is), a dtype the tensor already
    has is no block, another is the Tensor method converting to it (``x.bool()``)."""
    import torch

    from studio.blocks.catalogue.function import InputRef, format_arguments
    from studio.interop.fx_rule_base import Alias, Mapped, _require

    x = node.args[0]
    _require(t.is_tensor(x), f"Tensor.{node.target} of something other than a tensor")
    values = [t.const(a) for a in node.args[1:]] + [t.const(node.kwargs.get("dtype"))]
    dtypes = [v for v in values if isinstance(v, torch.dtype)]
    kinds = (torch.dtype, torch.device, str) if node.target == "to" else (torch.dtype,)
    other = [v for v in values[:-1] if not isinstance(v, kinds)]
    extra = set(node.kwargs) - {"dtype", "device", "non_blocking", "copy"}
    _require(
        not other and not extra and len(dtypes) <= 1, f"Tensor.{node.target} with these arguments"
    )
    dtype = str(dtypes[0]).removeprefix("torch.") if dtypes else None
    if dtype is None or dtype == t.s1[x].dtype:
        return Alias(x)
    _require(dtype in _CASTS, f"Tensor.{node.target} to {dtype}")
    arguments = format_arguments([InputRef(0)], {})
    return Mapped(
        "function",
        {"function": f"Tensor.{_CASTS[dtype]}", "arguments": arguments, "inputs": 1, "outputs": 1},
        [x],
    )
