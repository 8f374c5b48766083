"""torch.fx import, step 3b: the flat import -> module definitions that keep the hierarchy.

Every flat block came from one traced node, and fx records on each node the stack of modules
whose ``forward`` was running (``node.meta["nn_module_stack"]``). This pass groups the blocks
by that stack into *boxes*, one per call of a container module (one fx traced into, such as
torchvision's ``BasicBlock`` or an ``nn.Sequential``), then:

* boxes of one class with the same inside (the same blocks, names and wires; parameters may
  differ) become ONE :class:`~studio.graph.modules.Definition` used once per box, and the inner
  parameters that differ between those uses become its per-use parameters
  (:class:`~studio.graph.modules.DefinitionParam`), each use holding its own value. resnet18's
  downsampling ``BasicBlock`` has more inside than the others, so it is a second definition;
* an ``nn.Sequential`` whose children are uses of one definition with equal values is one use
  with ``repeat``; any other ``nn.Sequential`` is a ``sequential`` definition;
* names inside are the original attribute names (``conv1``, ``downsample``), so the generated
  model's ``state_dict`` keys are the original's (``layer1.0.conv1.weight``).

A box that cannot be kept (a container called twice, a child reached through a ModuleList)
is spread into its parent under joined names (``blocks_0_conv``), as the flat import does.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass, field
from typing import Any

from torch import fx, nn

from studio.graph.layout import layered_layout
from studio.graph.model import Graph
from studio.graph.modules import MODULE_PREFIX, DefinitionParam
from studio.naming import Namespace, class_name, sanitize

Source = tuple[str, str]  # (flat block id, output port)
_NUMBERED = re.compile(r"_\d+$")
_MAX_PARAM_NAME = 40


@dataclass(eq=False)
class _Box:
    """One call of a container module: the flat blocks and child boxes its forward ran."""

    key: str  # nn_module_stack key: the path, with @n for a later call of the same module
    path: str
    cls: type
    items: list[Any] = field(default_factory=list)  # flat block ids and child boxes, in order
    under: set[str] = field(default_factory=set)  # every flat block inside, deeper ones too
    inputs: list[Source] = field(default_factory=list)
    outputs: list[Source] = field(default_factory=list)
    names: list[str] = field(default_factory=list)  # one per item
    in_names: list[str] = field(default_factory=list)
    out_names: list[str] = field(default_factory=list)
    wires: list[tuple] = field(default_factory=list)
    signature: tuple = ()
    fingerprint: tuple = ()
    group: int = -1  # index of its definition (the repeated child's, for a repeat)
    repeat: int = 1
    values: dict[str, Any] = field(default_factory=dict)  # its use's per-use values
    exact: bool = True  # its inside keeps the original's state_dict keys
    twice: bool = False  # its module is called more than once (its weights are shared)
    #: an ``nn.Sequential`` built from an OrderedDict (densenet's ``features.conv0``): a class
    #: of its own whose attributes keep those names, not an ``nn.Sequential`` numbered 0, 1...
    named: bool = False
    listed: bool = False  # an nn.ModuleList whose children are not a chain (one call each)

    @property
    def sequential(self) -> bool:
        if self.cls is nn.ModuleList or self.listed:  # children numbered 0, 1... (_chains)
            return True
        return getattr(self.cls, "forward", None) is nn.Sequential.forward and not self.named


class _Pass:
    def __init__(self, flat: Graph, paths: dict[str, str], nodes: dict[str, fx.Node], trace: Any, values=None) -> None:
        self.flat = flat
        self.paths = paths
        self.nodes = nodes
        #: (block id, port) -> the node whose value leaves there, where it is not the block's node
        self.values: dict[Source, fx.Node] = values or {}
        self.trace = trace
        self.groups: dict[tuple, int] = {}  # signature -> group index
        self.members: list[list[_Box]] = []
        self.def_names: list[str] = []
        #: keys of the boxes added for an nn.Sequential whose children are called one by one
        self.parts: set[str] = set()

    # ------------------------------------------------------------------ boxes
    def tree(self) -> _Box:
        """Boxes from the recorded module stacks, then the ones that cannot stay spread out."""
        root = _Box("", "", nn.Module)
        boxes: dict[str, _Box] = {}
        for bid in self.flat.blocks:
            node = self.nodes.get(bid)
            box = root
            for key, (path, cls) in self._with_lists(_stack(node), node):
                child = boxes.get(key)
                if child is None:
                    child = boxes[key] = _Box(key, path, cls, named=self._named(path, cls))
                    box.items.append(child)
                box = child
            box.items.append(bid)
        twice = {box.path for box in boxes.values() if "@" in box.key}
        for box in boxes.values():
            box.twice = box.path in twice
        self._spread(root)
        self._absorb(root)
        self._measure(root)
        for item in root.items:
            if isinstance(item, _Box):
                self._settle(item)
        root.items = _spread_inexact(root.items)
        return root

    def _with_lists(self, stack: list, node: fx.Node | None = None) -> list:
        """The stack with a box for each ``nn.ModuleList`` whose children ran (fx records
        no call of the list itself): GPT-2's ``h``, ViT's ``layers``, pvt's ``blocks``; and
        for an ``nn.Sequential`` whose children its owner calls one by one (timm's
        ``self.head.norm(x)``, ``self.head.fc(x)``)."""
        root = getattr(self.trace, "root", None)
        if root is None:
            return stack
        out: list = []
        called = [(None, (str(node.target), None))] if node is not None and node.op == "call_module" else []
        for key, (path, cls) in [*stack, *called]:
            parent, _, last = path.rpartition(".")
            if parent and not any(p == parent for _, (p, _) in out):
                try:
                    owner = root.get_submodule(parent)
                except AttributeError:
                    owner = None
                if isinstance(owner, nn.ModuleList) and last.isdigit():
                    out += self._lists(root, parent, out)
                elif isinstance(owner, nn.Sequential):
                    # a list's child run as ``down.forward(y)`` (hrnet's downsamp_modules)
                    out += self._lists(root, parent, out)[:-1]
                    self.parts.add(f"{parent}#parts")
                    out.append((f"{parent}#parts", (parent, type(owner))))
            if key is not None:
                out.append((key, (path, cls)))
        if node is not None and node.op == "get_attr":
            out += _owners(root, out[-1][1][0] if out else "", str(node.target))
        return out

    def _lists(self, root: nn.Module, path: str, out: list) -> list:
        """Boxes for the ``nn.ModuleList`` at ``path`` and the lists holding it (hrnet's
        ``fuse_layers[i][j]``), outermost first."""
        parent, _, last = path.rpartition(".")
        outer: list = []
        if parent and last.isdigit() and not any(p == parent for _, (p, _) in out):
            try:
                owner = root.get_submodule(parent)
            except AttributeError:
                owner = None
            if isinstance(owner, nn.ModuleList):
                outer = self._lists(root, parent, out)
        return [*outer, (f"{path}#list", (path, nn.ModuleList))]

    def _named(self, path: str, cls: type) -> bool:
        root = getattr(self.trace, "root", None)
        if root is None or getattr(cls, "forward", None) is not nn.Sequential.forward:
            return False
        try:
            module = root.get_submodule(path)
        except AttributeError:
            return False
        return not all(name.isdigit() for name, _ in module.named_children())

    def _spread(self, box: _Box) -> None:
        items: list[Any] = []
        pending = list(box.items)
        while pending:
            item = pending.pop(0)
            if isinstance(item, _Box) and not _keepable(box, item):
                pending[:0] = item.items
                continue
            items.append(item)
        box.items = items
        for item in items:
            if isinstance(item, _Box):
                self._spread(item)

    def _saved(self) -> set[str]:
        """The original's state_dict keys."""
        if not hasattr(self, "_saved_keys"):
            root = getattr(self.trace, "root", None)
            self._saved_keys = set(root.state_dict()) if root is not None else set()
        return self._saved_keys

    def _absorb(self, box: _Box) -> None:
        """Into each ``nn.ModuleList`` box, the operations of its owner that run between its
        children (edgenext's ``sp = sp + spx[i]; sp = conv(sp)``, hrnet's
        ``incre(yl[i]) + down(y)``): what its children return flows back into them only
        through those, so the list, written with them, is called once and keeps its keys."""
        for item in box.items:
            if isinstance(item, _Box):
                self._absorb(item)
        lists = [it for it in box.items if isinstance(it, _Box) and it.cls is nn.ModuleList]
        if not lists:
            return
        succ: dict[str, list[str]] = {}
        pred: dict[str, list[str]] = {}
        for e in self.flat.edges.values():
            succ.setdefault(e.src, []).append(e.dst)
            pred.setdefault(e.dst, []).append(e.src)
        order = {bid: i for i, bid in enumerate(self.flat.blocks)}
        for lst in lists:
            inside = _flat_under(lst)
            between = _reach(inside, succ) & _reach(inside, pred)
            if not between:
                continue
            direct = [it for it in box.items if not isinstance(it, _Box) and it in between]
            if len(direct) != len(between) or not all(self._stateless(b) for b in direct):
                continue  # a container or a layer runs between them: the list is spread
            box.items = [it for it in box.items if isinstance(it, _Box) or it not in between]
            lst.items = sorted(
                lst.items + direct,
                key=lambda it: min(order[b] for b in _flat_under(it)) if isinstance(it, _Box) else order[it],
            )

    def _stateless(self, bid: str) -> bool:
        node = self.nodes.get(bid)
        return node is not None and node.op in ("call_function", "call_method")

    def _measure(self, box: _Box) -> None:
        for item in box.items:
            if isinstance(item, _Box):
                self._measure(item)
                box.under |= item.under
            else:
                box.under.add(item)
        for e in self.flat.edges.values():
            if e.dst in box.under and e.src not in box.under and (e.src, e.src_port) not in box.inputs:
                box.inputs.append((e.src, e.src_port))
            if e.src in box.under and e.dst not in box.under and (e.src, e.src_port) not in box.outputs:
                box.outputs.append((e.src, e.src_port))

    def _settle(self, box: _Box) -> None:
        """Spread the children whose inside would not keep the original state_dict keys; then
        ``box.exact`` says whether its own would."""
        for item in box.items:
            if isinstance(item, _Box):
                self._settle(item)
        box.items = _spread_inexact(box.items)
        self._name(box, root=False)
        box.exact = all(self._keeps_key(box, k) for k in range(len(box.items)))
        if box.key in self.parts:  # only what leaves it is its last item's output: no cycle
            box.exact = box.exact and len(box.outputs) == 1 and box.outputs[0][0] in _last_under(box)
        if box.cls is nn.ModuleList and box.exact and _chains(box):
            # the chained input first, then those every child reads again
            box.inputs = list(box.items[0].inputs)
        elif box.key not in self.parts and (box.cls is nn.ModuleList or _own_forward_list(box)):
            # hrnet's transition1 (each child called once on its own input) and its stages
            # (timm's SequentialList, passing lists of tensors)
            box.exact = self._called_once_each(box)
            box.listed = box.exact

    def _called_once_each(self, box: _Box) -> bool:
        """Every child of the list is a called module, and nothing the list returns flows
        back into it (as one call, it must not read its own outputs)."""
        last = -1
        for item in box.items:
            node = None if isinstance(item, _Box) else self.nodes.get(item)
            if not isinstance(item, _Box) and self._stateless(item):
                continue  # an operation run between two children (_absorb)
            if not isinstance(item, _Box) and (node is None or node.op != "call_module"):
                return False
            rel = _rel(item.path if isinstance(item, _Box) else str(node.target), box.path)
            if not rel.isdigit() or int(rel) <= last:
                return False
            last = int(rel)
        if not box.items:
            return False
        succ: dict[str, list[str]] = {}
        for e in self.flat.edges.values():
            succ.setdefault(e.src, []).append(e.dst)
        after: set[str] = set()
        todo = [d for b in box.under for d in succ.get(b, ()) if d not in box.under]
        while todo:
            bid = todo.pop()
            if bid in box.under:
                return False
            if bid not in after:
                after.add(bid)
                todo += succ.get(bid, ())
        return True

    def _keeps_key(self, box: _Box, k: int) -> bool:
        """Whether item ``k`` of ``box`` gets the attribute name its state_dict keys need."""
        item = box.items[k]
        if isinstance(item, _Box):
            want = _rel(item.path, box.path)
        else:
            node = self.nodes.get(item)
            if node is None or node.op not in ("call_module", "get_attr"):
                return not box.sequential
            want = _rel(str(node.target), box.path)
            if node.op == "call_module" and not box.sequential and not self.trace.modules[node.target].state_dict():
                return True  # nothing of it is saved: any name will do
            if node.op == "get_attr" and not box.sequential and str(node.target) not in self._saved():
                return True  # a tensor fx made a constant of (swin's index): not saved either
        if box.sequential:
            return want == str(k)
        return want == box.names[k]

    # --------------------------------------------------------------- describe
    def describe(self, box: _Box, root: bool = False) -> None:
        """Children first: names, wires, what must match to share a definition, and repeats."""
        for item in box.items:
            if isinstance(item, _Box):
                self.describe(item)
        self._name(box, root)
        box.wires = self._wires(box)
        kinds = []
        prints = []
        for item, name in zip(box.items, box.names):
            if isinstance(item, _Box):
                kinds.append((name, item.group, item.repeat))
                prints.append(item.fingerprint)
            else:
                block = self.flat.blocks[item]
                kinds.append((name, block.type))
                prints.append(repr(block.params))
        box.signature = (box.cls, tuple(kinds), tuple(box.wires), len(box.inputs), len(box.outputs))
        box.fingerprint = (box.signature, tuple(prints))
        if root:
            return
        first = box.items[0]
        if _repeats(box):
            box.group, box.repeat = first.group, len(box.items)
            box.in_names, box.out_names = first.in_names, first.out_names
            box.fingerprint = (first.fingerprint, box.repeat)
            return
        if box.signature not in self.groups:
            self.groups[box.signature] = len(self.members)
            self.members.append([])
        box.group = self.groups[box.signature]
        self.members[box.group].append(box)

    def _name(self, box: _Box, root: bool) -> None:
        ns = Namespace(attrs=True)
        bases = [self._base(box, item) for item in box.items]
        names: dict[int, str] = {}
        # attribute names first: they are the state_dict keys
        for rank in (0, 1):
            for i, item in enumerate(box.items):
                if self._rank(item) == rank:
                    names[i] = ns.create_name(bases[i])
        if not root:
            box.in_names = [ns.create_name(n) for n in _arg_names(box.cls, len(box.inputs))]
        for i in range(len(box.items)):
            if i not in names:
                names[i] = ns.create_name(bases[i])
        box.names = [names[i] for i in range(len(box.items))]
        if not root:
            n = len(box.outputs)
            box.out_names = [ns.create_name("out" if n == 1 else f"out_{k + 1}") for k in range(n)]

    def _rank(self, item: Any) -> int:
        if isinstance(item, _Box):
            return 0
        node = self.nodes.get(item)
        return 0 if node is not None and node.op in ("call_module", "get_attr") else 2

    def _base(self, box: _Box, item: Any) -> str:
        if isinstance(item, _Box):
            return _rel(item.path, box.path).replace(".", "_")
        node = self.nodes.get(item)
        if node is not None and node.op in ("call_module", "get_attr"):
            return _rel(str(node.target), box.path).replace(".", "_")
        if node is None or node.op == "placeholder":
            return self.flat.blocks[item].name
        return _NUMBERED.sub("", node.name)

    def _wires(self, box: _Box) -> list[tuple]:
        """Wires between the box's items as ``((kind, index, port), (kind, index, port))``;
        kind is "in" (the box's input), "item" or "out"; a child's ports are numbers."""
        where: dict[str, int] = {}
        for i, item in enumerate(box.items):
            for bid in item.under if isinstance(item, _Box) else (item,):
                where[bid] = i
        wires: list[tuple] = []
        for e in self.flat.edges.values():
            if e.dst not in box.under:
                continue
            di = where[e.dst]
            src = (e.src, e.src_port)
            if e.src in box.under:
                if where[e.src] == di:
                    continue
                start = ("item", where[e.src], _port_of(box.items[where[e.src]], src))
            else:
                start = ("in", box.inputs.index(src), "out")
            dst = box.items[di]
            end = ("item", di, dst.inputs.index(src) if isinstance(dst, _Box) else e.dst_port)
            if (start, end) not in wires:
                wires.append((start, end))
        for k, src in enumerate(box.outputs):
            si = where[src[0]]
            wires.append((("item", si, _port_of(box.items[si], src)), ("out", k, "in")))
        return wires

    # ------------------------------------------------------------ definitions
    def define(self, graph: Graph) -> None:
        """One definition per group, children's first; per-use parameters from the differences."""
        library = graph.library
        for members in self.members:
            first = members[0]
            defn = library.new(library.unique_name(_def_base(first)), sequential=first.sequential)
            self.def_names.append(defn.name)
            ids = self.fill(defn.graph, first)
            differing: dict[str, list[tuple[int, str]]] = {}
            vectors: dict[str, tuple] = {}
            for i in range(len(first.items)):
                for pname in self._params(first, i):
                    values = tuple(self._params(m, i)[pname] for m in members)
                    if len({repr(v) for v in values}) > 1:
                        differing.setdefault(repr(values), []).append((i, pname))
                        vectors[repr(values)] = values
            ns = Namespace({"repeat", "weights"})
            for targets in differing.values():
                name = ns.create_name(_param_base(first, targets, differing.values()))
                i, pname = targets[0]
                defn.params[name] = DefinitionParam(name, tuple((ids[j], p) for j, p in targets))
                for m in members:
                    m.values[name] = self._params(m, i)[pname]
            defn.touch()
            for bid, pos in layered_layout(defn.graph).items():
                defn.graph.move(bid, pos)

    def _params(self, box: _Box, i: int) -> dict[str, Any]:
        item = box.items[i]
        if isinstance(item, _Box):
            return dict(_use_values(item))
        return self.flat.blocks[item].params

    def fill(self, graph: Graph, box: _Box) -> dict[int, str]:
        """Add the box's inside to ``graph``; returns item index -> block id."""
        ins = []
        for name, src in zip(box.in_names, box.inputs):
            shape, dtype = self._spec(src)
            ins.append(graph.add_block("input", name=name, params={"shape": shape, "dtype": dtype}).id)
        ids: dict[int, str] = {}
        for i, (item, name) in enumerate(zip(box.items, box.names)):
            if isinstance(item, _Box):
                type_id = MODULE_PREFIX + self.def_names[item.group]
                params = {"repeat": item.repeat, **_use_values(item)}
            else:
                type_id, params = self.flat.blocks[item].type, dict(self.flat.blocks[item].params)
            ids[i] = graph.add_block(type_id, name=name, params=params).id
        outs = [graph.add_block("output", name=name).id for name in box.out_names]
        for (skind, si, sport), (dkind, di, dport) in box.wires:
            if skind == "in":
                src, sport = ins[si], "out"
            else:
                src, sport = ids[si], self._port_name(box.items[si], sport, out=True)
            if dkind == "out":
                dst, dport = outs[di], "in"
            else:
                dst, dport = ids[di], self._port_name(box.items[di], dport, out=False)
            graph.connect(src, sport, dst, dport)
        return ids

    def _port_name(self, item: Any, port: Any, out: bool) -> str:
        if isinstance(item, _Box):
            return (item.out_names if out else item.in_names)[port]
        return port

    def _spec(self, src: Source) -> tuple[tuple[int, ...], str]:
        node = self.values.get(src) or self.nodes.get(src[0])
        meta = self.trace.s1.get(node) if node is not None else None
        shape = getattr(meta, "shape", None)
        if not shape or len(shape) < 2:
            return (1,), "float32"
        return tuple(shape[1:]), meta.dtype


