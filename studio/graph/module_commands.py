"""Undoable edits of module definitions: group blocks into a module, ungroup a use, detach a
use's own copy, rename a definition, declare a per-use parameter.

Like :mod:`studio.graph.commands` they change the model only and undo restores the exact
earlier graph. A definition a command created or removed is kept as the same object, so the
edits made inside it afterwards (they hold its graph) redo onto it.
"""

from __future__ import annotations

from typing import Any

from studio.blocks.registry import ROLE_INPUT, ROLE_OUTPUT
from studio.graph.commands import Command, RemoveBlocks, _restore_block, _snapshot_block
from studio.graph.errors import GraphError
from studio.graph.layout import COLUMN_GAP
from studio.graph.model import Graph
from studio.graph.modules import Definition, DefinitionParam, Library
from studio.graph.serialize import graph_from_dict
from studio.naming import sanitize

#: an outside source feeding a group, or a grouped block read from outside: (block id, port)
End = tuple[str, str]
#: (shape without the batch dimension, dtype) of the value on an end, when known
Spec = tuple[tuple[int, ...], str]


def all_graphs(library: Library) -> list[Graph]:
    """The model's graph and every definition's graph."""
    roots = [library.root] if library.root is not None else []
    return roots + [d.graph for d in library]


def uses_anywhere(library: Library, name: str) -> list[tuple[Graph, str]]:
    """Every use of definition ``name``: (the graph it sits in, its block id)."""
    return [(g, b.id) for g in all_graphs(library) for b in library.uses_of(g, name)]


def definition_of(graph: Graph, use_id: str) -> Definition:
    block = graph.block(use_id)
    defn = block.spec.definition
    if defn is None:
        raise GraphError(
            f"{block.name} is not a module block; only a use of a module can be opened or ungrouped."
        )
    return defn


class _Replace:
    """Replace a block by one of another type (or without some parameters): same id, name,
    place and wires. Used when a use points at another definition."""

    def __init__(self, block_id: str, type_id: str, drop: tuple[str, ...] = ()) -> None:
        self.block_id, self.type_id, self.drop = block_id, type_id, drop
        self._remove: RemoveBlocks | None = None

    def do(self, graph: Graph) -> None:
        snap, index = _snapshot_block(graph, self.block_id)
        self._remove = RemoveBlocks([self.block_id])
        self._remove.do(graph)
        params = {k: v for k, v in snap["params"].items() if k not in self.drop}
        _restore_block(graph, {**snap, "type": self.type_id, "params": params}, index)
        for edge, i in sorted(self._remove._edges, key=lambda s: s[1]):
            graph.insert_edge(edge, i)

    def undo(self, graph: Graph) -> None:
        for edge, _ in self._remove._edges:
            if edge.id in graph.edges:
                graph.disconnect(edge.id)
        graph.remove_block(self.block_id)
        self._remove.undo(graph)


class InGraph(Command):
    """``cmd`` applied to ``graph`` whatever graph the stack passes: an edit inside a module
    definition, kept on the model's one undo stack."""

    def __init__(self, graph: Graph, cmd: Command) -> None:
        self.graph, self.cmd = graph, cmd
        self.text = cmd.text
        self.merge_id = None if cmd.merge_id is None else (id(graph), cmd.merge_id)

    def do(self, graph: Graph | None = None) -> None:
        self.cmd.do(self.graph)
        self.text = self.cmd.text

    def undo(self, graph: Graph | None = None) -> None:
        self.cmd.undo(self.graph)

    def merge(self, other: Command) -> bool:
        return (
            isinstance(other, InGraph) and other.graph is self.graph and self.cmd.merge(other.cmd)
        )


