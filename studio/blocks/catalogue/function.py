"""The Function block: one call into ``torch``, ``torch.nn.functional`` or a Tensor method.

``torch.roll(in1, shifts=3, dims=1)``, ``in1.expand(in2.shape[0], -1, -1)``,
``F.layer_norm(in1, (768,), in2, in3, 1e-06)``: the function is chosen by name and its
arguments are written like a call's, where the names ``in1``, ``in2``... stand for the block's
input tensors and ``inK.shape[i]`` for one of their sizes (``in2.shape[0]``: the batch).
Everything else must be a literal (numbers, booleans, None, text, tuples and lists of those).

Nothing the user types reaches the code as code: the function must be one identifier in one
of the :data:`NAMESPACES`, not private and not one of :data:`REFUSED` (loading, saving, global
settings), and the arguments are parsed with :mod:`ast` into values that are written back with
``repr``. When shapes are inferred (in the compiler) the name is also looked up in the real torch
namespace and the arguments bound to its signature, so a typo reads as one clear line.

Where the call returns a tuple (``torch.chunk``, ``split``, ``unbind``) the block has one
output port per element (``outputs``), unpacked into one variable each.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from typing import Any

from studio import pyast
from studio.blocks.params import Int, Text
from studio.blocks.registry import (
    IMPORT_TORCH,
    BlockType,
    EmitContext,
    Emitted,
    Emitter,
    Port,
    register,
)
from studio.blocks.text import short_repr

#: how a function is written -> (the module it is looked up in, the prefix in the code)
NAMESPACES = {
    "torch": ("torch", "torch"),
    "F": ("torch.nn.functional", "F"),
    "torch.nn.functional": ("torch.nn.functional", "F"),
    "torch.special": ("torch.special", "torch.special"),
    "torch.linalg": ("torch.linalg", "torch.linalg"),
    "torch.fft": ("torch.fft", "torch.fft"),
    "Tensor": ("torch.Tensor", ""),
}
#: functions that reach outside the model (files, global settings, random seeds, compilers)
REFUSED = frozenset({
    "load", "save", "from_file", "set_default_dtype", "set_default_device", "set_default_tensor_type",
    "set_grad_enabled", "set_num_threads", "set_num_interop_threads", "set_printoptions",
    "manual_seed", "seed", "initial_seed", "set_rng_state", "get_rng_state", "compile", "export",
    "use_deterministic_algorithms", "set_flush_denormal", "set_warn_always", "tofile", "storage",
    "untyped_storage", "share_memory_", "pin_memory", "register_hook", "backward", "data_ptr",
    "set_", "cuda", "to", "cpu", "numpy", "tolist", "item", "new_tensor", "apply_", "map_", "map2_",
})
MAX_TENSORS = 64
_IDENT = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_INPUT = re.compile(r"^in([1-9][0-9]?)$")


class FunctionError(ValueError):
    """The function name or the arguments cannot be used; ``str()`` is one line."""


@dataclass(frozen=True)
class InputRef:
    """Input tensor ``index`` (0-based), or, with ``dim``, its size along ``dim``, or, with
    ``attr``, its ``device``, ``dtype`` or ``shape`` (``torch.arange(n, device=in1.device)``)."""

    index: int
    dim: int | None = None
    attr: str | None = None


@dataclass(frozen=True)
class SizeOp:
    """Integer arithmetic on sizes: ``in1.shape[0] // 64`` (swin's windows per image), so a
    size computed from the input stays computed from it at every batch and input size."""

    op: str  # one of SIZE_OPS
    left: Any
    right: Any


#: the operators a size expression may use, by their ``ast`` class
SIZE_OPS = {ast.FloorDiv: "//", ast.Mult: "*", ast.Add: "+", ast.Sub: "-", ast.Mod: "%"}


@dataclass(frozen=True)
class DType:
    """``torch.float32``: a dtype argument (``cumsum(dim=1, dtype=torch.float32)``)."""

    name: str


#: the dtypes an argument may name
DTYPES = frozenset({
    "float16", "float32", "float64", "bfloat16", "int8", "int16", "int32", "int64", "uint8", "bool",
    "long", "float", "double", "half", "int", "complex64", "complex128",
})
_ATTRS = ("device", "dtype", "shape")


@dataclass(frozen=True)
class Call:
    module: str  # where the name is looked up: "torch.nn.functional"
    prefix: str  # how the code spells it: "F" ("" for a Tensor method)
    name: str
    args: tuple[Any, ...]
    kwargs: tuple[tuple[str, Any], ...]

    @property
    def is_method(self) -> bool:
        return self.module == "torch.Tensor"


def parse_function(text: str) -> tuple[str, str, str]:
    """``"F.layer_norm"`` -> ``("torch.nn.functional", "F", "layer_norm")``, or FunctionError."""
    where, _, name = text.strip().rpartition(".")
    if where not in NAMESPACES:
        raise FunctionError(
            f"{short_repr(text)}: name a function as torch.NAME, F.NAME (torch.nn.functional), "
            "torch.special.NAME, torch.linalg.NAME, torch.fft.NAME or Tensor.NAME"
        )
    if not _IDENT.match(name) or name in REFUSED:
        raise FunctionError(f"{short_repr(text)} is not a function the Function block may call")
    module, prefix = NAMESPACES[where]
    return module, prefix, name


def _value(node: ast.AST, n_inputs: int) -> Any:
    if isinstance(node, ast.Name):
        m = _INPUT.match(node.id)
        if m and int(m.group(1)) <= n_inputs:
            return InputRef(int(m.group(1)) - 1)
        raise FunctionError(f"{node.id} is not an input: the block has in1 to in{n_inputs}")
    if (
        isinstance(node, ast.Subscript)
        and isinstance(node.value, ast.Attribute)
        and node.value.attr == "shape"
        and isinstance(node.slice, ast.Constant)
        and type(node.slice.value) is int
    ):
        ref = _value(node.value.value, n_inputs)
        if isinstance(ref, InputRef) and ref.dim is None:
            return InputRef(ref.index, node.slice.value)
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        if node.value.id == "torch" and node.attr in DTYPES:
            return DType(node.attr)
        if node.attr in _ATTRS:
            ref = _value(node.value, n_inputs)
            if isinstance(ref, InputRef):
                return InputRef(ref.index, attr=node.attr)
    if isinstance(node, (ast.Tuple, ast.List)):
        items = [_value(e, n_inputs) for e in node.elts]
        return tuple(items) if isinstance(node, ast.Tuple) else items
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant):
        value = node.operand.value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return -value
    if isinstance(node, ast.Constant) and (node.value is None or isinstance(node.value, (bool, int, float, str))):
        return node.value
    if isinstance(node, ast.BinOp) and type(node.op) in SIZE_OPS:
        left, right = _value(node.left, n_inputs), _value(node.right, n_inputs)
        if _is_size(left) and _is_size(right):
            return SizeOp(SIZE_OPS[type(node.op)], left, right)
    raise FunctionError(
        f"{ast.unparse(node)[:40]} is not allowed: use numbers, True/False, None, text, "
        "tuples or lists of those, in1... for inputs, in1.shape[0] for sizes (and +, -, *, //, "
        "% of sizes and whole numbers), in1.shape, in1.device, in1.dtype and torch.float32 (a dtype)"
    )


def _is_size(v: Any) -> bool:
    """A whole number, a size of an input, or arithmetic on those."""
    if isinstance(v, InputRef):
        return v.dim is not None
    return isinstance(v, SizeOp) or (type(v) is int)


def parse_call(function: str, arguments: str, n_inputs: int) -> Call:
    """The block's function and arguments, checked without torch, or FunctionError."""
    module, prefix, name = parse_function(function)
    try:
        tree = pyast.parse(f"f({arguments.strip()})", mode="eval").body
    except SyntaxError:
        raise FunctionError(f"{short_repr(arguments)} is not an argument list like in1, 2, dim=1") from None
    if not isinstance(tree, ast.Call) or any(k.arg is None for k in tree.keywords):
        raise FunctionError("the arguments cannot use * or ** unpacking")
    if any(isinstance(a, ast.Starred) for a in tree.args):
        raise FunctionError("the arguments cannot use * or ** unpacking")
    args = tuple(_value(a, n_inputs) for a in tree.args)
    kwargs = tuple((k.arg, _value(k.value, n_inputs)) for k in tree.keywords)
    call = Call(module, prefix, name, args, kwargs)
    if call.is_method and not (args and isinstance(args[0], InputRef) and args[0].dim is None):
        raise FunctionError(f"Tensor.{name} is called on a tensor: start the arguments with in1")
    return call


