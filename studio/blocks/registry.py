"""The block registry: every block type is one small declaration.

A :class:`BlockType` says what the palette shows (label, category, description, the
``torch.nn`` name), what the inspector edits (typed parameters), which ports it has, and how
it emits code (an :class:`Emitter`), and what else it needs around that: the files it loads
when built (:class:`Asset`, fetched by ``studio.hub``), the context actions it offers (action
ids the editor maps to handlers), the parameter changes that make it a feature extractor for
a new head. The compiler, the shape inference, the palette, the inspector, the weights fetcher
and the editor's menus all read these declarations; none of them switches on a block's type.
Most come from the built-in catalogue; a higher layer may contribute its own (the hub's
Backbone and Hub model: see :data:`CONTRIBUTORS`).

Pure Python: importing this module imports neither torch nor Qt.
"""

from __future__ import annotations

import contextvars
import importlib
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from studio.blocks.params import Param, ParamError
from studio.blocks.text import short_repr

#: Concrete size used for the batch dimension during shape inference; shown to users as ``N``.
BATCH = 7919

ROLE_INPUT = "input"
ROLE_OUTPUT = "output"
ROLE_LAYER = "layer"


@dataclass(frozen=True)
class Port:
    name: str
    label: str = ""
    optional: bool = False

    @property
    def title(self) -> str:
        return self.label or self.name


IN = (Port("in"),)
OUT = (Port("out"),)

PortsSpec = tuple[Port, ...] | Callable[[Mapping[str, Any]], tuple[Port, ...]]


class P:
    """Attribute access to a block's parameters inside emitters: ``c.p.out_features``."""

    __slots__ = ("_d",)

    def __init__(self, d: Mapping[str, Any]) -> None:
        object.__setattr__(self, "_d", d)

    def __getattr__(self, name: str) -> Any:
        try:
            return self._d[name]
        except KeyError:
            raise AttributeError(name) from None

    def __getitem__(self, name: str) -> Any:
        return self._d[name]


@dataclass
class EmitContext:
    """What an emitter knows when it writes a block's code."""

    attr: str  # the attribute name: the block's layers live at ``self.<attr>``
    params: Mapping[str, Any]
    inputs: list[str | None]  # the expression feeding each input port (None: unconnected)
    outputs: list[str]  # the variable name for each output port
    in_shapes: list[tuple[int, ...] | None]  # with the batch dimension (= BATCH)
    in_dtypes: list[str | None]
    frozen: bool = False
    #: True while inferring shapes: emitters must not load weights or touch the network
    inference: bool = False
    #: gives a fresh local variable name for helper values (``h_n``, ``h_n_1``...)
    namer: Callable[[str], str] | None = None
    #: the ``studio.trust.TrustPolicy`` the compiler was given: what outside code may run
    trust: Any = None

    def temp(self, base: str) -> str:
        return self.namer(base) if self.namer else base

    @property
    def p(self) -> P:
        return P(self.params)

    @property
    def self_attr(self) -> str:
        return f"self.{self.attr}"

    def shape(self, i: int = 0) -> tuple[int, ...]:
        s = self.in_shapes[i]
        if s is None:
            raise ShapeUnknown(f"input {i} has no known shape")
        return s

    def dim(self, d: int, i: int = 0) -> int:
        return self.shape(i)[d]

    @property
    def x(self) -> str:
        """The expression of the first input."""
        return self.inputs[0] or "None"

    @property
    def out(self) -> str:
        return self.outputs[0]


class ShapeUnknown(Exception):
    """Raised by emitters that need an input shape that is not known yet."""


@dataclass
class Emitted:
    """A block's code: lines for ``__init__`` and ``forward`` and the imports they need.

    ``output_exprs`` replaces the output variables with expressions (a Parameter block's
    output is just ``self.token``: no forward line needed).
    """

    init: list[str] = field(default_factory=list)
    forward: list[str] = field(default_factory=list)
    imports: set[str] = field(default_factory=set)
    output_exprs: list[str] | None = None
    #: lines for an overridden ``train(mode)``, run after ``super().train(mode)`` (e.g. keep a
    #: frozen part's batch norm in eval mode)
    train: list[str] = field(default_factory=list)


