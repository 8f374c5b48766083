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

Steps 1 and 2 live in :mod:`studio.interop.fx_trace`, step 3 in :mod:`studio.interop.fx_build`;
this module holds the public API and the check of step 4.

No Qt. Models that fx cannot trace raise :class:`UntraceableError` with fx's reason; they can
still be imported whole with :func:`import_opaque`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from studio.blocks.registry import BATCH
from studio.graph.layout import FIRST_VIEW, wrapped_layout
from studio.graph.model import Graph
from studio.graph.project import Project
from studio.interop.fx_build import _Builder, custom_module_for
from studio.interop.fx_hierarchy import nest
from studio.interop.fx_meta import on_meta
from studio.interop.fx_proof import prove
from studio.interop.fx_seeds import recorded_specs
from studio.interop.fx_ties import shared_parameters, tie
from studio.interop.fx_trace import (
    _BATCHES,
    TRACED_BY,
    ModelImportError,
    TensorMeta,
    Trace,
    UntraceableError,
    _count,
    _examples,
    _forward_args,
    _record,
    _trace,
    length_examples,
)
from studio.naming import Namespace, sanitize

__all__ = [
    "IMPORT_KEY",
    "TOLERANCE",
    "ImportResult",
    "ModelImportError",
    "TensorMeta",
    "Trace",
    "UntraceableError",
    "custom_module_for",
    "import_example",
    "import_module",
    "import_opaque",
    "import_spec",
    "remap_state_dict",
]

#: ``project.metadata[IMPORT_KEY]``: where the project came from and each block's module path
IMPORT_KEY = "import"
#: largest difference between the original's and the imported model's outputs that counts as equal
TOLERANCE = 1e-4
#: the largest image side at which the check compares values first, for a model that takes any size
CHECK_PIXELS = 64


@dataclass
class ImportResult:
    project: Project
    #: things the user should know (weights not shared, modules kept as Custom module...)
    notes: list[str] = field(default_factory=list)
    original_params: int = 0
    params: int | None = None
    #: largest output difference after loading the original weights (None: not checked; 0.0
    #: where the graphs were proved equal)
    max_difference: float | None = None
    custom_blocks: int = 0
    #: how the check was made: "graph" (the generated class computes the original's graph,
    #: :mod:`studio.interop.fx_proof`), "outputs" (values compared), "" (not checked)
    checked_by: str = ""

    @property
    def module_paths(self) -> dict[str, str]:
        """Block id -> the qualified name of the module or parameter it came from
        (``layer1.0.conv1``); a Call again block names the module it calls once more."""
        return dict(self.project.metadata.get(IMPORT_KEY, {}).get("paths", {}))

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
        if self.outputs_match and self.checked_by == "graph":  # no model ran: say what was shown
            text += (
                "; with the original weights it computes the original's graph operation for "
                "operation (proved, not run), so the outputs match exactly"
            )
        elif self.outputs_match:
            text += f"; with the original weights the outputs match (max difference {self.max_difference:.1e})"
        else:
            text += f"; WARNING: the outputs differ from the original's ({self.max_difference:.1e})"
        if self.params != self.original_params:
            text += f"; the imported model has {self.params:,} parameters"
        return text


