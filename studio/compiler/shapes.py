"""Exact shapes by running the real modules on ``meta`` tensors (no memory, no compute).

Each block is evaluated from the very code the generator writes for it (its emitter's
``__init__`` and ``forward`` lines), so the shapes shown are the shapes the exported module
produces. A block is evaluated again only when its type, parameters, frozen flag or input
shapes change; results are also shared between blocks with the same key.
Where a module cannot be built on ``meta`` (its constructor computes with tensors, like
torchvision's RegNet), it is built on the CPU with each parameter moved to ``meta`` as it is
registered, then run on ``meta``; only when that fails too, a real build on the CPU with a
batch of 2 is used.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.nn.modules import module as _module

from studio.blocks.registry import (
    BATCH,
    ROLE_INPUT,
    ROLE_OUTPUT,
    BlockType,
    EmitContext,
    ShapeUnknown,
)
from studio.blocks.shapes import fmt_shape
from studio.blocks.text import shorten
from studio.compiler.macs import count_macs
from studio.trust import TrustPolicy

Shape = tuple[int, ...]
InSpec = tuple[Shape, str] | None

_FALLBACK_BATCH = 2
_FALLBACK_MAX_NUMEL = 20_000_000
_MEMO_SIZE = 50_000


@dataclass(frozen=True)
class BlockInfo:
    """What inference knows about one block."""

    in_shapes: tuple[Shape | None, ...]
    out_shapes: tuple[Shape | None, ...]
    out_dtypes: tuple[str | None, ...]
    params: int = 0
    trainable: int = 0
    size_bytes: int = 0
    macs: int | None = None
    error: str | None = None
    #: True when the meta build failed and a real CPU build was used
    fallback: bool = False

    @property
    def out_text(self) -> str:
        return ", ".join(fmt_shape(s) for s in self.out_shapes)


UNKNOWN = BlockInfo((), (), ())

_memo: OrderedDict[Any, BlockInfo] = OrderedDict()
#: (type id, frozen parameters, input specs) -> the output specs known without running the block
#: (see :func:`seeded`); None: every block is run
_seeds: contextvars.ContextVar[dict | None] = contextvars.ContextVar("studio_shape_seeds", default=None)


@contextlib.contextmanager
def seeded(answers: dict):
    """Inside, a block whose ``(type id, _freeze(params), in_specs)`` is in ``answers`` gets the
    output specs ``((shape, dtype), ...)`` given there instead of being run on meta: its checks
    and emitter still run, its counts are 0 and it is not cached (the import's check gives the
    shapes its trace recorded, and proves the code generated from them computes the original's
    graph, see :mod:`studio.interop.fx_seeds`). Only the caller's thread and context see them."""
    token = _seeds.set(answers)
    try:
        yield
    finally:
        _seeds.reset(token)
_code_cache: dict[str, Any] = {}


def _compiled(text: str):
    code = _code_cache.get(text)
    if code is None:
        code = compile(text, "<studio shape inference>", "exec")
        if len(_code_cache) > 20_000:
            _code_cache.clear()
        _code_cache[text] = code
    return code


