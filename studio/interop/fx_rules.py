"""How torch.fx nodes become blocks: three tables, no if-chains.

* :data:`MODULES`: ``nn`` class -> ``(block type, params(module))``. ``params`` reads the
  module's attributes; it raises :class:`Unsupported` for settings the block cannot express
  (a non-square kernel, ``ceil_mode=True``...), and the importer then keeps the module as a
  Custom module block instead.
* :data:`FUNCTIONS`: function (``operator.add``, ``torch.flatten``, ``F.relu``...) -> rule.
* :data:`METHODS`: Tensor method name (``"view"``, ``"permute"``...) -> rule.

A rule gets the node and the :class:`~studio.interop.fx_import.Trace` (which knows every
node's shape and folds sizes such as ``x.size(0)`` into constants or "the batch") and returns
a :class:`Mapped` block, an :class:`Alias` (the node is just its input) or :data:`ABSORBED`.

:data:`MODULES` lives in :mod:`studio.interop.fx_module_rules`, the result types and argument
helpers in :mod:`studio.interop.fx_rule_base`; both are importable from here.
"""

from __future__ import annotations

import math
import operator
from typing import Any

import torch
import torch.nn.functional as F
from torch import fx

from studio.interop.fx_lengths import as_reshape_after_contiguous, view_call
from studio.interop.fx_module_rules import MODULES
from studio.interop.fx_rule_base import (
    ABSORBED,
    BATCH_DIM,
    MAX_MERGE,
    MISSING,
    Alias,
    LengthDependent,
    Mapped,
    Match,
    Rule,
    Unsupported,
    _Absorbed,
    _dims,
    _require,
    _what,
    arg,
    function_call,
    square,
    varargs,
)

__all__ = [
    "ABSORBED",
    "BATCH_DIM",
    "FUNCTIONS",
    "MAX_MERGE",
    "METHODS",
    "MISSING",
    "MODULES",
    "Alias",
    "Mapped",
    "Match",
    "Rule",
    "Unsupported",
    "arg",
    "square",
    "varargs",
]


# --------------------------------------------------------------------------- function rules
def _binary_operands(node: fx.Node, t) -> tuple[Any, Any]:
    a, b = arg(node, 0, "input"), arg(node, 1, "other")
    alpha = node.kwargs.get("alpha", 1)
    _require(alpha == 1, f"{_what(node)} with alpha={alpha}")
    return a, b


def _scalar(x: fx.Node, op: str, value: Any, t) -> Mapped:
    value = t.const(value)
    _require(
        isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value),
        f"an operation with {value!r} (a number is needed)",
    )
    return Mapped("scalar_op", {"op": op, "value": float(value)}, [x])


def merge(block: str, scalar: str) -> Rule:
    """``a + b`` -> Add (a chain ``a + b + c`` -> one Add with 3 inputs); ``x + 2`` -> Scalar op."""

    def rule(node: fx.Node, t) -> Mapped | _Absorbed:
        a, b = _binary_operands(node, t)
        ta, tb = t.is_tensor(a), t.is_tensor(b)
        if not (ta and tb):
            _require(ta or tb, f"{_what(node)} of two numbers")
            return _scalar(a if ta else b, scalar, b if ta else a, t)
        operands = t.stash.pop(a, None) if isinstance(a, fx.Node) else None
        operands = (operands or [a]) + [b]
        users = list(node.users)
        if (
            len(operands) < MAX_MERGE
            and len(users) == 1
            and users[0].args[:1] == (node,)
            and t.rule_for(users[0]) is rule
            and users[0] not in t.matched  # not an add that is part of a position block
            and t.is_tensor(users[0])
            and all(t.is_tensor(x) for x in users[0].args[:2])
        ):
            t.stash[node] = operands
            return ABSORBED
        return Mapped(block, {"inputs": len(operands)}, operands)

    return rule