# --------------------------------------------------------------------------- public API
def import_module(
    module: nn.Module,
    inputs: list[tuple[tuple[int, ...], str]] | None = None,
    *,
    name: str = "Imported model",
    source: str | None = None,
    kwargs: dict[str, Any] | None = None,
    verify: bool = True,
    hierarchy: bool = True,
) -> ImportResult:
    """Trace ``module`` and turn its graph into a project.

    ``inputs``: ``(shape without batch, dtype)`` of each forward() argument (default: what a
    Studio-generated class documents, else an error). ``source``/``kwargs`` say how to create
    the module again (kept in the project's metadata). With ``verify``, the original weights
    are loaded into the generated model and the outputs compared. With ``hierarchy`` its
    submodules become module definitions (:mod:`studio.interop.fx_hierarchy`), else one flat graph.
    """
    from studio.interop.sources import studio_input_specs, studio_output_names

    module.eval()
    inputs = inputs or studio_input_specs(type(module))
    if not inputs:
        raise ModelImportError(
            f"{name}: give the shape of its input without the batch (e.g. --input-shape 3,224,224)"
        )
    gm, runs, recorded, third = _traced(module, inputs, name)
    trace = Trace(gm, runs, third)
    trace.root = module
    builder = _Builder(trace, inputs, name)
    builder.output_names = studio_output_names(type(module)) or []
    graph, paths, notes = builder.build()
    # the shapes the runs recorded, for the check's code (before nest moves blocks into definitions)
    seeds = recorded_specs(graph, builder.nodes, builder.values, trace) if verify else None
    if hierarchy:
        graph, paths = nest(graph, paths, builder.nodes, trace, notes, builder.values)
    for bid, pos in (wrapped_layout(graph, *FIRST_VIEW) or {}).items():  # long chains wrap into bands
        graph.move(bid, pos)
    project = Project(
        name=name,
        graph=graph,
        metadata={
            IMPORT_KEY: {"source": source or "", "kwargs": repr(kwargs or {}), "paths": paths},
            "description": f"Imported from {source}." if source else "Imported from PyTorch.",
        },
    )
    if getattr(gm, TRACED_BY, "torch.fx") != "torch.fx":
        notes.append(
            "Traced with torch.fx following the example input (plain torch.fx stopped at Python "
            "code that asks about sizes): branches on sizes take the example's way."
        )
    project.metadata[IMPORT_KEY]["tracer"] = getattr(gm, TRACED_BY, "torch.fx")
    tied_names = [name for group in shared_parameters(module) for name in group]
    if tied_names:
        exported = _remap(dict(zip(tied_names, tied_names)), project)[0]
        tied = tie(project, module, {original: key for key, original in exported.items()})
        if tied:
            notes.append(f"{tied} weights are tied to another layer's (one tensor under two names).")
    result = ImportResult(project, notes, original_params=_count(module))
    # the blocks that run code of their own (kept whole rather than mapped to Studio blocks)
    result.custom_blocks = sum(
        bool(b.spec.outside_code is not None and b.spec.outside_code(b.params)) for b in graph.blocks.values()
    )
    if verify:
        recorded = dict(zip(_BATCHES, recorded))
        _verify(module, result, inputs, recorded, sizes_free=third is not None, trace=trace, seeds=seeds)
        if hierarchy and not result.matches:  # never worse than the flat import
            flat = import_module(module, inputs, name=name, source=source, kwargs=kwargs, hierarchy=False)
            if flat.matches:
                flat.notes.append("Imported flat: with module definitions it did not reproduce the original.")
                return flat
    return result


def _traced(module: nn.Module, inputs, name: str):
    """``(graph module, its runs at batch 1 and 2, what it returned at each, its run at the
    other size or None)``: steps 1 and 2.

    Where the graph traced at the given size fails at the other size (:func:`length_examples`)
    because a branch on a size went another way there (mobilevitv2 pads a feature map that is
    not a multiple of its patch: at 64 pixels it never does, at 96 its last stage does), the
    model is traced again at the other size; that graph is kept when it also runs at the given
    size with the original's outputs there (the padding is then to the same size, nothing), so
    the export runs at both sizes. Only for the tracer following an example: plain fx takes no
    branch on a size."""
    gm = _trace(module, name, len(inputs), _examples(inputs, 2))
    third = _length_run(gm, inputs, name)
    other = length_examples(inputs)
    if third is None and other is not None and getattr(gm, TRACED_BY, "torch.fx") != "torch.fx":
        again = _traced_at(module, inputs, name, other)
        if again is not None:
            return again
    return gm, *_runs(gm, inputs, name), third


def _traced_at(module: nn.Module, inputs, name: str, other: list[torch.Tensor]):
    """:func:`_traced`'s result for the graph traced at the other size, or None where it does
    not run at both sizes with the original's outputs."""
    try:
        gm = _trace(module, name, len(inputs), other)
        third = _record(gm, other, name, inputs)
        runs, recorded = _runs(gm, inputs, name)
        with torch.no_grad():
            want = module(*_examples(inputs, 2))
    except Exception:  # noqa: BLE001 - the original or this graph refuses a size
        return None
    if _difference(_flat(want), _flat(recorded[_BATCHES.index(2)])) > TOLERANCE:
        return None
    return gm, runs, recorded, third


