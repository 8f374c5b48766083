"""Writes into a tensor, recorded as the out-of-place operations that compute the same value.

Studio's graph is dataflow: a block's output never changes after it is computed, so an
in-place write (BART's ``shift_tokens_right``: ``shifted = ids.new_zeros(ids.shape)``, then
``shifted[:, 1:] = ids[:, :-1]``, ``shifted[:, 0] = start``, ``shifted.masked_fill_(shifted ==
-100, pad)``) cannot be a block as written. The second tracer (:mod:`studio.interop.fx_concrete`)
records each write as the out-of-place call torch's own functionalization uses and points the
traced variable at its result, so every later read sees the written value:

* ``x[:, 1:] = v`` -> ``x = torch.slice_scatter(x, v, dim=1, start=1)``;
* ``x[:, 0] = 2`` -> ``x = torch.select_scatter(x, torch.full_like(x[:, 0], 2), dim=1, index=0)``;
* ``x[mask] = 0`` -> ``x = x.masked_fill(mask, 0)``; other tensor indices -> ``x.index_put``;
* ``x.masked_fill_(m, v)``, ``x.add_(y)``... -> ``x = x.masked_fill(m, v)``, ``x = x.add(y)``.

Only a tensor made in ``forward`` that shares its memory with no other traced value is written
so (a write into a view would also change the tensor it views, a write into an input or a
buffer would change the caller's tensor or the model): :func:`unwritable` says why not.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import fx

#: in-place methods whose name without ``_`` is another operation (``bernoulli_(p)`` fills
#: with draws of ``p``; ``bernoulli()`` draws from the tensor itself) or none that computes a value
_NOT_PURE = frozenset(
    {
        "bernoulli_",
        "cauchy_",
        "exponential_",
        "geometric_",
        "log_normal_",
        "normal_",
        "random_",
        "uniform_",
        "resize_",
        "resize_as_",
        "set_",
        "share_memory_",
        "requires_grad_",
    }
)


def out_of_place(method: Any) -> str | None:
    """``"masked_fill"`` for ``"masked_fill_"``: the Tensor method computing the same value
    without writing, or None (not an in-place method, or none exists)."""
    if not isinstance(method, str) or not method.endswith("_") or method.startswith("_"):
        return None
    if method in _NOT_PURE:
        return None
    return method[:-1] if callable(getattr(torch.Tensor, method[:-1], None)) else None


def sharing(node: fx.Node, values: dict[fx.Node, Any]) -> list[fx.Node]:
    """The other traced values that share memory with ``node``'s tensor (its views, the
    tensor it views, the same tensor returned by ``contiguous()``)."""
    mine = _storage(values[node]) if isinstance(values.get(node), torch.Tensor) else None
    if mine is None:
        return []
    return [other for other, v in values.items() if other is not node and mine in _storages(v)]


def unwritable(node: fx.Node, values: dict[fx.Node, Any], shared: list[fx.Node]) -> str | None:
    """Why a write into ``node``'s tensor cannot be recorded out of place, or None: it is (or
    shares memory with) an input, a parameter or a buffer, whose write would reach the caller
    or the model's state."""
    if not isinstance(values.get(node), torch.Tensor):
        return f"{node.name} is not a tensor"
    for n in (node, *shared):
        if n.op == "placeholder":
            return f"{n.name} is an input of the model (the write would change the caller's tensor)"
        if n.op == "get_attr":
            return f"{n.name} is a parameter or buffer of the model"
    return None


def stale_read(graph: fx.Graph, writes: list, reads_sizes: Callable[[fx.Node], bool]) -> str | None:
    """After tracing: a value read after a write into memory it shares (``v = x[:, 0]``,
    ``x[:, 0] = 2``, then ``v`` read), which the written value, made out of place, does not
    change; None where there is none. ``writes``: ``(the node written, its new value, the nodes
    sharing its memory)``; a node that ``reads_sizes`` (``v.shape``) does not read the values."""
    order = {n: i for i, n in enumerate(graph.nodes)}
    for written, result, shared in writes:
        after = order.get(result, -1)
        for n in (written, *shared):
            late = [u for u in n.users if order.get(u, -1) > after and not reads_sizes(u)]
            if late:
                return (
                    f"{late[0].name} reads {n.name}, which shares memory with {written.name}, "
                    "after a write into it"
                )
    return None


def _storage(t: torch.Tensor) -> int | None:
    try:
        return t.untyped_storage().data_ptr() if t.numel() else None
    except (RuntimeError, NotImplementedError):  # a tensor without storage (sparse, nested)
        return None


def _storages(v: Any) -> set[int]:
    if isinstance(v, torch.Tensor):
        return {s} if (s := _storage(v)) is not None else set()
    if isinstance(v, (list, tuple)):
        return set().union(*(_storages(x) for x in v)) if v else set()
    return set()


class WriteError(Exception):
    """The write cannot be expressed out of place; ``str()`` says why."""