def binary(
    block: str | None, scalar_left: str | None = None, scalar_right: str | None = None,
    function: str | None = None,
) -> Rule:
    """``a - b`` -> Subtract; ``x - 2`` / ``2 - x`` -> Scalar op (when the op has one); any
    other form (``10000 ** x``, ``torch.div(x, 2, rounding_mode="floor")``) -> a Function block
    calling ``function`` (``torch.pow``)."""

    def rule(node: fx.Node, t) -> Mapped:
        if set(node.kwargs) - {"alpha"}:  # rounding_mode: not what the blocks compute
            return function_call(node, t, name=function)
        a, b = _binary_operands(node, t)
        ta, tb = t.is_tensor(a), t.is_tensor(b)
        if ta and tb and block:
            return Mapped(block, {}, [a, b])
        if ta and scalar_left:
            return _scalar(a, scalar_left, b, t)
        if tb and scalar_right:
            return _scalar(b, scalar_right, a, t)
        if function is not None and (ta or tb):
            return function_call(node, t, name=function)
        raise Unsupported(f"{_what(node)} of these operands")

    return rule


def activation(block: str, **params: tuple[int, str, Any]) -> Rule:
    """``F.relu(x)``, ``x.sigmoid()``, ``F.softmax(x, dim=1)``: the block named ``block``.

    ``params`` maps a block parameter to ``(position, keyword, default)`` in the call.
    """

    def rule(node: fx.Node, t) -> Mapped:
        values = {k: t.const(arg(node, i, kw, d)) for k, (i, kw, d) in params.items()}
        _require(None not in values.values(), f"{_what(node)} without {sorted(params)}")
        return Mapped(block, values, [arg(node, 0, "input")])

    return rule


def _alias(node: fx.Node, t) -> Alias:
    return Alias(arg(node, 0, "input"))


#: ``x.to(dtype)`` as the Tensor method that casts to it (``x.long()``)
_CASTS = {
    torch.int64: "long", torch.int32: "int", torch.float32: "float", torch.float64: "double",
    torch.float16: "half", torch.bfloat16: "bfloat16", torch.bool: "bool",
}


def _to(node: fx.Node, t) -> Alias | Mapped:
    """``x.to(other.device)`` (GPT-2's position embeddings), ``x.to(x.dtype)``: the tensor
    itself; the model runs where its input is, in the dtype it was traced in. ``x.to(torch.int64)``
    (T5's position buckets): ``x.long()``."""
    x = arg(node, 0, "input")
    casts = []
    for v in t.const((*node.args[1:], *node.kwargs.values())):
        same_dtype = isinstance(v, torch.dtype) and str(v).removeprefix("torch.") == t.s1[x].dtype
        if isinstance(v, torch.dtype) and not same_dtype and v in _CASTS:
            casts.append(_CASTS[v])
            continue
        _require(isinstance(v, torch.device) or same_dtype, f"{_what(node)}({v!r})")
    if not casts:
        return Alias(x)
    _require(len(casts) == 1, f"{_what(node)} to two dtypes")
    params = {"function": f"Tensor.{casts[0]}", "arguments": "in1", "inputs": 1, "outputs": 1}
    return Mapped("function", params, [x])


def _cat(node: fx.Node, t) -> Mapped | Alias:
    tensors = list(arg(node, 0, "tensors"))
    dim = t.const(arg(node, 1, "dim", 0))
    _require(all(t.is_tensor(x) for x in tensors), "torch.cat of something other than tensors")
    if len(tensors) == 1:
        return Alias(tensors[0])
    _require(len(tensors) <= MAX_MERGE, f"torch.cat of {len(tensors)} tensors (at most {MAX_MERGE})")
    return Mapped("concatenate", {"inputs": len(tensors), "dim": dim}, tensors)


def _flatten(node: fx.Node, t) -> Mapped:
    start = t.const(arg(node, 1, "start_dim", 0))
    end = t.const(arg(node, 2, "end_dim", -1))
    return Mapped("flatten", {"start_dim": start, "end_dim": end}, [arg(node, 0, "input")])