def _freeze(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    return value


def _dtype(name: str) -> torch.dtype:
    return getattr(torch, name)


def _dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def evaluate_block(
    spec: BlockType,
    params: dict[str, Any],
    in_specs: tuple[InSpec, ...],
    frozen: bool = False,
    trust: TrustPolicy | None = None,
) -> BlockInfo:
    """Shapes, parameter counts and MACs of one block given its input shapes and dtypes.
    ``trust`` says which outside code may run (default: none beyond torch and torchvision);
    a cached result is reused only under the same answers for this block's outside code."""
    if None in in_specs and spec.role != ROLE_OUTPUT:  # below a missing wire: no key to build
        unknown = _missing_input(spec, params, in_specs)
        if unknown is not None:
            return unknown
    trust = trust if trust is not None else TrustPolicy()
    outside = spec.outside_code(params) if spec.outside_code is not None else ()
    key = (spec.id, _freeze(params), frozen, in_specs, trust.decisions(outside))
    hit = _memo.get(key)
    if hit is not None:
        with contextlib.suppress(KeyError):  # another thread (the Code view's) evicted it
            _memo.move_to_end(key)
        return hit
    seeds = _seeds.get()
    known = seeds.get((spec.id, key[1], in_specs)) if seeds else None
    if known is not None:
        return _evaluate(spec, params, in_specs, frozen, trust, known)
    info = _evaluate(spec, params, in_specs, frozen, trust)
    _memo[key] = info
    if len(_memo) > _MEMO_SIZE:
        _memo.popitem(last=False)
    return info


def _evaluate(
    spec: BlockType,
    params: dict[str, Any],
    in_specs: tuple[InSpec, ...],
    frozen: bool,
    trust: TrustPolicy,
    known: tuple | None = None,
) -> BlockInfo:
    in_shapes = tuple(s[0] if s else None for s in in_specs)
    if spec.role == ROLE_INPUT:
        shape = (BATCH, *params["shape"])
        return BlockInfo((), (shape,), (params["dtype"],))
    if spec.role == ROLE_OUTPUT:
        return BlockInfo(in_shapes, (), ())
    missing = _missing_input(spec, params, in_specs)
    if missing is not None:
        return missing  # an upstream problem or a missing wire: nothing to say here
    n_out = len(spec.output_ports(params))
    unknown = BlockInfo(in_shapes, (None,) * n_out, (None,) * n_out)
    ctx = EmitContext(
        attr="layer",
        params=params,
        inputs=[f"_in{i}" if s is not None else None for i, s in enumerate(in_specs)],
        outputs=[f"_out{i}" for i in range(n_out)],
        in_shapes=list(in_shapes),
        in_dtypes=[s[1] if s else None for s in in_specs],
        frozen=frozen,
        inference=True,
        namer=lambda base: f"_tmp_{base}",
        trust=trust,
    )
    try:
        if spec.check is not None:
            message = spec.check(ctx)
            if message:
                return _error(unknown, message.replace("{label}", spec.label))
        emitted = spec.emitter.emit(ctx)
    except ShapeUnknown:
        return unknown
    except Exception as e:  # a declaration that cannot handle these inputs
        return _error(unknown, f"{spec.label} cannot work with input {_shapes_text(in_shapes)}: {shorten(e, 200)}")
    if known is not None and len(known) == n_out:  # given (see seeded): not run
        return BlockInfo(in_shapes, tuple(k[0] for k in known), tuple(k[1] for k in known))

    try:
        return _run(spec, ctx, emitted, in_specs, device="meta")
    except Exception as meta_error:
        try:
            return _run(spec, ctx, emitted, in_specs, device="meta", build_on_cpu=True)
        except Exception:
            pass
        if not _may_fallback(in_shapes):
            return _error(unknown, _explain(spec, in_shapes, meta_error))
        try:
            info = _run(spec, ctx, emitted, in_specs, device="cpu")
        except Exception as e:
            return _error(unknown, _explain(spec, in_shapes, e))
        return info


def missing_input(
    spec: BlockType, params: dict[str, Any], in_specs: tuple[InSpec, ...], ports: tuple
) -> BlockInfo | None:
    """:func:`evaluate_block`'s answer when a required input's shape is unknown (below a
    missing wire), else None; ``ports`` are ``spec.input_ports(params)``. Every block below a
    removed wire asks this, so it builds no cache key: 2,200 blocks below one cost 11 us each
    before, most of it in the key."""
    if spec.role == ROLE_OUTPUT or spec.role == ROLE_INPUT:
        return None
    if len(in_specs) == 1:  # most blocks: no generators
        if in_specs[0] is not None or ports[0].optional:
            return None
        key = (_NO_SHAPE, len(spec.output_ports(params)))
    elif not any(s is None and not p.optional for s, p in zip(in_specs, ports)):
        return None
    else:
        key = (tuple(s[0] if s else None for s in in_specs), len(spec.output_ports(params)))
    return unknown_answer(*key)


def unknown_answer(in_shapes: tuple[Shape | None, ...], n_out: int) -> BlockInfo:
    """The answer of a block (not an Input or Output) that lacks a required input's shape, given
    its inputs' shapes (None where unknown) and its number of outputs: one shared object per
    inputs and outputs (a frozen dataclass is slow to make)."""
    key = (in_shapes, n_out)
    found = _unknowns.get(key)
    if found is None:
        if len(_unknowns) > 1000:
            _unknowns.clear()
        found = _unknowns[key] = BlockInfo(in_shapes, (None,) * n_out, (None,) * n_out)
    return found


def _missing_input(
    spec: BlockType, params: dict[str, Any], in_specs: tuple[InSpec, ...]
) -> BlockInfo | None:
    """The unknown answer of a block (not an Input or Output) that lacks a required input's
    shape, else None."""
    return missing_input(spec, params, in_specs, spec.input_ports(params))


_unknowns: dict[tuple, BlockInfo] = {}
_NO_SHAPE = (None,)


def _may_fallback(in_shapes: tuple[Shape | None, ...]) -> bool:
    total = 0
    for s in in_shapes:
        if s is None:
            continue
        n = 1
        for d in s:
            n *= _FALLBACK_BATCH if d == BATCH else d
        total += n
    return total <= _FALLBACK_MAX_NUMEL


_local = threading.local()  # the hooks are global: they act only in the thread that set them


def _param_to_meta(module: nn.Module, name: str, param: nn.Parameter | None):
    if getattr(_local, "on_meta", False) and param is not None and param.device.type != "meta":
        return nn.Parameter(param.to("meta"), requires_grad=param.requires_grad)
    return None


def _buffer_to_meta(module: nn.Module, name: str, buffer: torch.Tensor | None):
    if getattr(_local, "on_meta", False) and buffer is not None and buffer.device.type != "meta":
        return buffer.to("meta")
    return None


@contextlib.contextmanager
def parameters_on_meta():
    """Build on the CPU, but move every parameter and buffer to ``meta`` as it is registered:
    the constructor's own arithmetic runs for real, the weights never take memory."""
    hooks = [
        _module.register_module_parameter_registration_hook(_param_to_meta),
        _module.register_module_buffer_registration_hook(_buffer_to_meta),
    ]
    _local.on_meta = True
    try:
        yield
    finally:
        _local.on_meta = False
        for h in hooks:
            h.remove()


def _run(spec, ctx: EmitContext, emitted, in_specs, device: str, build_on_cpu: bool = False) -> BlockInfo:
    holder = nn.Module()
    ns: dict[str, Any] = {"torch": torch, "nn": nn, "self": holder}
    for line in sorted(emitted.imports):
        exec(_compiled(line), ns)
    real = device != "meta"
    building = parameters_on_meta() if build_on_cpu else torch.device(device)
    with building:
        for line in emitted.init:
            exec(_compiled(line), ns)
    for i, s in enumerate(in_specs):
        if s is None:
            continue
        shape = tuple(_FALLBACK_BATCH if (real and d == BATCH) else d for d in s[0])
        dtype = _dtype(s[1])
        if real and not dtype.is_floating_point:
            ns[f"_in{i}"] = torch.zeros(shape, dtype=dtype)
        else:
            ns[f"_in{i}"] = torch.empty(shape, dtype=dtype, device=device)
    holder.train(False)
    counting = count_macs(_batch(in_specs, real)) if spec.macs is None else contextlib.nullcontext()
    with torch.no_grad(), counting as counted:
        for line in emitted.forward:
            exec(_compiled(line), ns)
        if emitted.output_exprs is not None:
            outs = [eval(_compiled_expr(e), ns) for e in emitted.output_exprs]
        else:
            outs = [ns[name] for name in ctx.outputs]
    out_shapes, out_dtypes = [], []
    for t in outs:
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"the block produced a {type(t).__name__}, not a tensor")
        shape = tuple(t.shape)
        if real and shape and shape[0] == _FALLBACK_BATCH and ctx.in_shapes and ctx.in_shapes[0]:
            shape = (BATCH, *shape[1:])
        out_shapes.append(shape)
        out_dtypes.append(_dtype_name(t.dtype))
    total = trainable = size = 0
    for p in holder.parameters():
        n = p.numel()
        total += n
        size += n * p.element_size()
        if p.requires_grad and not ctx.frozen:
            trainable += n
    for b in holder.buffers():
        size += b.numel() * b.element_size()
    macs = counted.macs if counted is not None else None
    if spec.macs is not None:
        try:
            macs = int(spec.macs(ctx, out_shapes))
        except Exception:
            macs = None
    return BlockInfo(
        tuple(ctx.in_shapes),
        tuple(out_shapes),
        tuple(out_dtypes),
        params=total,
        trainable=trainable,
        size_bytes=size,
        macs=macs,
        fallback=real,
    )


