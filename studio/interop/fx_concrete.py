"""The second tracer: torch.fx that also runs the model on an example, for code plain fx refuses.

Plain ``symbolic_trace`` stops at Python control flow on a traced value (nanoGPT's ``assert t
<= block_size``, ``if attention_mask is None``), at ``len()`` or iteration over a traced value,
and at ``torch.finfo(x.dtype)``. This tracer runs every node on the example as it records it,
so such a question gets the example's answer:

* ``bool()``, ``len()``, ``int()`` and iteration of a traced value use its real value (the
  branch the example takes is the branch recorded);
* ``x.dtype``, ``x.device``, ``x.ndim`` are the real dtype, device and number of dimensions
  (so ``torch.arange(t, device=x.device)`` records a plain device argument);
* sizes stay traced: ``x.size(1)`` is a node, so a later ``view(B, T, ...)`` follows the input.

Chosen over ``torch.export`` because it keeps calls to modules whole (a ``nn.Linear`` stays one
``call_module`` node, found again as a Linear block) and records the same ``nn_module_stack``
as plain fx, so everything after the trace is shared. Used only where plain fx fails
(:func:`studio.interop.fx_trace._trace` says which tracer was used).
"""

from __future__ import annotations

import math
import operator
from typing import Any

import torch
from torch import fx, nn
from torch.fx.node import map_aggregate
from torch.fx.proxy import Attribute, Proxy

from studio.interop.fx_writes import (
    WriteError,
    assigned,
    out_of_place,
    sharing,
    stale_read,
    unwritable,
)

#: attributes of a traced tensor that are answered with the example's value
_CONCRETE = frozenset(
    {"dtype", "device", "ndim", "is_cuda", "layout", "requires_grad", "is_sparse"}
)


class _Concrete:
    """What a traced value answers with its real value."""

    def _value(self) -> Any:
        return self.tracer.value_of(self)

    def __len__(self) -> int:
        return len(self._value())

    def _answer(self, what: str) -> Any:
        return self.tracer.answer(self.node, what)

    def __int__(self) -> int:
        return int(self._answer("int()"))

    def __index__(self) -> int:
        return operator.index(self._answer("an index"))

    def __float__(self) -> float:
        return float(self._answer("float()"))

    # math.ceil(H / patch) (mobilevitv2's padded size) stays traced: a size computed from the
    # input's, not the example's number (a tensor's is a question about its value, as float())
    def __ceil__(self) -> Any:
        return self._rounded(math.ceil)

    def __floor__(self) -> Any:
        return self._rounded(math.floor)

    def _rounded(self, how) -> Any:
        if isinstance(self._value(), torch.Tensor):
            return how(float(self))
        return self.tracer.create_proxy("call_function", how, (self,), {})

    def __getattr__(self, k: str) -> Any:
        if k in _CONCRETE:
            return getattr(self._value(), k)
        return _ConcreteAttribute(self, k)


#: reading these from a tensor reads its sizes or kind, not its values
_NOT_VALUES = frozenset({"size", "dim", "shape", *_CONCRETE})


def reads_sizes(node: fx.Node) -> bool:
    """``x.size()``, ``x.shape``, ``x.dim()``, ``x.dtype``: what it reads is not the values."""
    if node.op == "call_method":
        return node.target in _NOT_VALUES
    return node.op == "call_function" and node.target is getattr and node.args[1] in _NOT_VALUES


class _ConcreteProxy(_Concrete, Proxy):
    def __setitem__(self, index: Any, value: Any) -> None:
        """``x[index] = value``, recorded out of place (:mod:`studio.interop.fx_writes`)."""
        self.tracer.write(
            self, lambda: assigned(self, index, value, self.tracer.value_of), required=True
        )


class _ConcreteAttribute(_Concrete, Attribute):
    pass