def reduce(block: str) -> Rule:
    """``x.mean(dim=(2, 3))`` -> Mean; ``torch.sum(x, 1, keepdim=True)`` -> Sum."""

    def rule(node: fx.Node, t) -> Mapped:
        dim = t.const(arg(node, 1, "dim", None))
        _require(dim is not None, f"{_what(node)} over all values (give dims)")
        _require("dtype" not in node.kwargs, f"{_what(node)} with a dtype")
        keep = t.const(arg(node, 2, "keepdim", False))
        return Mapped(block, {"dims": _dims(dim), "keepdim": keep}, [arg(node, 0, "input")])

    return rule


def _permute(node: fx.Node, t) -> Mapped:
    x = arg(node, 0, "input")
    dims = t.const(varargs(node, 1, "dims"))
    rank = len(t.shape(x))
    return Mapped("permute", {"dims": tuple(d % rank for d in dims)}, [x])


def _transpose(node: fx.Node, t) -> Mapped:
    d0 = t.const(arg(node, 1, "dim0"))
    d1 = t.const(arg(node, 2, "dim1"))
    return Mapped("transpose", {"dim0": d0, "dim1": d1}, [arg(node, 0, "input")])


def _reshape(node: fx.Node, t) -> Mapped:
    """``x.view(x.size(0), -1)`` or ``x.view(-1, 400)`` -> Reshape (which keeps the batch).
    A reshape that folds the batch into another size (swin's ``view(-1, 7, 7, 96)``: windows
    of every image in one dimension), or of a tensor without a batch, is a Function block
    calling ``reshape`` (a ``view`` after a ``contiguous()`` the import leaves out), each size
    computed from the input as the original computes it."""
    x = arg(node, 0, "input")
    if not t.follows_batch(x):  # a table, an index, or windows of the batch: as written
        try:
            sizes = _free(t.const(varargs(node, 1, "shape")))
        except LengthDependent:
            raise
        except Unsupported:  # sizes read from other tensors: view_call
            sizes = None
        return _as_reshape(node, t, sizes)
    try:
        sizes = list(t.const(varargs(node, 1, "shape"), allow_batch=True))
    except LengthDependent:
        raise
    except Unsupported:  # a size computed from the batch (swin's B_ // num_win)
        return _as_reshape(node, t)
    in_shape = t.shape(x)
    per_sample = math.prod(in_shape[1:])
    rest = sizes[1:]
    keeps_batch = sizes[:1] == [BATCH_DIM] or (
        sizes[:1] == [-1] and -1 not in rest and math.prod(rest) == per_sample
    )
    if not (keeps_batch and rest and BATCH_DIM not in rest):
        # the batch merged with the next sizes (GPT-2's Conv1D: view(-1, x.shape[2])) or
        # folded into windows (swin's view(-1, 7, 7, 96))
        return _as_reshape(node, t)
    return Mapped("reshape", {"shape": tuple(rest)}, [x])


def _as_reshape(node: fx.Node, t, sizes: tuple | None = None) -> Mapped:
    """A Function block calling the node's ``view`` or ``reshape``: with ``sizes`` (literal
    sizes, the largest left to -1) where given, else its own sizes read from the tensors they
    come from (:func:`~studio.interop.fx_lengths.view_call`). ``x.contiguous().view(...)`` is
    ``x.reshape(...)`` (:func:`~studio.interop.fx_lengths.as_reshape_after_contiguous`)."""
    from studio.blocks.catalogue.function import InputRef, format_arguments

    method = node.op == "call_method"
    if method and sizes is None:
        mapped = view_call(node, t)
    else:
        mapped = function_call(node, t, name=f"Tensor.{node.target}" if method else None)
        if sizes is not None and not node.kwargs:
            mapped.params["arguments"] = format_arguments([InputRef(0), *sizes], {})
    return as_reshape_after_contiguous(node, mapped)


