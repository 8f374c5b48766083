"""Shapes, counts and problems of a whole graph, kept up to date incrementally.

``Analysis`` listens to the graph's events and, on :meth:`refresh`, re-evaluates only the
blocks an edit can have changed: the edited block, then its successors as long as their
inputs actually change (an edit that leaves a block's output shape alone stops there).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

from studio.blocks.registry import ROLE_INPUT, ROLE_OUTPUT
from studio.compiler.shapes import UNKNOWN, BlockInfo, evaluate_block
from studio.graph.model import Block, Edge, Graph
from studio.graph.validation import Diagnostic, validate


@dataclass(frozen=True)
class Totals:
    params: int
    trainable: int
    size_bytes: int
    macs: int

    @property
    def frozen(self) -> int:
        return self.params - self.trainable

    @property
    def size_mb(self) -> float:
        return self.size_bytes / 1e6


class Analysis:
    def __init__(self, graph: Graph, listen: bool = True) -> None:
        self.graph = graph
        self.info: dict[str, BlockInfo] = {}
        self.diagnostics: list[Diagnostic] = []
        self._dirty: set[str] | None = None  # None: everything
        self._order: list[str] | None = None
        self._listening = listen
        if listen:
            ev = graph.events
            ev.block_added.connect(self._on_block_added)
            ev.block_removed.connect(self._on_block_removed)
            ev.block_changed.connect(self._on_block_changed)
            ev.edge_added.connect(self._on_edge)
            ev.edge_removed.connect(self._on_edge)
        self.refresh()

    def close(self) -> None:
        if self._listening:
            ev = self.graph.events
            ev.block_added.disconnect(self._on_block_added)
            ev.block_removed.disconnect(self._on_block_removed)
            ev.block_changed.disconnect(self._on_block_changed)
            ev.edge_added.disconnect(self._on_edge)
            ev.edge_removed.disconnect(self._on_edge)
            self._listening = False

    def invalidate(self) -> None:
        """Re-evaluate every block on the next refresh (e.g. after the user trusted code)."""
        self._dirty = None

    # ----------------------------------------------------------------- events
    def _mark(self, block_id: str) -> None:
        if self._dirty is not None:
            self._dirty.add(block_id)

    def _on_block_added(self, block: Block) -> None:
        self._order = None
        self._mark(block.id)

    def _on_block_removed(self, block: Block) -> None:
        self._order = None
        self.info.pop(block.id, None)

    def _on_block_changed(self, block: Block, what: str) -> None:
        if what in ("params", "frozen"):
            self._mark(block.id)

    def _on_edge(self, edge: Edge) -> None:
        self._order = None
        self._mark(edge.dst)

    # ---------------------------------------------------------------- compute
    def refresh(self) -> set[str]:
        """Bring shapes and diagnostics up to date; returns the ids whose info changed."""
        g = self.graph
        if self._order is None or not self._listening:
            order, cyclic = g.topological_order()
            self._order = order + cyclic
            self._pos = {bid: i for i, bid in enumerate(self._order)}
            self._preds: dict[str, list[Edge]] = {bid: [] for bid in g.blocks}
            self._succ: dict[str, list[str]] = {bid: [] for bid in g.blocks}
            for e in g.edges.values():
                self._preds[e.dst].append(e)
                self._succ[e.src].append(e.dst)
            self._cyclic = set(cyclic)
        dirty = set(g.blocks) if (self._dirty is None or not self._listening) else self._dirty
        self._dirty = set()
        heap = [self._pos[b] for b in dirty if b in self._pos]
        heapq.heapify(heap)
        queued = set(heap)
        changed: set[str] = set()
        while heap:
            pos = heapq.heappop(heap)
            bid = self._order[pos]
            block = g.blocks[bid]
            new = self._evaluate(block)
            old = self.info.get(bid)
            if old != new:
                self.info[bid] = new
                changed.add(bid)
                if old is None or old.out_shapes != new.out_shapes or old.out_dtypes != new.out_dtypes:
                    for nxt in self._succ[bid]:
                        p = self._pos[nxt]
                        if p not in queued:
                            queued.add(p)
                            heapq.heappush(heap, p)
        self.diagnostics = validate(g) + [
            Diagnostic(info.error, block_id=bid) for bid, info in self.info.items() if info.error
        ]
        return changed

    def _evaluate(self, block: Block) -> BlockInfo:
        if block.id in self._cyclic:
            return UNKNOWN
        spec = block.spec
        ports = block.input_ports()
        by_port: dict[str, Edge] = {}
        for e in self._preds[block.id]:
            by_port.setdefault(e.dst_port, e)
        in_specs = []
        for port in ports:
            e = by_port.get(port.name)
            in_specs.append(self._value_spec(e) if e is not None else None)
        return evaluate_block(spec, block.params, tuple(in_specs), block.frozen)

    def _value_spec(self, e: Edge):
        src = self.graph.blocks[e.src]
        info = self.info.get(e.src)
        if info is None:
            return None
        idx = [p.name for p in src.output_ports()].index(e.src_port)
        if idx >= len(info.out_shapes) or info.out_shapes[idx] is None:
            return None
        return (info.out_shapes[idx], info.out_dtypes[idx])

    # ---------------------------------------------------------------- queries
    def edge_shape(self, edge: Edge):
        spec = self._value_spec(edge)
        return spec[0] if spec else None

    def edge_spec(self, edge: Edge):
        """``(shape, dtype)`` of the value on ``edge`` (None when unknown)."""
        return self._value_spec(edge)

    def block_info(self, block_id: str) -> BlockInfo:
        return self.info.get(block_id, UNKNOWN)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.is_error]

    @property
    def ok(self) -> bool:
        return not self.errors

    def totals(self) -> Totals:
        params = trainable = size = macs = 0
        for info in self.info.values():
            params += info.params
            trainable += info.trainable
            size += info.size_bytes
            macs += info.macs or 0
        return Totals(params, trainable, size, macs)

    def inputs(self) -> list[Block]:
        return [b for b in self.graph.blocks.values() if b.spec.role == ROLE_INPUT]

    def outputs(self) -> list[Block]:
        return [b for b in self.graph.blocks.values() if b.spec.role == ROLE_OUTPUT]


def analyze(graph: Graph) -> Analysis:
    """A one-off analysis (no event subscription)."""
    return Analysis(graph, listen=False)