# ------------------------------------------------------------------ grouping
class GroupIntoModule(Command):
    """Move the selected blocks into a new definition ``name``; they are replaced by one use of
    it, wired to the same outside blocks. Every distinct outside source read by the selection
    becomes an Input block inside, every selected output read from outside an Output block.
    ``specs`` gives the known value of an outside source (the Input's shape and dtype)."""

    def __init__(
        self, block_ids: list[str], name: str | None = None, specs: dict[End, Spec] | None = None
    ) -> None:
        self.block_ids = list(block_ids)
        self.name = name
        self.specs = dict(specs or {})
        self.text = f"Group {len(self.block_ids)} blocks into a module"
        self.use_id: str | None = None
        self.definition: Definition | None = None
        self._remove: RemoveBlocks | None = None
        self._wires: list[tuple[str, str, str, str, str]] = []
        self._index = 0
        self._position = (0.0, 0.0)
        self._use_name: str | None = None

    def do(self, graph: Graph) -> None:
        lib = graph.library
        if self.definition is None:
            self._plan(graph)
        else:
            lib.insert(self.definition)
        try:
            self._remove = RemoveBlocks(self.block_ids)
            self._remove.do(graph)
            use = graph.add_block(
                self.definition.type_id,
                name=self._use_name,
                position=self._position,
                id=self.use_id,
                index=self._index,
            )
            self.use_id, self._use_name = use.id, use.name
            for eid, src, sp, dst, dp in self._wires:
                graph.connect(src or use.id, sp, dst or use.id, dp, id=eid)
        except Exception:
            self.undo(graph)
            raise
        self.text = f"Group {len(self.block_ids)} blocks into {self.definition.name}"

    def undo(self, graph: Graph) -> None:
        if self.use_id in graph.blocks:
            graph.remove_block(self.use_id)
        if (
            self._remove is not None
            and self._remove._blocks
            and self.block_ids[0] not in graph.blocks
        ):
            self._remove.undo(graph)
        if self.definition.name in graph.library:
            graph.library.remove(self.definition.name)

    def _plan(self, graph: Graph) -> None:
        """Check the selection, build the definition and work out the wires of the use."""
        sel = self._check(graph)
        lib = graph.library
        name = self.name or lib.unique_name("Module")
        lib.check_name(name)
        order = list(graph.blocks)
        self._index = min(order.index(b) for b in sel)
        self.use_id = (
            self.use_id or graph.new_id()
        )  # not a grouped block's id: those live on inside
        xs = [graph.blocks[b].position[0] for b in sel]
        ys = [graph.blocks[b].position[1] for b in sel]
        # at the selection's centre, on the nearest grouped block's place (a wrapped model's
        # selection spans bands: its plain centre would fall in the gap between them)
        cx, cy = (min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2
        self._position = min(
            (graph.blocks[b].position for b in sel),
            key=lambda p: (p[0] - cx) ** 2 + (p[1] - cy) ** 2,
        )
        ins: dict[End, list] = {}  # outside source -> the edges from it into the selection
        outs: dict[End, list] = {}  # selected source -> the edges from it to outside
        for e in graph.edges.values():
            if e.dst in sel and e.src not in sel:
                ins.setdefault((e.src, e.src_port), []).append(e)
            elif e.src in sel and e.dst not in sel:
                outs.setdefault((e.src, e.src_port), []).append(e)
        defn = lib.new(name)
        try:
            self._fill(graph, defn, sel, ins, outs, min(xs), max(xs))
        except Exception:
            lib.remove(name)
            raise
        self.definition, self.name = defn, name

    def _check(self, graph: Graph) -> set[str]:
        if not self.block_ids:
            raise GraphError("Select the blocks to group first (drag a box around them).")
        for bid in self.block_ids:
            block = graph.block(bid)
            if block.spec.role in (ROLE_INPUT, ROLE_OUTPUT):
                raise GraphError(
                    f"{block.name} is an {block.spec.label}: a module gets its own inputs and outputs "
                    "from the wires that cross the selection, so leave Input and Output blocks out."
                )
        sel = set(self.block_ids)
        after = graph.downstream(sel) - sel
        for bid in after:
            if any(e.dst in sel for e in graph.outgoing(bid)):
                raise GraphError(
                    f"{graph.blocks[bid].name} takes an output of the selection and feeds it back in: "
                    "select it too, or fewer blocks."
                )
        return sel

    def _fill(
        self,
        graph: Graph,
        defn: Definition,
        sel: set[str],
        ins: dict,
        outs: dict,
        left: float,
        right: float,
    ) -> None:
        inner = defn.graph
        for bid in graph.blocks:
            if bid in sel:
                b = graph.blocks[bid]
                inner.add_block(
                    b.type,
                    name=b.name,
                    params=dict(b.params),
                    position=b.position,
                    frozen=b.frozen,
                    id=b.id,
                )
        for e in graph.edges.values():
            if e.src in sel and e.dst in sel:
                inner.connect(e.src, e.src_port, e.dst, e.dst_port, id=e.id)
        self._wires = []
        for (src, sp), edges in ins.items():
            port = inner.unique_name("x" if len(ins) == 1 else _port_name(graph, src, sp))
            params = {}
            spec = self.specs.get((src, sp))
            if spec is not None and all(isinstance(d, int) and d > 0 for d in spec[0]):
                params = {"shape": list(spec[0]), "dtype": spec[1]}
            y = graph.blocks[edges[0].dst].position[1]
            x_in = inner.add_block(
                "input", name=port, params=params, position=(left - COLUMN_GAP, y)
            )
            for e in edges:
                inner.connect(x_in.id, "out", e.dst, e.dst_port)
            self._wires.append((edges[0].id, src, sp, "", port))
        for (src, sp), edges in outs.items():
            port = inner.unique_name(
                "out" if len(outs) == 1 else f"{_port_name(graph, src, sp)}_out"
            )
            out = inner.add_block(
                "output", name=port, position=(right + COLUMN_GAP, graph.blocks[src].position[1])
            )
            inner.connect(src, sp, out.id, "in")
            for e in edges:
                self._wires.append((e.id, "", port, e.dst, e.dst_port))


def _port_name(graph: Graph, block_id: str, port: str) -> str:
    block = graph.blocks[block_id]
    base = sanitize(block.name.lower())
    return sanitize(f"{base}_{port}") if len(block.output_ports()) > 1 else base


# ---------------------------------------------------------------- ungrouping
class Ungroup(Command):
    """Replace a use by copies of the definition's inner blocks (its per-use values applied),
    wired as the use was. A repeated use expands into its N copies one after another. The
    definition leaves the library when nothing else uses it (undo puts it back)."""

    def __init__(self, use_id: str) -> None:
        self.use_id = use_id
        self.text = "Ungroup"
        self.block_ids: list[str] = []
        self._plan: tuple[list[dict[str, Any]], list[tuple]] | None = None
        self._remove: RemoveBlocks | None = None
        self._dropped: Definition | None = None
        self._index = 0

    def do(self, graph: Graph) -> None:
        defn = definition_of(graph, self.use_id)
        use = graph.block(self.use_id)
        if self._plan is None:
            self._plan = _expand(graph, use, defn)
            self.block_ids = [b["id"] for b in self._plan[0]]
        self._index = list(graph.blocks).index(self.use_id)
        self._remove = RemoveBlocks([self.use_id])
        self._remove.do(graph)
        blocks, wires = self._plan
        for i, snap in enumerate(blocks):
            _restore_block(graph, snap, self._index + i)
        for eid, src, sp, dst, dp in wires:
            graph.connect(src, sp, dst, dp, id=eid)
        self._dropped = None
        if not uses_anywhere(graph.library, defn.name):
            self._dropped = graph.library.remove(defn.name)
        self.text = f"Ungroup {use.name}"

    def undo(self, graph: Graph) -> None:
        if self._dropped is not None:
            graph.library.insert(self._dropped)
        for bid in reversed(self.block_ids):
            graph.remove_block(bid)
        self._remove.undo(graph)


def _expand(graph: Graph, use, defn: Definition) -> tuple[list[dict[str, Any]], list[tuple]]:
    """The blocks and wires that replace ``use``: one set per repeated copy."""
    inner = defn.graph
    ins, outs = defn.input_blocks(), defn.output_blocks()
    values = {k: v for k, v in use.params.items() if k not in ("repeat", "weights")}
    overrides = defn.apply(values)
    taken = graph.names() - {use.name}
    ids = {*graph.blocks, *graph.edges}
    # outside sources of the use's inputs, by Input block id
    feeds = {}
    for b in ins:
        e = graph.edge_into(use.id, b.name)
        feeds[b.id] = (e.src, e.src_port) if e is not None else None
    blocks: list[dict[str, Any]] = []
    wires: list[tuple] = []
    repeat = use.params.get("repeat", 1)
    x0 = min((b.position[0] for b in inner), default=0.0)
    y0 = min((b.position[1] for b in inner), default=0.0)
    width = max((b.position[0] for b in inner), default=0.0) - x0 + COLUMN_GAP

    def new_id(prefix: str) -> str:
        while True:
            candidate = graph.new_id(prefix)
            if candidate not in ids:
                ids.add(candidate)
                return candidate

    produced: dict[str, tuple[str, str] | None] = {}
    for k in range(repeat):
        mapping: dict[str, str] = {}
        for b in inner:
            if b.spec.role in (ROLE_INPUT, ROLE_OUTPUT):
                continue
            base = b.name if repeat == 1 else f"{b.name}_{k + 1}"
            name = base if base not in taken else graph.unique_name(f"{use.name}_{base}", taken)
            taken.add(name)
            mapping[b.id] = new_id("b")
            params = b.spec.coerce_params({**b.params, **overrides.get(b.id, {})})
            pos = (
                use.position[0] + b.position[0] - x0 + k * width,
                use.position[1] + b.position[1] - y0,
            )
            blocks.append(
                {
                    "type": b.type,
                    "name": name,
                    "params": params,
                    "position": pos,
                    "frozen": b.frozen or use.frozen,
                    "id": mapping[b.id],
                }
            )

        def source(bid: str, port: str, mapping=mapping) -> tuple[str, str] | None:
            return feeds.get(bid) if bid in feeds else (mapping[bid], port)

        for e in inner.edges.values():
            if e.src in mapping or e.src in feeds:
                if e.dst in mapping and (src := source(e.src, e.src_port)) is not None:
                    wires.append((new_id("e"), *src, mapping[e.dst], e.dst_port))
        produced = {}
        for o in outs:
            e = inner.edge_into(o.id, "in")
            produced[o.name] = source(e.src, e.src_port) if e is not None else None
        if ins and outs:  # the next copy reads this copy's first output
            feeds[ins[0].id] = produced[outs[0].name]
    for e in graph.outgoing(use.id):
        src = produced.get(e.src_port)
        if src is not None:
            wires.append((new_id("e"), *src, e.dst, e.dst_port))
    return blocks, wires


# ------------------------------------------------------------------- detach
class DetachCopy(Command):
    """Give one use its own copy of the definition (``Name2``), to change it alone."""

    def __init__(self, use_id: str) -> None:
        self.use_id = use_id
        self.text = "Detach copy"
        self.definition: Definition | None = None
        self._old_type = ""
        self._replace: _Replace | None = None

    def do(self, graph: Graph) -> None:
        lib = graph.library
        old = definition_of(graph, self.use_id)
        if self.definition is None:
            copy = lib.new(lib.unique_name(old.name), sequential=old.sequential)
            graph_from_dict(copy.graph, old.graph.to_dict())
            copy.params = dict(old.params)
            self.definition = copy
        else:
            lib.insert(self.definition)
        self._old_type = old.type_id
        self._replace = _Replace(self.use_id, self.definition.type_id)
        self._replace.do(graph)
        self.text = f"Detach {graph.block(self.use_id).name} as {self.definition.name}"

    def undo(self, graph: Graph) -> None:
        self._replace.undo(graph)
        graph.library.remove(self.definition.name)


# ------------------------------------------------------------------- rename
class RenameDefinition(Command):
    """Rename a definition (its class name); every use, in every graph, follows."""

    def __init__(self, library: Library, old: str, new: str) -> None:
        self.library, self.old, self.new = library, old, new
        self.text = f"Rename module {old} to {new}"

    def do(self, graph: Graph | None = None) -> None:
        self._rename(self.old, self.new)

    def undo(self, graph: Graph | None = None) -> None:
        self._rename(self.new, self.old)

    def _rename(self, old: str, new: str) -> None:
        lib = self.library
        defn = lib.get(old)
        if new != old:
            lib.check_name(new)
        uses = uses_anywhere(lib, old)
        order = list(lib.definitions.items())
        lib.definitions[new] = defn  # both names resolve while the uses change type
        defn.name = new
        for g, bid in uses:
            _Replace(bid, defn.type_id).do(g)
        lib.definitions = {(new if k == old else k): v for k, v in order}
        defn.touch()


# --------------------------------------------------------------- parameters
class DeclareParam(Command):
    """A per-use parameter ``name`` of ``definition`` that sets ``targets`` (inner block id,
    parameter name) inside; each use starts with the definition's current value."""

    def __init__(
        self, definition: Definition, name: str, targets: list[tuple[str, str]], doc: str = ""
    ) -> None:
        self.definition, self.name = definition, name
        self.targets = tuple((b, p) for b, p in targets)
        self.doc = doc
        self.text = f"Add parameter {name} to {definition.name}"

    def do(self, graph: Graph | None = None) -> None:
        d = self.definition
        if (
            not self.name.isidentifier()
            or not self.name.islower()
            or self.name in ("repeat", "weights")
        ):
            raise GraphError(
                f"A parameter name is a lower-case word such as planes (got {self.name!r})."
            )
        if self.name in d.params:
            raise GraphError(f"{d.name} already has a parameter called {self.name}.")
        if not self.targets:
            raise GraphError("Choose which inner block parameter it sets.")
        kinds = set()
        for bid, pname in self.targets:
            block = d.graph.block(bid)
            if pname not in block.spec.params:
                raise GraphError(f"{block.name} has no parameter {pname!r}.")
            kinds.add(type(block.spec.params[pname]))
        if len(kinds) > 1:
            raise GraphError(
                "One parameter can only set settings of the same kind (all whole numbers, say)."
            )
        d.params[self.name] = DefinitionParam(self.name, self.targets, self.doc)
        d.touch()
        value = d.param_decl(self.name).default
        for g, bid in uses_anywhere(d.library, d.name):
            g.set_params(bid, {self.name: value})

    def undo(self, graph: Graph | None = None) -> None:
        _drop_param(self.definition, self.name)


class RemoveParam(Command):
    """Remove a per-use parameter: every use then runs with the definition's own value."""

    def __init__(self, definition: Definition, name: str) -> None:
        self.definition, self.name = definition, name
        self.text = f"Remove parameter {name} from {definition.name}"
        self._param: DefinitionParam | None = None
        self._values: list[tuple[Graph, str, Any]] = []

    def do(self, graph: Graph | None = None) -> None:
        d = self.definition
        if self.name not in d.params:
            raise GraphError(f"{d.name} has no parameter called {self.name}.")
        self._param = d.params[self.name]
        self._values = [
            (g, bid, g.blocks[bid].params.get(self.name))
            for g, bid in uses_anywhere(d.library, d.name)
        ]
        _drop_param(d, self.name)

    def undo(self, graph: Graph | None = None) -> None:
        d = self.definition
        d.params[self.name] = self._param
        d.touch()
        for g, bid, value in self._values:
            g.set_params(bid, {self.name: value})


def _drop_param(d: Definition, name: str) -> None:
    del d.params[name]
    d.touch()
    for g, bid in uses_anywhere(d.library, d.name):
        if name in g.blocks[bid].params:
            _Replace(bid, d.type_id, drop=(name,)).do(g)
