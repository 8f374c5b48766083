"""torch.fx import, step 3: the traced graph -> a Studio graph, one block per tensor node
(:class:`_Builder`), and the Custom module block that keeps an ``nn`` module without a block.
Before the walk, :func:`studio.interop.fx_patterns.match` finds the nodes that are one block
together (an LSTM and the ``getitem`` nodes unpacking its tuple, a position embedding's add).
"""

from __future__ import annotations

import operator
from typing import Any

import torch
from torch import fx, nn

from studio.blocks.params import ParamError
from studio.blocks.registry import get_block_type
from studio.graph.model import Graph
from studio.interop import fx_patterns, fx_rules
from studio.interop.fx_constructor import constructor_kwargs, is_literal
from studio.interop.fx_lengths import length_call
from studio.interop.fx_rule_base import LengthDependent
from studio.interop.fx_rules import ABSORBED, MODULES, Alias, Mapped, Match, Unsupported
from studio.interop.fx_state import state_block
from studio.interop.fx_trace import ModelImportError, Trace, _first_line
from studio.naming import Namespace

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
        #: block id -> the fx node it came from (its ``meta["nn_module_stack"]`` says whose
        #: forward ran it; read by :mod:`studio.interop.fx_hierarchy`)
        self.nodes: dict[str, fx.Node] = {}
        self.notes: list[str] = []
        self.problems: list[str] = []
        self.kept: dict[str, str] = {}  # module class -> why it is a Custom module
        self.calls: dict[str, int] = {}
        #: calls returning several tensors, and the (block, port) behind each element used
        self.tuple_nodes: set[fx.Node] = set()
        self.tuples: dict[tuple[fx.Node, int], tuple[str, str]] = {}
        #: module path -> the block of its first call (a later call shares its layer)
        self.first: dict[str, str] = {}
        #: nodes that make one block together (fx_patterns), by the node giving its output
        self.matches: dict[fx.Node, Match] = {}
        self.claimed: set[fx.Node] = set()
        #: (block id, port) -> the node whose value leaves there, where it is not ``nodes[block id]``
        self.values: dict[tuple[str, str], fx.Node] = {}
        #: module call -> why the module's block cannot express it (it is kept whole then)
        self.why: dict[fx.Node, str] = {}
        #: names for the Output blocks (from a Studio-generated docstring), else output, output_2...
        self.output_names: list[str] = []
        #: owner module path -> a newly built copy (what its parameters start at), or None
        self.rebuilt: dict[str, Any] = {}

    def build(self) -> tuple[Graph, dict[str, str], list[str]]:
        self._find_matches()
        placeholders = 0
        for node in self.t.gm.graph.nodes:
            try:
                if node in self.claimed:
                    continue
                if node in self.matches:
                    self._matched(node, self.matches[node])
                elif node.op == "placeholder":
                    if placeholders < len(self.inputs):
                        self._input(node, *self.inputs[placeholders])
                    placeholders += 1
                elif node.op == "output":
                    self._outputs(node)
                elif self.t.is_tensor(node):
                    self._tensor_node(node)
                elif self.t.tensors_in(node) is not None:
                    self._tuple_node(node)
            except Unsupported as e:
                self.problems.append(f"{node.name}: {e}")
        if not self.problems:
            self._unread_state()
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
            if n > 1 and self._has_state(path):
                self.notes.append(f"{path} is called {n} times: one layer, its later calls are Call again blocks.")
        return self.g, self.paths, self.notes

    # ------------------------------------------------------------------ patterns
    def _find_matches(self) -> None:
        """Before the walk: the nodes that are one block together (a position embedding's
        add and lookup, an LSTM and the ``getitem`` nodes unpacking its tuple)."""
        seen: set[str] = set()
        for node in self.t.gm.graph.nodes:
            if node in self.claimed or node.op in ("placeholder", "output"):
                continue
            if node.op == "call_module" and node.target in seen:
                continue  # a module called again: a Call again block (or kept whole)
            try:
                found = fx_patterns.match(node, self.t)
            except Unsupported as e:
                self.why[node] = str(e)
                continue
            if found is None:
                continue
            self.matches[node] = found
            self.claimed |= found.claimed
            if found.path is not None and node.op == "call_module":
                seen.add(found.path)
        self.t.matched = set(self.matches) | self.claimed

    def _matched(self, node: fx.Node, m: Match) -> None:
        block = self._add(m.key, m.mapped, m.path)
        for n, port in m.ports.items():
            self.refs[n] = (block.id, port)
            self.values[(block.id, port)] = n
        if not m.ports:
            self.refs[node] = (block.id, "out")
            self.values[(block.id, "out")] = node

    # ------------------------------------------------------------------ nodes
    def _input(self, node: fx.Node, shape, dtype) -> None:
        b = self.g.add_block(
            "input", name=self.ns.create_name(node.name), params={"shape": tuple(shape), "dtype": dtype}
        )
        self.refs[node] = (b.id, "out")
        self.nodes[b.id] = node

    def _outputs(self, node: fx.Node) -> None:
        value = node.args[0]
        values = list(value) if isinstance(value, (tuple, list)) else [value]
        for i, v in enumerate(values):
            if self.t.is_tensor(v) and v not in self.refs:
                raise Unsupported(f"its input {v.name} {_FOLLOWS}")
            if not self.t.is_tensor(v):
                raise Unsupported("the model returns something other than tensors (a dict, a number...)")
            if len(self.output_names) == len(values):
                base = self.output_names[i]
            else:
                base = "output" if len(values) == 1 else f"output_{i + 1}"
            b = self.g.add_block("output", name=self.ns.create_name(base))
            src = self.refs[v]
            self.g.connect(src[0], src[1], b.id, "in")

    def _tensor_node(self, node: fx.Node) -> None:
        element = node.op == "call_function" and node.target is operator.getitem and node.args[0] in self.tuple_nodes
        if element and (node.args[0], node.args[1]) not in self.tuples:
            if not node.users:
                return  # an element unpacked and never used
            raise Unsupported(f"its input {node.args[0].name} {_FOLLOWS}")  # the tuple's call failed
        self.t.check_shape(node)  # refuses shapes that mix the batch with other sizes
        if element:
            self.refs[node] = self.tuples[(node.args[0], node.args[1])]
            return
        if node.op in ("call_module", "get_attr") and node.target in self.first and self._has_state(node.target):
            if node.op == "get_attr":  # the same parameter read again: the same block
                self.refs[node] = (self.first[node.target], "out")
                return
            mapped = self._again(node)
            path = node.target
        elif node.op == "call_module":
            mapped = self._module(node)
            path = node.target
        elif node.op == "get_attr" and _read_for_its_kind(node):
            return  # ``w.device``, ``w.dtype``: folded into the calls reading them
        elif node.op == "get_attr":
            mapped = self._attribute(node)
            path = node.target
        else:
            path = None
            try:
                if node.op in ("call_function", "call_method") and self._from_constants(node):
                    mapped = self._constant(node)
                else:
                    rule = self.t.rule_for(node)
                    mapped = rule(node, self.t) if rule is not None else fx_rules.function_call(node, self.t)
            except LengthDependent:  # a size read from a tensor's shape, so it follows it
                mapped = length_call(node, self.t)
        if mapped is ABSORBED:
            return
        if isinstance(mapped, Alias):
            if mapped.node not in self.refs:  # it stands for a node that failed: one more problem
                raise Unsupported(f"its input {getattr(mapped.node, 'name', mapped.node)} {_FOLLOWS}")
            self.refs[node] = self.refs[mapped.node]
            return
        block = self._add(node, mapped, path)
        self.refs[node] = (block.id, "out")

    def _from_constants(self, node: fx.Node) -> bool:
        """True when no tensor flows into ``node`` (``torch.arange(12)``, ``torch.ones(4, 4)``)."""
        found: list[fx.Node] = []
        fx.node.map_arg((node.args, node.kwargs), found.append)
        return not any(self.t.is_tensor(n) or self.t.tensors_in(n) is not None for n in found) and not any(
            n.op == "placeholder" for n in found
        )

    def _constant(self, node: fx.Node) -> Mapped:
        """A tensor computed from constants only: a Buffer block holding it (not saved); one
        sized by the batch (``torch.zeros(B, H, W)``) is computed in forward."""
        try:
            args = self.t.const(node.args)
            kwargs = self.t.const(dict(node.kwargs))
        except LengthDependent:
            raise
        except Unsupported:
            from studio.interop.fx_sizes import sized_factory

            return sized_factory(node, self.t)
        try:
            with torch.no_grad():
                if node.op == "call_function":
                    value = node.target(*args, **kwargs)
                else:
                    value = getattr(args[0], node.target)(*args[1:], **kwargs)
        except Exception as e:  # noqa: BLE001
            raise Unsupported(f"{fx_rules._what(node)} cannot be computed ahead ({_first_line(e)})") from None
        if not isinstance(value, torch.Tensor):
            raise Unsupported(f"{fx_rules._what(node)} is not a tensor")
        mapped = state_block(None, node.name, value.detach().clone(), {})
        mapped.params["persistent"] = False
        return mapped

    def _unread_state(self) -> None:
        """The saved tensors forward() never reads, of modules whose tensors it reads directly
        (a BatchNorm's ``num_batches_tracked`` in eval mode): a block each, unwired, so the
        original's state_dict loads with ``strict=True``."""
        root = self.t.root
        if root is None:
            return
        read = {n.target: n for n in self.t.gm.graph.nodes if n.op == "get_attr" and n.target in self.first}
        owners: dict[str, fx.Node] = {}
        for target, node in read.items():
            owners.setdefault(target.rpartition(".")[0], node)
        for owner_path, sibling in owners.items():
            owner = root.get_submodule(owner_path) if owner_path else root
            saved = owner.state_dict(keep_vars=True)
            for attr, value in saved.items():
                target = f"{owner_path}.{attr}" if owner_path else attr
                if "." in attr or target in self.first or not isinstance(value, torch.Tensor):
                    continue
                node = self.t.gm.graph.create_node("get_attr", target, name=f"unread_{target.replace('.', '_')}")
                node.meta["nn_module_stack"] = dict(sibling.meta.get("nn_module_stack") or {})
                try:
                    mapped = state_block(root, target, value, self.rebuilt)
                except Unsupported as e:
                    self.notes.append(f"{target} is not read by forward() and has no block: {e}.")
                    continue
                self._add(node, mapped, target)

    def _has_state(self, path: str) -> bool:
        module = self.t.modules.get(path)
        if module is None:  # a parameter read with get_attr
            return True
        return any(True for _ in module.parameters()) or any(True for _ in module.buffers())

    def _again(self, node: fx.Node) -> Mapped:
        """A module called once more: one Call again block on the first call's layer, so the
        weights stay shared (two blocks would be two copies, trained apart)."""
        first = self.g.blocks[self.first[node.target]]
        args = list(node.args)
        if node.kwargs or len(args) != len(first.input_ports()) or not all(self.t.is_tensor(a) for a in args):
            raise Unsupported(f"{node.target} is called again with other arguments than the first time")
        params = {"block": first.name, "type": first.type, "params": repr(dict(first.params))}
        return Mapped("call_again", params, args)

    def _tuple_node(self, node: fx.Node) -> None:
        """A call returning several tensors: a Function block with one output each
        (``torch.chunk``), or a module whose callers pick one element (attention's output)."""
        self.tuple_nodes.add(node)
        inner = node.op == "call_function" and node.target is operator.getitem and node.args[0] in self.tuple_nodes
        if inner and not any(u.users for u in node.users):  # LSTM's (h, c), unpacked and unused
            return
        if inner:
            raise Unsupported(f"its input {node.args[0].name} {_FOLLOWS}")
        positions = self.t.tensors_in(node)
        picks = set()
        for user in node.users:
            if not (user.op == "call_function" and user.target is operator.getitem and isinstance(user.args[1], int)):
                raise Unsupported(f"{node.name} is a tuple of tensors used whole; Studio wires carry one tensor each")
            used = bool(user.users) if self.t.is_tensor(user) else any(u.users for u in user.users)
            if used:  # a tensor used, or (h, c) used
                picks.add(user.args[1] % len(self.t.s1[node]))
        if node.op == "call_module":
            if len(picks) != 1:
                why = f" (its block cannot take {self.why[node]})" if node in self.why else ""
                raise Unsupported(f"{node.target} returns several tensors and more than one is used{why}")
            (pick,) = picks
            mapped = self._module(node, output_index=pick)
            block = self._add(node, mapped, node.target)
            self.tuples[(node, pick)] = (block.id, "out")
            return
        if len(positions) != len(self.t.s1[node]):
            raise Unsupported(f"{fx_rules._what(node)} returns tensors mixed with other values")
        mapped = fx_rules.function_call(node, self.t, outputs=len(positions))
        block = self._add(node, mapped, None)
        ports = block.output_ports()
        for i, port in enumerate(ports):
            self.tuples[(node, i)] = (block.id, port.name)
            self.tuples[(node, i - len(ports))] = (block.id, port.name)

    def _add(self, node: fx.Node, mapped: Mapped, path: str | None):
        base = path.replace(".", "_") if path else node.name
        try:
            block = self.g.add_block(mapped.type, name=self.ns.create_name(base), params=mapped.params)
        except ParamError as e:
            raise Unsupported(f"{fx_rules._what(node)}: {e}") from None
        self.nodes[block.id] = node
        if path is not None:
            self.first.setdefault(path, block.id)
            self.paths[block.id] = path
            self.calls[path] = self.calls.get(path, 0) + 1
        for port, src in zip(block.input_ports(), mapped.inputs):
            if src is None:  # an optional port left unwired
                continue
            if src not in self.refs:
                raise Unsupported(f"its input {getattr(src, 'name', src)} is not a tensor block")
            s = self.refs[src]
            self.g.connect(s[0], s[1], block.id, port.name)
        return block

    def _module(self, node: fx.Node, output_index: int = -1) -> Mapped:
        module = self.t.modules[node.target]
        args = list(node.args)
        if not args or not all(self.t.is_tensor(a) for a in args):
            raise Unsupported(f"{node.target} ({type(module).__name__}) is called with non-tensor arguments")
        call_kwargs = self.t.const(dict(node.kwargs)) if node.kwargs else {}
        if call_kwargs and not is_literal(list(call_kwargs.values())):
            raise Unsupported(f"{node.target} ({type(module).__name__}) is called with non-literal keywords")
        entry = MODULES.get(type(module))
        why = f" for {self.why[node]}" if node in self.why else ""
        if entry is not None and len(args) == 1 and not call_kwargs and output_index < 0:
            block_type, params_of = entry
            try:
                params = get_block_type(block_type).coerce_params(params_of(module))
                return Mapped(block_type, params, args)
            except (Unsupported, ParamError) as e:
                why = f" for {e}"
        mapped = custom_module_for(module, len(args))
        mapped.params.update(call_kwargs=repr(call_kwargs), output_index=output_index)
        mapped.inputs = args
        self.kept.setdefault(type(module).__name__, why)
        return mapped

    def _attribute(self, node: fx.Node) -> Mapped:
        value = self.t.gm
        for part in node.target.split("."):
            value = getattr(value, part)
        if not isinstance(value, torch.Tensor):
            raise Unsupported(f"{node.target} is not a tensor")
        root = getattr(self.t, "root", None)
        if root is not None:  # the original's own tensor (a GraphModule keeps only the tensor)
            original = root
            for part in node.target.split("."):
                original = getattr(original, part, None)
            value = original if isinstance(original, torch.Tensor) else value
        return state_block(root, node.target, value, self.rebuilt)


def _read_for_its_kind(node: fx.Node) -> bool:
    """True when every use of the tensor ``node`` reads only its device or dtype (edgenext's
    ``self.token_projection.weight.device``): the weight is its layer's, not a block's."""
    return bool(node.users) and all(
        u.op == "call_function" and u.target is getattr and u.args[1:] in (("device",), ("dtype",))
        for u in node.users
    )


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
    kwargs = constructor_kwargs(module)
    try:
        with torch.device("meta"):
            again = cls(**kwargs)
    except Exception as e:  # noqa: BLE001
        raise Unsupported(f"{cls.__name__} cannot be created again from its attributes ({_first_line(e)})") from None
    if repr(again) != repr(module) or _shapes(again) != _shapes(module):
        raise Unsupported(f"{cls.__name__} cannot be created again from its attributes")
    return Mapped("custom_module", {"source": source, "kwargs": repr(kwargs), "inputs": n_inputs})


def _shapes(module: nn.Module) -> list[tuple[str, tuple[int, ...]]]:
    return [(k, tuple(v.shape)) for k, v in module.state_dict().items()]
