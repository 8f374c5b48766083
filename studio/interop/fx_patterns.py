"""Patterns of several fx nodes that are one Studio block, so the code Studio generates for
its position blocks (and the same idioms written by hand, as nanoGPT's ``wpe``) import back:

* learned positions: ``x + emb(torch.arange(L, device=...))`` with an ``nn.Embedding``;
* sinusoidal positions: ``x + table.narrow(0, 0, L)`` (or ``narrow(1, ...)`` of a 1×L×E
  table), ``table`` a buffer holding exactly the sines and cosines the block computes
  (``table[: x.size(1)]`` is a slice of a size, which fx cannot trace);
* class tokens: ``torch.cat([token.expand(N, -1, -1), x], dim=1)`` with an ``nn.Parameter``.

Each matcher gets the node whose value is the block's output (an add, a cat) and returns a
:class:`Match` or None. :func:`match` also tries :func:`studio.interop.fx_calls.module_call`.
"""

from __future__ import annotations

import operator
from typing import Any

import torch
from torch import fx, nn

from studio.blocks.params import ParamError
from studio.interop.fx_calls import module_call
from studio.interop.fx_rule_base import BATCH_DIM, LengthDependent, Mapped, Match, Unsupported


def _only_user(node: Any, user: fx.Node) -> bool:
    return isinstance(node, fx.Node) and list(node.users) == [user]


def _const(t, value: Any, allow_batch: bool = False) -> Any:
    try:
        return t.const(value, allow_batch)
    except Unsupported:
        return None


def _length(t, value: Any) -> Any:
    """A constant, or the example's value of a size that follows the input's length (the
    block built from it reads the length from its input)."""
    try:
        return t.const(value)
    except LengthDependent:
        return t.s1.get(value)
    except Unsupported:
        return None


def _sequence(t, x: Any) -> tuple[int, ...] | None:
    """The shape of ``x`` when it is an N×L×E sequence."""
    if not t.is_tensor(x) or not t.follows_batch(x):
        return None
    shape = t.s1[x].shape
    return shape if len(shape) == 3 else None


def _operands(node: fx.Node) -> list[tuple[Any, Any]]:
    """``(x, added)`` both ways round for ``x + added``, else nothing."""
    ok = node.op == "call_function" and node.target in (operator.add, torch.add)
    if not ok or len(node.args) != 2 or node.kwargs:
        return []
    a, b = node.args
    return [(a, b), (b, a)]


def _attribute(t, target: str) -> Any:
    value = t.gm
    for part in target.split("."):
        value = getattr(value, part)
    return value


# --------------------------------------------------------------------------- learned positions
def _learned(node: fx.Node, t) -> Match | None:
    for x, pos in _operands(node):
        shape = _sequence(t, x)
        if shape is None or not _only_user(pos, node) or pos.op != "call_module":
            continue
        emb = t.modules[pos.target]
        if type(emb) is not nn.Embedding or len(pos.args) != 1 or pos.kwargs or emb.embedding_dim != shape[-1]:
            continue
        if emb.padding_idx is not None or emb.max_norm is not None:
            continue
        r = pos.args[0]
        if not (_only_user(r, pos) and r.op == "call_function" and r.target is torch.arange):
            continue
        args = [_length(t, a) for a in r.args]
        if args[:1] == [0] and len(args) == 2:
            args = args[1:]
        dtype = r.kwargs.get("dtype", torch.long)
        if args != [shape[1]] or set(r.kwargs) - {"device", "dtype"} or dtype is not torch.long:
            continue
        max_len = 0 if emb.num_embeddings == shape[1] else emb.num_embeddings
        return Match(Mapped("learned_positions", {"max_len": max_len}, [x]), pos, pos.target, {r, pos})
    return None


# --------------------------------------------------------------------------- sinusoidal positions
def sinusoidal_table(length: int, dim: int) -> torch.Tensor:
    """The table the Sinusoidal positions block builds (see its emitter)."""
    position = torch.arange(length).unsqueeze(1)
    frequency = 10000.0 ** (-torch.arange(0, dim, 2) / dim)
    table = torch.zeros(length, dim)
    table[:, 0::2] = torch.sin(position * frequency)
    table[:, 1::2] = torch.cos(position * frequency)
    return table