# ------------------------------------------------------------------- public
def nest(
    flat: Graph, paths: dict[str, str], nodes: dict[str, fx.Node], trace: Any, notes: list[str], values=None
):
    """The flat import's graph with its module hierarchy kept: ``(graph, paths)``, where the
    paths give each top-level block the module it stands for (a use: the container).

    Falls back to the flat graph (with a note) when the hierarchy cannot be built."""
    work = _Pass(flat, paths, nodes, trace, values)
    try:
        root = work.tree()
        if not any(isinstance(item, _Box) for item in root.items):
            return flat, paths
        work.describe(root, root=True)
        graph = Graph()
        work.define(graph)
        ids = work.fill(graph, root)
    except ValueError as e:  # GraphError / ParamError: a graph Studio cannot hold
        notes.append(f"The module hierarchy could not be kept ({e}); the model was imported flat.")
        return flat, paths
    new_paths: dict[str, str] = {}
    for i, item in enumerate(root.items):
        if isinstance(item, _Box):
            new_paths[ids[i]] = item.path
        elif item in paths:
            new_paths[ids[i]] = paths[item]
    return graph, new_paths


# ------------------------------------------------------------------ helpers
def _stack(node: fx.Node | None) -> list[tuple[str, tuple[str, type]]]:
    """The containers whose forward ran ``node``, outermost first (not the called module)."""
    if node is None:
        return []
    stack = list((node.meta.get("nn_module_stack") or {}).items())
    if node.op == "call_module" and stack and stack[-1][1][0] == node.target:
        stack.pop()
    return stack