def concrete_tracer(base: type[fx.Tracer]) -> type[fx.Tracer]:
    """``base`` (Studio's fx tracer) that runs each node on the example while tracing."""

    class ConcreteTracer(base):
        def __init__(self, examples: list[Any]) -> None:
            super().__init__()
            # buffers read in forward become nodes too (BERT slices ``self.position_ids`` to
            # the input's length), so sizes taken from the input stay traced through them
            self.proxy_buffer_attributes = True
            self.examples = list(examples)
            self.values: dict[fx.Node, Any] = {}
            #: nodes whose value depends on the input's values (not only on its sizes)
            self.data: set[fx.Node] = set()
            self._running = 0
            #: writes recorded out of place: (the tensor written, its new value, its aliases)
            self.writes: list[tuple[fx.Node, fx.Node, list[fx.Node]]] = []

        # ------------------------------------------------------------ values
        def value_of(self, proxy: Proxy) -> Any:
            return self.values[proxy.node]

        def _real(self, a: Any) -> Any:
            return map_aggregate(a, lambda x: self.values[x.node] if isinstance(x, Proxy) else x)

        def create_proxy(
            self, kind, target, args, kwargs, name=None, type_expr=None, proxy_factory_fn=None
        ):
            pure = out_of_place(target) if kind == "call_method" and not self._running else None
            if pure and args and isinstance(args[0], _ConcreteProxy):
                # x.masked_fill_(m, v) -> x = x.masked_fill(m, v): the same value, no write
                written = self.write(args[0], lambda: self._pure(args[0], pure, args, kwargs))
                if written is not None:
                    return written
            proxy = super().create_proxy(
                kind, target, args, kwargs, name, type_expr, proxy_factory_fn
            )
            node = proxy.node
            if node not in self.values:
                self.values[node] = self._run(kind, target, self._real(args), self._real(kwargs))
                if kind == "placeholder" or (
                    not reads_sizes(node) and any(n in self.data for n in node.all_input_nodes)
                ):
                    self.data.add(node)
            return proxy

        def answer(self, node: fx.Node, what: str) -> Any:
            """The example's value, where it is a size, a dtype, a flag, or a tensor computed from
            sizes and constants only (GPT-2's positions ``arange(T)``: a question about the
            length). A value read from the input's data would make the recorded graph right for
            this example only, so it is refused as plain fx refuses it."""
            value = self.values[node]
            if isinstance(value, torch.Tensor) and node in self.data:
                raise fx.proxy.TraceError(
                    f"{what} depends on the data: symbolically traced variables cannot be used "
                    "as inputs to control flow"
                )
            return value

        # ------------------------------------------------------------ writes
        def _pure(self, x: Proxy, method: str, args: Any, kwargs: Any) -> Proxy:
            """``x.method(*args)``, the out-of-place twin of an in-place method, in ``x``'s
            dtype as the in-place method keeps it (``half.add_(float)`` stays half)."""
            out = self.create_proxy("call_method", method, args, kwargs)
            have, want = self.values[out.node], self.values[x.node]
            if isinstance(have, torch.Tensor) and have.dtype != want.dtype:
                out = out.to(want.dtype)
            return out

        def write(self, x: Proxy, compute, required: bool = False) -> Proxy | None:
            """Point ``x`` at the value ``compute()`` records (the written value, computed out
            of place: :mod:`studio.interop.fx_writes`), so every later read of ``x`` reads it.
            Where ``x`` is (or shares memory with) an input, a parameter or a buffer: None, or
            with ``required`` (item assignment, which plain fx refuses too) an error."""
            shared = sharing(x.node, self.values)
            why = unwritable(x.node, self.values, shared)
            if why is not None:
                if not required:
                    return None
                raise fx.proxy.TraceError(f"a write Studio cannot follow: {why}")
            try:
                new = compute()
            except WriteError as e:
                raise fx.proxy.TraceError(str(e)) from None
            self.writes.append((x.node, new.node, shared))
            x.node = new.node
            return x

        def _run(self, kind: str, target: Any, args: Any, kwargs: Any) -> Any:
            if kind == "placeholder":
                return self.examples.pop(0) if self.examples else None
            if kind == "output":
                return None
            self._running += 1
            try:
                with torch.no_grad():
                    if kind == "get_attr":
                        value: Any = self.root
                        for part in target.split("."):
                            value = getattr(value, part)
                        return value
                    if kind == "call_function":
                        return target(*args, **kwargs)
                    if kind == "call_method":
                        return getattr(args[0], target)(*args[1:], **kwargs)
                    return self.root.get_submodule(target)(*args, **kwargs)
            finally:
                self._running -= 1

        def proxy(self, node: fx.Node) -> Proxy:
            return _ConcreteProxy(node, self)

        # ------------------------------------------------- while running an op
        def getattr(self, attr: str, attr_val: Any, parameter_proxy_cache: dict[str, Any]) -> Any:
            if self._running:
                return attr_val
            return super().getattr(attr, attr_val, parameter_proxy_cache)

        def call_module(self, m: nn.Module, forward: Any, args: Any, kwargs: Any) -> Any:
            if self._running:
                return forward(*args, **kwargs)
            return super().call_module(m, forward, args, kwargs)

        # --------------------------------------------- Python asks a question
        def to_bool(self, obj: Proxy) -> bool:
            return bool(self.answer(obj.node, "a branch"))

        def trace(self, root: Any, concrete_args: Any = None) -> fx.Graph:
            from studio.interop.hf_trace import eager_answers

            def known(x: Any) -> bool:
                return isinstance(x, _ConcreteProxy) and x.node not in self.data

            with eager_answers(known):
                graph = super().trace(root, concrete_args)
            stale = stale_read(graph, self.writes, reads_sizes)
            if stale is not None:
                raise fx.proxy.TraceError(f"a write Studio cannot follow: {stale}")
            return graph

        def iter(self, obj: Proxy):
            return iter([obj[i] for i in range(len(self.values[obj.node]))])

        def keys(self, obj: Proxy) -> Any:
            return self.values[obj.node].keys()

    return ConcreteTracer
