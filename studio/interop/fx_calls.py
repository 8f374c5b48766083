"""``nn`` modules whose call is more than one tensor in, one tensor out: :data:`CALLS` maps
the class to a reader of the call node that returns one :class:`Match`.

* tuples out: ``out, (h, c) = self.lstm(x)`` traces as ``getitem`` nodes on the module's
  node (``getitem 0``; ``getitem 1`` then ``getitem 0/1`` of that). Each element used becomes
  one output port of the block (LSTM: out, h_n, c_n; GRU/RNN: out, h_n; MultiheadAttention:
  out, and weights when it computes them);
* several tensors in: MultiheadAttention's query/key/value, a decoder's target and memory;
* a causal mask passed as a keyword (``tgt_mask=``, ``mask=``, ``src_mask=``), made with
  ``nn.Transformer.generate_square_subsequent_mask(x.size(1))`` as the blocks write it: the
  block's ``causal`` option, the mask's node part of the block.

The block's parameters come from the module through :data:`~studio.interop.fx_module_rules.MODULES`.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from typing import Any

import torch
from torch import fx, nn

from studio.interop.fx_module_rules import MODULES
from studio.interop.fx_rule_base import Mapped, Match, Unsupported, _require, arg

CallReader = Callable[[fx.Node, nn.Module, Any], Match]


def _block(module: nn.Module, extra: dict | None = None) -> tuple[str, dict]:
    from studio.blocks.registry import get_block_type

    block_type, params_of = MODULES[type(module)]
    params = {**params_of(module), **(extra or {})}
    return block_type, get_block_type(block_type).coerce_params(params)


def _elements(node: fx.Node, table: dict[tuple[int, ...], str], claimed: set, ports: dict, at=()) -> None:
    """Walk the ``getitem`` users of a tuple-valued ``node`` (at index path ``at``): an element
    named in ``table`` is that output port, a prefix of one is a nested tuple (LSTM's (h, c))."""
    for user in node.users:
        ok = user.op == "call_function" and user.target is operator.getitem and isinstance(user.args[1], int)
        _require(ok, f"{node.name} is a tuple used whole; Studio wires carry one tensor each")
        path = (*at, user.args[1])
        claimed.add(user)
        if path in table:
            ports[user] = table[path]
        elif any(k[: len(path)] == path for k in table):
            _elements(user, table, claimed, ports, path)
        else:
            _require(not user.users, f"element {path} of {node.name}, which has no port")


def _keywords(node: fx.Node, allowed: set[str]) -> dict[str, Any]:
    extra = set(node.kwargs) - allowed
    _require(not extra, f"{node.target} is called with {', '.join(sorted(extra))}")
    return dict(node.kwargs)


def _tensors(t, *nodes: Any) -> None:
    _require(all(t.is_tensor(n) for n in nodes), "arguments that are not tensors")


# --------------------------------------------------------------------------- recurrent
def _rnn(node: fx.Node, module: nn.Module, t) -> Match:
    _require(len(node.args) == 1 and not node.kwargs, f"{node.target} is given an initial state")
    x = node.args[0]
    _tensors(t, x)
    block_type, params = _block(module)
    if isinstance(module, nn.LSTM):
        table = {(0,): "out", (1, 0): "h_n", (1, 1): "c_n"}
    else:
        table = {(0,): "out", (1,): "h_n"}
    m = Match(Mapped(block_type, params, [x]), node, node.target)
    _elements(node, table, m.claimed, m.ports)
    _last_hidden_state(m, t)
    return m


def _item(node: fx.Node, source: fx.Node, index: int) -> bool:
    return (
        node.op == "call_function" and node.target is operator.getitem
        and node.args[0] is source and node.args[1] == index and len(node.users) == 1
    )


def _last_hidden_state(m: Match, t) -> None:
    """The block's ``last hidden state`` output, when the sequence is unused and the code reads
    ``h[-1]`` (``torch.cat([h[-2], h[-1]], dim=1)`` bidirectional), as the block writes it."""
    by_port = {port: n for n, port in m.ports.items()}
    out, h = by_port.get("out"), by_port.get("h_n")
    if h is None or (out is not None and out.users):
        return
    for user in h.users:
        last = user if not m.mapped.params["bidirectional"] and _item(user, h, -1) else None
        cat = next(iter(user.users)) if m.mapped.params["bidirectional"] and _item(user, h, -2) else None
        if cat is not None and cat.op == "call_function" and cat.target is torch.cat:
            parts = list(cat.args[0]) if cat.args else []
            dim = cat.args[1] if len(cat.args) > 1 else cat.kwargs.get("dim", 0)
            pair = len(parts) == 2 and parts[0] is user and _item(parts[1], h, -1)
            if pair and list(parts[1].users) == [cat] and dim == 1 and set(cat.kwargs) <= {"dim"}:
                last = cat
                m.claimed |= set(parts)
        if last is not None:
            m.mapped.params["output"] = "last hidden state"
            if out is not None:
                del m.ports[out]
            m.ports[last] = "out"
            m.claimed.add(last)
            return


# --------------------------------------------------------------------------- attention
def _mha(node: fx.Node, module: nn.Module, t) -> Match:
    kw = _keywords(node, {"key", "value", "need_weights", "average_attn_weights"})
    q = arg(node, 0, "query")
    k, v = arg(node, 1, "key"), arg(node, 2, "value")
    _require(len(node.args) <= 3, f"{node.target} is called with a mask")
    _tensors(t, q, k, v)
    need = t.const(kw.get("need_weights", True))
    average = t.const(kw.get("average_attn_weights", True))
    weights_used = any(
        u.op == "call_function" and u.target is operator.getitem and u.args[1] == 1 and u.users
        for u in node.users
    )
    need = bool(need and weights_used)  # weights nobody reads: the block skips them
    block_type, params = _block(module, {"need_weights": need, "average_attn_weights": bool(average)})
    # the block's key defaults to the query and its value to the key: unwired when they are
    inputs = [q, None if k is q else k, None if v is k else v]
    table = {(0,): "out", (1,): "weights"} if need else {(0,): "out"}
    m = Match(Mapped(block_type, params, inputs), node, node.target)
    _elements(node, table, m.claimed, m.ports)
    return m


def _causal(mask: Any, x: fx.Node, t, is_causal: Any, claimed: set) -> bool:
    """True for the mask ``nn.Transformer.generate_square_subsequent_mask(x.size(1))`` traces
    to (``torch.triu(torch.full((L, L), -inf), diagonal=1)``); False for no mask; any other
    mask has no block option."""
    if mask is None:
        _require(not t.const(is_causal), "is_causal=True without a mask")
        return False
    full = mask.args[0] if isinstance(mask, fx.Node) and mask.args else None
    ok = (
        isinstance(mask, fx.Node) and mask.op == "call_function" and mask.target is torch.triu
        and t.const(arg(mask, 1, "diagonal", 0)) == 1 and len(mask.users) == 1
        and isinstance(full, fx.Node) and full.op == "call_function" and full.target is torch.full
        and list(full.users) == [mask] and full.kwargs.get("dtype") in (None, torch.float32)
    )
    _require(ok, "a mask other than the causal one (generate_square_subsequent_mask)")
    length = t.shape(x)[1]
    size, value = t.const(arg(full, 0, "size")), t.const(arg(full, 1, "fill_value"))
    _require(size == (length, length) and value == -math.inf, "a mask other than the causal one of the sequence")
    claimed |= {mask, full}
    return True


def _transformer(node: fx.Node, module: nn.Module, t) -> Match:
    decoder = isinstance(module, (nn.TransformerDecoder, nn.TransformerDecoderLayer))
    layer = isinstance(module, (nn.TransformerEncoderLayer, nn.TransformerDecoderLayer))
    claimed: set[fx.Node] = set()
    if decoder:
        _keywords(node, {"memory", "tgt_mask", "tgt_is_causal"})
        _require(len(node.args) <= 2, f"{node.target} is called with masks other than tgt_mask")
        x, memory = arg(node, 0, "tgt"), arg(node, 1, "memory")
        _tensors(t, x, memory)
        inputs = [x, memory]
        causal = _causal(node.kwargs.get("tgt_mask"), x, t, node.kwargs.get("tgt_is_causal", False), claimed)
    else:
        name = "src_mask" if layer else "mask"
        _keywords(node, {name, "is_causal"})
        _require(len(node.args) <= 2, f"{node.target} is called with a padding mask")
        x = node.args[0]
        _tensors(t, x)
        inputs = [x]
        causal = _causal(arg(node, 1, name, None), x, t, node.kwargs.get("is_causal", False), claimed)
    block_type, params = _block(module, {"causal": causal})
    return Match(Mapped(block_type, params, inputs), node, node.target, claimed)


#: module class -> the reader of its call
CALLS: dict[type, CallReader] = {
    nn.LSTM: _rnn,
    nn.GRU: _rnn,
    nn.RNN: _rnn,
    nn.MultiheadAttention: _mha,
    nn.TransformerEncoderLayer: _transformer,
    nn.TransformerEncoder: _transformer,
    nn.TransformerDecoderLayer: _transformer,
    nn.TransformerDecoder: _transformer,
}


def module_call(node: fx.Node, t) -> Match | None:
    """The :class:`Match` for a call of a module in :data:`CALLS`, else None (the plain rules)."""
    if node.op != "call_module":
        return None
    module = t.modules[node.target]
    reader = CALLS.get(type(module))
    if reader is None:
        return None
    encoder = isinstance(module, (nn.TransformerEncoder, nn.TransformerEncoderLayer))
    if encoder and len(node.args) == 1 and not node.kwargs:
        return None  # one tensor in and out: MODULES does it
    return reader(node, module, t)


__all__ = ["CALLS", "Unsupported", "module_call"]
