"""Structural checks of a graph, in words a beginner understands. Pure Python.

Shape problems are found by the compiler's shape inference, which returns diagnostics of the
same kind; :func:`studio.compiler.analyze` merges both.
"""

from __future__ import annotations

from dataclasses import dataclass
from operator import attrgetter

from studio.blocks.params import ParamError
from studio.blocks.registry import ROLE_INPUT, ROLE_OUTPUT
from studio.graph.model import Edge, Graph

ERROR = "error"
WARNING = "warning"
_src = attrgetter("src")
_SHORT = 64  # blocks a wire's removal flips before walking down from the Outputs is tried


@dataclass(frozen=True)
class Diagnostic:
    message: str
    block_id: str | None = None
    edge_id: str | None = None
    severity: str = ERROR

    @property
    def is_error(self) -> bool:
        return self.severity == ERROR

    def describe(self, graph: Graph | None = None) -> str:
        where = ""
        if graph is not None and self.block_id in graph.blocks:
            where = f"{graph.blocks[self.block_id].name}: "
        return f"{where}{self.message}"


def validate(graph: Graph) -> list[Diagnostic]:
    """Problems in the structure of ``graph`` (not shapes). Empty list: structurally fine."""
    wires_by_port: dict[tuple[str, str], list[Edge]] = {}
    for e in graph.edges.values():
        wires_by_port.setdefault((e.dst, e.dst_port), []).append(e)
    _, in_cycle = graph.topological_order()
    local = [d for b in graph.blocks.values() for d in _block_problems(b, wires_by_port)]
    reached = _reaching_output(graph)
    unused = [] if reached is None else [bid for bid in graph.blocks if bid not in reached]
    return _assemble(
        graph,
        {b.spec.role for b in graph.blocks.values()},
        in_cycle,
        local,
        [_unused_warning(graph, bid) for bid in unused],
    )


