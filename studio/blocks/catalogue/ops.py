"""Generic tensor ops and the Custom module block.

Most of these come from ``studio import`` (torch.fx gives functions such as ``x - y``,
``x.transpose(1, 2)`` or ``x[:, 0]``), but they are ordinary blocks: the palette shows them
and the compiler emits them like any other.

The **Custom module** block keeps any ``nn.Module`` class as it is: its code imports the class
and calls it with keyword arguments, ``self.<attr> = pkg.mod.MyBlock(width=64)``. A class in a
file (``path/to/file.py:MyBlock``) is loaded from that path with :mod:`importlib`. Keyword
arguments are a Python literal (``{'width': 64}``), read with :func:`ast.literal_eval` and
written back with ``repr``: user text never reaches the code as code.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from studio import pyast
from studio.blocks.catalogue.merges import dims_check, reduce_expr
from studio.blocks.params import Bool, Choice, Float, Int, Ints, Text
from studio.blocks.registry import (
    IMPORT_NN,
    IMPORT_TORCH,
    Action,
    BlockType,
    Code,
    EmitContext,
    Emitted,
    Emitter,
    Op,
    Port,
    call,
    no_macs,
    register,
)
from studio.blocks.shapes import fmt_shape
from studio.blocks.text import short_repr

OPS = "Tensor ops"
CUSTOM = "Custom"

_IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
_DOTTED = re.compile(rf"^{_IDENT}(\.{_IDENT})*$")
_CLASS = re.compile(rf"^{_IDENT}$")


# --------------------------------------------------------------------------- custom module
def parse_source(source: str) -> tuple[str, str, str]:
    """``("module" | "file", where, class name)`` of a Custom module's source, or ValueError.

    ``"pkg.mod:MyBlock"`` names an importable module; ``"path/to/file.py:MyBlock"`` a file.
    """
    where, sep, cls = source.strip().rpartition(":")
    if not sep or not where or not _CLASS.match(cls):
        raise ValueError(
            "the source must look like package.module:ClassName or path/to/file.py:ClassName"
        )
    if where.endswith(".py"):
        return "file", where, cls
    if not _DOTTED.match(where):
        raise ValueError(
            f"{short_repr(where)} is not a module name (like package.module) or a .py file"
        )
    return "module", where, cls


def parse_kwargs(text: str) -> dict[str, Any]:
    """The keyword arguments of a Custom module: a Python literal dict, or ValueError."""
    text = text.strip() or "{}"
    try:
        value = pyast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        raise ValueError(
            "the keyword arguments must be a Python literal like {'width': 64, 'act': 'relu'}"
        ) from None
    if not isinstance(value, dict):
        raise ValueError("the keyword arguments must be a dict like {'width': 64}")
    for key in value:
        if not isinstance(key, str) or not _CLASS.match(key):
            raise ValueError(f"keyword {short_repr(key)} is not a valid argument name")
    return value


def custom_outside_code(params) -> list[str]:
    """The file or module a Custom module runs (what the user's trust must allow)."""
    try:
        return [parse_source(str(params.get("source", "")))[1]]
    except ValueError:
        return []


def _custom_check(c: EmitContext) -> str | None:
    from studio.trust import TrustPolicy, untrusted_message

    trust = c.trust if c.trust is not None else TrustPolicy()

    try:
        kind, where, cls = parse_source(c.p.source)
        kwargs = parse_kwargs(c.p.kwargs)
        parse_kwargs(c.p.call_kwargs)
    except ValueError as e:
        return f"Custom module: {e}."
    if not trust.allows("torch.nn" if where == "nn" else where):
        return untrusted_message(where)
    if kind == "module" and c.inference:
        return _module_class_problem(where, cls, trust) or _builder_kwargs_problem(
            kind, where, cls, kwargs
        )
    return None


def _module_class_problem(module: str, cls: str, trust) -> str | None:
    """Only an nn.Module subclass may be constructed while inferring shapes (a project file
    naming, say, torch.hub:load must not get to call it). The import itself goes through
    :func:`studio.trust.import_module`: allow-listed or trusted only, never from the working
    folder. The check reads the class's bases, so this declaration imports no torch."""
    from studio.trust import UntrustedCode, import_module, shorten

    try:
        obj = getattr(import_module("torch.nn" if module == "nn" else module, trust), cls)
    except UntrustedCode as e:
        return str(e)
    except (ImportError, AttributeError) as e:
        return f"Custom module: cannot find {shorten(f'{module}:{cls}')} ({shorten(e)})."
    except Exception as e:  # noqa: BLE001 - a trusted module that fails on import: one line
        return (
            f"Custom module: importing {shorten(module)} failed ({type(e).__name__}: {shorten(e)})."
        )
    if is_model_builder(module, cls):
        return None
    if not _is_module_class(obj):
        return f"Custom module: {shorten(f'{module}:{cls}')} is not an nn.Module class or a torchvision model."
    return None


def _is_module_class(obj: Any) -> bool:
    """A subclass of torch's ``nn.Module``, told from its bases (no torch import here)."""
    return isinstance(obj, type) and any(
        c.__name__ == "Module" and c.__module__ == "torch.nn.modules.module" for c in obj.__mro__
    )


#: ``recognise(module, name)``: is this a function that builds an ``nn.Module``, which a
#: Custom module may call while shapes are inferred? Contributed by the layers that know such
#: functions (``studio.hub.blocks``: torchvision's registry), so this declaration needs none.
_MODEL_BUILDERS: list[Callable[[str, str], bool]] = []


def register_model_builder(recognise: Callable[[str, str], bool]) -> None:
    if recognise not in _MODEL_BUILDERS:
        _MODEL_BUILDERS.append(recognise)


def is_model_builder(module: str, name: str) -> bool:
    """``torchvision.models:resnet18`` and the like, as the contributed recognisers say."""
    return any(recognise(module, name) for recognise in _MODEL_BUILDERS)


def _builder_kwargs_problem(kind: str, where: str, cls: str, kwargs: dict[str, Any]) -> str | None:
    if kind == "module" and kwargs.get("weights") is not None and is_model_builder(where, cls):
        return "Custom module: a torchvision model here has no pretrained weights; use a Backbone block for those."
    return None


class CustomModuleEmitter(Emitter):
    """``self.<attr> = pkg.mod.Class(**kwargs)``, then ``out = self.<attr>(in1, ...)``."""

    def emit(self, c: EmitContext) -> Emitted:
        kind, where, cls = parse_source(c.p.source)
        kwargs = parse_kwargs(c.p.kwargs)
        init: list[str] = []
        imports: set[str] = {IMPORT_NN}
        if kind == "module" and where in ("torch.nn", "nn"):
            ctor = f"nn.{cls}"
        elif kind == "module":
            ctor = f"{where}.{cls}"
            imports.add(f"import {where}")
        else:
            # a class in a file: load the file as a module (its folder need not be a package)
            spec, module = c.temp("spec"), c.temp("module")
            init += [
                f"{spec} = importlib.util.spec_from_file_location({Path(where).stem!r}, {where!r})",
                f"{module} = importlib.util.module_from_spec({spec})",
                f"{spec}.loader.exec_module({module})",
            ]
            ctor = f"{module}.{cls}"
            imports.add("import importlib.util")
        init.append(f"{c.self_attr} = {call(ctor, **kwargs)}")
        args = [x for x in c.inputs if x is not None]
        forward = [
            f"{c.out} = {call(c.self_attr, *(Code(a) for a in args), **parse_kwargs(c.p.call_kwargs))}"
        ]
        if c.p.output_index >= 0:  # the element of the returned tuple that is passed on
            forward.append(f"{c.out} = {c.out}[{c.p.output_index}]")
        return Emitted(init=init, forward=forward, imports=imports)


def _custom_inputs(params) -> tuple[Port, ...]:
    n = params.get("inputs", 1)
    return (Port("in"),) if n == 1 else tuple(Port(f"in{i + 1}") for i in range(n))


register(
    BlockType(
        id="custom_module",
        label="Custom module",
        category=CUSTOM,
        description=(
            "Any nn.Module class, kept as it is: package.module:ClassName or "
            "path/to/file.py:ClassName, called with the given keyword arguments. "
            "Its inputs go to forward() in order."
        ),
        torch_name="nn.Module",
        params={
            "source": Text(
                "torch.nn:Identity",
                "class",
                "package.module:ClassName or path/to/file.py:ClassName.",
                key=True,
            ),
            "kwargs": Text(
                "{}",
                "keyword arguments",
                "A Python literal dict, e.g. {'width': 64}.",
                max_len=4000,
            ),
            "inputs": Int(1, "inputs", "How many tensors forward() takes.", min=1, max=64),
            "call_kwargs": Text(
                "{}",
                "call keywords",
                "Keyword arguments of each call, e.g. {'need_weights': False}.",
                max_len=2000,
            ),
            "output_index": Int(
                -1,
                "output index",
                "Which element of a returned tuple to pass on (-1: the whole result).",
                min=-1,
                max=63,
                special="the whole result",
            ),
        },
        inputs=_custom_inputs,
        emitter=CustomModuleEmitter(),
        check=_custom_check,
        outside_code=custom_outside_code,
        actions=(Action("trust_file", "Trust this file's code…"),),
        name_base="custom",
        keywords=("opaque", "module", "class", "import", "user"),
    )
)


# --------------------------------------------------------------------------- binary ops
TWO = (Port("in1"), Port("in2"))


def _binary(id: str, label: str, symbol: str, description: str, keywords: tuple[str, ...]) -> None:
    register(
        BlockType(
            id=id,
            label=label,
            category=OPS,
            description=description,
            torch_name=f"operator {symbol}",
            inputs=TWO,
            emitter=Op(lambda c: f"{c.inputs[0] or 'None'} {symbol} {c.inputs[1] or 'None'}"),
            name_base=id,
            keywords=keywords,
        )
    )


_binary(
    "subtract",
    "Subtract",
    "-",
    "in1 - in2, element-wise (shapes broadcast).",
    ("minus", "difference", "sub"),
)
_binary(
    "divide",
    "Divide",
    "/",
    "in1 / in2, element-wise (shapes broadcast).",
    ("div", "ratio", "truediv"),
)
_binary(
    "matmul",
    "MatMul",
    "@",
    "Matrix product in1 @ in2 over the last two dimensions (attention scores, bilinear forms).",
    ("matrix", "product", "bmm", "attention"),
)

SCALAR_OPS = ("x + c", "x - c", "c - x", "x * c", "x / c", "c / x", "x ** c")


def _scalar_expr(op: str, x: str, value: str) -> str:
    """``"c - x"`` with x=``h``, c=``1`` -> ``"1 - h"`` (token by token: names may contain c or x)."""
    return " ".join(x if t == "x" else value if t == "c" else t for t in op.split())


def _number(v: float) -> str:
    return repr(int(v)) if float(v).is_integer() else repr(float(v))


register(
    BlockType(
        id="scalar_op",
        label="Scalar op",
        category=OPS,
        description="Combines every value with one constant: x + c, x * c, c - x... (scaling, shifting).",
        torch_name="operator with a number",
        params={
            "op": Choice("x * c", "operation", options=SCALAR_OPS, key=True),
            "value": Float(1.0, "c", key=True),
        },
        emitter=Op(lambda c: _scalar_expr(c.p.op, c.x, _number(c.p.value))),
        macs=no_macs,
        name_base="scale",
        keywords=("constant", "scale", "shift", "multiply", "add", "number"),
    )
)

MATH = ("exp", "log", "sqrt", "rsqrt", "abs", "neg", "sin", "cos", "square", "reciprocal")

register(
    BlockType(
        id="math",
        label="Math function",
        category=OPS,
        description="An element-wise function: exp, log, sqrt, abs, negation...",
        torch_name="torch.exp, torch.log, ...",
        params={"function": Choice("exp", options=MATH, key=True)},
        emitter=Op(lambda c: f"torch.{c.p.function}({c.x})", imports=(IMPORT_TORCH,)),
        macs=no_macs,
        name_base="math",
        keywords=("exp", "log", "sqrt", "abs", "negate", "elementwise"),
    )
)


# --------------------------------------------------------------------------- shape ops
def _dim_ok(shape, *dims: int) -> bool:
    return all(-len(shape) <= d < len(shape) for d in dims)


register(
    BlockType(
        id="transpose",
        label="Transpose",
        category=OPS,
        description="Swaps two dimensions, e.g. 1, 2 turns N×L×C into N×C×L.",
        torch_name="Tensor.transpose",
        params={
            "dim0": Int(1, "dim 0", key=True, min=-8, max=7),
            "dim1": Int(2, "dim 1", key=True, min=-8, max=7),
        },
        emitter=Op(lambda c: f"{c.x}.transpose({c.p.dim0}, {c.p.dim1})"),
        check=lambda c: (
            None
            if c.in_shapes[0] is None or _dim_ok(c.in_shapes[0], c.p.dim0, c.p.dim1)
            else f"Transpose: {fmt_shape(c.in_shapes[0])} has no dimension {c.p.dim0} or {c.p.dim1}."
        ),
        macs=no_macs,
        name_base="transpose",
        keywords=("swap", "permute", "swapaxes"),
        chains=True,
    )
)

register(
    BlockType(
        id="unsqueeze",
        label="Unsqueeze",
        category=OPS,
        description="Inserts a dimension of size 1, e.g. dim 1 turns N×C into N×1×C.",
        torch_name="Tensor.unsqueeze",
        params={"dim": Int(1, key=True, min=-9, max=8)},
        emitter=Op(lambda c: f"{c.x}.unsqueeze({c.p.dim})"),
        macs=no_macs,
        name_base="unsqueeze",
        keywords=("expand dims", "add dimension"),
    )
)

register(
    BlockType(
        id="squeeze",
        label="Squeeze",
        category=OPS,
        description="Removes one dimension of size 1, e.g. dim 2 turns N×C×1 into N×C.",
        torch_name="Tensor.squeeze",
        params={"dim": Int(-1, key=True, min=-8, max=7)},
        emitter=Op(lambda c: f"{c.x}.squeeze({c.p.dim})"),
        macs=no_macs,
        name_base="squeeze",
        keywords=("remove dimension",),
    )
)


register(
    BlockType(
        id="sum",
        label="Sum",
        category=OPS,
        description="Adds up the values over the given dimensions.",
        torch_name="torch.sum",
        params={
            "dims": Ints((1,), key=True, min_len=1, max_len=6, min=-8, max=8),
            "keepdim": Bool(False),
        },
        emitter=Op(reduce_expr("sum")),
        check=dims_check,
        macs=no_macs,
        name_base="sum",
        keywords=("reduce", "total"),
    )
)


# --------------------------------------------------------------------------- indexing
def parse_index(text: str) -> tuple:
    """``"[:, 0]"`` -> a tuple of ints, ``None``, ``...`` and ``slice`` objects, or ValueError.

    Only those literal pieces are accepted, so the text cannot carry code.
    """
    text = text.strip()
    if not (text.startswith("[") and text.endswith("]")):
        raise ValueError("an index looks like [:, 0] or [..., 1:3]")
    try:
        node = pyast.parse(f"x{text}", mode="eval").body
    except SyntaxError:
        raise ValueError(f"{text} is not an index like [:, 0]") from None
    if not isinstance(node, ast.Subscript):
        raise ValueError(f"{text} is not an index like [:, 0]")
    items = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]

    def const(n) -> int | None:
        if n is None:
            return None
        v = pyast.literal_eval(n)
        if v is not None and (not isinstance(v, int) or isinstance(v, bool)):
            raise ValueError
        return v

    out: list = []
    try:
        for item in items:
            if isinstance(item, ast.Slice):
                out.append(slice(const(item.lower), const(item.upper), const(item.step)))
            elif isinstance(item, ast.Constant) and item.value is Ellipsis:
                out.append(...)
            else:
                out.append(const(item))
    except (ValueError, SyntaxError, TypeError):
        raise ValueError(
            f"{text}: only whole numbers, :, ... and None may appear in an index"
        ) from None
    return tuple(out)


