"""Shapes, counts and problems of a whole graph, kept up to date incrementally.

``Analysis`` listens to the graph's events and, on :meth:`refresh`, re-evaluates only the
blocks an edit can have changed: the edited block, then its successors as long as their
inputs actually change (an edit that leaves a block's output shape alone stops there). The
order it walks them in is the graph's kept topological order (:mod:`studio.graph.topology`), and
the totals are kept as running sums, so a wire or block edit costs what it changes, not a walk of
the whole graph (5,000 blocks: 91 ms a wire edit before, see ``benchmarks/graph_scale.py``).
"""

from __future__ import annotations

import heapq
import operator
from dataclasses import dataclass, field
from functools import partial
from itertools import compress
from typing import Any

from studio.blocks.registry import ROLE_INPUT, ROLE_OUTPUT
from studio.compiler.batch_check import batch_problems
from studio.compiler.fits import size_problems
from studio.compiler.pieces import Piece, find_pieces
from studio.compiler.shapes import (
    UNKNOWN,
    BlockInfo,
    InSpec,
    _freeze,
    evaluate_block,
    missing_input,
    unknown_answer,
)
from studio.compiler.ties import shared_info
from studio.graph.model import Block, Edge, Graph
from studio.graph.modules import Definition
from studio.graph.validation import Diagnostic, Validation, validate
from studio.trust import TrustPolicy, policy


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


@dataclass
class UseResult:
    """What a use of a module definition computes: its own info, and the analysis of the
    definition's graph for each repeated copy (in the order they run)."""

    info: BlockInfo
    copies: list[Analysis] = field(default_factory=list)


_NO_INPUT = (None,)  # the inputs of a one-input block below a missing wire
_KEPT = 4  # how many refreshes' records are kept to put back (see _Undo)
_error = operator.attrgetter("error")
_known = partial(operator.is_not, None)  # (``None in`` infos calls each one's __eq__)
_params, _trainable, _size, _macs = (
    operator.attrgetter(name) for name in ("params", "trainable", "size_bytes", "macs")
)