def _narrowed(node: Any, t) -> tuple[fx.Node, int, Any] | None:
    """``table.narrow(dim, 0, n)`` (or ``torch.narrow``) -> ``(table, dim, n)``."""
    if not isinstance(node, fx.Node):
        return None
    method = node.op == "call_method" and node.target == "narrow"
    function = node.op == "call_function" and node.target is torch.narrow
    if not (method or function) or len(node.args) != 4 or node.kwargs:
        return None
    table, dim, start, length = node.args
    if _const(t, start) != 0 or not isinstance(table, fx.Node):
        return None
    return table, _const(t, dim), _const(t, length)


def _sinusoidal(node: Any, t) -> Match | None:
    for x, sliced in _operands(node):
        shape = _sequence(t, x)
        found = _narrowed(sliced, t)
        if shape is None or found is None or not _only_user(sliced, node):
            continue
        table, dim, length = found
        if not (_only_user(table, sliced) and table.op == "get_attr") or length != shape[1]:
            continue
        value = _attribute(t, table.target)
        if isinstance(value, nn.Parameter) or not isinstance(value, torch.Tensor):
            continue
        if value.dim() == 3 and value.shape[0] == 1 and dim == 1:
            value, dim = value[0], 0
        if value.dim() != 2 or dim != 0 or value.shape[1] != shape[-1]:
            continue
        rows, size = value.shape
        if size % 2 or not torch.allclose(value.float(), sinusoidal_table(rows, size), atol=1e-5):
            continue
        max_len = 0 if rows == shape[1] else rows
        # the block makes the table itself, unsaved: no weights to carry over
        return Match(Mapped("sinusoidal_positions", {"max_len": max_len}, [x]), table, None, {table, sliced})
    return None


# --------------------------------------------------------------------------- class tokens
def _class_token(node: fx.Node, t) -> Match | None:
    if not (node.op == "call_function" and node.target in (torch.cat, torch.concat)):
        return None
    tensors = node.args[0] if node.args else node.kwargs.get("tensors")
    dim = _const(t, node.args[1] if len(node.args) > 1 else node.kwargs.get("dim", 0))
    if not isinstance(tensors, (list, tuple)) or len(tensors) != 2 or dim not in (1, -2):
        return None
    expanded, x = tensors
    shape = _sequence(t, x)
    if shape is None or not _only_user(expanded, node):
        return None
    if not (expanded.op == "call_method" and expanded.target == "expand" and not expanded.kwargs):
        return None
    token, *sizes = expanded.args
    if not (_only_user(token, expanded) and token.op == "get_attr"):
        return None
    value = _attribute(t, token.target)
    if not isinstance(value, nn.Parameter) or value.dim() != 3 or value.shape[0] != 1 or value.shape[2] != shape[2]:
        return None
    sizes = [_const(t, s, allow_batch=True) for s in sizes]
    if sizes[:1] != [BATCH_DIM] or any(s not in (-1, value.shape[i + 1]) for i, s in enumerate(sizes[1:])):
        return None
    params = {"num_tokens": value.shape[1]}
    return Match(Mapped("class_token", params, [x]), token, token.target, {token, expanded})


PATTERNS = (_learned, _sinusoidal, _class_token)


def match(node: fx.Node, t) -> Match | None:
    """The block several nodes ending at ``node`` make together, or None.

    Raises :class:`Unsupported` when ``node`` is a module call in
    :data:`~studio.interop.fx_calls.CALLS` that its block cannot express (the message says
    why; the module is then kept as a Custom module block where it can be).
    """
    try:
        found = module_call(node, t)
    except ParamError as e:
        raise Unsupported(str(e)) from None
    if found is not None or node.op == "call_module":
        return found
    for pattern in PATTERNS:
        found = pattern(node, t)
        if found is not None:
            return found
    return None
