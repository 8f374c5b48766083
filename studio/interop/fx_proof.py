"""The import's check without running the model: the generated class, traced again with torch.fx,
computes the same graph as the original's trace.

Both graphs are numbered as values (hash-consing): every tensor node gets the number of its
operation applied to the numbers of its inputs. An input is ``("input", i)``; a weight is the
original tensor itself (the generated model's weight through the import's key mapping, the
one the check would load); a call to a layer is the layer's class, every setting of its
instance (``vars()``, recursively through its children) and its weights; a function or method
is its name with its arguments. Sizes (``x.size(0)``, ``n_h * n_w``) are compared by value in
each of the import's runs (batch 1 and 2, and the other image size or length where there was
one): a size that follows the batch is the batch in both, a constant 1 in its place is not.
The generated model is proved equal when its outputs get the numbers of the original's.

What computes the same values under another spelling is numbered alike: ``x.flatten(1)``,
``torch.flatten(x, 1)`` and ``nn.Flatten()``; ``a + b`` and ``b + a``; a Dropout or Identity
in eval mode, or ``torch.cat`` of one tensor, is its input; ``out += y`` or ``ReLU(inplace=True)`` is its out-of-place form
where the tensor it overwrites is new and read by nothing else.

Where no proof is made (a module kept whole, not from torch.nn, whose settings may hide anywhere
and which may write into its inputs; random numbers; a write into a tensor whose result is
unused; an operation spelt another way than those above; a node the original does not have),
:func:`prove` says why and the check compares values instead. It proves equality, never
difference: a missing proof is not an error.
"""

from __future__ import annotations

import math
import operator
from typing import Any

import torch
from torch import fx, nn

from studio.interop.fx_trace import TensorMeta

#: tensors: the number of the class of equal values a node computes
_Key = tuple


class NoProof(Exception):
    """Why the graphs could not be proved equal (the check then compares values)."""