def _free(sizes: Any) -> tuple | None:
    """Literal sizes with the largest one left for reshape to infer (poolformer's
    ``self.scale.view((64, 1, 1))`` -> ``(-1, 1, 1)``): the same at this width, and a class
    used at several widths is written once. None where a size is not a literal or -1 is used."""
    sizes = tuple(sizes) if isinstance(sizes, (tuple, list)) else (sizes,)
    if not sizes or -1 in sizes or not all(type(s) is int and s > 0 for s in sizes):
        return None
    big = sizes.index(max(sizes))
    return (*sizes[:big], -1, *sizes[big + 1:])


def _unsqueeze(node: fx.Node, t) -> Mapped:
    return Mapped("unsqueeze", {"dim": t.const(arg(node, 1, "dim"))}, [arg(node, 0, "input")])


def _squeeze(node: fx.Node, t) -> Mapped:
    dim = t.const(arg(node, 1, "dim", None))
    _require(isinstance(dim, int), f"{_what(node)} without one dim")
    return Mapped("squeeze", {"dim": dim}, [arg(node, 0, "input")])


def _getitem(node: fx.Node, t) -> Mapped | Alias:
    x, index = node.args
    _require(t.is_tensor(x), f"indexing {x} (a tuple of tensors): Studio wires carry single tensors")
    taken = _taken(index, t)
    if taken is not None:  # table[:, index_buffer]: Index by tensor
        return Mapped("take", {"dim": taken[0]}, [x, taken[1]])
    index = t.const(index)
    index = index if isinstance(index, tuple) else (index,)
    if index and all(isinstance(v, slice) and v.start in (None, 0) and v.stop is None and v.step in (None, 1) for v in index):
        return Alias(x)  # x[:, 0:, :] takes everything (Hugging Face's logits_to_keep=0)
    for v in index:
        ok = v is None or v is ... or (isinstance(v, int) and not isinstance(v, bool))
        if isinstance(v, slice):
            ok = all(s is None or (isinstance(s, int) and not isinstance(s, bool)) for s in (v.start, v.stop, v.step))
        _require(ok, f"indexing with {v!r} (only numbers, slices, ... and None)")
    from studio.blocks.catalogue.ops import format_index

    return Mapped("index", {"index": format_index(index)}, [x])


def _taken(index: Any, t) -> tuple[int, fx.Node] | None:
    """``(dim, tensor)`` for an index of whole slices then one integer tensor (``[:, idx]``)."""
    index = index if isinstance(index, tuple) else (index,)
    if not index or not t.is_tensor(index[-1]) or t.s1[index[-1]].dtype not in ("int64", "int32"):
        return None
    if any(v != slice(None) for v in index[:-1]):
        return None
    return len(index) - 1, index[-1]


def _adaptive_fn(node: fx.Node, t) -> Mapped:
    size = t.const(arg(node, 1, "output_size"))
    size = (size, size) if isinstance(size, int) else tuple(size)
    _require(None not in size, f"output_size={size}")
    return Mapped("adaptive_avgpool2d", {"output_size": size}, [arg(node, 0, "input")])


def pool_fn(block: str) -> Rule:
    def rule(node: fx.Node, t) -> Mapped:
        k = square(t.const(arg(node, 1, "kernel_size")), "kernel_size")
        stride = t.const(arg(node, 2, "stride", None))
        stride = k if stride in (None, ()) else square(stride, "stride")
        pad = square(t.const(arg(node, 3, "padding", 0)), "padding")
        if block.startswith("max"):
            _require(square(t.const(arg(node, 4, "dilation", 1)), "dilation") == 1, "dilation")
            _require(not t.const(arg(node, 5, "ceil_mode", False)), "ceil_mode=True")
            _require(not t.const(node.kwargs.get("return_indices", False)), "return_indices")
        else:
            _require(not t.const(arg(node, 4, "ceil_mode", False)), "ceil_mode=True")
            _require(t.const(arg(node, 5, "count_include_pad", True)), "count_include_pad=False")
            _require(t.const(arg(node, 6, "divisor_override", None)) is None, "divisor_override")
        return Mapped(block, {"kernel_size": k, "stride": 0 if stride == k else stride, "padding": pad}, [arg(node, 0, "input")])

    return rule