class Analysis:
    """Shapes, counts and problems of ``graph``.

    For the inside of a module definition, ``inputs`` gives the shapes and dtypes its Input
    blocks receive (from a use; default: each Input block's own shape) and ``values`` the
    use's per-use parameters; ``memo`` shares results between the uses of a definition."""

    def __init__(
        self,
        graph: Graph,
        listen: bool = True,
        *,
        inputs: tuple[InSpec, ...] | None = None,
        values: dict[str, Any] | None = None,
        frozen: bool = False,
        memo: dict | None = None,
        trust: TrustPolicy | None = None,
    ) -> None:
        self.graph = graph
        #: which outside code may run while inferring (the caller's; default: the session's
        #: policy when the analysis is made, read once here and never again)
        self.trust = trust if trust is not None else policy()
        self.info: dict[str, BlockInfo] = {}
        self.diagnostics: list[Diagnostic] = []
        #: use block id -> what that use of a module definition computes
        self.use_results: dict[str, UseResult] = {}
        self._inputs = inputs
        #: a use's per-use parameter values (inside a module definition)
        self.values = dict(values or {})
        self._frozen = frozen
        owner = graph.owner
        self._overrides = owner.apply(values or {}) if isinstance(owner, Definition) else {}
        self._memo: dict = {} if memo is None else memo
        self._dirty: set[str] | None = None  # None: everything
        self._failed: set[str] = set()  # blocks whose info holds an error
        self._order: list[str] | None = None  # Kahn's order (a full walk), None: find again
        self._sums = [0, 0, 0, 0]  # params, trainable, bytes, macs of every block's info
        self._outputs: list[Block] | None = None  # the Output blocks, None: find again
        #: the wires removed (-1) and added (1) since the last refresh, as (sign, src, src port,
        #: dst, dst port); None: something else changed too
        self._wiring: list[tuple] | None = []
        #: what the last refreshes that changed only wires overwrote (the newest last), each to
        #: put back when a later refresh undoes its wiring (see _Undo)
        self._kept: list[_Undo] = []
        self._undo: _Undo | None = None  # the record the refresh under way makes
        #: blocks that make a parameter another's tensor (Tie weights), evaluated last
        self._sharing = {b.id for b in graph.blocks.values() if b.spec.shares is not None}
        self._specs: dict[str, Any] = {}  # type id -> declaration (see _spec)
        #: block id -> how it answers below an unknown (see _flood_kind); dropped on its edits
        self._kinds: dict[str, Any] = {}
        #: cut id -> the piece below it, block id -> the piece it lies in (see _flood and
        #: studio.compiler.pieces); found after a full analysis, dropped piece by piece by edits
        self._pieces: dict[str, Piece] = {}
        self._piece_of: dict[str, Piece] = {}
        #: block id -> (its inputs, its answer) as last evaluated, until its parameters change: a
        #: block evaluated again with the inputs it had is not inferred again (a wire put back
        #: when no kept record serves, see _rebase)
        self._last: dict[str, tuple] = {}
        self._listening = listen
        #: the structural checks, kept up to date by the graph's events (validate() when not listening)
        self._validation = Validation(graph) if listen else None
        if listen:
            ev = graph.events
            ev.block_added.connect(self._on_block_added)
            ev.block_removed.connect(self._on_block_removed)
            ev.block_changed.connect(self._on_block_changed)
            ev.edge_added.connect(self._on_edge_added)
            ev.edge_removed.connect(self._on_edge_removed)
            graph.library.changed.connect(self._on_definition)
        self.refresh()

    def close(self) -> None:
        if self._listening:
            ev = self.graph.events
            ev.block_added.disconnect(self._on_block_added)
            ev.block_removed.disconnect(self._on_block_removed)
            ev.block_changed.disconnect(self._on_block_changed)
            ev.edge_added.disconnect(self._on_edge_added)
            ev.edge_removed.disconnect(self._on_edge_removed)
            self.graph.library.changed.disconnect(self._on_definition)
            self._validation.close()
            self._validation = None
            self._listening = False

    def invalidate(self) -> None:
        """Re-evaluate every block on the next refresh."""
        self._dirty = None
        self._memo.clear()
        self._wiring = None
        self._kinds.clear()
        self._pieces.clear()
        self._last.clear()
        self._kept = []

    def set_trust(self, trust: TrustPolicy) -> None:
        """Infer again under a new policy (the user trusted a file or a repository)."""
        if trust != self.trust:
            self.trust = trust
            self.invalidate()

    # ----------------------------------------------------------------- events
    def _mark(self, block_id: str) -> None:
        self._kinds.pop(block_id, None)
        self._unpiece(block_id)
        if self._dirty is not None:
            self._dirty.add(block_id)

    def _on_block_added(self, block: Block) -> None:
        self._order = None
        self._wiring = None
        self._mark(block.id)
        if _is_output(block):
            self._outputs = None
        if block.spec.shares is not None:
            self._sharing.add(block.id)

    def _on_block_removed(self, block: Block) -> None:
        self._order = None
        if _is_output(block):
            self._outputs = None
        self._sharing.discard(block.id)
        self._wiring = None
        self._count(self.info.pop(block.id, None), -1)
        self._failed.discard(block.id)
        self._kinds.pop(block.id, None)
        self._unpiece(block.id)
        self._pieces.pop(block.id, None)
        self._last.pop(block.id, None)
        for kept in self._kept:
            kept.touched.add(block.id)

    def _on_block_changed(self, block: Block, what: str) -> None:
        if what in ("params", "frozen"):
            self._last.pop(block.id, None)
            self._mark(block.id)
            self._wiring = None

    def _on_edge_added(self, edge: Edge) -> None:
        self._on_edge(edge, 1)

    def _on_edge_removed(self, edge: Edge) -> None:
        self._on_edge(edge, -1)

    def _on_edge(self, edge: Edge, sign: int) -> None:
        self._order = None
        self._mark(edge.dst)
        self._unpiece(edge.src)  # (its wires out changed: the piece it lies in, or heads)
        self._pieces.pop(edge.src, None)
        if self._wiring is not None:
            self._wiring.append((sign, edge.src, edge.src_port, edge.dst, edge.dst_port))

    def _unpiece(self, block_id: str) -> None:
        piece = self._piece_of.pop(block_id, None)
        if piece is not None and self._pieces.get(piece.entry) is piece:
            del self._pieces[piece.entry]

    def _on_definition(self, defn: Definition) -> None:
        self._wiring = None
        for b in self.graph.blocks.values():
            if b.type == defn.type_id:
                self._mark(b.id)

    # ---------------------------------------------------------------- compute
    def _walk(self) -> None:
        """Kahn's order of the whole graph, and each block's wires (a graph with a loop, a
        one-off analysis, or the order of several problems)."""
        g = self.graph
        order, cyclic = g.topological_order()
        self._order = order + cyclic
        self._kahn = {bid: i for i, bid in enumerate(self._order)}
        self._preds: dict[str, list[Edge]] = {bid: [] for bid in g.blocks}
        self._succ: dict[str, list[str]] = {bid: [] for bid in g.blocks}
        for e in g.edges.values():
            self._preds[e.dst].append(e)
            self._succ[e.src].append(e.dst)
        self._cyclic = set(cyclic)

    def refresh(self) -> set[str]:
        """Bring shapes and diagnostics up to date; returns the ids whose info changed."""
        g = self.graph
        topology = g.topology() if self._listening else None
        whole = topology is None or topology.cyclic
        if whole:
            if self._order is None or not self._listening:
                self._walk()
            pos, self._wires_in = self._kahn, self._preds.__getitem__
            self._wires_raw = self._wires_in  # in the graph's order of wires already
            succ = self._succ.__getitem__
        else:  # the kept order and the graph's own wires: nothing here grows with the graph
            pos, self._wires_in, self._cyclic = topology.positions, g.wires_into, ()
            self._wires_raw = g._in.__getitem__  # in no order: sorted only for a doubled wire
            succ = g.successor_ids
        full = self._dirty is None or not self._listening
        dirty = set(g.blocks) if full else self._dirty
        if full:
            self._pieces.clear()
        if not self._listening:
            self._kinds.clear()
            self._last.clear()
        self._dirty = set()
        wiring, self._wiring = self._wiring, []
        kept, self._kept, self._undo = self._kept, [], None
        if whole or self.use_results or self._sharing:
            kept = []  # (their results are kept beside the infos: not put back)
        match = next((k for k in reversed(kept) if k.undone_by(wiring, g)), None)
        if match is not None and not match.touched:  # nothing changed since: all as it was
            changed = self._put_back(match, wiring)
        elif match is not None:
            changed = self._rebase(match, dirty, pos, succ, wiring)
        else:
            changed = self._propagate(dirty, pos, succ, wiring if not whole else None)
        for bid in self._sharing:  # after the blocks whose tensor they name, every time
            old = self.info.get(bid)
            if old is None or old.error:  # its own check failed: that is what it shows
                continue
            new = shared_info(self, g.blocks[bid].spec.shares(self.params_of(g.blocks[bid])))
            if old != new:
                self._count(old, -1)
                self._count(new, 1)
                self.info[bid] = new
                changed.add(bid)
        self._keep(kept, match, dirty, changed)
        if full and self._listening and not whole and not self._overrides:
            self._pieces, self._piece_of = find_pieces(
                sorted(pos, key=pos.__getitem__), g._in, g._out, self._kinds
            )
        structure = self._validation.diagnostics() if self._validation is not None else validate(g)
        failed = [bid for bid in self._failed if bid in self.info]
        if len(failed) > 1:  # in the order the blocks run (Kahn's, as a full analysis gives)
            if self._order is None:
                self._walk()
            failed.sort(key=lambda b: self._kahn.get(b, len(self._kahn)))
        self.diagnostics = structure + [
            Diagnostic(self.info[bid].error, block_id=bid) for bid in failed
        ]
        if g.owner is None and self._inputs is None:  # the whole model: does it fit at all?
            t = self.totals()
            self.diagnostics += size_problems(t.params, t.size_bytes) + batch_problems(self)
        return changed

    def _propagate(
        self, dirty: set[str], pos, succ, wiring: list | None, overwritten: tuple | None = None
    ) -> set[str]:
        """Evaluate the dirty blocks in order, then each block whose inputs changed; returns the
        ids whose info changed. With ``wiring`` (only wires changed), what it overwrites is kept
        to put back if a later refresh undoes those wires; ``overwritten`` (what :meth:`_rebase`
        put back, and the totals and failed blocks before it) is part of that."""
        heap = [(pos[b], b) for b in dirty if b in pos]
        heapq.heapify(heap)
        queued = {b for _, b in heap}
        changed: set[str] = set()
        info, blocks, failed, count = self.info, self.graph.blocks, self._failed, self._count
        # (not with module uses or Tie weights: their results are kept beside the infos)
        before = {} if wiring and not self.use_results and not self._sharing else None
        if before is not None:
            if overwritten is not None:
                before, sums, failed_before = overwritten
            else:
                sums, failed_before = list(self._sums), set(failed)
        pop, push = heapq.heappop, heapq.heappush
        flood = not self._cyclic and not self._overrides
        while heap:
            _, bid = pop(heap)
            new = self._evaluate(blocks[bid])
            old = info.get(bid)
            if old is new or (old is not None and old.out_shapes == new.out_shapes and old == new):
                continue
            if old is not None and (old.params or old.size_bytes or old.macs):
                count(old, -1)
            if new.params or new.size_bytes or new.macs:
                count(new, 1)
            info[bid] = new
            changed.add(bid)
            if before is not None:
                before.setdefault(bid, old)  # (a merge the flood answered may come again)
            if new.error:
                failed.add(bid)
            elif failed:
                failed.discard(bid)
            if old is None or old.out_shapes != new.out_shapes or old.out_dtypes != new.out_dtypes:
                if flood and new.out_shapes and not new.error and not any(new.out_shapes):
                    self._flood(bid, queued, changed, before, lambda b: push(heap, (pos[b], b)))
                    continue
                for nxt in succ(bid):
                    if nxt not in queued:
                        queued.add(nxt)
                        push(heap, (pos[nxt], nxt))
        if before and all(map(_known, before.values())) and not self.use_results:
            self._undo = _Undo(tuple(wiring), before, sums, failed_before)
        return changed

    def _flood(self, bid: str, queued: set, changed: set, before: dict | None, later) -> None:
        """``bid``'s outputs just became unknown: so do those of every block below it fed
        through a required input, found depth first without the ordered queue; any other block
        below goes to ``later`` (the queue). The same answers the queue gives (what
        ``_evaluate`` gives). A merge's answer names its other inputs' shapes, so merges are
        answered after the walk, once every block above them that goes unknown has; one whose
        other input the queue changes after this is evaluated again by the queue (it is not
        marked queued). Each block's way of answering is kept (``_kinds``), so a block costs a
        few dictionary look-ups: 2,800 blocks below a wire removed mid-chain in
        benchmarks/graph_scale.py (560 of them merges) took 15 ms idle with merges queued and
        each answer looked up afresh. A cut met takes the plain piece below it whole (three
        lists, see :mod:`studio.compiler.pieces`), then the next cut's: the first wire removed
        mid-chain there walked 2,200 blocks one by one (5.7 ms idle, 15 ms under load)."""
        info, kinds, kind_of = self.info, self._kinds, self._flood_kind
        out = self.graph._out
        walk = [bid]  # the blocks whose outputs go unknown, as met (it grows as it is read)
        merges: dict[str, tuple] = {}  # the merges met (answered after the walk): their kinds
        # the one-input blocks met, their answers before and their unknown answers (each is fed
        # by one wire, so the walk meets it once; none was answered before in this refresh)
        hit: list[str] = []
        olds: list[BlockInfo | None] = []
        news: list[BlockInfo] = []
        met, kind_get, info_get, queue = walk.append, kinds.get, info.get, queued.add
        piece_get = self._pieces.get
        for above in walk:
            piece = piece_get(above)
            while piece is not None:  # a cut: the piece below it at once, then the next one
                before_piece = list(map(info_get, piece.plain))
                if any(map(operator.is_, before_piece, piece.unknowns)):
                    break  # partly unknown already: wire by wire, to stop where it is
                hit += piece.plain
                olds += before_piece
                news += piece.unknowns
                merges.update(piece.merges)
                above = piece.exit
                if above is None:
                    break
                piece = piece_get(above)
            if above is None:
                continue
            for e in out[above]:
                nxt = e.dst
                if nxt in queued:
                    continue
                kind = kind_get(nxt)
                if kind is None:
                    kind = kind_of(nxt)
                if kind.__class__ is not BlockInfo:  # a merge, or a block to evaluate
                    if nxt in merges:
                        continue
                    if kind is False or e.dst_port not in kind[0]:  # (an optional input)
                        queue(nxt)
                        later(nxt)
                        continue
                    merges[nxt] = kind
                else:
                    old = info_get(nxt)
                    if old is kind:  # unknown already: nothing below it changes
                        queue(nxt)
                        continue
                    hit.append(nxt)
                    olds.append(old)
                    news.append(kind)
                met(nxt)
        info.update(zip(hit, news))
        queued.update(hit)
        changed.update(hit)
        if before is not None:
            if before.keys().isdisjoint(hit):
                before.update(zip(hit, olds))
            else:  # (only after _rebase: what it put back keeps its own old answer)
                fresh = dict(zip(hit, olds))
                fresh.update(before)
                before.update(fresh)
        value, get = self._value_spec, info.get
        for nxt, (_, wired, n_out) in merges.items():
            shapes = []
            for e in wired:
                if e is None or e.src in merges:
                    shapes.append(None)
                    continue
                src = get(e.src)
                if src is not None and len(src.out_shapes) == 1:
                    shapes.append(src.out_shapes[0])
                else:
                    spec = value(e)
                    shapes.append(spec[0] if spec is not None else None)
            new = unknown_answer(tuple(shapes), n_out)
            old = get(nxt)
            if old is new:
                continue
            info[nxt] = new
            hit.append(nxt)
            olds.append(old)
            changed.add(nxt)
            if before is not None:
                before.setdefault(nxt, old)  # (the queue may have answered it before)
        known = list(filter(None, olds))  # the answers replaced leave the totals
        if known:  # (an unknown answer counts nothing)
            s = self._sums
            s[0] -= sum(map(_params, known))
            s[1] -= sum(map(_trainable, known))
            s[2] -= sum(map(_size, known))
            s[3] -= sum(filter(None, map(_macs, known)))
        if self._failed:
            self._failed.difference_update(hit)

    def _flood_kind(self, bid: str):
        """How a block answers when an input's outputs are all unknown, kept per block until its
        parameters or wires in change: its unknown answer (one input, fed by one wire); for a
        merge, whose answer names its other inputs' shapes, (its required inputs, the wire into
        each input or None, its number of outputs); or False: evaluate it (an Input or Output, a
        module use, an optional input, a doubled wire)."""
        block = self.graph.blocks[bid]
        spec = self._specs.get(block.type) or self._spec(block)
        params = block.params
        return self._kind(bid, spec, params, spec.input_ports(params), self._wires_raw(bid))

    def _kind(self, bid: str, spec, params: dict, ports: tuple, wires: list):
        """:meth:`_flood_kind` from what :meth:`_evaluate` has at hand (it keeps each block's,
        so the first wire removed in a graph finds them: it took 8-13 ms at 5,000 blocks, on a
        loaded machine, asking each of the 2,200 blocks below)."""
        kind = False
        if spec.definition is None and spec.role != ROLE_INPUT and spec.role != ROLE_OUTPUT:
            if len(ports) == 1:
                if len(wires) == 1 and wires[0].dst_port == ports[0].name:
                    kind = missing_input(spec, params, _NO_INPUT, ports) or False
            elif ports and len({e.dst_port for e in wires}) == len(wires):
                by_port = {e.dst_port: e for e in wires}
                kind = (
                    frozenset(p.name for p in ports if not p.optional),
                    tuple(by_port.get(p.name) for p in ports),  # each input's wire, or None
                    len(spec.output_ports(params)),
                )
        self._kinds[bid] = kind
        return kind

    def _put_back(self, undo: _Undo, wiring: list) -> set[str]:
        """The wires are as they were before ``undo``'s refresh, and nothing else changed since:
        so is every block's info. What it overwrites is kept in turn (the same wire removed
        again, or the put back undone: 2,200 blocks of 5,000 go unknown again in bulk)."""
        keys = undo.before.keys()
        self._undo = _Undo(
            tuple(wiring), dict(zip(keys, map(self.info.get, keys))), list(self._sums), self._failed
        )
        self.info.update(undo.before)
        self._sums[:] = undo.sums
        self._failed = set(undo.failed)
        return set(undo.before)

    def _rebase(self, undo: _Undo, dirty: set[str], pos, succ, wiring: list) -> set[str]:
        """The wires are as they were before ``undo``'s refresh, but other edits came between
        (a block added, a parameter changed): every block they changed or touched is in
        ``undo.touched``. Each other block of ``undo.before`` takes its answer from before (its
        inputs, parameters and wires are those it had then), and the touched blocks and those
        they feed are evaluated again from there, as after any edit. A wire put back mid-chain
        after a block was added elsewhere evaluated the 2,200 blocks below it again (13.5 ms
        idle at 5,000 blocks)."""
        info, old_info, g = self.info, undo.before, self.graph
        touched = undo.touched
        keys = list(old_info.keys() - touched)  # (a removed block is touched)
        olds = list(map(info.__getitem__, keys))
        news = list(map(old_info.__getitem__, keys))
        overwritten = (dict(zip(keys, olds)), list(self._sums), set(self._failed))
        info.update(zip(keys, news))
        s = self._sums
        for k, attr in enumerate((_params, _trainable, _size, _macs)):
            s[k] += sum(filter(None, map(attr, news))) - sum(filter(None, map(attr, olds)))
        failed = self._failed
        failed.difference_update(keys)
        failed.update(compress(keys, map(_error, news)))
        again = {b for b in touched if b in g.blocks}
        for b in list(again):
            again.update(succ(b))
        changed = self._propagate(dirty | again, pos, succ, wiring, overwritten)
        changed.update(keys)
        return changed

    def _keep(self, kept: list, used, dirty: set[str], changed: set[str]) -> None:
        """The records of earlier refreshes that stay worth keeping after this one (which blocks
        it touched is added to each), then this refresh's own."""
        touched = dirty | changed
        for k in kept:
            if k is used:
                continue
            k.touched |= touched
            if len(k.touched) < len(k.before):  # else evaluating again costs about as much
                self._kept.append(k)
        if self._undo is not None:
            self._kept.append(self._undo)
            self._undo = None
        del self._kept[:-_KEPT]

    def _count(self, info: BlockInfo | None, sign: int) -> None:
        if info is not None and (info.size_bytes or info.params or info.macs):
            s = self._sums
            s[0] += sign * info.params
            s[1] += sign * info.trainable
            s[2] += sign * info.size_bytes
            s[3] += sign * (info.macs or 0)

    def _evaluate(self, block: Block) -> BlockInfo:
        bid = block.id
        if bid in self._cyclic:
            return UNKNOWN
        spec = self._specs.get(block.type) or self._spec(block)
        if self._inputs is not None and spec.role == ROLE_INPUT:
            return self._given_input(block)
        params = self.params_of(block) if self._overrides else block.params
        ports = spec.input_ports(params)
        wires = self._wires_raw(bid)
        if self._listening and bid not in self._kinds and not self._overrides:
            self._kind(bid, spec, params, ports, wires)
        if len(ports) == 1 and len(wires) == 1 and wires[0].dst_port == ports[0].name:
            # the usual block: one input, one wire, from a block with one output
            src = self.info.get(wires[0].src)
            if src is not None and len(src.out_shapes) == 1:
                shape = src.out_shapes[0]
                in_specs = _NO_INPUT if shape is None else ((shape, src.out_dtypes[0]),)
            else:
                in_specs = (self._value_spec(wires[0]),)
        else:
            in_specs = self._in_specs(bid, ports, wires)
        frozen = block.frozen or self._frozen
        if spec.definition is not None:
            result = self._evaluate_use(spec.definition, params, in_specs, frozen)
            self.use_results[bid] = result
            return result.info
        if self.use_results:
            self.use_results.pop(bid, None)
        if None in in_specs:  # below a missing wire, most likely: no need to look further
            unknown = missing_input(spec, params, in_specs, ports)
            if unknown is not None:
                return unknown
        last = self._last.get(bid)
        if last is not None and last[0] == in_specs:
            return last[1]
        info = evaluate_block(spec, params, in_specs, frozen, self.trust)
        self._last[bid] = (in_specs, info)
        return info

    def _spec(self, block: Block):
        """``block.spec``, kept by type id for the registry's own types (a module use's is its
        definition's, which an edit of the definition replaces: asked each time)."""
        spec = block.spec
        if spec.definition is None and spec.id == block.type:
            self._specs[block.type] = spec
        return spec

    def _in_specs(self, bid: str, ports: tuple, wires: list[Edge]) -> tuple[InSpec, ...]:
        by_port: dict[str, Edge] = {}
        for e in wires:
            if e.dst_port in by_port:  # a doubled wire (a file's): the first in the graph's order
                by_port = {}
                for first in self._wires_in(bid):
                    by_port.setdefault(first.dst_port, first)
                break
            by_port[e.dst_port] = e
        value = self._value_spec
        return tuple(value(by_port[p.name]) if p.name in by_port else None for p in ports)

    def _given_input(self, block: Block) -> BlockInfo:
        inputs = [b.id for b in self.graph.blocks.values() if b.spec.role == ROLE_INPUT]
        i = inputs.index(block.id)
        spec = self._inputs[i] if i < len(self._inputs) else None
        if spec is None:
            return BlockInfo((), (None,), (None,))
        return BlockInfo((), (spec[0],), (spec[1],))

    def _evaluate_use(
        self, defn: Definition, params: dict, in_specs: tuple, frozen: bool
    ) -> UseResult:
        """Analyse the definition's graph with this use's inputs and parameters, once per
        repeated copy (each copy's first output feeds the next copy's first input)."""
        key = (id(defn), defn.version, _freeze(params), in_specs, frozen, self.trust)
        hit = self._memo.get(key)
        if hit is not None:
            return hit
        values = {k: v for k, v in params.items() if k not in ("repeat", "weights")}
        repeat = params.get("repeat", 1)
        result = UseResult(BlockInfo(tuple(s[0] if s else None for s in in_specs), (), ()))
        if repeat > 1 and len(defn.output_blocks()) != 1:
            n_out = len(defn.output_blocks())
            result.info = _use_error(
                result.info,
                n_out,
                f"A repeated module needs exactly one Output ({defn.name} has {n_out}).",
            )
            return result
        specs = in_specs
        for _ in range(repeat):
            copy = Analysis(
                defn.graph,
                listen=False,
                inputs=specs,
                values=values,
                frozen=frozen,
                memo=self._memo,
                trust=self.trust,
            )
            result.copies.append(copy)
            outs = tuple(copy.output_spec(b) for b in defn.output_blocks())
            if copy.errors or any(o is None for o in outs):
                break
            specs = (outs[0], *specs[1:])
        result.info = _use_info(defn, in_specs, result.copies)
        if len(self._memo) > 20_000:
            self._memo.clear()
        self._memo[key] = result
        return result

    def info_with_inputs(self, block: Block, in_specs: tuple[InSpec, ...]) -> BlockInfo:
        """What ``block`` computes from other inputs (e.g. at another batch size); a module
        use's inside is analysed again for them."""
        params, frozen = self.params_of(block), block.frozen or self._frozen
        if block.spec.definition is not None:
            return self._evaluate_use(block.spec.definition, params, in_specs, frozen).info
        return evaluate_block(block.spec, params, in_specs, frozen, self.trust)

    def with_values(self, values: dict[str, Any]) -> Analysis:
        """The same inside of a module definition, analysed with other per-use values."""
        return Analysis(
            self.graph,
            listen=False,
            inputs=self._inputs,
            values=values,
            frozen=self._frozen,
            trust=self.trust,
        )

    def params_of(self, block: Block) -> dict[str, Any]:
        """``block``'s parameters as this analysis sees them (with a use's per-use values)."""
        if block.id in self._overrides:
            return block.spec.coerce_params({**block.params, **self._overrides[block.id]})
        return block.params

    def output_spec(self, block: Block) -> InSpec:
        """``(shape, dtype)`` of what flows into an Output block."""
        e = self.graph.edge_into(block.id, "in")
        return self._value_spec(e) if e is not None else None

    def _value_spec(self, e: Edge):
        info = self.info.get(e.src)
        if info is None:
            return None
        shapes = info.out_shapes
        if len(shapes) == 1:  # one output port: the wire's (the usual case, asked per wire)
            idx = 0
        elif shapes.count(None) == len(shapes):
            return None
        else:
            src = self.graph.blocks[e.src]
            idx = [p.name for p in src.output_ports()].index(e.src_port)
        if idx >= len(shapes) or shapes[idx] is None:
            return None
        return (shapes[idx], info.out_dtypes[idx])

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
        return Totals(*self._sums)

    def inputs(self) -> list[Block]:
        return [b for b in self.graph.blocks.values() if b.spec.role == ROLE_INPUT]

    def outputs(self) -> list[Block]:
        if self._outputs is None or not self._listening:  # kept: the batch check asks each refresh
            self._outputs = [b for b in self.graph.blocks.values() if b.spec.role == ROLE_OUTPUT]
        return list(self._outputs)