#: ``operator`` functions and their tensor names (the in-place forms with a trailing ``_``)
_OPERATORS = {
    operator.add: "add",
    operator.iadd: "add_",
    operator.sub: "sub",
    operator.isub: "sub_",
    operator.mul: "mul",
    operator.imul: "mul_",
    operator.truediv: "div",
    operator.itruediv: "div_",
    operator.floordiv: "floor_divide",
    operator.matmul: "matmul",
    operator.neg: "neg",
    operator.pow: "pow",
    operator.getitem: "getitem",
    operator.mod: "remainder",
}
_COMMUTATIVE = {"add", "mul"}
#: value-preserving in eval mode: the node is its input
_IDENTITY_MODULES = (
    nn.Identity,
    nn.Dropout,
    nn.Dropout1d,
    nn.Dropout2d,
    nn.Dropout3d,
    nn.AlphaDropout,
)
_IDENTITY_OPS = {"contiguous"}
#: layers without state that are one function of their input: (name, settings in its argument order)
_FUNCTIONAL_MODULES = {
    nn.Flatten: ("flatten", ("start_dim", "end_dim")),
    nn.ReLU: ("relu", ()),
    nn.SiLU: ("silu", ()),
    nn.Sigmoid: ("sigmoid", ()),
    nn.Tanh: ("tanh", ()),
    nn.GELU: ("gelu", ("approximate",)),
    nn.Softmax: ("softmax", ("dim",)),
    nn.AdaptiveAvgPool1d: ("adaptive_avg_pool1d", ("output_size",)),
    nn.AdaptiveAvgPool2d: ("adaptive_avg_pool2d", ("output_size",)),
    nn.AdaptiveAvgPool3d: ("adaptive_avg_pool3d", ("output_size",)),
}
_REQUIRED = object()
#: the arguments after the input of the functions above, with their defaults, so that
#: ``torch.flatten(x, 1)``, ``x.flatten(start_dim=1)`` and ``nn.Flatten()`` are one call
_SIGNATURES = {
    "flatten": (("start_dim", 0), ("end_dim", -1)),
    "gelu": (("approximate", "none"),),
    "softmax": (("dim", _REQUIRED),),
    "mean": (("dim", None), ("keepdim", False), ("dtype", None)),
    "cat": (("dim", 0),),
    "sum": (("dim", None), ("keepdim", False), ("dtype", None)),
    **{f"adaptive_avg_pool{d}d": (("output_size", _REQUIRED),) for d in (1, 2, 3)},
}
#: methods whose sizes may come one by one or as one tuple (``x.view(n, -1)``, ``x.view((n, -1))``)
_SIZES_VARARGS = {"reshape", "view", "permute", "expand", "repeat", "tile"}
#: operations whose result is a new tensor (never a view of an input)
_FRESH = {
    "add",
    "sub",
    "mul",
    "div",
    "matmul",
    "cat",
    "stack",
    "mean",
    "sum",
    "relu",
    "gelu",
    "silu",
    "sigmoid",
    "tanh",
    "softmax",
    "linear",
    "F.linear",
    "F.batch_norm",
    "F.layer_norm",
    "F.group_norm",
    "conv2d",
    "layer_norm",
    "batch_norm",
}
_RANDOM = {
    "rand",
    "randn",
    "randint",
    "rand_like",
    "randn_like",
    "randint_like",
    "normal",
    "bernoulli",
    "multinomial",
    "randperm",
    "uniform_",
    "normal_",
    "bernoulli_",
    "exponential_",
    "random_",
    # dropout as a function: random unless told it is not training (F.dropout's default is)
    "dropout",
    "F.dropout",
    "F.dropout1d",
    "F.dropout2d",
    "F.dropout3d",
    "F.alpha_dropout",
    "F.feature_alpha_dropout",
    "F.rrelu",
    "native_dropout",
}
#: dropout as a function: where its ``training`` argument is (position, name, default)
_DROPOUTS = {
    "dropout": (2, "train", None),
    **{
        f"F.{name}": (2, "training", True)
        for name in ("dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout")
    },
}
#: sizes the proof computes itself for the generated graph (from the original's recorded shapes)
_SIZE_ATTRS = {"shape", "ndim", "dtype", "device"}
_SIZE_METHODS = {"size", "dim", "ndimension", "numel"}


def prove(
    original: fx.GraphModule,
    runs: list[dict[fx.Node, Any]],
    generated: tuple[fx.Graph, nn.Module],
    weights: dict[str, torch.Tensor],
) -> str | None:
    """None when ``generated`` (the generated class traced, on the meta device: its graph and
    the instance traced) computes what ``original`` (the import's trace) computes, given that
    the generated model's tensor ``k`` is ``weights[k]``; else why no proof was made.
    ``runs``: each of the import's runs, node -> its recorded shape or value."""
    try:
        first = _Numbering(original.graph, original, runs, None)
        got = _Numbering(*generated, runs, weights, first).outputs()
    except NoProof as e:
        return str(e)
    except Exception as e:  # noqa: BLE001 - a graph the proof does not understand: values decide
        return f"the proof stopped at {type(e).__name__}: {e}"
    if got != first.outputs():
        return "the generated model's outputs are computed otherwise than the original's"
    return None