class Emitter:
    """How a block type writes its code. Subclasses: Module, Op, and the roles in catalogue."""

    def emit(self, c: EmitContext) -> Emitted:  # pragma: no cover - abstract
        raise NotImplementedError


IMPORT_TORCH = "import torch"
IMPORT_NN = "from torch import nn"


class Omit:
    """Marker: leave this keyword argument out of the call (it equals torch's default)."""

    def __repr__(self) -> str:
        return "OMIT"


OMIT = Omit()


#: set while the compiler writes a module definition whose uses differ in a value that
#: equals torch's default in one use: then every use writes it, so their code lines up
KEEP_DEFAULTS: contextvars.ContextVar[bool] = contextvars.ContextVar("keep_defaults", default=False)


def opt(value: Any, default: Any) -> Any:
    """``value`` unless it equals torch's default, in which case the keyword is left out."""
    return OMIT if value == default and not KEEP_DEFAULTS.get() else value


def fmt_value(v: Any) -> str:
    if isinstance(v, Code):
        return v.text
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, (list, tuple)):
        inner = ", ".join(fmt_value(x) for x in v)
        if isinstance(v, tuple):
            return f"({inner},)" if len(v) == 1 else f"({inner})"
        return f"[{inner}]"
    return repr(v)


@dataclass(frozen=True)
class Code:
    """A value written into the code as-is (an expression, not a literal)."""

    text: str


def call(fn: str, *args: Any, **kwargs: Any) -> str:
    parts = [fmt_value(a) for a in args]
    parts += [f"{k}={fmt_value(v)}" for k, v in kwargs.items() if v is not OMIT]
    return f"{fn}({', '.join(parts)})"


@dataclass
class Module(Emitter):
    """A block that is one ``nn.Module``: ``self.<attr> = ctor(args)``, then ``out = self.<attr>(x)``.

    ``args(c)`` returns the positional arguments and ``kwargs(c)`` the keywords (use
    :func:`opt` so defaults are left out). ``forward(c)`` may replace the default call line.
    """

    ctor: str
    args: Callable[[EmitContext], list[Any]] = lambda c: []
    kwargs: Callable[[EmitContext], dict[str, Any]] = lambda c: {}
    forward: Callable[[EmitContext], list[str]] | None = None
    imports: tuple[str, ...] = (IMPORT_NN,)

    def emit(self, c: EmitContext) -> Emitted:
        init = [f"{c.self_attr} = {call(self.ctor, *self.args(c), **self.kwargs(c))}"]
        if self.forward is not None:
            fwd = self.forward(c)
        else:
            fwd = [f"{c.out} = {c.self_attr}({c.x})"]
        return Emitted(init=init, forward=fwd, imports=set(self.imports))


@dataclass
class Op(Emitter):
    """A block computed by an expression in ``forward`` (no layer): ``out = expr(c)``."""

    expr: Callable[[EmitContext], str]
    imports: tuple[str, ...] = ()

    def emit(self, c: EmitContext) -> Emitted:
        return Emitted(forward=[f"{c.out} = {self.expr(c)}"], imports=set(self.imports))


#: kinds of :class:`Asset` (``studio.hub.weights`` knows how to fetch each)
ASSET_WEIGHTS = "weights"  # torchvision weights by id, ``ResNet18_Weights.IMAGENET1K_V1``
ASSET_WEIGHTS_FILE = "weights_file"  # a local state_dict checked against ``model``
ASSET_HUB_REPO = "hub_repo"  # a torch.hub repository's code


@dataclass(frozen=True)
class Asset:
    """Something a block loads when the model is built (never while shapes are inferred), so
    the training path can fetch or check it first, with progress, before building."""

    kind: str
    name: str  # weights id, file path or repository
    model: str = ""  # ASSET_WEIGHTS_FILE: the model the file must fit
    trusted: bool = False  # ASSET_HUB_REPO: the project says the user trusted it


@dataclass(frozen=True)
class Action:
    """A context-menu entry a block type offers: ``id`` names the editor's handler, so this
    module stays free of Qt and the editor needs no table keyed on block types."""

    id: str
    text: str