def _owners(root: nn.Module, base: str, target: str) -> list:
    """Boxes for the modules between the running one (``base``) and a parameter read through
    them without their ``forward`` (timm's ``self.rel_pos.get_bias()`` reads
    ``rel_pos.relative_position_bias_table``): each becomes a module that returns what is
    read, so the parameter keeps its key."""
    rel = _rel(target, base)
    if rel == target and base:
        return []
    out: list = []
    path = base
    for part in rel.split(".")[:-1]:
        path = f"{path}.{part}" if path else part
        try:
            owner = root.get_submodule(path)
        except AttributeError:
            return out
        if isinstance(owner, (nn.ModuleList, nn.Sequential, nn.ModuleDict)):
            return out
        out.append((f"{path}#attrs", (path, type(owner))))
    return out


def _own_forward_list(box: _Box) -> bool:
    """An ``nn.Sequential`` subclass with a ``forward`` of its own (timm's SequentialList)."""
    return isinstance(box.cls, type) and issubclass(box.cls, nn.Sequential) and not box.named and (
        getattr(box.cls, "forward", None) is not nn.Sequential.forward
    )


def _spread_inexact(items: list[Any]) -> list[Any]:
    out: list[Any] = []
    for item in items:
        if isinstance(item, _Box) and not item.exact:
            out.extend(item.items)
        else:
            out.append(item)
    return out