class _Numbering:
    """Numbers for the nodes of one graph (see the module's docstring). The original's is made
    first; the generated graph's is looked up in it (``want_from``), so a node of the
    generated graph that the original does not compute fails at once, with its name."""

    def __init__(
        self, graph: fx.Graph, root: nn.Module, runs, weights, want_from: _Numbering | None = None
    ):
        self.gm = root
        self.runs = runs
        self.weights = weights  # None: the original (its own tensors)
        self.into = want_from
        self.modules = dict(root.named_modules())
        self.numbers: dict[_Key, int] = {} if want_from is None else want_from.numbers
        #: tensor node -> its number
        self.tensor: dict[fx.Node, int] = {}
        #: size node -> its value in each run
        self.value: dict[fx.Node, tuple] = {}
        #: number -> an original node computing it (its recorded shapes give the generated
        #: graph's sizes)
        self.example: dict[int, fx.Node] = {} if want_from is None else want_from.example
        #: module -> the number of its description (one per class, settings and weights)
        self._module_keys: dict[int, int] = {}
        #: description -> its number, shared by both graphs (hashed once per module)
        self.descriptions: dict[tuple, int] = {} if want_from is None else want_from.descriptions
        self._sized = False  # whether :meth:`_at` met a size since :meth:`_canon` began
        self.out: Any = None
        live = _live(graph)
        for node in graph.nodes:
            if node in live:
                self._visit(node)
            elif self._writes(node):  # its result unused, but what it wrote may be read
                raise NoProof(f"{node.name} writes into a tensor ({node.format_node()})")

    # ------------------------------------------------------------------ nodes
    def _visit(self, node: fx.Node) -> None:
        if node.op == "output":
            self.out = node.args[0]
            return
        if self.weights is None and not _holds_tensor(self.runs[0].get(node)):
            if node.op == "placeholder" or node in self.runs[0]:
                self.value[node] = tuple(_plain(run.get(node)) for run in self.runs)
                return
        if node.op == "placeholder":
            self._number(node, ("input", len([n for n in self.tensor if n.op == "placeholder"])))
            return
        if node.op == "get_attr":
            self._number(node, ("tensor", self._tensor(node.target)))
            return
        if self.weights is not None and self._is_size(node):
            self.value[node] = self._size(node)
            return
        name, args, kwargs = self._operation(node)
        if name is None:  # the node is its input
            self.tensor[node] = self._arg_number(args[0], node)
            return
        if name in _DROPOUTS and _argument(args, kwargs, *_DROPOUTS[name]) is False:
            self.tensor[node] = self._arg_number(args[0], node)  # not training: its input
            return
        if name in _RANDOM:
            raise NoProof(f"{node.name} draws random numbers")
        in_place = kwargs.pop("inplace", False) is True
        if isinstance(name, str) and name.endswith("_"):
            in_place, name = True, name.removesuffix("_")
        if in_place:
            self._overwrites(node, args[0])
        if name in _SIGNATURES:
            args, kwargs = _bound(node, name, args, kwargs)
        if name == "cat" and isinstance(args[0], (tuple, list)) and len(args[0]) == 1:
            self.tensor[node] = self._arg_number(args[0][0], node)  # a copy of its one tensor
            return
        if name in _SIZES_VARARGS and not (len(args) == 2 and isinstance(args[1], (tuple, list))):
            args = (args[0], tuple(args[1:]))
        if name == "view" and self.weights is None:
            # where the original's view ran, reshape gives the same values (not the other way
            # round: a view of a tensor that reshape copies fails)
            self._number(node, self._key("reshape", args, kwargs))
            self.numbers.setdefault(self._key("view", args, kwargs), self.tensor[node])
            return
        self._number(node, self._key(name, args, kwargs))

    def _key(self, name: Any, args: tuple, kwargs: dict) -> _Key:
        if name in _COMMUTATIVE and len(args) == 2 and not kwargs:
            return (name, tuple(sorted((self._canon(a) for a in args), key=repr)), ())
        return (name, self._canon(args), self._canon(kwargs))

    def _number(self, node: fx.Node, key: _Key) -> None:
        number = self.numbers.get(key)
        if number is None:
            if self.into is not None:
                raise NoProof(
                    f"the generated model's {node.name} ({node.format_node()}) has no "
                    "counterpart in the original"
                )
            number = self.numbers[key] = len(self.numbers)
            self.example[number] = node
        self.tensor[node] = number

    def _operation(self, node: fx.Node) -> tuple[str | None, tuple, dict]:
        """``(name, args, kwargs)`` of the node's computation; name None: the identity."""
        args, kwargs = tuple(node.args), dict(node.kwargs)
        if node.op == "call_module":
            module = self.modules[node.target]
            if not module.__module__.startswith("torch.nn"):
                # its settings may hide anywhere, and it may write into its inputs
                raise NoProof(f"{node.target} is a {type(module).__name__} kept whole")
            if isinstance(module, _IDENTITY_MODULES) and not module.training and len(args) == 1:
                return None, args, kwargs
            if vars(module).get("inplace") is True:  # a setting of its own, not in the key
                kwargs["inplace"] = True
            functional = _FUNCTIONAL_MODULES.get(type(module))
            if functional is not None and not _hooked(vars(module)):
                name, settings = functional
                return name, (*args, *(getattr(module, s) for s in settings)), kwargs
            return ("module", self._module(node.target, module)), args, kwargs
        if node.op == "call_method":
            name = node.target
        elif node.target in _OPERATORS:
            name = _OPERATORS[node.target]
        else:
            name = _function_name(node.target)
        if name in _IDENTITY_OPS and len(args) == 1 and not kwargs:
            return None, args, kwargs
        return name, args, kwargs

    # ------------------------------------------------------------------ arguments
    def _canon(self, value: Any) -> tuple:
        """The argument in each run: tensors as their numbers, sizes as their values."""
        self._sized = False
        first = self._at(value, 0)
        if not self._sized:  # no size in it: the same in every run (most layers' arguments)
            return (first,) * len(self.runs)
        return (first, *(self._at(value, r) for r in range(1, len(self.runs))))

    def _at(self, value: Any, r: int) -> Any:
        if isinstance(value, fx.Node):
            number = self.tensor.get(value)
            if number is not None:
                return ("#", number)
            if value in self.value:
                self._sized = True
                return _tagged(self.value[value][r])
            raise NoProof(f"{value.name} is neither a tensor nor a size the proof knows")
        if isinstance(value, (tuple, list)):
            return tuple(self._at(v, r) for v in value)
        if isinstance(value, dict):
            return tuple(sorted((k, self._at(v, r)) for k, v in value.items()))
        if isinstance(value, slice):
            return (
                "slice",
                self._at(value.start, r),
                self._at(value.stop, r),
                self._at(value.step, r),
            )
        return _tagged(value)

    def _arg_number(self, arg: Any, node: fx.Node) -> int:
        if not isinstance(arg, fx.Node) or arg not in self.tensor:
            raise NoProof(f"{node.name} passes on something that is not a tensor")
        return self.tensor[arg]

    def _overwrites(self, node: fx.Node, target: Any) -> None:
        """An in-place operation is its out-of-place form where the tensor it overwrites is
        new (not a view, an input or a weight) and read by nothing else."""
        if not isinstance(target, fx.Node) or len(target.users) != 1 or not self._new(target):
            raise NoProof(f"{node.name} overwrites a tensor that is read elsewhere")

    def _new(self, node: fx.Node) -> bool:
        """Whether writing into the node's tensor changes no other tensor: one the node computed
        (a layer with weights, arithmetic), or one that may share memory with its input (a view,
        an Identity, anything else) where that input is new and read by nothing else."""
        if node.op in ("placeholder", "get_attr"):
            return False
        if node.op == "call_module":
            module = self.modules[node.target]
            state = vars(module)
            if module.__module__.startswith("torch.nn") and (
                state["_parameters"] or state["_buffers"]
            ):
                return True
        else:
            name = (
                node.target
                if node.op == "call_method"
                else _OPERATORS.get(node.target) or _function_name(node.target)
            )
            if name.endswith("_"):  # in place: the tensor it was given, checked when numbered
                return True
            if name in _FRESH:
                return True
        base = node.args[0] if node.args else None
        return isinstance(base, fx.Node) and len(base.users) == 1 and self._new(base)

    def _writes(self, node: fx.Node) -> bool:
        """Whether the node may change a tensor in place (a layer not from torch.nn may)."""
        if node.op == "call_module":
            module = self.modules[node.target]
            return vars(module).get("inplace") is True or not module.__module__.startswith(
                "torch.nn"
            )
        if node.op == "call_method":
            return node.target.endswith("_")
        if node.op == "call_function":
            if node.target in _OPERATORS:
                return _OPERATORS[node.target].endswith("_")
            name = getattr(node.target, "__name__", "")
            return name.endswith("_") or name == "setitem" or node.kwargs.get("inplace") is True
        return False

    # ------------------------------------------------------------------ sizes (generated graph)
    def _is_size(self, node: fx.Node) -> bool:
        """Whether the node computes a size (from shapes or other sizes), not a tensor."""
        if node.op == "call_function" and node.target is getattr and node.args[1] in _SIZE_ATTRS:
            return True
        if node.op == "call_method" and node.target in _SIZE_METHODS:
            return True
        if node.op == "call_function" and node.target in _OPERATORS:
            return not any(isinstance(a, fx.Node) and a in self.tensor for a in _flat_args(node))
        return False

    def _size(self, node: fx.Node) -> tuple:
        if node.op == "call_function" and node.args[1] == "device":
            return (torch.device("cpu"),) * len(self.runs)  # where the import ran the original
        values = []
        for r, run in enumerate(self.runs):
            args = [self._concrete(a, r, run) for a in node.args]
            kwargs = {k: self._concrete(v, r, run) for k, v in node.kwargs.items()}
            try:
                if node.op == "call_method":
                    values.append(getattr(args[0], node.target)(*args[1:], **kwargs))
                else:
                    values.append(node.target(*args, **kwargs))
            except Exception as e:  # noqa: BLE001 - no value: no proof
                raise NoProof(f"{node.name}: {e}") from None
        return tuple(_plain(v) for v in values)

    def _concrete(self, value: Any, r: int, run: dict) -> Any:
        if isinstance(value, fx.Node):
            if value in self.value:
                return self.value[value][r]
            if value in self.tensor:
                meta = run.get(self.example[self.tensor[value]])
                if getattr(meta, "shape", None) is None:
                    raise NoProof(f"{value.name}: no recorded shape")
                return torch.empty(meta.shape, dtype=getattr(torch, meta.dtype), device="meta")
            raise NoProof(f"{value.name} is unknown")
        if isinstance(value, (tuple, list)):
            return type(value)(self._concrete(v, r, run) for v in value)
        return value

    # ------------------------------------------------------------------ layers and weights
    def _tensor(self, path: str) -> tuple:
        if self.weights is None:
            tensor = _attr(self.gm, path)
        else:
            tensor = self.weights.get(path)
            if tensor is None:
                raise NoProof(f"the generated model's {path} has no original tensor")
        if not isinstance(tensor, torch.Tensor):
            raise NoProof(f"{path} is not a tensor")
        return _identity(tensor)

    def _module(self, path: str, module: nn.Module) -> int:
        key = self._module_keys.get(id(module))
        if key is None:
            described = self._describe(path, module)
            key = self.descriptions.setdefault(described, len(self.descriptions))
            self._module_keys[id(module)] = key
        return key

    def _describe(self, path: str, module: nn.Module) -> tuple:
        """The layer's class, settings, children and tensors (its weights by identity)."""
        state = vars(module)
        if _hooked(state):
            raise NoProof(f"{path} has hooks")
        dims = _pooling_dims(module)
        settings = []
        for name, value in state.items():
            if name[0] == "_" or name == "inplace":  # nn.Module's own, and the in-place flag
                continue
            kind = type(value)
            if kind is int and dims and name in _SIZES:
                value = (value,) * dims  # nn.AdaptiveAvgPool2d(1) is nn.AdaptiveAvgPool2d((1, 1))
            elif kind in _SCALARS:  # the usual settings, as _setting writes them
                settings.append((name, (kind, value)))
                continue
            elif kind is tuple and all(type(v) is int for v in value):
                settings.append((name, (tuple, tuple((int, v) for v in value))))
                continue
            settings.append((name, _setting(value, path, name)))
        tensors = []
        for held in (state["_parameters"], state["_buffers"]):
            for name, t in held.items():
                if t is None:
                    tensors.append((name, None))
                elif self.weights is None:
                    tensors.append((name, _identity(t)))
                else:
                    tensors.append((name, self._tensor(f"{path}.{name}" if path else name)))
        children = tuple(
            (name, self._describe(f"{path}.{name}", child))
            for name, child in state["_modules"].items()
            if child is not None
        )
        if state.get("inplace", False) not in (True, False):
            raise NoProof(f"{path}.inplace is {state['inplace']!r}")
        return (type(module), tuple(settings), tuple(tensors), children)

    def outputs(self) -> list[int]:
        numbers: list[int] = []
        _output_numbers(self.out, self.tensor, numbers)
        return numbers