def _dropout_fn(node: fx.Node, t) -> Mapped:
    return Mapped("dropout", {"p": t.const(arg(node, 1, "p", 0.5))}, [arg(node, 0, "input")])


def math_fn(name: str) -> Rule:
    def rule(node: fx.Node, t) -> Mapped:
        return Mapped("math", {"function": name}, [arg(node, 0, "input")])

    return rule


def _interpolate(node: fx.Node, t) -> Mapped:
    """``F.interpolate(x, scale_factor=2)`` is ``nn.Upsample(scale_factor=2)``: a Custom module."""
    kwargs = {
        "size": t.const(arg(node, 1, "size", None)),
        "scale_factor": t.const(arg(node, 2, "scale_factor", None)),
        "mode": t.const(arg(node, 3, "mode", "nearest")),
        "align_corners": t.const(arg(node, 4, "align_corners", None)),
    }
    _require(not t.const(node.kwargs.get("antialias", False)), "antialias=True")
    _require(t.const(node.kwargs.get("recompute_scale_factor", None)) is None, "recompute_scale_factor")
    kwargs = {k: v for k, v in kwargs.items() if v is not None and not (k == "mode" and v == "nearest")}
    return Mapped("custom_module", {"source": "torch.nn:Upsample", "kwargs": repr(kwargs), "inputs": 1}, [arg(node, 0, "input")])


def _matmul(node: fx.Node, t) -> Mapped:
    a, b = arg(node, 0, "input"), arg(node, 1, "other")
    _require(t.is_tensor(a) and t.is_tensor(b), "matmul with a number")
    return Mapped("matmul", {}, [a, b])


def _sdpa(node: fx.Node, t) -> Mapped:
    """``F.scaled_dot_product_attention``; the block's key defaults to the query and its value
    to the key, so those are left unwired when they are."""
    q, k, v = arg(node, 0, "query"), arg(node, 1, "key"), arg(node, 2, "value")
    mask = arg(node, 3, "attn_mask", None)
    _require(all(t.is_tensor(x) for x in (q, k, v)), "attention over something other than tensors")
    _require(mask is None or t.is_tensor(mask), "an attention mask that is not a tensor")
    scale = t.const(arg(node, 6, "scale", None))
    if scale is not None:  # Hugging Face passes the default, head_dim ** -0.5, explicitly
        default = t.s1[q].shape[-1] ** -0.5
        _require(isinstance(scale, (int, float)) and scale > 0, f"attention with a scale of {scale!r}")
        scale = 0.0 if abs(scale - default) <= 1e-6 * default else float(scale)  # T5: 1
    _require(not t.const(node.kwargs.get("enable_gqa", False)), "grouped-query attention (enable_gqa)")
    causal = bool(t.const(arg(node, 5, "is_causal", False)))
    dropout = float(t.const(arg(node, 4, "dropout_p", 0.0)))
    inputs = [q, None if k is q else k, None if v is k else v, mask]
    params = {"is_causal": causal, "dropout_p": dropout, "scale": scale or 0.0}
    return Mapped("scaled_dot_product_attention", params, inputs)


# the same rule for a function, its Tensor method and the operator (built once so a
# chain like a + b + c can recognise its own rule in the next node)
_ADD = merge("add", "x + c")
_MUL = merge("multiply", "x * c")
_SUB = binary("subtract", "x - c", "c - x", "torch.sub")
_DIV = binary("divide", "x / c", "c / x", "torch.div")
_POW = binary(None, "x ** c", function="torch.pow")
_RELU = activation("relu")
_SIGMOID = activation("sigmoid")
_TANH = activation("tanh")
_SILU = activation("silu")
_GELU = activation("gelu", approximate=(1, "approximate", "none"))
_SOFTMAX = activation("softmax", dim=(1, "dim", None))
_LOG_SOFTMAX = activation("log_softmax", dim=(1, "dim", None))
_MEAN = reduce("mean")
_SUM = reduce("sum")

