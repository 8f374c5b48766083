"""The graph of blocks and edges. Plain Python: no Qt, no torch.

Mutating methods keep the graph consistent and emit :class:`GraphEvents`. Views never
call them directly: they push commands (:mod:`studio.graph.commands`) so every edit can
be undone.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from studio.blocks.registry import ROLE_LAYER, BlockType, Port, get_block_type
from studio.blocks.text import short_repr
from studio.graph.errors import GraphError
from studio.graph.events import GraphEvents
from studio.graph.modules import Library
from studio.graph.serialize import graph_from_dict, library_from_list
from studio.graph.topology import Topology

MAX_NAME_LENGTH = 120


@dataclass(eq=False)
class Block:
    id: str
    type: str
    name: str
    params: dict[str, Any]
    position: tuple[float, float] = (0.0, 0.0)
    frozen: bool = False
    #: resolves ``type`` (module definitions live in the project's library)
    library: Library | None = field(default=None, repr=False, compare=False)

    @property
    def spec(self) -> BlockType:
        if self.library is not None:
            return self.library.spec(self.type)
        return get_block_type(self.type)

    def input_ports(self) -> tuple[Port, ...]:
        return self.spec.input_ports(self.params)

    def output_ports(self) -> tuple[Port, ...]:
        return self.spec.output_ports(self.params)

    def to_dict(self) -> dict[str, Any]:
        spec = self.spec
        d: dict[str, Any] = {
            "id": self.id,
            "type": self.type,
            "version": spec.version,
            "name": self.name,
            "params": spec.params_to_json(self.params),
            "position": [round(self.position[0], 2), round(self.position[1], 2)],
        }
        if self.frozen:
            d["frozen"] = True
        return d

    def __repr__(self) -> str:
        return f"Block({self.id!r}, {self.type!r}, name={self.name!r})"


@dataclass(frozen=True)
class Edge:
    id: str
    src: str
    src_port: str
    dst: str
    dst_port: str

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "from": [self.src, self.src_port], "to": [self.dst, self.dst_port]}


@dataclass(eq=False)
class Graph:
    """Blocks (in creation order) and the edges between their ports.

    ``library`` holds the project's module definitions (shared with their graphs); ``owner``
    is the :class:`~studio.graph.modules.Definition` this graph is the inside of (None for the
    model itself)."""

    blocks: dict[str, Block] = field(default_factory=dict)
    edges: dict[str, Edge] = field(default_factory=dict)
    library: Library = None  # type: ignore[assignment]
    owner: Any = None

    def __post_init__(self) -> None:
        if self.library is None:
            self.library = Library(graph_type=Graph)
        if self.owner is None:
            self.library.root = self
        self.events = GraphEvents()
        self._ids = itertools.count(1)
        # dst (block, port) -> edge id; kept in step with self.edges.
        self._incoming: dict[tuple[str, str], str] = {}
        # block id -> the wires out of it / into it, in the order they were added: an edit looks
        # at its own block's wires, not at every wire of the graph
        self._out: dict[str, list[Edge]] = {bid: [] for bid in self.blocks}
        self._in: dict[str, list[Edge]] = {bid: [] for bid in self.blocks}
        for e in self.edges.values():
            self._out[e.src].append(e)
            self._in[e.dst].append(e)
        # edge id -> a number in the graph's order of wires (the order of addition, unless undo
        # put a wire back in its place: then all are numbered again)
        self._edge_seq: dict[str, int] = {eid: i for i, eid in enumerate(self.edges)}
        self._edge_next = len(self._edge_seq)
        # name -> how many blocks have it, and per name stem a number below which all are taken:
        # a new block's name costs what its own stem needs, not a look at every name
        self._names: dict[str, int] = {}
        for b in self.blocks.values():
            self._names[b.name] = self._names.get(b.name, 0) + 1
        self._free_from: dict[str, int] = {}
        self._topology = Topology(self)

    # ------------------------------------------------------------------ queries
    def __contains__(self, block_id: object) -> bool:
        return block_id in self.blocks

    def block(self, block_id: str) -> Block:
        try:
            return self.blocks[block_id]
        except KeyError:
            raise GraphError(f"There is no block with id {short_repr(block_id)}.") from None

    def block_by_name(self, name: str) -> Block | None:
        for b in self.blocks.values():
            if b.name == name:
                return b
        return None

    def names(self) -> set[str]:
        return set(self._names)

    def edge_into(self, block_id: str, port: str) -> Edge | None:
        eid = self._incoming.get((block_id, port))
        return self.edges[eid] if eid is not None else None

    def outgoing(self, block_id: str) -> list[Edge]:
        return self._in_edge_order(self._out.get(block_id, []))

    def edges_of(self, block_id: str) -> list[Edge]:
        if block_id not in self._out:
            return []
        loops = [e for e in self._out[block_id] if e.dst == block_id]
        return self._in_edge_order(
            self._out[block_id] + [e for e in self._in[block_id] if e not in loops]
        )

    def wires_into(self, block_id: str) -> list[Edge]:
        """The wires into ``block_id``, in the graph's order of wires."""
        return self._in_edge_order(self._in.get(block_id, []))

    def _in_edge_order(self, edges: list[Edge]) -> list[Edge]:
        if len(edges) < 2:
            return list(edges)
        return sorted(edges, key=lambda e: self._edge_seq[e.id])

    def successor_ids(self, block_id: str) -> list[str]:
        """The blocks ``block_id``'s wires go to (in no particular order; one per wire)."""
        return [e.dst for e in self._out[block_id]]

    def topology(self) -> Topology:
        """A topological order kept up to date edit by edit (see :mod:`studio.graph.topology`)."""
        return self._topology

    def successors(self) -> dict[str, list[str]]:
        succ: dict[str, list[str]] = {bid: [] for bid in self.blocks}
        for e in self.edges.values():
            succ[e.src].append(e.dst)
        return succ

    def topological_order(self) -> tuple[list[str], list[str]]:
        """Kahn's algorithm in creation order. Returns ``(order, blocks_in_cycles)``."""
        indeg = dict.fromkeys(self.blocks, 0)
        succ = self.successors()
        for e in self.edges.values():
            indeg[e.dst] += 1
        ready = [bid for bid, d in indeg.items() if d == 0]
        ready.reverse()
        order: list[str] = []
        while ready:
            bid = ready.pop()
            order.append(bid)
            for nxt in reversed(succ[bid]):
                indeg[nxt] -= 1
                if indeg[nxt] == 0:
                    ready.append(nxt)
        if len(order) == len(self.blocks):
            return order, []
        done = set(order)
        return order, [bid for bid in self.blocks if bid not in done]

    def downstream(self, block_ids: Iterable[str]) -> set[str]:
        """The given blocks and everything reachable from them."""
        out = self._out
        seen: set[str] = set()
        stack = [b for b in block_ids if b in self.blocks]
        while stack:
            bid = stack.pop()
            if bid in seen:
                continue
            seen.add(bid)
            stack.extend(e.dst for e in out[bid])
        return seen

    def would_cycle(self, src: str, dst: str) -> bool:
        return self._topology.reaches(dst, src)

    def unique_name(self, base: str, taken: set[str] | None = None, numbered: bool = False) -> str:
        """``base`` if free, else ``base`` with the next free number (``fc1``, ``fc2``).

        ``numbered`` always adds a number (new layers are ``fc1``, ``fc2``...)."""
        own = taken is None
        taken = self._names if own else taken
        base = base.strip() or "block"
        if base not in taken and not numbered:
            return base
        stem = re.sub(r"_?\d+$", "", base) or base
        for i in itertools.count(self._free_from.get(stem, 1) if own else 1):
            candidate = f"{stem}{i}" if stem[-1:].isalpha() else f"{stem}_{i}"
            if candidate not in taken:
                if own:
                    self._free_from[stem] = i  # every number below is taken
                return candidate
        raise AssertionError("unreachable")

    def _name_taken(self, name: str) -> None:
        self._names[name] = self._names.get(name, 0) + 1

    def _name_freed(self, name: str) -> None:
        left = self._names.pop(name) - 1
        if left:
            self._names[name] = left
        number = re.search(r"\d+$", name)
        if number:  # that number of its stem is free again
            stem = re.sub(r"_?\d+$", "", name) or name
            if stem in self._free_from:
                self._free_from[stem] = min(self._free_from[stem], int(number.group()))

    def new_id(self, prefix: str = "b") -> str:
        while True:
            candidate = f"{prefix}{next(self._ids)}"
            if candidate not in self.blocks and candidate not in self.edges:
                return candidate

    def can_connect(self, src: str, src_port: str, dst: str, dst_port: str) -> str | None:
        """Why the connection is refused, in words for the user; ``None`` when it is fine."""
        if src not in self.blocks or dst not in self.blocks:
            return "Both ends of a wire must be blocks on the canvas."
        s, d = self.blocks[src], self.blocks[dst]
        if src_port not in {p.name for p in s.output_ports()}:
            return f"{s.name!r} has no output called {short_repr(src_port)}."
        if dst_port not in {p.name for p in d.input_ports()}:
            return f"{d.name!r} has no input called {short_repr(dst_port)}."
        if src == dst:
            return "A block cannot feed itself: that would be a loop."
        if self.would_cycle(src, dst):
            return (
                f"Connecting {s.name!r} to {d.name!r} would make a loop "
                "(data must flow one way, from inputs to outputs)."
            )
        if (dst, dst_port) in self._incoming:
            return (
                f"Input {short_repr(dst_port)} of {d.name!r} already has a wire; "
                "remove it first (an input takes one wire; use Add or Concatenate to merge)."
            )
        return None

    def _lenient_ok(self, src: str, src_port: str, dst: str, dst_port: str) -> bool:
        if src not in self.blocks or dst not in self.blocks:
            return False
        return src_port in {p.name for p in self.blocks[src].output_ports()} and dst_port in {
            p.name for p in self.blocks[dst].input_ports()
        }

    # ---------------------------------------------------------------- mutations
    def add_block(
        self,
        type_id: str,
        *,
        name: str | None = None,
        params: dict[str, Any] | None = None,
        position: tuple[float, float] = (0.0, 0.0),
        frozen: bool = False,
        id: str | None = None,
        index: int | None = None,
    ) -> Block:
        spec = self.library.spec(type_id)
        self.library.check_use(self.owner, spec.id)
        full = spec.coerce_params(params or {})
        if name is None:
            name = self.unique_name(spec.default_name, numbered=spec.role == ROLE_LAYER)
        else:
            self._check_name(name)
        if id is None:
            id = self.new_id()
        elif id in self.blocks:
            raise GraphError(f"Block id {short_repr(id)} is already used.")
        block = Block(
            id=id,
            type=spec.id,
            name=name,
            params=full,
            position=(float(position[0]), float(position[1])),
            frozen=bool(frozen),
            library=self.library,
        )
        if index is None or index >= len(self.blocks):
            self.blocks[id] = block
        else:
            items = list(self.blocks.items())
            items.insert(max(index, 0), (id, block))
            self.blocks = dict(items)
        self._out[id], self._in[id] = [], []
        self._name_taken(name)
        self._topology.block_added(id)
        self.events.block_added.emit(block)
        self.events.changed.emit()
        return block

    def remove_block(self, block_id: str) -> Block:
        block = self.block(block_id)
        for e in self.edges_of(block_id):
            self.disconnect(e.id, _notify=False)
        del self.blocks[block_id]
        del self._out[block_id], self._in[block_id]
        self._name_freed(block.name)
        self._topology.block_removed(block_id)
        self.events.block_removed.emit(block)
        self.events.changed.emit()
        return block

    def connect(
        self,
        src: str,
        src_port: str,
        dst: str,
        dst_port: str,
        *,
        id: str | None = None,
        strict: bool = True,
    ) -> Edge:
        """Add a wire. ``strict=False`` (loading a file) keeps a second wire into an input or a
        loop, so nothing in the file is lost; validation then reports them."""
        if strict:
            reason = self.can_connect(src, src_port, dst, dst_port)
            if reason:
                raise GraphError(reason)
        elif not self._lenient_ok(src, src_port, dst, dst_port):
            raise GraphError(self.can_connect(src, src_port, dst, dst_port) or "bad wire")
        if id is None:
            id = self.new_id("e")
        elif id in self.edges:
            raise GraphError(f"Edge id {short_repr(id)} is already used.")
        edge = Edge(id, src, src_port, dst, dst_port)
        self.edges[id] = edge
        self._incoming.setdefault((dst, dst_port), id)
        self._out[src].append(edge)
        self._in[dst].append(edge)
        self._edge_seq[id] = self._edge_next
        self._edge_next += 1
        self._topology.edge_added(src, dst)
        self.events.edge_added.emit(edge)
        self.events.changed.emit()
        return edge

    def insert_edge(self, edge: Edge, index: int | None = None) -> Edge:
        """Re-add an edge exactly as it was (used by undo)."""
        self.connect(edge.src, edge.src_port, edge.dst, edge.dst_port, id=edge.id)
        if index is not None and index < len(self.edges) - 1:
            items = list(self.edges.items())
            last = items.pop()
            items.insert(index, last)
            self.edges = dict(items)
            self._edge_seq = {eid: i for i, eid in enumerate(self.edges)}
        return edge

    def disconnect(self, edge_id: str, *, _notify: bool = True) -> Edge:
        try:
            edge = self.edges.pop(edge_id)
        except KeyError:
            raise GraphError(f"There is no wire with id {short_repr(edge_id)}.") from None
        self._out[edge.src].remove(edge)
        self._in[edge.dst].remove(edge)
        del self._edge_seq[edge_id]
        self._topology.edge_removed()
        key = (edge.dst, edge.dst_port)
        if self._incoming.get(key) == edge_id:
            del self._incoming[key]
            for other in self.wires_into(edge.dst):
                if other.dst_port == edge.dst_port:
                    self._incoming[key] = other.id
                    break
        self.events.edge_removed.emit(edge)
        if _notify:
            self.events.changed.emit()
        return edge

    def set_params(self, block_id: str, params: dict[str, Any]) -> dict[str, Any]:
        """Set some parameters (checked and converted); returns the previous values."""
        block = self.block(block_id)
        merged = block.spec.coerce_params({**block.params, **params})
        valid_inputs = {p.name for p in block.spec.input_ports(merged)}
        valid_outputs = {p.name for p in block.spec.output_ports(merged)}
        kept = valid_inputs >= {p.name for p in block.input_ports()} and valid_outputs >= {
            p.name for p in block.output_ports()
        }  # no port goes away (the usual edit): no wire to look at, whatever the graph's size
        for e in () if kept else self.edges_of(block_id):
            if (e.dst == block_id and e.dst_port not in valid_inputs) or (
                e.src == block_id and e.src_port not in valid_outputs
            ):
                raise GraphError(
                    f"Remove the wire on port {e.dst_port if e.dst == block_id else e.src_port!r} "
                    "first: the new setting removes that port."
                )
        old = dict(block.params)
        block.params = merged
        self.events.block_changed.emit(block, "params")
        self.events.changed.emit()
        return old

    def rename(self, block_id: str, name: str) -> str:
        block = self.block(block_id)
        if name == block.name:
            return name
        self._check_name(name)
        old, block.name = block.name, name
        self._name_freed(old)
        self._name_taken(name)
        self.events.block_changed.emit(block, "name")
        self.events.changed.emit()
        return old

    def move(self, block_id: str, position: tuple[float, float]) -> tuple[float, float]:
        block = self.block(block_id)
        old, block.position = block.position, (float(position[0]), float(position[1]))
        self.events.block_changed.emit(block, "position")
        self.events.changed.emit()
        return old

    def set_frozen(self, block_id: str, frozen: bool) -> bool:
        block = self.block(block_id)
        old, block.frozen = block.frozen, bool(frozen)
        self.events.block_changed.emit(block, "frozen")
        self.events.changed.emit()
        return old

    def _check_name(self, name: str) -> None:
        if not isinstance(name, str) or not name.strip():
            raise GraphError("A block needs a name.")
        if len(name) > MAX_NAME_LENGTH:
            raise GraphError(f"A block name can have at most {MAX_NAME_LENGTH} characters.")
        if name in self._names:
            raise GraphError(
                f"Another block is already called {short_repr(name)}; names must be unique."
            )

    # ------------------------------------------------------------ (de)serialise
    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {}
        if self.owner is None and len(self.library):
            d["modules"] = self.library.to_list()
        d["blocks"] = [b.to_dict() for b in self.blocks.values()]
        d["edges"] = [e.to_dict() for e in self.edges.values()]
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Graph:
        """Build a graph from :meth:`to_dict` output. Raises GraphError/ParamError/KeyError/TypeError
        on bad data; :mod:`studio.graph.project` turns those into one clean message."""
        graph = cls()
        if isinstance(data, dict) and "modules" in data:
            library_from_list(graph.library, data["modules"])
        return graph_from_dict(graph, data)

    def copy(self) -> Graph:
        return Graph.from_dict(self.to_dict())

    def __iter__(self) -> Iterator[Block]:
        return iter(self.blocks.values())

    def __len__(self) -> int:
        return len(self.blocks)