@dataclass
class _Undo:
    """What a refresh that followed only wire edits overwrote: each changed block's info, the
    totals and the blocks with errors before it. Removing a wire mid-chain makes every shape
    below it unknown (2,200 blocks of 5,000 in benchmarks/graph_scale.py); putting it back, or
    undoing that, restores them from here instead of evaluating each again (about 10 us each),
    also after other edits (then ``touched`` names the blocks they changed, evaluated again)."""

    wiring: tuple[tuple, ...]  # the wire edits it followed: (sign, src, src port, dst, dst port)
    before: dict[str, BlockInfo]
    sums: list[int]
    failed: set[str]
    #: blocks changed, edited, added or removed by the refreshes since (not put back)
    touched: set[str] = field(default_factory=set)

    def undone_by(self, wiring: list[tuple] | None, graph: Graph) -> bool:
        """Whether ``wiring`` (the wire edits since) is exactly the inverse of this one's, so the
        graph is as it was before (a wire put back into a port it shares with another one may
        come in a different order: then not)."""
        if not wiring or len(wiring) != len(self.wiring):
            return False
        inverse = tuple((-sign, *rest) for sign, *rest in reversed(wiring))
        if inverse != self.wiring:
            return False
        for sign, _, _, dst, port in wiring:
            if sign > 0 and sum(e.dst_port == port for e in graph._in.get(dst, ())) != 1:
                return False
        return True