def _keepable(parent: _Box, child: _Box) -> bool:
    """A child box can be its own use when it is called once and is a direct attribute (of an
    ``nn.Sequential``: a number, its place)."""
    if child.twice:
        return False
    rel = _rel(child.path, parent.path)
    if rel == child.path and parent.path:
        return False
    if (parent.sequential or _own_forward_list(parent)) and rel.isdigit():
        return True
    return bool(rel) and "." not in rel and Namespace(attrs=True).create_name(rel) == rel


def _rel(path: str, base: str) -> str:
    if not base:
        return path
    return path[len(base) + 1:] if path.startswith(base + ".") else path


def _repeats(box: _Box) -> bool:
    items = box.items
    return (
        box.sequential
        and not box.listed
        and len(items) >= (1 if box.cls is nn.ModuleList else 2)
        and all(isinstance(it, _Box) and it.repeat == 1 for it in items)
        and len({it.fingerprint for it in items}) == 1
        and (len(items[0].inputs) == 1 or box.cls is nn.ModuleList)
        and len(items[0].outputs) == 1
    )


def _flat_under(box: _Box) -> set[str]:
    out: set[str] = set()
    for item in box.items:
        out |= _flat_under(item) if isinstance(item, _Box) else {item}
    return out


def _reach(start: set[str], edges: dict[str, list[str]]) -> set[str]:
    """The blocks reached from ``start`` along ``edges``, outside ``start``."""
    seen: set[str] = set()
    todo = [d for b in start for d in edges.get(b, ())]
    while todo:
        bid = todo.pop()
        if bid in start or bid in seen:
            continue
        seen.add(bid)
        todo += edges.get(bid, ())
    return seen