def _batch(in_specs, real: bool) -> int:
    """The batch size the forward runs with (to report MACs per sample)."""
    first = next((s[0] for s in in_specs if s is not None), None)
    if not first or first[0] != BATCH:
        return 1
    return _FALLBACK_BATCH if real else BATCH


_expr_cache: dict[str, Any] = {}


def _compiled_expr(text: str):
    code = _expr_cache.get(text)
    if code is None:
        code = _expr_cache[text] = compile(text, "<studio shape inference>", "eval")
    return code


def _error(unknown: BlockInfo, message: str) -> BlockInfo:
    return BlockInfo(unknown.in_shapes, unknown.out_shapes, unknown.out_dtypes, error=message)


def _shapes_text(shapes: tuple[Shape | None, ...]) -> str:
    known = [fmt_shape(s) for s in shapes if s is not None]
    return " and ".join(known) if known else "?"


def _explain(spec: BlockType, in_shapes: tuple[Shape | None, ...], err: Exception) -> str:
    text = shorten(str(err).strip().splitlines()[0], 200) if str(err).strip() else type(err).__name__
    text = text.replace(str(BATCH), "N")
    return f"{spec.label} cannot take input {_shapes_text(in_shapes)}: {text}"


def warm_up() -> None:
    """Run one tiny block on meta so torch's lazily imported meta kernels are loaded (call it
    from the background thread that imports torch, not from the GUI thread)."""
    from studio.blocks.registry import get_block_type

    evaluate_block(get_block_type("linear"), {"out_features": 2, "bias": True}, (((BATCH, 2), "float32"),))


def clear_cache() -> None:
    _memo.clear()