FUNCTIONS: dict[Any, Rule] = {
    operator.add: _ADD, operator.iadd: _ADD, torch.add: _ADD,
    operator.mul: _MUL, operator.imul: _MUL, torch.mul: _MUL,
    operator.sub: _SUB, operator.isub: _SUB, torch.sub: _SUB,
    operator.truediv: _DIV, operator.itruediv: _DIV, torch.div: _DIV,
    operator.pow: _POW, torch.pow: _POW,
    operator.matmul: _matmul, torch.matmul: _matmul, torch.bmm: _matmul,
    operator.neg: math_fn("neg"),
    operator.invert: lambda node, t: function_call(node, t, name="torch.bitwise_not"),
    operator.getitem: _getitem,
    torch.cat: _cat, torch.concat: _cat, torch.concatenate: _cat,
    torch.flatten: _flatten,
    torch.reshape: _reshape,
    torch.permute: _permute,
    torch.transpose: _transpose,
    torch.unsqueeze: _unsqueeze,
    torch.squeeze: _squeeze,
    torch.mean: _MEAN,
    torch.sum: _SUM,
    torch.relu: _RELU, F.relu: _RELU,
    torch.sigmoid: _SIGMOID, F.sigmoid: _SIGMOID,
    torch.tanh: _TANH, F.tanh: _TANH,
    F.silu: _SILU,
    F.gelu: _GELU,
    F.leaky_relu: activation("leaky_relu", negative_slope=(1, "negative_slope", 0.01)),
    F.elu: activation("elu", alpha=(1, "alpha", 1.0)),
    F.mish: activation("mish"),
    F.hardswish: activation("hardswish"),
    F.softmax: _SOFTMAX, torch.softmax: _SOFTMAX,
    F.log_softmax: _LOG_SOFTMAX, torch.log_softmax: _LOG_SOFTMAX,
    F.adaptive_avg_pool2d: _adaptive_fn,
    F.max_pool2d: pool_fn("maxpool2d"),
    F.avg_pool2d: pool_fn("avgpool2d"),
    F.dropout: _dropout_fn,
    F.interpolate: _interpolate,
    F.scaled_dot_product_attention: _sdpa,
    **{getattr(torch, name): math_fn(name) for name in ("exp", "log", "sqrt", "rsqrt", "abs", "neg", "sin", "cos", "square", "reciprocal")},
}

METHODS: dict[str, Rule] = {
    "add": _ADD, "add_": _ADD,
    "mul": _MUL, "mul_": _MUL,
    "sub": _SUB, "sub_": _SUB,
    "div": _DIV, "div_": _DIV,
    "pow": _POW,
    "matmul": _matmul, "bmm": _matmul,
    "flatten": _flatten,
    "view": _reshape, "reshape": _reshape,
    "permute": _permute,
    "transpose": _transpose,
    "unsqueeze": _unsqueeze,
    "squeeze": _squeeze,
    "mean": _MEAN,
    "sum": _SUM,
    "relu": _RELU, "relu_": _RELU,
    "sigmoid": _SIGMOID,
    "tanh": _TANH,
    "softmax": _SOFTMAX,
    "log_softmax": _LOG_SOFTMAX,
    "contiguous": _alias,
    "to": _to,
    **{name: math_fn(name) for name in ("exp", "log", "sqrt", "rsqrt", "abs", "neg", "sin", "cos", "square", "reciprocal")},
}


def _stochastic_depth(node: fx.Node, t) -> Mapped:
    """torchvision's stochastic depth: its module, so it stays exact in training too."""
    p = t.const(arg(node, 1, "p"))
    mode = t.const(arg(node, 2, "mode"))
    kwargs = {"p": p, "mode": mode}
    return Mapped(
        "custom_module", {"source": "torchvision.ops:StochasticDepth", "kwargs": repr(kwargs), "inputs": 1},
        [arg(node, 0, "input")],
    )


#: functions outside torch with a rule, by ``module.name`` (so their package is not imported here)
NAMED: dict[str, Rule] = {
    "torchvision.ops.stochastic_depth.stochastic_depth": _stochastic_depth,
}