def _output_numbers(value: Any, tensor: dict, out: list[int]) -> None:
    """The numbers of the output's tensors, in :func:`~studio.interop.fx_import._flat`'s order."""
    if isinstance(value, fx.Node):
        if value in tensor:
            out.append(tensor[value])
    elif isinstance(value, (tuple, list)):
        for v in value:
            _output_numbers(v, tensor, out)
    elif isinstance(value, dict):
        for v in value.values():
            _output_numbers(v, tensor, out)


def _bound(node: fx.Node, name: str, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
    """``(input, every other argument in order)`` with the defaults filled in."""
    kwargs = dict(kwargs)
    values = [args[0] if args else kwargs.pop("input", None)]
    for i, (arg, default) in enumerate(_SIGNATURES[name], start=1):
        value = args[i] if i < len(args) else kwargs.pop(arg, default)
        if value is _REQUIRED:
            raise NoProof(f"{node.name}: {name} without its {arg}")
        values.append(value)
    if kwargs or len(args) > len(values):
        raise NoProof(f"{node.name}: {name} with other arguments")
    if name.startswith("adaptive_avg_pool") and isinstance(values[1], int):
        values[1] = (values[1],) * int(name[-2])
    return tuple(values), {}


def _argument(args: tuple, kwargs: dict, position: int, name: str, default: Any) -> Any:
    return args[position] if len(args) > position else kwargs.get(name, default)


def _live(graph: fx.Graph) -> set[fx.Node]:
    """The nodes the output depends on (an assert, or the ``_`` of ``x, _ = ...``, is not)."""
    output = next(n for n in reversed(graph.nodes) if n.op == "output")
    live, todo = {output}, [output]
    while todo:
        for arg in todo.pop().all_input_nodes:
            if arg not in live:
                live.add(arg)
                todo.append(arg)
    return live


def _flat_args(node: fx.Node) -> list:
    found: list = []
    fx.node.map_arg((node.args, node.kwargs), found.append)
    return found


def _function_name(target: Any) -> str:
    """torch's functions by name (``torch.flatten`` is ``x.flatten()``), ``torch.nn.functional``'s
    as ``F.name`` except those that take the same arguments as torch's (``F.relu`` is
    ``torch.relu``; ``F.embedding(input, weight)`` is not ``torch.embedding(weight, input)``),
    others by their full name."""
    name = getattr(target, "__name__", None) or repr(target)
    module = getattr(target, "__module__", None) or ""
    if module in ("torch.nn.functional", "torch._C._nn"):
        return name if name in _SAME_AS_TORCH else f"F.{name}"
    if module == "torch" or getattr(torch, name, None) is target:
        return name
    return f"{module}.{name}"


#: functions of torch.nn.functional whose arguments are those of torch's function of that name
#: (or that torch does not have: the layers of _FUNCTIONAL_MODULES compare with them)
_SAME_AS_TORCH = {
    "relu",
    "gelu",
    "silu",
    "sigmoid",
    "tanh",
    "softmax",
    "flatten",
    *(f"adaptive_avg_pool{d}d" for d in (1, 2, 3)),
}


#: settings of pooling layers that take one int for every dimension
_SIZES = {"kernel_size", "stride", "padding", "dilation", "output_size"}
_POOLING = (
    nn.modules.pooling._MaxPoolNd,
    nn.modules.pooling._AvgPoolNd,
    nn.modules.pooling._AdaptiveAvgPoolNd,
    nn.modules.pooling._AdaptiveMaxPoolNd,
)


def _pooling_dims(module: nn.Module) -> int:
    """2 for a 2d pooling layer (its int settings stand for pairs), 0 for other layers."""
    name = type(module).__name__
    if isinstance(module, _POOLING) and name[-2:] in ("1d", "2d", "3d"):
        return int(name[-2])
    return 0


def _hooked(state: dict) -> bool:
    """Whether a module (its ``vars()``) has hooks of its own."""
    return bool(
        state.get("_forward_hooks")
        or state.get("_forward_pre_hooks")
        or state.get("_backward_hooks")
        or state.get("_backward_pre_hooks")
    )


def _attr(root: nn.Module, path: str) -> Any:
    value: Any = root
    for part in path.split("."):
        value = getattr(value, part)
    return value


def _identity(t: torch.Tensor) -> tuple:
    """The same memory seen the same way: the same values (the original's own tensors)."""
    return ("tensor", t.data_ptr(), tuple(t.shape), t.stride(), t.dtype)


def _holds_tensor(summary: Any) -> bool:
    if isinstance(summary, TensorMeta):
        return True
    if isinstance(summary, (tuple, list)):
        return any(_holds_tensor(v) for v in summary)
    if isinstance(summary, dict):
        return any(_holds_tensor(v) for v in summary.values())
    return False


def _plain(value: Any) -> Any:
    if isinstance(value, torch.Size):
        return tuple(value)
    if isinstance(value, torch.Tensor):
        raise NoProof("a size turned out to be a tensor")
    if isinstance(value, list):
        return tuple(_plain(v) for v in value)
    return value


def _tagged(value: Any) -> Any:
    """A literal with its type (``1``, ``1.0`` and ``True`` are equal in Python, not as arguments)."""
    if isinstance(value, (tuple, list)):
        return tuple(_tagged(v) for v in value)
    if isinstance(value, float) and math.isnan(value):
        raise NoProof("a NaN argument")
    try:
        hash(value)
    except TypeError:
        raise NoProof(f"an argument of type {type(value).__name__}") from None
    return (type(value).__name__, value)


def _setting(value: Any, path: str, name: str) -> Any:
    """A layer's setting as a key: plain values with their types, functions by identity."""
    kind = type(value)
    if kind in _PLAIN:
        if kind is float and math.isnan(value):
            raise NoProof(f"{path}.{name} is NaN")
        return (kind, value)
    if kind is tuple or kind is list:
        return (kind, tuple(_setting(v, path, name) for v in value))
    if kind is dict:
        return (kind, tuple(sorted((k, _setting(v, path, name)) for k, v in value.items())))
    if isinstance(value, torch.Tensor):
        raise NoProof(f"{path}.{name} is a tensor the state dict does not hold")
    if callable(value) and hasattr(value, "__qualname__"):
        return ("function", value)  # the same function object
    raise NoProof(f"{path}.{name} is a {kind.__name__}")


_PLAIN = {type(None), bool, int, float, str, torch.dtype, torch.device}
#: those of :data:`_PLAIN` that are their own key (a float may be NaN)
_SCALARS = _PLAIN - {float}