def _last_under(box: _Box) -> set[str]:
    last = box.items[-1] if box.items else None
    return last.under if isinstance(last, _Box) else {last}


def _chains(box: _Box) -> bool:
    """An ``nn.ModuleList`` used as ``for layer in layers: x = layer(x, *rest)``: each child
    reads the previous one's only output first and the same other inputs (an attention mask),
    so it is written as that loop over an ``nn.ModuleList`` (keys ``layers.0...``)."""
    items = box.items
    if not items or not all(isinstance(it, _Box) and len(it.outputs) == 1 for it in items):
        return False
    first = items[0]
    if set(box.inputs) != set(first.inputs) or len(box.outputs) != 1:
        return False
    for a, b in zip(items, items[1:]):
        if not b.inputs or b.inputs[0] != a.outputs[0] or b.inputs[1:] != first.inputs[1:]:
            return False
        if len(b.inputs) != len(first.inputs):
            return False
    return box.outputs == items[-1].outputs


def _use_values(box: _Box) -> dict[str, Any]:
    """A use's block parameters: its repeat and per-use values (a repeat's: its first copy's)."""
    values = box.items[0].values if box.repeat > 1 else box.values
    return {"repeat": box.repeat, **values}


def _param_base(box: _Box, targets: list[tuple[int, str]], groups) -> str:
    """``stride`` when one per-use parameter sets strides, else ``conv1_stride`` (a numbered
    child of an nn.Sequential has no telling name: ``out_channels``, ``out_channels_1``...)."""
    i, pname = targets[0]
    shared = sum(1 for t in groups if t[0][1] == pname) > 1
    if shared and not box.names[i].startswith("_"):
        pname = f"{box.names[i]}_{pname}"
    return sanitize(pname).lower()[:_MAX_PARAM_NAME]


def _def_base(box: _Box) -> str:
    if box.cls in (nn.Sequential, nn.ModuleList):  # named after its attribute: layer2 -> Layer, blocks.0 -> Blocks
        words = [w.rstrip("0123456789") for w in box.path.split(".")]
        last = next((w for w in reversed(words) if w), "")
        # an attribute's words: linear_relu_stack -> LinearReluStack (was Linear_relu_stack)
        return class_name(last.replace("_", " "), "Sequential") if last.strip("_") else "Sequential"
    return class_name(box.cls.__name__.lstrip("_"), "Module")


def _arg_names(cls: type, n: int) -> list[str]:
    try:
        params = list(inspect.signature(cls.forward).parameters.values())[1:]
    except (TypeError, ValueError):
        params = []
    names = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if len(names) == n:
        return names
    return ["x" if n == 1 else f"x_{k + 1}" for k in range(n)]


def _port_of(item: Any, src: Source) -> Any:
    return item.outputs.index(src) if isinstance(item, _Box) else src[1]
