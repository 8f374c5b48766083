"""A PyTorch module -> an editable Studio project, through torch.fx.

1. ``symbolic_trace`` turns ``forward`` into a graph of nodes (placeholders, module calls,
   function and method calls, the output).
2. The traced module runs twice, at batch sizes 1 and 2, recording every node's shape (or
   value, for sizes such as ``x.size(0)``): a size equal in both runs is a constant, one that
   follows the batch is "the batch", which is what Studio's blocks need to know.
3. Each tensor node becomes a block through the tables in :mod:`studio.interop.fx_rules`; a
   ``torch.nn`` module without a block becomes a Custom module block that re-creates the same
   class. Non-tensor nodes (sizes, shapes) fold into the parameters of the blocks using them.
4. The project remembers, for each block, the module path it came from, so
   :func:`remap_state_dict` can load the original weights into the generated model; by
   default the import checks exactly that (same parameter count, same outputs).

No Qt. Models that fx cannot trace raise :class:`UntraceableError` with fx's reason; they can
still be imported whole with :func:`import_opaque`.
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import fx, nn

from studio.blocks.params import ParamError
from studio.blocks.registry import get_block_type
from studio.compiler.naming import Namespace, sanitize
from studio.graph.layout import layered_layout
from studio.graph.model import Graph
from studio.graph.project import Project
from studio.interop import fx_rules
from studio.interop.fx_rules import (
    ABSORBED,
    BATCH_DIM,
    FUNCTIONS,
    METHODS,
    MODULES,
    Alias,
    Mapped,
    Unsupported,
)

#: ``project.metadata[IMPORT_KEY]``: where the project came from and each block's module path
IMPORT_KEY = "import"
#: largest difference between the original's and the imported model's outputs that counts as equal
TOLERANCE = 1e-4
_BATCHES = (1, 2)


class ModelImportError(Exception):
    """The module cannot be imported; ``str()`` is one line for the user."""


class UntraceableError(ModelImportError):
    """torch.fx cannot trace the module (``reason`` is fx's own message)."""

    def __init__(self, message: str, reason: str, name: str = "the model") -> None:
        super().__init__(message)
        self.reason = reason
        self.name = name


@dataclass
class ImportResult:
    project: Project
    #: things the user should know (weights not shared, modules kept as Custom module...)
    notes: list[str] = field(default_factory=list)
    original_params: int = 0
    params: int | None = None
    #: largest output difference after loading the original weights (None: not checked)
    max_difference: float | None = None
    custom_blocks: int = 0

    @property
    def outputs_match(self) -> bool:
        return self.max_difference is not None and self.max_difference <= TOLERANCE

    @property
    def matches(self) -> bool:
        """Checked, and faithful: same outputs with the original weights, same parameter count."""
        return self.outputs_match and self.params == self.original_params

    def summary(self) -> str:
        blocks = len(self.project.graph.blocks)
        text = f"{blocks} blocks"
        if self.custom_blocks:
            text += f" ({self.custom_blocks} kept as Custom module)"
        text += f", {self.original_params:,} parameters"
        if self.max_difference is None:
            return text + " (not checked)"
        if self.outputs_match:
            text += f"; with the original weights the outputs match (max difference {self.max_difference:.1e})"
        else:
            text += f"; WARNING: the outputs differ from the original's ({self.max_difference:.1e})"
        if self.params != self.original_params:
            text += f"; the imported model has {self.params:,} parameters"
        return text


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

    def __init__(self, gm: fx.GraphModule, runs: list[dict[fx.Node, Any]]) -> None:
        self.gm = gm
        self.modules = dict(gm.named_modules())
        self.s1, self.s2 = runs
        #: operands of absorbed Add/Multiply nodes, waiting for the node they merge into
        self.stash: dict[fx.Node, list] = {}

    def is_tensor(self, x: Any) -> bool:
        return isinstance(x, fx.Node) and isinstance(self.s1.get(x), TensorMeta)

    def shape(self, node: fx.Node) -> tuple[int, ...]:
        """The node's shape with a batch dimension first (its size is irrelevant to blocks)."""
        a, b = self.s1[node].shape, self.s2[node].shape
        if len(a) != len(b) or any(x != y for x, y in zip(a[1:], b[1:])):
            raise Unsupported(f"the shape of {node.name} depends on the batch size")
        return a

    def const(self, value: Any, allow_batch: bool = False) -> Any:
        """``value`` with every node replaced by the constant it evaluates to."""
        if isinstance(value, fx.Node):
            if self.is_tensor(value):
                raise Unsupported(f"{value.name} is a tensor where a number is needed")
            return self._fold(self.s1[value], self.s2[value], allow_batch, value)
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
            return FUNCTIONS.get(node.target)
        if node.op == "call_method":
            return METHODS.get(node.target)
        return None


# --------------------------------------------------------------------------- public API
def import_module(
    module: nn.Module,
    inputs: list[tuple[tuple[int, ...], str]] | None = None,
    *,
    name: str = "Imported model",
    source: str | None = None,
    kwargs: dict[str, Any] | None = None,
    verify: bool = True,
) -> ImportResult:
    """Trace ``module`` and turn its graph into a project.

    ``inputs``: ``(shape without batch, dtype)`` of each forward() argument (default: what a
    Studio-generated class documents, else an error). ``source``/``kwargs`` say how to create
    the module again (kept in the project's metadata). With ``verify``, the original weights
    are loaded into the generated model and the outputs compared.
    """
    from studio.interop.sources import studio_input_specs, studio_output_names

    module.eval()
    inputs = inputs or studio_input_specs(type(module))
    if not inputs:
        raise ModelImportError(
            f"{name}: give the shape of its input without the batch (e.g. --input-shape 3,224,224)"
        )
    gm = _trace(module, name, len(inputs))
    runs = [_record(gm, _examples(inputs, b), name, inputs) for b in _BATCHES]
    trace = Trace(gm, runs)
    builder = _Builder(trace, inputs, name)
    builder.output_names = studio_output_names(type(module)) or []
    graph, paths, notes = builder.build()
    for bid, pos in layered_layout(graph).items():
        graph.move(bid, pos)
    project = Project(
        name=name,
        graph=graph,
        metadata={
            IMPORT_KEY: {"source": source or "", "kwargs": repr(kwargs or {}), "paths": paths},
            "description": f"Imported from {source}." if source else "Imported from PyTorch.",
        },
    )
    result = ImportResult(project, notes, original_params=_count(module))
    # the blocks that run code of their own (kept whole rather than mapped to Studio blocks)
    result.custom_blocks = sum(b.spec.outside_code is not None for b in graph.blocks.values())
    if verify:
        _verify(module, result, inputs)
    return result


def import_spec(
    spec: Any,
    kwargs: dict[str, Any] | None = None,
    inputs: list[tuple[tuple[int, ...], str]] | None = None,
    *,
    name: str | None = None,
    opaque: bool = False,
    verify: bool = True,
) -> ImportResult:
    """Load ``spec`` (text or a parsed :class:`~studio.interop.sources.Spec`) and import it.

    What File > Import and ``studio import`` do. A file spec runs the file's code: ask the
    user first (:func:`studio.interop.sources.runs_user_file`). Raises
    :class:`~studio.interop.sources.SourceError`, :class:`UntraceableError` (offer
    ``opaque=True``) or :class:`ModelImportError`, each with a one-line message.
    """
    from studio.interop.sources import load_model

    loaded = load_model(spec, kwargs)
    inputs = inputs or loaded.default_inputs
    if not inputs:
        raise ModelImportError(
            f"{spec}: give the shape of its input without the batch (e.g. --input-shape 3,224,224)"
        )
    name = name or loaded.name
    if opaque:
        return import_opaque(loaded.module, loaded.source, inputs, kwargs=loaded.kwargs, name=name, verify=verify)
    return import_module(
        loaded.module, inputs, name=name, source=loaded.source, kwargs=loaded.kwargs, verify=verify
    )


def import_opaque(
    module: nn.Module,
    source: str,
    inputs: list[tuple[tuple[int, ...], str]],
    *,
    kwargs: dict[str, Any] | None = None,
    name: str = "Imported model",
    verify: bool = True,
) -> ImportResult:
    """The whole module as one Custom module block (for models fx cannot trace).

    ``source`` is ``pkg.mod:Callable`` or ``/abs/file.py:Class``; the block's code calls it
    with ``kwargs`` (literals).
    """
    module.eval()
    g = Graph()
    ns = Namespace(attrs=True)
    placeholders = _forward_args(module)
    ins = []
    for i, (shape, dtype) in enumerate(inputs):
        base = placeholders[i] if i < len(placeholders) else f"x{i + 1}"
        ins.append(g.add_block("input", name=ns.create_name(base), params={"shape": shape, "dtype": dtype}))
    block = g.add_block(
        "custom_module",
        name=ns.create_name(sanitize(name).lower() or "model"),
        params={"source": source, "kwargs": repr(dict(kwargs or {})), "inputs": max(len(ins), 1)},
    )
    for port, x in zip(block.input_ports(), ins):
        g.connect(x.id, "out", block.id, port.name)
    out = g.add_block("output", name=ns.create_name("output"))
    g.connect(block.id, "out", out.id, "in")
    for bid, pos in layered_layout(g).items():
        g.move(bid, pos)
    project = Project(
        name=name,
        graph=g,
        metadata={
            IMPORT_KEY: {"source": source, "kwargs": repr(dict(kwargs or {})), "paths": {block.id: ""}},
            "description": f"{source} kept whole as one Custom module block.",
        },
    )
    result = ImportResult(project, [], original_params=_count(module), custom_blocks=1)
    if verify:
        _verify(module, result, inputs)
    return result


def remap_state_dict(original_sd: dict[str, Any], project: Project) -> dict[str, Any]:
    """The original module's state_dict with keys renamed for the project's generated model.

    ``layer1.0.conv1.weight`` -> ``layer1_0_conv1.weight``. Keys of modules that no block
    came from (never called in forward) are left out. A module called twice gives its
    weights to both blocks.
    """
    return _remap(original_sd, project)[0]


def _remap(original_sd: dict[str, Any], project: Project, attrs: dict[str, str] | None = None):
    """``(new state_dict, original keys no block came from)``."""
    from studio.compiler import generate

    paths = project.metadata.get(IMPORT_KEY, {}).get("paths")
    if not isinstance(paths, dict):
        raise ValueError(f"{project.name}: not an imported project (no module paths recorded)")
    if attrs is None:
        attrs = generate(project.graph, project.name).attrs
    by_path: dict[str, list[str]] = {}
    for bid, path in paths.items():
        if bid in attrs:
            by_path.setdefault(path, []).append(attrs[bid])
    out: dict[str, Any] = {}
    unmatched: list[str] = []
    for key, value in original_sd.items():
        prefix = key
        while True:
            if prefix in by_path:
                rest = key[len(prefix):] if prefix else f".{key}"
                for attr in by_path[prefix]:
                    out[attr + rest] = value
                break
            if not prefix:
                unmatched.append(key)
                break
            prefix = prefix.rpartition(".")[0]
    return out, unmatched


# --------------------------------------------------------------------------- steps
def _forward_args(module: nn.Module) -> list[str]:
    try:
        sig = inspect.signature(module.forward)
    except (TypeError, ValueError):
        return []
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return [p.name for p in sig.parameters.values() if p.kind in kinds]


def _trace(module: nn.Module, name: str, n_inputs: int) -> fx.GraphModule:
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
        return fx.symbolic_trace(module, concrete_args=concrete)
    except Exception as e:  # noqa: BLE001 - every fx failure becomes one clear line
        reason = _first_line(e)
        raise UntraceableError(
            f"torch.fx cannot trace {name}: {reason}. Import it whole as one Custom module "
            "block instead (--opaque); it keeps the original class.",
            reason,
            name,
        ) from None


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


def _record(gm: fx.GraphModule, args: list[torch.Tensor], name: str, inputs) -> dict:
    """Every node's shape (tensors) or value (sizes and the rest), from one real run.

    A real run at batch 1 or 2 is quicker than fake tensors for the models people import
    (fake tensors cost about a millisecond per op); memory is freed as the run goes.
    """
    rec = _Recorder(gm)
    try:
        with torch.no_grad():
            rec.run(*args)
    except Exception as e:  # noqa: BLE001
        shapes = ", ".join("N×" + "×".join(map(str, s)) for s, _ in inputs)
        raise ModelImportError(
            f"{name}: running it on an input shaped {shapes} failed ({_first_line(e)}); "
            "check --input-shape"
        ) from None
    return rec.summary


def _count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


_FOLLOWS = "is not a tensor block"


class _Builder:
    """Walks the traced graph once and adds a block per tensor node."""

    def __init__(self, t: Trace, inputs, name: str) -> None:
        self.t = t
        self.inputs = inputs
        self.name = name
        self.g = Graph()
        self.ns = Namespace(attrs=True)
        self.refs: dict[fx.Node, tuple[str, str]] = {}
        self.paths: dict[str, str] = {}
        self.notes: list[str] = []
        self.problems: list[str] = []
        self.kept: dict[str, str] = {}  # module class -> why it is a Custom module
        self.calls: dict[str, int] = {}
        #: names for the Output blocks (from a Studio-generated docstring), else output, output_2...
        self.output_names: list[str] = []

    def build(self) -> tuple[Graph, dict[str, str], list[str]]:
        placeholders = 0
        for node in self.t.gm.graph.nodes:
            try:
                if node.op == "placeholder":
                    if placeholders < len(self.inputs):
                        self._input(node, *self.inputs[placeholders])
                    placeholders += 1
                elif node.op == "output":
                    self._outputs(node)
                elif self.t.is_tensor(node):
                    self._tensor_node(node)
            except Unsupported as e:
                self.problems.append(f"{node.name}: {e}")
        if self.problems:
            # the causes first: "its input x is not a tensor block" only follows from them
            causes = [p for p in self.problems if not p.endswith(_FOLLOWS)] or self.problems
            more = f" (and {len(self.problems) - 3} more)" if len(self.problems) > 3 else ""
            raise ModelImportError(
                f"{self.name}: Studio has no block for {'; '.join(causes[:3])}{more}. "
                "Import it whole as one Custom module block instead (--opaque)."
            )
        for cls, why in self.kept.items():
            self.notes.append(f"{cls} has no Studio block{why}: kept as a Custom module block.")
        for path, n in self.calls.items():
            if n > 1 and any(True for _ in self.t.modules.get(path, nn.Module()).parameters()):
                self.notes.append(
                    f"{path} is called {n} times; each call became its own block with its own "
                    "weights (Studio does not share weights between blocks)."
                )
        return self.g, self.paths, self.notes

    # ------------------------------------------------------------------ nodes
    def _input(self, node: fx.Node, shape, dtype) -> None:
        b = self.g.add_block(
            "input", name=self.ns.create_name(node.name), params={"shape": tuple(shape), "dtype": dtype}
        )
        self.refs[node] = (b.id, "out")

    def _outputs(self, node: fx.Node) -> None:
        value = node.args[0]
        values = list(value) if isinstance(value, (tuple, list)) else [value]
        for i, v in enumerate(values):
            if not self.t.is_tensor(v) or v not in self.refs:
                raise Unsupported("the model returns something other than tensors (a dict, a number...)")
            if len(self.output_names) == len(values):
                base = self.output_names[i]
            else:
                base = "output" if len(values) == 1 else f"output_{i + 1}"
            b = self.g.add_block("output", name=self.ns.create_name(base))
            src = self.refs[v]
            self.g.connect(src[0], src[1], b.id, "in")

    def _tensor_node(self, node: fx.Node) -> None:
        self.t.shape(node)  # refuses shapes that mix the batch with other sizes
        if node.op == "call_module":
            mapped = self._module(node)
            path = node.target
        elif node.op == "get_attr":
            mapped = self._attribute(node)
            path = node.target
        else:
            rule = self.t.rule_for(node)
            if rule is None:
                raise Unsupported(f"{fx_rules._what(node)}")
            mapped = rule(node, self.t)
            path = None
        if mapped is ABSORBED:
            return
        if isinstance(mapped, Alias):
            if mapped.node not in self.refs:  # it stands for a node that failed: one more problem
                raise Unsupported(f"its input {getattr(mapped.node, 'name', mapped.node)} is not a tensor block")
            self.refs[node] = self.refs[mapped.node]
            return
        base = path.replace(".", "_") if path else node.name
        try:
            block = self.g.add_block(mapped.type, name=self.ns.create_name(base), params=mapped.params)
        except ParamError as e:
            raise Unsupported(f"{fx_rules._what(node)}: {e}") from None
        if path is not None:
            self.paths[block.id] = path
            self.calls[path] = self.calls.get(path, 0) + 1
        for port, src in zip(block.input_ports(), mapped.inputs):
            if src not in self.refs:
                raise Unsupported(f"its input {getattr(src, 'name', src)} is not a tensor block")
            s = self.refs[src]
            self.g.connect(s[0], s[1], block.id, port.name)
        self.refs[node] = (block.id, "out")

    def _module(self, node: fx.Node) -> Mapped:
        module = self.t.modules[node.target]
        args = list(node.args)
        if node.kwargs or not args or not all(self.t.is_tensor(a) for a in args):
            raise Unsupported(f"{node.target} ({type(module).__name__}) is called with non-tensor arguments")
        entry = MODULES.get(type(module))
        why = ""
        if entry is not None and len(args) == 1:
            block_type, params_of = entry
            try:
                params = get_block_type(block_type).coerce_params(params_of(module))
                return Mapped(block_type, params, args)
            except (Unsupported, ParamError) as e:
                why = f" for {e}"
        mapped = custom_module_for(module, len(args))
        mapped.inputs = args
        self.kept.setdefault(type(module).__name__, why)
        return mapped

    def _attribute(self, node: fx.Node) -> Mapped:
        value = self.t.gm
        for part in node.target.split("."):
            value = getattr(value, part)
        if not isinstance(value, nn.Parameter):
            raise Unsupported(f"{node.target} is a buffer used directly (only parameters have a block)")
        shape = tuple(value.shape)
        if not shape or len(shape) > 6:
            raise Unsupported(f"{node.target} has {len(shape)} dimensions (Parameter blocks take 1 to 6)")
        return Mapped("parameter", {"shape": shape, "init": "zeros"})


# --------------------------------------------------------------------------- custom modules
def custom_module_for(module: nn.Module, n_inputs: int = 1) -> Mapped:
    """A Custom module block that creates ``type(module)`` again with the same settings.

    The constructor's arguments are read back from same-named attributes, then checked by
    building the class again (on the meta device) and comparing the two ``repr``s.
    """
    cls = type(module)
    if getattr(nn, cls.__name__, None) is cls:
        source = f"torch.nn:{cls.__name__}"
    else:
        source = f"{cls.__module__}:{cls.__qualname__}"
    kwargs = _constructor_kwargs(module)
    try:
        with torch.device("meta"):
            again = cls(**kwargs)
    except Exception as e:  # noqa: BLE001
        raise Unsupported(f"{cls.__name__} cannot be created again from its attributes ({_first_line(e)})") from None
    if repr(again) != repr(module) or _shapes(again) != _shapes(module):
        raise Unsupported(f"{cls.__name__} cannot be created again from its attributes")
    return Mapped("custom_module", {"source": source, "kwargs": repr(kwargs), "inputs": n_inputs})


def _constructor_kwargs(module: nn.Module) -> dict[str, Any]:
    try:
        sig = inspect.signature(type(module).__init__)
    except (TypeError, ValueError):
        return {}
    out: dict[str, Any] = {}
    for p in list(sig.parameters.values())[1:]:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) or p.name in ("device", "dtype"):
            continue
        if not hasattr(module, p.name):
            continue  # a required one shows up when the class is built again
        value = getattr(module, p.name)
        if isinstance(value, torch.Tensor) or (value is None and isinstance(p.default, bool)):
            value = value is not None  # bias=True gives a tensor attribute (or None)
        if not _is_literal(value):
            continue
        if p.default is not p.empty and _same(value, p.default):
            continue
        out[p.name] = value
    return out