def assigned(x: Any, index: Any, v: Any, value_of) -> Any:
    """The value of ``x`` after ``x[index] = v``, computed out of place from the traced ``x``
    (``value_of(proxy)``: the example's value of a traced value)."""
    index = index if isinstance(index, tuple) else (index,)
    tensors = [_tensor(i, value_of) is not None for i in index]
    if index and all(tensors):
        return _by_tensors(x, index, v, value_of)
    for i in index:
        if any(tensors) or not _basic(i, value_of):
            raise WriteError(f"item assignment with the index {_shown(i, value_of)} among others")
    if sum(i is Ellipsis for i in index) > 1:
        raise WriteError("item assignment with two ...")
    ndim = value_of(x).dim()
    if Ellipsis in index:
        at = index.index(Ellipsis)
        fill = ndim - (len(index) - 1)
        index = (*index[:at], *(slice(None),) * fill, *index[at + 1 :])
    if len(index) > ndim:
        raise WriteError(f"item assignment with {len(index)} indices into {ndim} dimensions")
    return _by_position(x, index, v, value_of)


def _basic(i: Any, value_of) -> bool:
    """A number (written or traced), a slice of those, or ``...``."""
    if isinstance(i, slice):
        return all(p is None or _basic(p, value_of) for p in (i.start, i.stop, i.step))
    if isinstance(i, fx.Proxy):
        i = value_of(i)
    return i is Ellipsis or (isinstance(i, int) and not isinstance(i, bool))


def _shown(i: Any, value_of) -> str:
    return "a tensor" if _tensor(i, value_of) is not None else repr(i)[:40]


def _by_position(x: Any, index: tuple, v: Any, value_of) -> Any:
    """``x[:, a, b] = v``: the first index that is not ``:`` written with ``select_scatter``
    (a number) or ``slice_scatter`` (a slice), of what the rest of the index writes into it."""
    whole = slice(None)
    d = next((i for i, item in enumerate(index) if item != whole), None)
    if d is None:  # x[:] = v: every value
        return _fitted(v, x, value_of, fresh=True)
    item, rest = index[d], index[d + 1 :]
    part = x[(whole,) * d + (item,)]
    kept = d if not isinstance(item, slice) else d + 1
    if any(r != whole for r in rest):
        src = _by_position(part, (whole,) * kept + rest, v, value_of)
    else:
        src = _fitted(v, part, value_of)
    if not isinstance(item, slice):
        return torch.select_scatter(x, src, dim=d, index=item)
    kwargs: dict[str, Any] = {"dim": d}
    if item.start is not None:
        kwargs["start"] = item.start
    if item.stop is not None:
        kwargs["end"] = item.stop
    if item.step not in (None, 1):
        kwargs["step"] = item.step
    return torch.slice_scatter(x, src, **kwargs)


def _fitted(v: Any, like: Any, value_of, fresh: bool = False) -> Any:
    """``v`` as a tensor of ``like``'s shape and dtype, as item assignment converts it: a
    number filled in (``torch.full_like``), a tensor broadcast and cast. ``fresh``: never ``v``
    itself nor a view of it (it becomes the written tensor, which has memory of its own)."""
    v = _number(v, value_of)
    if not isinstance(v, fx.Proxy) or not isinstance(value_of(v), torch.Tensor):
        return torch.full_like(like, v)
    want, have = value_of(like), value_of(v)
    if have.shape != want.shape:
        if have.dim() > want.dim():
            raise WriteError("item assignment of a tensor with more dimensions than its place")
        v = v.expand_as(like)
    if have.dtype != want.dtype:
        return v.to(want.dtype)
    return v.clone() if fresh else v


def _by_tensors(x: Any, index: tuple, v: Any, value_of) -> Any:
    """``x[mask] = 0`` -> ``x.masked_fill(mask, 0)``; ``x[rows, cols] = v`` -> ``x.index_put``."""
    v = _number(v, value_of)
    if not isinstance(v, fx.Proxy) or not isinstance(value_of(v), torch.Tensor):
        if len(index) == 1 and _tensor(index[0], value_of).dtype == torch.bool:
            return x.masked_fill(index[0], v)
        v = x.new_full((), v)
    elif value_of(v).dtype != value_of(x).dtype:
        v = v.to(value_of(x).dtype)
    return x.index_put(index, v)


def _number(v: Any, value_of) -> Any:
    """A traced tensor, or the number to write (a constant tensor of one value as its number)."""
    if isinstance(v, fx.Proxy):
        return v
    if isinstance(v, torch.Tensor) and v.numel() == 1:
        return v.item()
    if isinstance(v, (bool, int, float)):
        return v
    raise WriteError(f"item assignment of {_shown(v, value_of)} (a number or a traced tensor)")


def _tensor(v: Any, value_of) -> torch.Tensor | None:
    """The tensor ``v`` is (its example value where it is traced), or None."""
    value = value_of(v) if isinstance(v, fx.Proxy) else v
    return value if isinstance(value, torch.Tensor) else None