def _runs(gm, inputs, name: str) -> tuple[list[dict], list]:
    """The graph's runs at batch 1 and 2, and what it returned at each (the check's expected
    outputs, in the order of ``_BATCHES``)."""
    recorded: list = []
    runs = [_record(gm, _examples(inputs, b), name, inputs, recorded) for b in _BATCHES]
    return runs, recorded


def _length_run(gm, inputs, name: str) -> dict | None:
    """The third run, at another sequence length (:func:`length_examples`); None where the
    inputs have no length or the model runs at one length only (a fixed-size table)."""
    other = length_examples(inputs)
    if other is None:
        return None
    try:
        return _record(gm, other, name, inputs)
    except ModelImportError:
        return None


def import_example(
    model: nn.Module,
    args: tuple | list,
    *,
    name: str | None = None,
    source: str | None = None,
    kwargs: dict[str, Any] | None = None,
    verify: bool = True,
    hierarchy: bool = True,
) -> ImportResult:
    """Import ``model`` as ``model(*args)`` calls it (what ``file.py:make`` returning
    ``(model, example_args)`` gives): None arguments stay None, and where the model returns a
    ``ModelOutput`` the import keeps one entry (``logits``, else ``last_hidden_state``...),
    recorded in ``project.metadata["import"]["output"]``. The first dimension of each tensor
    is the batch."""
    from studio.interop.fx_examples import example_root

    model.eval()
    # the example's first sample is enough to learn what the model returns (half of one run)
    first = [a[:1] if isinstance(a, torch.Tensor) and a.dim() else a for a in args]
    root, tensors, key = example_root(model, first)
    if not tensors:
        raise ModelImportError(f"{name or type(model).__name__}: give at least one tensor argument")
    inputs = [(tuple(t.shape[1:]), str(t.dtype).removeprefix("torch.")) for t in tensors]
    result = import_module(
        root, inputs, name=name or type(model).__name__, source=source, kwargs=kwargs, verify=verify,
        hierarchy=hierarchy,
    )
    if key is not None:
        result.project.metadata[IMPORT_KEY]["output"] = key
        result.notes.append(f"The model returns a {type(model).__name__} output; its {key!r} is the output.")
    return result