class Validation:
    """:func:`validate`'s answer kept up to date from the graph's events, at the cost of what
    changed: an edit re-checks the blocks it touched (their parameters, names and wires in), and
    each block keeps how many of its wires out lead to an Output, so a wire or block edit changes
    only the blocks whose answer flips (a graph without loops cannot hold itself up). Only a graph
    with a loop (a file's) is walked whole again after each edit of its wiring. :meth:`diagnostics`
    equals ``validate(graph)``, in the same order; a 5,000-block graph answered a parameter edit in
    0.04 ms of checking where validating it whole took 340 ms.
    """

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self._into: dict[str, list[Edge]] = {}  # block id -> wires into it, oldest first
        for e in graph.edges.values():
            self._into.setdefault(e.dst, []).append(e)
        self._local: dict[str, list[Diagnostic]] = {}  # block id -> its own problems (absent: none)
        self._dirty: set[str] = set(graph.blocks)
        self._walk = True  # loops and reachability must be found again from scratch
        self._in_cycle: list[str] = []
        self._roles: dict[str, int] = {}  # role -> how many blocks have it
        self._reached: set[str] = set()  # blocks from which an Output is reached
        self._unreached: set[str] = set()  # the others
        self._live: dict[str, int] = {}  # block id -> its wires out into a block of _reached
        self._outputs: set[str] = set()
        self._unwired: set[str] = set()  # the blocks with no ports (see _unwired)
        # block id -> its "leads to no Output" warning, made once
        self._warnings: dict[str, Diagnostic] = {}
        self._pos: dict[str, int] = {}  # block id -> its place in the graph's order of blocks
        #: the "leads to no Output" warnings in block order, None: make again
        self._unused: list[Diagnostic] | None = None
        self._next = 0
        #: the last wire edit's walk: (its wire, step, the blocks counted, those flipped)
        self._last_walk: tuple | None = None
        ev = graph.events
        self._listeners = (
            (ev.block_added, self._on_block_added),
            (ev.block_removed, self._on_block_removed),
            (ev.block_changed, self._on_block_changed),
            (ev.edge_added, self._on_edge_added),
            (ev.edge_removed, self._on_edge_removed),
            (graph.library.changed, self._on_definition),
            (graph.library.added, self._on_definition),
            (graph.library.removed, self._on_definition),
        )
        for event, callback in self._listeners:
            event.connect(callback)

    def close(self) -> None:
        for event, callback in self._listeners:
            event.disconnect(callback)

    def diagnostics(self) -> list[Diagnostic]:
        g = self.graph
        if self._dirty:
            wires: dict[tuple[str, str], list[Edge]] = {}
            for bid in self._dirty:
                block = g.blocks.get(bid)
                if block is None:
                    continue
                for e in self._wires_into(bid):
                    wires.setdefault((e.dst, e.dst_port), []).append(e)
                found = _block_problems(block, wires)
                if found:
                    self._local[bid] = found
                else:
                    self._local.pop(bid, None)
            self._dirty.clear()
        if self._walk:
            _, self._in_cycle = g.topological_order()
            self._roles = {}
            for b in g.blocks.values():
                self._roles[b.spec.role] = self._roles.get(b.spec.role, 0) + 1
            self._reached = _reaching_output(g) or set()
            self._unreached = set(g.blocks) - self._reached
            self._outputs = {bid for bid, b in g.blocks.items() if b.spec.role == ROLE_OUTPUT}
            self._unwired = {bid for bid, b in g.blocks.items() if _unwired(b)}
            self._live = dict.fromkeys(g.blocks, 0)
            for e in g.edges.values():
                if e.dst in self._reached:
                    self._live[e.src] += 1
            self._number_blocks()
            self._walk = False
            self._unused = None
            self._last_walk = None
        local = sorted(self._local, key=self._pos.__getitem__)
        if self._unused is None:  # kept until a block's answer flips
            unreached = self._unreached if self._outputs else frozenset()
            if len(unreached) * 8 > len(g.blocks):  # many (the Output's wire): no sort needed
                # (_pos is the blocks' order)
                unused = list(filter(unreached.__contains__, g.blocks))
            else:
                unused = sorted(unreached, key=self._pos.__getitem__)
            made = self._warnings
            for bid in unreached.difference(made):  # (each made once; a walk of unreached)
                made[bid] = _unused_warning(g, bid)
            self._unused = list(map(made.__getitem__, unused))
        return _assemble(
            g,
            set(self._roles),
            self._in_cycle,
            [d for bid in local for d in self._local[bid]],
            self._unused,
        )

    def _number_blocks(self) -> None:
        self._pos = {bid: i for i, bid in enumerate(self.graph.blocks)}
        self._next = len(self._pos)

    def _incremental(self) -> bool:
        """Whether the walk's results can follow this edit (no walk pending, no loop)."""
        if self._walk:
            return False
        if self._in_cycle or self.graph.topology().cyclic:
            self._walk = True
            return False
        return True

    def _wire_changed(self, edge: Edge, step: int) -> None:
        """``edge`` (into a block that leads to an Output) was added (``step`` 1) or removed
        (-1). The exact inverse of the last such change (the wire put back, or undone, with no
        other edit between) puts back what that one changed, without walking the blocks again."""
        key = (edge.src, edge.src_port, edge.dst, edge.dst_port)
        last, self._last_walk = self._last_walk, None
        if last is not None and last[0] == key and last[1] == -step:
            _, _, visits, flipped = last
            if visits is None:  # the answers before the last Output lost its wire, kept whole
                self._live, self._reached, self._unreached = flipped
                self._unused = None
                return
            live = self._live
            for bid in visits:
                live[bid] += step
            if flipped:
                gain, lose = (
                    (self._reached, self._unreached)
                    if step > 0
                    else (self._unreached, self._reached)
                )
                gain.update(flipped)
                lose.difference_update(flipped)
                self._unused = None
            return
        if (
            step < 0
            and edge.dst in self._outputs
            and not any(map(self.graph._in.get, self._outputs))
        ):
            self._none_fed(key)
            return
        if step > 0:
            visits, flipped = self._live_changed(edge.src, step)
        else:
            found = self._live_changed(edge.src, step, _SHORT)
            if found is None and self._walk_down(key, len(self._reached) // 2):
                return
            visits, flipped = found or self._live_changed(edge.src, step)
        self._last_walk = (key, step, visits, flipped)

    def _none_fed(self, key: tuple) -> None:
        """No Output has a wire into it any more (the only Output lost its wire): no block leads
        to one but the Outputs themselves (and the blocks with no ports), and no wire goes into
        a block that does. Set at once instead of walked: the walk up through every block took
        5 ms of 5,000. What it replaces is kept whole, to put back if the wire comes back next."""
        g = self.graph
        kept = (self._live, self._reached, self._unreached)
        self._live = dict.fromkeys(g.blocks, 0)
        self._reached = self._outputs | self._unwired
        self._unreached = g.blocks.keys() - self._reached
        self._unused = None
        self._last_walk = (key, -1, None, kept)

    def _walk_down(self, key: tuple, budget: int) -> bool:
        """A wire into a block that leads to an Output was removed and many blocks above it flip:
        find the blocks that still lead to one from the Outputs instead (walking up from them),
        when there are fewer than ``budget`` of them (else False, nothing changed). Removing one
        of two Outputs' wires, the second fed near the Input, flipped all 5,000 blocks one by
        one: 5-6 ms. What it replaces is kept whole, to put back if the wire comes back next."""
        g = self.graph
        into = g._in
        live = dict.fromkeys(g.blocks, 0)
        reached = self._outputs | self._unwired
        stack = list(self._outputs)
        push, pop, add = stack.append, stack.pop, reached.add
        n = 0
        while stack:
            for e in into[pop()]:
                src = e.src
                live[src] += 1
                if src not in reached:
                    add(src)
                    push(src)
                    n += 1
            if n > budget:
                return False
        kept = (self._live, self._reached, self._unreached)
        self._live, self._reached = live, reached
        self._unreached = g.blocks.keys() - reached
        self._unused = None
        self._last_walk = (key, -1, None, kept)
        return True

    def _live_changed(
        self, block_id: str, step: int, budget: int | None = None
    ) -> tuple[list[str], list[str]] | None:
        """``block_id`` gained (``step`` 1) or lost (-1) a wire out into a block that leads to an
        Output; pass the change up through the blocks whose answer flips. Returns the blocks
        whose count changed (once per change) and those whose answer flipped; None (and nothing
        changed) when it would count more than ``budget`` blocks."""
        into, live, reached, unreached, outputs = (
            self.graph._in,
            self._live,
            self._reached,
            self._unreached,
            self._outputs,
        )
        flip = 1 if step > 0 else 0  # the count at which a block's answer flips
        gain, lose = (reached, unreached) if step > 0 else (unreached, reached)
        stack = [block_id]
        flipped = []  # moved between the sets at the end, in bulk: the Output's wire flips all
        visits = []
        add, extend, pop, visit = flipped.append, stack.extend, stack.pop, visits.append
        while stack:
            bid = pop()
            visit(bid)
            n = live[bid] = live[bid] + step
            if n != flip or bid in outputs:
                continue  # its answer did not flip
            add(bid)
            extend(map(_src, into[bid]))
            if budget is not None and len(visits) > budget:
                for bid in visits:  # (taken back: the caller walks another way)
                    live[bid] -= step
                return None
        if flipped:
            gain.update(flipped)
            lose.difference_update(flipped)
            self._unused = None
        return visits, flipped

    def _wires_into(self, bid: str) -> list[Edge]:
        wires = self._into.get(bid, [])
        if len(wires) > 1 and len({e.dst_port for e in wires}) < len(wires):
            # two wires into one port (a file kept them): which is the extra one follows the
            # graph's order of wires, which undo may have changed
            order = {eid: i for i, eid in enumerate(self.graph.edges)}
            wires = sorted(wires, key=lambda e: order[e.id])
        return wires

    # ---------------------------------------------------------------- events
    def _on_block_added(self, block) -> None:
        self._dirty.add(block.id)
        self._unused = None
        if not self._incremental():
            self._last_walk = None
            return
        role = block.spec.role
        self._roles[role] = self._roles.get(role, 0) + 1
        bid = block.id
        # (a block comes with no wires: the last wire edit's walk stays true; one kept whole
        # takes the block too, as the answers now do)
        states = [(self._live, self._reached, self._unreached)]
        if self._last_walk is not None and self._last_walk[2] is None:
            states.append(self._last_walk[3])
        for live, reached, unreached in states:
            live[bid] = 0
            if role == ROLE_OUTPUT or _unwired(block):
                reached.add(bid)
            else:
                unreached.add(bid)
        if role == ROLE_OUTPUT:
            self._outputs.add(bid)
        elif _unwired(block):
            self._unwired.add(bid)
        if next(reversed(self.graph.blocks)) == block.id:
            self._pos[block.id] = self._next
            self._next += 1
        else:  # put back in its place (undo)
            self._number_blocks()

    def _on_block_removed(self, block) -> None:
        # (its wires went first: the last wire edit's walk stays true unless it counted it)
        last = self._last_walk
        if last is not None and block.id in (last[0][0], last[0][2]):  # the wire's own end
            self._last_walk = None
        elif last is not None and last[2] is None:
            live, reached, unreached = last[3]
            live.pop(block.id, None)
            reached.discard(block.id)
            unreached.discard(block.id)
        elif last is not None and (block.id in last[2] or block.id in last[3]):
            self._last_walk = None
        self._local.pop(block.id, None)
        self._into.pop(block.id, None)
        self._dirty.discard(block.id)
        self._warnings.pop(block.id, None)
        self._unused = None
        if not self._incremental():
            return
        role = block.spec.role
        self._roles[role] -= 1
        if not self._roles[role]:
            del self._roles[role]
        self._reached.discard(block.id)
        self._unreached.discard(block.id)
        self._outputs.discard(block.id)
        self._unwired.discard(block.id)
        del self._pos[block.id], self._live[block.id]

    def _on_block_changed(self, block, what: str) -> None:
        if what != "position":
            self._dirty.add(block.id)
        if what == "name":
            self._warnings.pop(block.id, None)
            self._unused = None

    def _on_edge_added(self, edge: Edge) -> None:
        self._into.setdefault(edge.dst, []).append(edge)
        self._dirty.add(edge.dst)
        if self._incremental() and edge.dst in self._reached:
            self._wire_changed(edge, 1)
        else:  # the wiring changed under the last walk
            self._last_walk = None

    def _on_edge_removed(self, edge: Edge) -> None:
        wires = self._into.get(edge.dst, [])
        if edge in wires:
            wires.remove(edge)
        self._dirty.add(edge.dst)
        if self._incremental() and edge.dst in self._reached:
            self._wire_changed(edge, -1)
        else:  # the wiring changed under the last walk
            self._last_walk = None

    def _on_definition(self, defn) -> None:
        # a definition's ports and per-use parameters are its uses' own
        self._dirty.update(
            bid for bid, b in self.graph.blocks.items() if b.type.startswith("module:")
        )


def _block_problems(block, wires_by_port: dict[tuple[str, str], list[Edge]]) -> list[Diagnostic]:
    """The problems of one block on its own: its parameters, and its inputs' wires."""
    out: list[Diagnostic] = []
    spec = block.spec
    try:
        spec.coerce_params(block.params)
    except ParamError as err:
        return [Diagnostic(f"{spec.label}: {err}", block_id=block.id)]
    ports = block.input_ports()
    for port in ports:
        wires = wires_by_port.get((block.id, port.name), [])
        if not wires and not port.optional:
            what = f"input {port.title!r}" if len(ports) > 1 else "its input"
            out.append(
                Diagnostic(
                    f"{spec.label} {block.name!r} has nothing wired into {what}: "
                    "drag a wire from another block's output to it.",
                    block_id=block.id,
                )
            )
        for extra in wires[1:]:
            out.append(
                Diagnostic(
                    f"Two wires go into input {port.title!r} of {block.name!r}; an input takes "
                    "one. Merge them with Add or Concatenate first.",
                    block_id=block.id,
                    edge_id=extra.id,
                )
            )
    return out


def _assemble(
    graph: Graph,
    roles: set[str],
    in_cycle: list[str],
    local: list[Diagnostic],
    unused: list[Diagnostic],
) -> list[Diagnostic]:
    """The whole list, in one order: the graph's own problems, loops, each block's (``local``, in
    block order), and the warnings of the blocks that lead to no Output (``unused``, in block order)."""
    out: list[Diagnostic] = []
    what = f"The module {graph.owner.name}" if graph.owner is not None else "The model"
    # a module may take nothing: one that only returns its parameters (timm's RelPosBias)
    if ROLE_INPUT not in roles and (graph.owner is None or ROLE_OUTPUT not in roles):
        out.append(
            Diagnostic(
                f"{what} needs an Input block: it is where data enters the {what.split()[1]}."
            )
        )
    if ROLE_OUTPUT not in roles:
        out.append(
            Diagnostic(
                f"{what} needs an Output block: it marks what the {what.split()[1]} returns."
            )
        )
    for bid in in_cycle:
        out.append(
            Diagnostic(
                "This block is part of a loop: data must flow one way, from the Input to the "
                "Output. Remove one of the wires of the loop.",
                block_id=bid,
            )
        )
    if in_cycle:
        cyclic = set(in_cycle)
        for e in graph.edges.values():
            if e.src in cyclic and e.dst in cyclic:
                out.append(Diagnostic("This wire closes a loop.", edge_id=e.id))
    out.extend(local)
    out.extend(unused)
    return out


def _unused_warning(graph: Graph, bid: str) -> Diagnostic:
    return Diagnostic(
        f"{graph.blocks[bid].name!r} does not lead to any Output, so its result is never used.",
        block_id=bid,
        severity=WARNING,
    )


def _unwired(block) -> bool:
    """A block declared with no ports at all (Tie weights) is no part of the data flow: it
    acts when the model is built, so it never leads to an Output and is not told so."""
    spec = block.spec
    return spec.inputs == () and spec.outputs == ()


def _reaching_output(graph: Graph) -> set[str] | None:
    """The blocks from which an Output is reached (None when there is no Output: then no block is
    reported unused, the missing Output is)."""
    preds: dict[str, list[str]] = {bid: [] for bid in graph.blocks}
    for e in graph.edges.values():
        preds[e.dst].append(e.src)
    seen = {b.id for b in graph.blocks.values() if _unwired(b)}
    stack = [b.id for b in graph.blocks.values() if b.spec.role == ROLE_OUTPUT]
    if not stack:
        return None
    while stack:
        bid = stack.pop()
        if bid not in seen:
            seen.add(bid)
            stack.extend(preds[bid])
    return seen