def format_index(index: tuple) -> str:
    """The canonical text of an index tuple: ``(slice(None), 0)`` -> ``"[:, 0]"``."""

    def one(v) -> str:
        if isinstance(v, slice):
            s = f"{'' if v.start is None else v.start}:{'' if v.stop is None else v.stop}"
            return s + (f":{v.step}" if v.step is not None else "")
        if v is ...:
            return "..."
        return repr(v)

    return "[" + ", ".join(one(v) for v in index) + "]"


def _index_check(c: EmitContext) -> str | None:
    try:
        parse_index(c.p.index)
    except ValueError as e:
        return f"Index: {e}."
    return None


register(
    BlockType(
        id="index",
        label="Index / slice",
        category=OPS,
        description="Picks part of a tensor with Python indexing, e.g. [:, 0] (first token) or [..., 1:3].",
        torch_name="Tensor.__getitem__",
        params={"index": Text("[:, 0]", key=True, max_len=200)},
        emitter=Op(lambda c: f"{c.x}{format_index(parse_index(c.p.index))}"),
        check=_index_check,
        name_base="index",
        keywords=("slice", "getitem", "select", "cls token"),
    )
)


def _take_expr(c: EmitContext) -> str:
    return f"{c.inputs[0]}[{':, ' * c.p.dim}{c.inputs[1]}]"


register(
    BlockType(
        id="take",
        label="Index by tensor",
        category=OPS,
        description=(
            "Picks entries of in1 along one dimension at the positions held by the integer "
            "tensor in2: in1[:, in2] for dimension 1 (a relative position bias table read "
            "through its index buffer)."
        ),
        torch_name="Tensor.__getitem__",
        params={"dim": Int(1, "dimension", "The dimension of in1 that in2 indexes.", min=0, max=8)},
        inputs=(Port("in1"), Port("in2")),
        emitter=Op(_take_expr),
        name_base="take",
        keywords=("gather", "getitem", "index buffer", "relative position", "lookup"),
    )
)