def import_spec(
    spec: Any,
    kwargs: dict[str, Any] | None = None,
    inputs: list[tuple[tuple[int, ...], str]] | None = None,
    *,
    name: str | None = None,
    opaque: bool = False,
    verify: bool = True,
    hierarchy: bool = True,
) -> ImportResult:
    """Load ``spec`` (text or a parsed :class:`~studio.interop.sources.Spec`) and import it.

    What File > Import and ``studio import`` do. A file spec runs the file's code: ask the
    user first (:func:`studio.interop.sources.runs_user_file`). Raises
    :class:`~studio.interop.sources.SourceError`, :class:`UntraceableError` (offer
    ``opaque=True``) or :class:`ModelImportError`, each with a one-line message.
    """
    from studio.interop.sources import load_model

    loaded = load_model(spec, kwargs)
    if loaded.example_args is not None and not opaque and not inputs:
        return import_example(
            loaded.module, loaded.example_args, name=name or loaded.name, source=loaded.source,
            kwargs=loaded.kwargs, verify=verify, hierarchy=hierarchy,
        )
    inputs = inputs or loaded.default_inputs
    if not inputs:
        raise ModelImportError(
            f"{spec}: give the shape of its input without the batch (e.g. --input-shape 3,224,224)"
        )
    name = name or loaded.name
    if opaque:
        return import_opaque(loaded.module, loaded.source, inputs, kwargs=loaded.kwargs, name=name, verify=verify)
    return import_module(
        loaded.module, inputs, name=name, source=loaded.source, kwargs=loaded.kwargs, verify=verify,
        hierarchy=hierarchy,
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
    for bid, pos in (wrapped_layout(g, *FIRST_VIEW) or {}).items():
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


# --------------------------------------------------------------------------- checking
def _verify(
    module: nn.Module,
    result: ImportResult,
    inputs,
    recorded: dict | None = None,
    sizes_free: bool = False,
    trace: Trace | None = None,
    seeds: dict | None = None,
) -> None:
    """Prove the generated model computes the original's graph, else load the original weights
    into it and compare outputs.

    ``trace``: the import's (its graph and runs). The generated class, built on the meta device
    and traced again with torch.fx, is compared with it node for node under the weights' key
    mapping (:func:`studio.interop.fx_proof.prove`): no forward pass, no weight loaded. For
    resnet50 that is about 0.05 s of CPU time (building the class on meta 0.025 s, tracing it
    0.016 s, the proof 0.01 s) against 0.1 s for the two forward passes on 64-pixel images; for
    vit_b_16, whose position table fixes its size, comparing values cost a forward pass at 224
    pixels (0.5-0.6 s; the import without the check takes about 2 s). Where no proof is made
    (a tracer following an example, a module kept whole, random numbers, a computation written
    another way), the values are compared as follows.

    ``seeds``: the shapes the import recorded, as the analysis states them
    (:mod:`studio.interop.fx_seeds`). The class proved is generated from them rather than from
    each block's shape inferred on meta again (resnet50 in a new process: 0.01 s against
    0.07-0.1 s); where the proof holds, inference gives those shapes and that code. Values are
    compared on the code generated from inferred shapes, as Export writes it.

    ``recorded``: batch size -> what the traced original returned for :func:`_examples` at that
    batch while the import recorded its shapes (the same operations on the same tensors), so the
    original is not run again. Then the check runs the generated model once, at batch 1, and
    compares every output value; that it follows the batch as the original does is checked on
    the shapes: those the compiler's analysis gives each Output at its symbolic batch against
    those the original returned at batch 2 (free: the analysis is what the code is generated
    from); where they disagree, the values are compared at batch 2, as they were before.
    Running the generated model at batch 2 every time doubled the cost of the check, which
    is a forward pass of the model (vit_b_16: 1.0 against 0.5 s of CPU time; the import without
    the check takes 1.9 s). Only when the outputs differ is the original run again, seeded as
    the generated model is, since a model that samples noise (a VAE) draws differently in the
    two runs. Without ``recorded`` (an opaque import) both run at batch 2.

    ``sizes_free``: the import ran the model at another image size too (:func:`length_examples`),
    so its sizes follow the input's. Then the values are compared first on images of at most
    :data:`CHECK_PIXELS` a side, where the generated model and the original each cost a fraction
    of one run at the given size (resnet50 at 64 against 224 pixels: 2 x 0.02 s against 0.19 s of
    CPU time, while the import without the check takes about 1.2 s); only where that comparison
    fails, or either model refuses the smaller size, are the values compared at the given size
    as above. Every weight still takes part in the comparison."""
    project = result.project
    analysis, code = _generated(project, seeds)
    cls, model, sd, unused = _on_meta(code, module, result)
    unproved = _prove(trace, model.eval(), sd)
    if unproved is None:
        missing = [k for k in model.state_dict(keep_vars=True) if k not in sd]
        _weight_notes(result, missing, unused)
        result.max_difference = 0.0
        result.checked_by = "graph"
        return
    if seeds:  # the values are compared on the code Export writes: shapes inferred, not recorded
        analysis, again = _generated(project, None)
        if again.source != code.source:
            cls, model, sd, unused = _on_meta(again, module, result)
    model, missing = _with_weights(cls, sd, model)
    _weight_notes(result, missing, unused)
    result.checked_by = "outputs"
    _compare_outputs(model, module, result, inputs, analysis, recorded, sizes_free)
    if not result.outputs_match:
        result.notes.append(f"The generated code differs from the original's graph: {unproved}.")


def _on_meta(code, module: nn.Module, result: ImportResult):
    """``(class, its model on meta, the original's weights under the class's keys, the keys
    it has no place for)``; the model's parameter count goes into ``result``."""
    from studio.compiler import build_class

    # the tensors themselves (no detached copies: the proof compares where they are in memory)
    sd, unused = _remap(module.state_dict(keep_vars=True), result.project, code.attrs)
    cls = build_class(code)
    with on_meta():  # nothing allocated or initialised that the originals replace
        model = cls()
    result.params = _count(model)  # as the class builds it: a tied weight once (``assign`` unties)
    return cls, model, sd, unused


def _generated(project: Project, seeds: dict | None):
    """``(analysis, generated code)`` of the project; with ``seeds`` (:mod:`studio.interop.fx_seeds`)
    the blocks they name are not run on meta."""
    from studio.compiler import CompileError, analyze, generate
    from studio.compiler.shapes import seeded

    with seeded(seeds or {}):
        analysis = analyze(project.graph)
        try:
            return analysis, generate(project.graph, project.name, analysis)
        except CompileError as e:
            if seeds:  # the graph's own problem or a recorded shape's: inference decides
                return _generated(project, None)
            raise ModelImportError(f"{project.name}: the imported graph has problems: {e}") from None


def _prove(trace: Trace | None, model: nn.Module, sd: dict) -> str | None:
    """None where the generated ``model`` (on meta) is proved to compute the import's trace
    given the original weights ``sd`` (:mod:`studio.interop.fx_proof`), else why not."""
    from studio.interop.fx_trace import _Tracer

    if trace is None:
        return "no trace to compare with"
    if getattr(trace.gm, TRACED_BY, "torch.fx") != "torch.fx":
        return "the original was traced following an example"
    try:
        tracer = _Tracer()
        graph = tracer.trace(model)
    except Exception as e:  # noqa: BLE001 - the values are compared instead
        return f"the generated class does not trace ({type(e).__name__})"
    runs = [trace.s1, trace.s2] + ([trace.s3] if trace.s3 is not None else [])
    return prove(trace.gm, runs, (graph, model), sd)


def _weight_notes(result: ImportResult, missing: list[str], unused: list[str]) -> None:
    if missing:
        result.notes.append(
            f"{len(missing)} weights of the imported model have no original (e.g. {missing[0]})."
        )
    if unused:
        result.notes.append(
            f"{len(unused)} weights of the original belong to modules forward() never calls "
            f"(e.g. {unused[0]}); they were left out."
        )


def _compare_outputs(model, module, result, inputs, analysis, recorded, sizes_free) -> None:
    """The values compared (see :func:`_verify`)."""
    recorded = recorded or {}
    batch = 2
    if 1 in recorded and 2 in recorded:
        shapes = [analysis.output_spec(b) for b in analysis.outputs()]
        # where the shapes disagree (or the analysis cannot say), the values are compared at 2
        batch = 1 if _follows_batch(shapes, _flat(recorded[2])) else 2
    small = _small_examples(inputs, batch) if sizes_free else None
    with torch.no_grad(), torch.random.fork_rng():  # a model that samples noise draws the same
        difference = math.inf if small is None else _compare(model, module, small)
        if difference <= TOLERANCE:
            result.max_difference = difference
            return
        args = _examples(inputs, batch)
        torch.manual_seed(0)
        got = _flat(model(*args))
        want = _flat(recorded[batch]) if batch in recorded else None
        if want is None or _difference(want, got) > TOLERANCE:
            torch.manual_seed(0)
            want = _flat(module(*args))
    result.max_difference = _difference(want, got)
    if result.max_difference == math.inf:
        result.notes.append(
            f"At batch {batch} the imported model's outputs are shaped {_shapes_text(got)}, "
            f"the original's {_shapes_text(want)}."
        )


def _small_examples(inputs, batch: int) -> list[torch.Tensor] | None:
    """The examples at ``batch`` with the images' sizes after the channels at most
    :data:`CHECK_PIXELS`; None where no size becomes smaller."""
    small = [
        ((shape[0], *(min(n, CHECK_PIXELS) for n in shape[1:])), dtype)
        if len(shape) >= 3 and getattr(torch, dtype).is_floating_point
        else (tuple(shape), dtype)
        for shape, dtype in inputs
    ]
    if small == [(tuple(shape), dtype) for shape, dtype in inputs]:
        return None
    return _examples(small, batch)


def _compare(model: nn.Module, module: nn.Module, args: list[torch.Tensor]) -> float:
    """The largest difference between the generated ``model``'s and the original ``module``'s
    outputs on ``args``, each run seeded alike; inf where either refuses them."""
    try:
        torch.manual_seed(0)
        got = _flat(model(*args))
        torch.manual_seed(0)
        want = _flat(module(*args))
    except Exception:  # noqa: BLE001 - a size it does not take: the check at the given size decides
        return math.inf
    return _difference(want, got)


def _follows_batch(specs: list, want: list[torch.Tensor], batch: int = 2) -> bool:
    """Whether the analysis's output ``specs`` (shapes with the symbolic :data:`BATCH`), at
    ``batch``, are the shapes of ``want`` (the original's outputs at that batch). A size that
    is a multiple of the symbolic batch (the batch flattened into another size) scales with it."""
    if len(specs) != len(want):
        return False
    for spec, t in zip(specs, want):
        if spec is None:
            return False
        if _at_batch(spec[0], batch) != tuple(t.shape):
            return False
    return True


def _shapes_text(values: list, batch: int = 2) -> str:
    """``2x1000, ?`` for analysis specs (the symbolic batch shown as ``batch``) or tensors."""
    shapes = [tuple(v.shape) if isinstance(v, torch.Tensor) else v and v[0] for v in values]
    sizes = [_at_batch(s, batch) if s else None for s in shapes]
    return ", ".join("x".join(map(str, s)) if s is not None else "?" for s in sizes)


def _at_batch(shape, batch: int) -> tuple:
    """``shape`` with the symbolic :data:`BATCH` (and its multiples: the batch flattened into
    another size) at ``batch``."""
    return tuple(n // BATCH * batch if n and n % BATCH == 0 else n for n in shape)


def _difference(want: list[torch.Tensor], got: list[torch.Tensor]) -> float:
    """The largest difference between two models' outputs (inf when their shapes differ)."""
    if len(want) != len(got) or any(a.shape != b.shape for a, b in zip(want, got)):
        return math.inf
    diff = 0.0
    for a, b in zip(want, got):
        if a.numel():
            diff = max(diff, float((a.double() - b.double()).abs().max()))
    return diff


def _with_weights(
    cls: type[nn.Module], sd: dict[str, torch.Tensor], model: nn.Module | None = None
) -> tuple[nn.Module, list[str]]:
    """An instance of the generated class holding the original's tensors, in eval mode, and the
    keys of its own that had no original.

    Built on the meta device, so no weight is allocated or initialised only to be overwritten
    (for vit_b_16 that random init was 0.87 s of an import, and a second copy of 86M parameters),
    then given the original's tensors themselves (``assign=True``, no copy: the check only reads
    them). Where anything is left on meta (a weight with no original, or a buffer that
    ``__init__`` computes and the state dict does not hold), it is built again the usual way.
    ``model``: the instance built on meta already, if the caller has one."""
    if model is None:
        with on_meta():
            model = cls()
    missing, _ = model.load_state_dict(sd, strict=False, assign=True)
    if missing or any(_meta_left(m) for m in model.modules()):
        model = cls()
        missing, _ = model.load_state_dict(sd, strict=False)
    return model.eval(), missing


def _meta_left(module: nn.Module) -> bool:
    """Whether a tensor of ``module`` itself (a parameter, a buffer or a plain attribute) is on meta."""
    own = (*module._parameters.values(), *module._buffers.values(), *vars(module).values())
    return any(isinstance(t, torch.Tensor) and t.is_meta for t in own)


def _flat(value: Any) -> list[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, (tuple, list)):
        return [t for v in value for t in _flat(v)]
    if isinstance(value, dict):
        return [t for v in value.values() for t in _flat(v)]
    return []
