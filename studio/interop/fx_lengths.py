"""Nodes whose sizes follow the input's length (a text model's sequence length), written so the
export runs at every length.

The import records a third run at another length (:attr:`studio.interop.fx_trace.Trace.s3`);
a size that differs there raises :class:`~studio.interop.fx_rule_base.LengthDependent` in the
rule that wanted a constant, and the node is written here instead: as a Function block reading
the size from a tensor's shape (``x.view(-1, x.shape[1])``), or, for a slice up to such a size
(BERT's ``self.position_ids[:, :seq_length]``), as ``Tensor.narrow`` up to it.
"""

from __future__ import annotations

import operator

from torch import fx

from studio.interop.fx_rule_base import Mapped, Unsupported, _Operands, function_call, varargs


def length_call(node: fx.Node, t) -> Mapped:
    """The Function block for ``node``, its sizes read from the tensors they come from."""
    if node.op == "call_function" and node.target is operator.getitem:
        return _narrow(node, t)
    return as_reshape_after_contiguous(node, function_call(node, t))


def as_reshape_after_contiguous(node: fx.Node, mapped: Mapped) -> Mapped:
    """``x.contiguous().view(...)`` is written ``x.reshape(...)``: the import leaves
    ``contiguous()`` out, so a ``view`` there would fail (shufflenet's channel shuffle at its
    height and width); it is named so, and an export imported again is the same."""
    x = node.args[0] if node.args else None
    after = isinstance(x, fx.Node) and x.op == "call_method" and x.target == "contiguous"
    if node.op == "call_method" and node.target == "view" and after:
        mapped.params["function"] = "Tensor.reshape"
        node.name = node.graph._graph_namespace.create_name("reshape", None)
    return mapped


def _narrow(node: fx.Node, t) -> Mapped:
    """``x[:, :n]`` (``n`` a length) -> ``x.narrow(1, 0, n)``: one slice from the start up to a
    length, every other position whole."""
    from studio.blocks.catalogue.function import format_arguments

    x, index = node.args
    index = index if isinstance(index, tuple) else (index,)
    whole = slice(None)
    cut = [i for i, v in enumerate(index) if v != whole]
    if not t.is_tensor(x) or len(cut) != 1 or not isinstance(index[cut[0]], slice):
        raise Unsupported("indexing up to a length other than x[..., :n]")
    dim, part = cut[0], index[cut[0]]
    if part.step is not None or t.const(part.start) not in (None, 0):
        raise Unsupported("a slice up to a length that does not start at 0")
    ops = _Operands(t)
    args = [ops.ref(x), dim, 0, ops.value(part.stop)]
    params = {
        "function": "Tensor.narrow",
        "arguments": format_arguments(args, {}),
        "inputs": len(ops.nodes),
        "outputs": 1,
    }
    return Mapped("function", params, ops.nodes)


def view_call(node: fx.Node, t) -> Mapped:
    """``x.view(...)`` / ``x.reshape(...)`` as a Function block written without widths where
    its other sizes determine them, so uses of one class at other widths share its code
    (GPT-2's Conv1D at 96, 32 and 128 outputs is one class, as Hugging Face writes it):

    * ``x.view(-1, C)`` with ``C`` the last size of ``x`` -> ``x.view(-1, x.shape[2])``;
    * sizes read from tensors and one number -> that number is ``-1``
      (``out.view(x.shape[0], x.shape[1], 96)`` -> ``out.view(x.shape[0], x.shape[1], -1)``).
    """
    from studio.blocks.catalogue.function import InputRef, format_arguments

    x = node.args[0]
    ops = _Operands(t)
    me = ops.ref(x)
    sizes = ops.value(varargs(node, 1, "shape"))
    sizes = tuple(sizes) if isinstance(sizes, (tuple, list)) else (sizes,)
    numbers = [i for i, s in enumerate(sizes) if isinstance(s, int) and not isinstance(s, bool)]
    if sizes[:1] == (-1,) and len(sizes) == 2 and sizes[1] == t.s1[x].shape[-1]:
        sizes = (-1, InputRef(me.index, len(t.s1[x].shape) - 1))
    elif len(numbers) == 1 and -1 not in sizes and any(isinstance(s, InputRef) for s in sizes):
        sizes = tuple(-1 if i == numbers[0] else s for i, s in enumerate(sizes))
    name, args = f"Tensor.{node.target}", [me, *sizes]
    params = {
        "function": name,
        "arguments": format_arguments(args, {}),
        "inputs": len(ops.nodes),
        "outputs": 1,
    }
    return Mapped("function", params, ops.nodes)