def _code(value: Any, inputs: list[str]) -> str:
    if isinstance(value, SizeOp):
        return f"{_operand(value.left, inputs)} {value.op} {_operand(value.right, inputs)}"
    if isinstance(value, InputRef):
        x = inputs[value.index]
        if value.attr is not None:
            return f"{x}.{value.attr}"
        return x if value.dim is None else f"{x}.shape[{value.dim}]"
    if isinstance(value, DType):
        return f"torch.{value.name}"
    if isinstance(value, (tuple, list)):
        inner = ", ".join(_code(v, inputs) for v in value)
        if isinstance(value, tuple):
            return f"({inner},)" if len(value) == 1 else f"({inner})"
        return f"[{inner}]"
    return repr(value)


def _operand(value: Any, inputs: list[str]) -> str:
    """An operand of a size expression, bracketed where it is an expression itself."""
    code = _code(value, inputs)
    return f"({code})" if isinstance(value, SizeOp) or (type(value) is int and value < 0) else code


def call_code(call: Call, inputs: list[str]) -> str:
    """The Python expression of ``call`` with ``inputs`` for in1, in2..."""
    args = list(call.args)
    head = f"{call.prefix}.{call.name}"
    if call.is_method:
        head = f"{_code(args.pop(0), inputs)}.{call.name}"
    parts = [_code(a, inputs) for a in args] + [f"{k}={_code(v, inputs)}" for k, v in call.kwargs]
    return f"{head}({', '.join(parts)})"