def _is_literal(v: Any) -> bool:
    if v is None or isinstance(v, (bool, int, str)):
        return True
    if isinstance(v, float):
        return math.isfinite(v)
    if isinstance(v, (tuple, list)):
        return all(_is_literal(x) for x in v)
    return False


def _same(a: Any, b: Any) -> bool:
    try:
        return type(a) is type(b) and bool(a == b)
    except Exception:  # noqa: BLE001
        return False


def _shapes(module: nn.Module) -> list[tuple[str, tuple[int, ...]]]:
    return [(k, tuple(v.shape)) for k, v in module.state_dict().items()]


# --------------------------------------------------------------------------- checking
def _verify(module: nn.Module, result: ImportResult, inputs) -> None:
    """Load the original weights into the generated model and compare outputs."""
    from studio.compiler import CompileError, build_class, generate

    project = result.project
    try:
        code = generate(project.graph, project.name)
    except CompileError as e:
        raise ModelImportError(f"{project.name}: the imported graph has problems: {e}") from None
    model = build_class(code)().eval()
    result.params = _count(model)
    sd, unused = _remap(module.state_dict(), project, code.attrs)
    missing, _ = model.load_state_dict(sd, strict=False)
    if missing:
        result.notes.append(f"{len(missing)} weights of the imported model have no original (e.g. {missing[0]}).")
    if unused:
        result.notes.append(
            f"{len(unused)} weights of the original belong to modules forward() never calls "
            f"(e.g. {unused[0]}); they were left out."
        )
    args = _examples(inputs, 2)
    with torch.no_grad():
        want = _flat(module(*args))
        got = _flat(model(*args))
    if len(want) != len(got) or any(a.shape != b.shape for a, b in zip(want, got)):
        result.max_difference = math.inf
        return
    diff = 0.0
    for a, b in zip(want, got):
        if a.numel():
            diff = max(diff, float((a.double() - b.double()).abs().max()))
    result.max_difference = diff


def _flat(value: Any) -> list[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, (tuple, list)):
        return [t for v in value for t in _flat(v)]
    if isinstance(value, dict):
        return [t for v in value.values() for t in _flat(v)]
    return []


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__
