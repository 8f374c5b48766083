"""torch.fx import, steps 1 and 2: trace the module, then run it at two batch sizes and keep
every node's shape or value (:class:`Trace`, what the rules in :mod:`studio.interop.fx_rules`
read). Also the import's errors, shared by every step.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
from dataclasses import dataclass
from typing import Any

import torch
from torch import fx, nn

from studio.interop.fx_module_rules import kept_whole
from studio.interop.fx_rule_base import LengthDependent
from studio.interop.fx_rules import BATCH_DIM, FUNCTIONS, METHODS, NAMED, Unsupported

_BATCHES = (1, 2)


class ModelImportError(Exception):
    """The module cannot be imported; ``str()`` is one line for the user."""


class UntraceableError(ModelImportError):
    """torch.fx cannot trace the module (``reason`` is fx's own message)."""

    def __init__(self, message: str, reason: str, name: str = "the model") -> None:
        super().__init__(message)
        self.reason = reason
        self.name = name


# --------------------------------------------------------------------------- running
@dataclass(frozen=True)
class TensorMeta:
    shape: tuple[int, ...]
    dtype: str


def _summarise(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return TensorMeta(tuple(value.shape), str(value.dtype).removeprefix("torch."))
    if isinstance(value, torch.Size):
        return tuple(value)
    if isinstance(value, (list, tuple)):
        return type(value)(_summarise(v) for v in value) if type(value) in (list, tuple) else tuple(
            _summarise(v) for v in value
        )
    if isinstance(value, dict):
        return {k: _summarise(v) for k, v in value.items()}
    return value


class _Recorder(fx.Interpreter):
    """Runs the traced module and keeps each node's shape (tensors) or value (the rest)."""

    def __init__(self, gm: fx.GraphModule) -> None:
        super().__init__(gm)
        self.summary: dict[fx.Node, Any] = {}

    def run_node(self, n: fx.Node) -> Any:
        result = super().run_node(n)
        self.summary[n] = _summarise(result)
        return result


def _contains_tensor(v: Any) -> bool:
    if isinstance(v, TensorMeta):
        return True
    if isinstance(v, (list, tuple)):
        return any(_contains_tensor(x) for x in v)
    if isinstance(v, dict):
        return any(_contains_tensor(x) for x in v.values())
    return False


class Trace:
    """What the rules know about the traced graph: shapes, constants, module instances."""

    def __init__(
        self,
        gm: fx.GraphModule,
        runs: list[dict[fx.Node, Any]],
        length: dict[fx.Node, Any] | None = None,
    ) -> None:
        self.gm = gm
        #: the module traced (its own parameters and buffers; set by the importer)
        self.root: nn.Module | None = None
        self.modules = dict(gm.named_modules())
        self.s1, self.s2 = runs
        #: a third run at batch 2 with another length or image size (:func:`length_examples`),
        #: or None: a value that differs there follows the input's size and is not a constant
        self.s3 = length
        #: operands of absorbed Add/Multiply nodes, waiting for the node they merge into
        self.stash: dict[fx.Node, list] = {}
        #: nodes that are part of a several-node block (:mod:`studio.interop.fx_patterns`)
        self.matched: set[fx.Node] = set()

    def is_tensor(self, x: Any) -> bool:
        return isinstance(x, fx.Node) and isinstance(self.s1.get(x), TensorMeta)

    def tensors_in(self, x: Any) -> list[int] | None:
        """The positions of the tensors in a tuple-valued node (``torch.chunk``), else None."""
        value = self.s1.get(x) if isinstance(x, fx.Node) else None
        if not isinstance(value, (tuple, list)) or not any(isinstance(v, TensorMeta) for v in value):
            return None
        return [i for i, v in enumerate(value) if isinstance(v, TensorMeta)]

    def follows_batch(self, x: Any) -> bool:
        """True when the tensor's first dimension is the batch (1, then 2 in the two runs)."""
        if not self.is_tensor(x):
            return False
        a, b = self.s1[x].shape, self.s2[x].shape
        return bool(a) and (a[0], b[0]) == _BATCHES

    def shape(self, node: fx.Node) -> tuple[int, ...]:
        """The node's shape with a batch dimension first (its size is irrelevant to blocks)."""
        a, b = self.s1[node].shape, self.s2[node].shape
        if len(a) != len(b) or any(x != y for x, y in zip(a[1:], b[1:])):
            raise Unsupported(f"the shape of {node.name} depends on the batch size")
        return a

    def check_shape(self, node: fx.Node) -> None:
        """Refuses a shape that mixes the batch with other sizes, except the batch times one
        size (swin's ``B * windows``, a Function block computes it). The batch may
        sit in another dimension than the first (timm's ``qkv.permute(2, 0, 3, 1, 4)``: 3×N×...):
        the blocks reading such a tensor (permute, unbind, Function) take every size from it."""
        a, b = self.s1[node].shape, self.s2[node].shape
        moved = [i for i, (x, y) in enumerate(zip(a, b)) if x != y]
        if len(a) == len(b) and len(moved) == 1 and b[moved[0]] == a[moved[0]] * _BATCHES[1]:
            return  # N, or k×N: the batch folded with another size (swin's windows)
        self.shape(node)

    def const(self, value: Any, allow_batch: bool = False) -> Any:
        """``value`` with every node replaced by the constant it evaluates to."""
        if isinstance(value, fx.Node):
            if self.is_tensor(value):
                raise Unsupported(f"{value.name} is a tensor where a number is needed")
            folded = self._fold(self.s1[value], self.s2[value], allow_batch, value)
            if self.s3 is not None and value in self.s3 and self.s3[value] != self.s2[value]:
                raise LengthDependent(f"{value.name} follows the input's length")
            return folded
        if isinstance(value, (list, tuple)):
            return tuple(self.const(v, allow_batch) for v in value)
        if isinstance(value, slice):
            return slice(*(self.const(v, allow_batch) for v in (value.start, value.stop, value.step)))
        if isinstance(value, dict):
            return {k: self.const(v, allow_batch) for k, v in value.items()}
        return value

    def _fold(self, v1: Any, v2: Any, allow_batch: bool, node: fx.Node) -> Any:
        if _contains_tensor(v1):
            raise Unsupported(f"{node.name} holds several tensors; Studio wires carry one tensor each")
        if isinstance(v1, (list, tuple)) and isinstance(v2, (list, tuple)) and len(v1) == len(v2):
            return tuple(self._fold(a, b, allow_batch, node) for a, b in zip(v1, v2))
        if type(v1) is type(v2) and v1 == v2:
            return v1
        if allow_batch and (v1, v2) == _BATCHES:
            return BATCH_DIM
        raise Unsupported(f"{node.name} depends on the batch size or the data ({v1!r} vs {v2!r})")

    def rule_for(self, node: fx.Node):
        if node.op == "call_function":
            rule = FUNCTIONS.get(node.target)
            if rule is None:
                target = node.target
                rule = NAMED.get(f"{getattr(target, '__module__', '')}.{getattr(target, '__name__', '')}")
            return rule
        if node.op == "call_method":
            return METHODS.get(node.target)
        return None


# --------------------------------------------------------------------------- steps
def _forward_args(module: nn.Module) -> list[str]:
    try:
        sig = inspect.signature(module.forward)
    except (TypeError, ValueError):
        return []
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return [p.name for p in sig.parameters.values() if p.kind in kinds]


class _Tracer(fx.Tracer):
    """fx's tracer, keeping the classes of :data:`~studio.interop.fx_module_rules.KEPT_WHOLE`
    as single calls (Custom module blocks) instead of tracing into them."""

    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
        return kept_whole(m) is not None or super().is_leaf_module(m, module_qualified_name)

    def getattr(self, attr: str, attr_val: Any, parameter_proxy_cache: dict[str, Any]) -> Any:
        """A parameter registered under several names (BART's encoder.embed_tokens.weight is
        shared.weight) is read under the name of the module reading it, so that module's
        hierarchy and keys stay its own; fx alone names it by its first name."""
        scope = self.scope.module_path
        if isinstance(attr_val, nn.Parameter) and scope:
            path = f"{scope}.{attr}"
            if self._every_name.get(path) is attr_val:
                if path not in parameter_proxy_cache:
                    parameter_proxy_cache[path] = self.create_proxy("get_attr", path, (), {})
                return parameter_proxy_cache[path]
        return super().getattr(attr, attr_val, parameter_proxy_cache)

    def trace(self, root: Any, concrete_args: Any = None) -> fx.Graph:
        #: every name of every parameter (read before tracing: fx patches attribute access)
        self._every_name = (
            dict(root.named_parameters(remove_duplicate=False))
            if isinstance(root, nn.Module)
            else {}
        )
        with _sizes_as_tuples():
            return super().trace(root, concrete_args)


#: factories that take a size as separate ints (``torch.ones(B, T)``): torch's argument parser
#: refuses traced sizes there, while ``torch.ones((B, T))`` records the call
_SIZED = ("ones", "zeros", "empty", "rand", "randn")


@contextlib.contextmanager
def _sizes_as_tuples():
    """While tracing, ``torch.ones(B, T, ...)`` with traced sizes is called as
    ``torch.ones((B, T), ...)`` (BART's decoder builds its mask so), the same call."""
    originals = {name: getattr(torch, name) for name in _SIZED}

    def packing(factory):
        @functools.wraps(factory)
        def call(*args, **kwargs):
            if len(args) > 1 and any(isinstance(a, fx.Proxy) for a in args):
                return factory(tuple(args), **kwargs)
            return factory(*args, **kwargs)

        return call

    for name, factory in originals.items():
        setattr(torch, name, packing(factory))
    try:
        yield
    finally:
        for name, factory in originals.items():
            setattr(torch, name, factory)


#: which tracer made a GraphModule: plain fx, or fx following an example (fx_concrete)
TRACED_BY = "_studio_traced_by"


def _trace(module: nn.Module, name: str, n_inputs: int, examples: list | None = None) -> fx.GraphModule:
    """Plain fx where it traces (calls to modules kept whole, nothing specialised); else, given
    ``examples``, fx following them (:mod:`studio.interop.fx_concrete`)."""
    try:
        sig = inspect.signature(module.forward)
        params = [
            p for p in sig.parameters.values()
            if p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        ]
    except (TypeError, ValueError):
        params = []
    if params and n_inputs > len(params):
        raise ModelImportError(f"{name}: forward() takes {len(params)} inputs but {n_inputs} shapes were given")
    extra = params[n_inputs:]
    missing = [p.name for p in extra if p.default is inspect.Parameter.empty]
    if missing:
        raise ModelImportError(
            f"{name}: forward() also needs {', '.join(missing)}; give one --input-shape per input"
        )
    concrete = {p.name: p.default for p in extra} or None
    try:
        tracer = _Tracer()
        graph = tracer.trace(module, concrete_args=concrete)
        gm = fx.GraphModule(tracer.root, graph, type(module).__name__)
        setattr(gm, TRACED_BY, "torch.fx")
        return gm
    except Exception as e:  # noqa: BLE001 - every fx failure becomes one clear line
        reason = _first_line(e)
    if examples is not None and not concrete:
        from studio.interop.fx_concrete import concrete_tracer

        try:
            tracer = concrete_tracer(_Tracer)(examples)
            with torch.no_grad():
                graph = tracer.trace(module)
            # what only answered a question (ViT's patch embedding reads its weight for its
            # dtype; GPT-2 checks its positions are one run): computed, never used
            gm = fx.GraphModule(tracer.root, graph, type(module).__name__)
            gm.graph.eliminate_dead_code()
            gm.recompile()
            setattr(gm, TRACED_BY, "torch.fx following an example")
            return gm
        except Exception as e:  # noqa: BLE001
            reason = f"{reason}; following an example: {_first_line(e)}"
    raise UntraceableError(
        f"torch.fx cannot trace {name}: {reason}. Import it whole as one Custom module "
        "block instead (--opaque); it keeps the original class.",
        reason,
        name,
    )


def _examples(inputs, batch: int) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(batch)
    out = []
    for shape, dtype in inputs:
        dt = getattr(torch, dtype)
        if dt.is_floating_point:
            out.append(torch.randn((batch, *shape), generator=gen).to(dt))
        else:
            out.append(torch.zeros((batch, *shape), dtype=dt))
    return out


def length_examples(inputs) -> list[torch.Tensor] | None:
    """The examples at batch 2 at other sizes, or None when no input has a size that may vary:
    every size of the integer inputs (token ids) one shorter (longer where it is 1), and the
    height and width (every size after the channels) of the images :data:`IMAGE_STEP` larger
    (smaller from 128 pixels, which costs less).
    A model must run at every sequence length and image size its original runs at, so sizes
    computed from them stay symbolic (:attr:`Trace.s3`); where the model refuses the other size
    (a fixed position table), the import keeps the sizes it was given."""
    other = [(_other_size(shape, dtype), dtype) for shape, dtype in inputs]
    if other == list(inputs):
        return None
    return _examples(other, 2)


#: how much larger the image sizes of the third run are: the stride of most image models, so
#: a model that needs a multiple of 32 (or 16, or 8) runs there too
IMAGE_STEP = 32


def _other_size(shape: tuple[int, ...], dtype: str) -> tuple[int, ...]:
    shape = tuple(shape)
    if not getattr(torch, dtype).is_floating_point:
        return tuple(n - 1 if n > 1 else n + 1 for n in shape)
    if len(shape) >= 3:  # C×H×W (or C×D×H×W): the sizes after the channels
        return (shape[0], *(n + IMAGE_STEP if n < 128 else n - IMAGE_STEP for n in shape[1:]))
    return shape


def _record(
    gm: fx.GraphModule, args: list[torch.Tensor], name: str, inputs, outputs: list | None = None
) -> dict:
    """Every node's shape (tensors) or value (sizes and the rest), from one real run.

    A real run at batch 1 or 2 is quicker than fake tensors for the models people import
    (fake tensors cost about a millisecond per op); memory is freed as the run goes. The run's
    result is appended to ``outputs`` when given (the import's check compares with it).
    """
    rec = _Recorder(gm)
    try:
        with torch.no_grad():
            out = rec.run(*args)
            if outputs is not None:
                outputs.append(out)
    except Exception as e:  # noqa: BLE001
        shapes = ", ".join("N×" + "×".join(map(str, s)) for s, _ in inputs)
        raise ModelImportError(
            f"{name}: running it on an input shaped {shapes} failed ({_first_line(e)}); "
            "check --input-shape"
        ) from None
    return rec.summary


def _count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__