def no_macs(c: EmitContext, outs: list[tuple[int, ...]]) -> int:
    """The ``macs`` of a block that runs no matrix product, convolution or attention (an
    activation, a norm, a pool, a reshape, an element-wise merge): 0, what counting finds for
    it. Stated rather than counted because counting runs the block under torch's
    ``FlopCounterMode``, which takes each such operation apart into Python reference code: a
    ReLU's shapes on ``meta`` took 1.5 ms so against 0.3 ms, about half of resnet50's shape
    inference (uncached: 110 ms against 50-70 ms)."""
    return 0


@dataclass
class BlockType:
    id: str
    label: str
    category: str
    description: str
    torch_name: str
    emitter: Emitter | None
    params: dict[str, Param] = field(default_factory=dict)
    inputs: PortsSpec = IN
    outputs: PortsSpec = OUT
    role: str = ROLE_LAYER
    #: a friendly check before running: returns a message when the inputs cannot work
    check: Callable[[EmitContext], str | None] | None = None
    #: multiply-accumulates per sample, given the context and the output shapes
    macs: Callable[[EmitContext, list[tuple[int, ...]]], int] | None = None
    #: base of new block names ("linear" -> linear, linear1, ...)
    name_base: str = ""
    keywords: tuple[str, ...] = ()
    #: what the block turns its input into ("softmax": probabilities, "sigmoid"); a loss that
    #: applies the same itself (`LossKind.applies`) must not get it twice
    squashes: str = ""
    version: int = 1
    #: older ids this type had; files that use them still load
    aliases: tuple[str, ...] = ()
    #: migrate(params, from_version) -> params, for files saved by an older version
    migrate: Callable[[dict[str, Any], int], dict[str, Any]] | None = None
    #: outside_code(params) -> the files, module names or repositories whose code the block
    #: runs (what studio.trust must allow; cached shapes depend on the answers)
    outside_code: Callable[[Mapping[str, Any]], list[str]] | None = None
    #: assets(params) -> what building this block loads (pretrained weights, repositories)
    assets: Callable[[Mapping[str, Any]], tuple[Asset, ...]] | None = None
    #: context actions beyond the common ones
    actions: tuple[Action, ...] = ()
    #: feature_params(params) -> the changes that make the block return features for a new
    #: head (empty: it already is one)
    feature_params: Callable[[Mapping[str, Any]], dict[str, Any]] | None = None
    #: for the use of a module definition (``studio.graph.modules``): the definition, whose
    #: graph the compiler analyses and writes as its own class; None for every built-in type
    definition: Any = None
    #: shares(params) -> the path of the parameter this block makes another's tensor (Tie
    #: weights: ``lm_head.weight``), so analysis counts that tensor once, as torch does
    shares: Callable[[Mapping[str, Any]], str] | None = None
    #: the parameter that chooses which of the block's weights train (a Backbone's "freeze"):
    #: the inspector offers it instead of the common Frozen box, which beside it read
    #: "Frozen" unticked over a card that said "1.52M params (frozen)"
    freezing_param: str = ""
    #: the block writes itself as a method of its input (``x.transpose(1, 2)``): where it is
    #: its input's only reader, it joins the statement that made that input, as nanoGPT and
    #: transformers chain a view and a transpose (``self.query(x).reshape(...).transpose(1, 2)``)
    chains: bool = False
    #: the name of its value where it would take over its input's variable but holds another
    #: kind of value: an Embedding turns token ids into vectors, ``x`` as nanoGPT writes it (not
    #: ``tokens = self.token_embedding(tokens)``); empty, or that name taken: the input's name
    value_name: str = ""

    # ---------------------------------------------------------------- helpers
    @property
    def default_name(self) -> str:
        return self.name_base or self.id

    def input_ports(self, params: Mapping[str, Any]) -> tuple[Port, ...]:
        return self.inputs(params) if callable(self.inputs) else self.inputs

    def output_ports(self, params: Mapping[str, Any]) -> tuple[Port, ...]:
        return self.outputs(params) if callable(self.outputs) else self.outputs

    def defaults(self) -> dict[str, Any]:
        return {k: p.default for k, p in self.params.items()}

    def coerce_params(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """All parameters, checked: unknown names are refused, missing ones get defaults."""
        if not isinstance(values, Mapping):
            raise ParamError(f"{self.label} parameters must be a mapping of names to values.")
        unknown = set(values) - set(self.params)
        if unknown:
            raise ParamError(f"{self.label} has no parameter {short_repr(sorted(unknown)[0])}.")
        out = {}
        for name, param in self.params.items():
            value = values.get(name, param.default)
            out[name] = param.coerce_in(value, param.label or name.replace("_", " "), out)
        return out

    def changed_params(
        self, values: Mapping[str, Any], changes: Mapping[str, Any]
    ) -> dict[str, Any]:
        """``changes`` plus what they force on dependent choices: a choice whose options depend
        on a changed value keeps its value when still offered, else falls back (a Backbone's
        weights, stage and freezing are per model). One SetParams of these is one undo step."""
        merged = {**values, **changes}
        out = dict(changes)
        for name, param in self.params.items():
            if name in changes or not set(getattr(param, "depends_on", ())) & set(changes):
                continue
            fitted = param.fit(merged[name], merged)
            merged[name] = fitted
            if fitted != values.get(name):
                out[name] = fitted
        return out

    def params_to_json(self, values: Mapping[str, Any]) -> dict[str, Any]:
        return {k: self.params[k].to_json(v) for k, v in values.items() if k in self.params}

    def key_params_text(self, values: Mapping[str, Any]) -> str:
        parts = [
            f"{(p.label or k).replace('_', ' ')}={p.describe(values[k])}"
            for k, p in self.params.items()
            if p.key and k in values
        ]
        return ", ".join(parts)

    def needed_assets(self, params: Mapping[str, Any]) -> tuple[Asset, ...]:
        return self.assets(params) if self.assets is not None else ()

    def tooltip(self) -> str:
        return f"{self.label} ({self.torch_name})\n{self.description}"


_REGISTRY: dict[str, BlockType] = {}
_ALIASES: dict[str, str] = {}

#: Modules of higher layers that declare block types of their own, the way a package's entry
#: points name its plug-ins: the registry imports them by name when first read, after the
#: built-in catalogue, so every consumer still reads one registry whole and this module
#: imports nothing above it. Each must import neither torch nor Qt when imported
#: (``tests/test_layers.py`` opens every example project with both blocked). A list here
#: rather than ``importlib.metadata`` entry points: those come from the installed package's
#: metadata, so a source checkout run with ``PYTHONPATH`` would lose the blocks.
CONTRIBUTORS: tuple[str, ...] = (
    "studio.hub.blocks",  # Backbone (torchvision) and Hub model (torch.hub)
)
_loaded = False
_loading = False
_load_lock = threading.RLock()  # another thread waits for the whole registry, never half


class UnknownBlockType(KeyError):
    def __str__(self) -> str:
        return f"unknown block type {short_repr(self.args[0])}"


def register(spec: BlockType) -> BlockType:
    """Add ``spec``; declarations call this when their module is imported. The built-in
    catalogue is loaded first whoever registers first, so the palette keeps its order."""
    _ensure_loaded()
    if spec.id in _REGISTRY:
        raise ValueError(f"block type {spec.id!r} registered twice")
    for name, p in spec.params.items():
        if not p.lazy:  # lazy options are checked on first use, not at import
            p.coerce(p.default, name)  # a declaration with a bad default is a bug: fail at import
    _REGISTRY[spec.id] = spec
    for alias in spec.aliases:
        _ALIASES[alias] = spec.id
    return spec


def _ensure_loaded() -> None:
    global _loaded, _loading
    if _loaded:
        return
    with _load_lock:  # re-entered by the loading thread: the modules below call register()
        if _loaded or _loading:
            return
        _loading = True
        try:
            importlib.import_module("studio.blocks.catalogue")  # the built-in blocks
            for module in CONTRIBUTORS:
                importlib.import_module(module)
            _loaded = True
        finally:
            _loading = False


def get_block_type(type_id: str) -> BlockType:
    _ensure_loaded()
    spec = _REGISTRY.get(type_id) or _REGISTRY.get(_ALIASES.get(type_id, ""))
    if spec is None:
        raise UnknownBlockType(type_id)
    return spec


def all_block_types() -> list[BlockType]:
    _ensure_loaded()
    return list(_REGISTRY.values())


def categories() -> dict[str, list[BlockType]]:
    """Block types grouped for the palette, in declaration order."""
    out: dict[str, list[BlockType]] = {}
    for spec in all_block_types():
        out.setdefault(spec.category, []).append(spec)
    return out