def _is_output(block: Block) -> bool:
    # a use of a module definition never is one (and its definition may be gone already)
    return not block.type.startswith("module:") and block.spec.role == ROLE_OUTPUT


def _use_info(defn: Definition, in_specs: tuple, copies: list[Analysis]) -> BlockInfo:
    """A use's info from its copies: the last copy's outputs, the sum of their counts, and the
    first problem inside, naming the block it is in."""
    in_shapes = tuple(s[0] if s else None for s in in_specs)
    outputs = defn.output_blocks()
    last = copies[-1]
    outs = [last.output_spec(b) for b in outputs]
    params = trainable = size = macs = 0
    for c in copies:
        t = c.totals()
        params, trainable, size, macs = (
            params + t.params,
            trainable + t.trainable,
            size + t.size_bytes,
            macs + t.macs,
        )
    error = None
    for c in copies:
        if c.errors:
            d = c.errors[0]
            inner = c.graph.blocks.get(d.block_id) if d.block_id else None
            where = f"{defn.name} > {inner.name}" if inner is not None else defn.name
            error = f"Inside {where}: {d.message}"
            break
    if error is not None:
        outs = [None] * len(outputs)
    return BlockInfo(
        in_shapes,
        tuple(o[0] if o else None for o in outs),
        tuple(o[1] if o else None for o in outs),
        params=params,
        trainable=trainable,
        size_bytes=size,
        macs=macs,
        error=error,
    )


def _use_error(info: BlockInfo, n_out: int, message: str) -> BlockInfo:
    return BlockInfo(info.in_shapes, (None,) * n_out, (None,) * n_out, error=message)


def analyze(graph: Graph) -> Analysis:
    """A one-off analysis (no event subscription)."""
    return Analysis(graph, listen=False)