def _imports(call: Call) -> set[str]:
    needs_torch = any(isinstance(v, DType) for v in _flat((call.args, tuple(v for _, v in call.kwargs))))
    if call.prefix == "F":
        return {"import torch.nn.functional as F"} | ({IMPORT_TORCH} if needs_torch else set())
    return {IMPORT_TORCH} if call.prefix or needs_torch else set()


def _flat(v: Any) -> list[Any]:
    if isinstance(v, (tuple, list)):
        return [y for x in v for y in _flat(x)]
    return [v]


class FunctionEmitter(Emitter):
    """``out = torch.roll(x, shifts=3, dims=1)``; ``a, b = x.chunk(2, 1)`` for several outputs."""

    def emit(self, c: EmitContext) -> Emitted:
        call = parse_call(c.p.function, c.p.arguments, c.p.inputs)
        inputs = [x or "None" for x in c.inputs]
        target = ", ".join(c.outputs)
        return Emitted(forward=[f"{target} = {call_code(call, inputs)}"], imports=_imports(call))


def _check(c: EmitContext) -> str | None:
    try:
        call = parse_call(c.p.function, c.p.arguments, c.p.inputs)
    except FunctionError as e:
        return f"Function: {e}."
    used = _used_inputs(call)
    unused = [f"in{i + 1}" for i in range(c.p.inputs) if i not in used]
    if unused:
        return f"Function: the arguments never use {unused[0]}; write it where the tensor goes."
    if c.inference:
        return _resolve_problem(call, c)
    return None


def _used_inputs(call: Call) -> set[int]:
    found: set[int] = set()

    def walk(v: Any) -> None:
        if isinstance(v, InputRef):
            found.add(v.index)
        elif isinstance(v, SizeOp):
            walk((v.left, v.right))
        elif isinstance(v, (tuple, list)):
            for x in v:
                walk(x)

    walk(call.args)
    walk(tuple(v for _, v in call.kwargs))
    return found


def _resolve_problem(call: Call, c: EmitContext) -> str | None:
    """In the compiler (shapes are being inferred): the name must be a callable of torch and
    the arguments must fit its signature (where torch publishes one)."""
    import inspect

    from studio.trust import import_module

    where = "torch" if call.is_method else call.module
    owner = import_module(where)
    if call.is_method:
        owner = owner.Tensor
    fn = getattr(owner, call.name, None)
    spelled = f"Tensor.{call.name}" if call.is_method else f"{call.prefix}.{call.name}"
    if not callable(fn) or isinstance(fn, type):
        return f"Function: torch has no function {spelled}."
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return None  # a builtin without a published signature: running it on meta tells
    placeholders = [object() for _ in range(c.p.inputs)]
    args = [
        placeholders[a.index] if isinstance(a, InputRef) and a.dim is None and a.attr is None else a
        for a in call.args
    ]
    try:
        sig.bind(*args, **dict(call.kwargs))
    except TypeError as e:
        return f"Function: {spelled} {e}."
    return None


def _function_outputs(params) -> tuple[Port, ...]:
    n = params.get("outputs", 1)
    return (Port("out"),) if n == 1 else tuple(Port(f"out{i + 1}") for i in range(n))


def _function_inputs(params) -> tuple[Port, ...]:
    return tuple(Port(f"in{i + 1}") for i in range(params.get("inputs", 1)))


register(
    BlockType(
        id="function",
        label="Function",
        category="Tensor ops",
        description=(
            "Any function of torch, torch.nn.functional (F) or a Tensor method, with fixed "
            "arguments: torch.roll with in1, shifts=3, dims=1. in1, in2... are the inputs; "
            "in2.shape[0] is a size of one (in1.shape[0] // 64: arithmetic on sizes). A call returning several tensors (chunk, split) "
            "gives one output each."
        ),
        torch_name="torch.*, F.*, Tensor.*",
        params={
            "function": Text("torch.roll", "function", "torch.NAME, F.NAME or Tensor.NAME.", key=True, max_len=80),
            "arguments": Text(
                "in1, shifts=1, dims=1", "arguments", "Like a call's: in1 for the input, then literals.",
                key=True, max_len=2000,
            ),
            "inputs": Int(1, "inputs", "How many tensors the call takes (in1, in2...).", min=1, max=MAX_TENSORS),
            "outputs": Int(1, "outputs", "How many tensors the call returns (a tuple).", min=1, max=MAX_TENSORS),
        },
        inputs=_function_inputs,
        outputs=_function_outputs,
        emitter=FunctionEmitter(),
        check=_check,
        name_base="fn",
        keywords=("torch", "functional", "method", "call", "any", "roll", "chunk", "split", "expand"),
    )
)


def format_arguments(args: list[Any], kwargs: dict[str, Any]) -> str:
    """The ``arguments`` text of values (``InputRef`` for inputs): what :func:`parse_call` reads."""
    names = [f"in{i + 1}" for i in range(MAX_TENSORS)]
    return ", ".join([_code(a, names) for a in args] + [f"{k}={_code(v, names)}" for k, v in kwargs.items()])
