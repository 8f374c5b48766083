"""Undoable edits. Each command changes the model only; views follow the model's events.

``History`` is a plain undo stack for headless use and tests; the GUI wraps the same commands
in a ``QUndoStack`` (one adapter in ``studio/ui``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from studio.graph.model import Block, Edge, Graph


class Command:
    """``do`` applies the edit, ``undo`` restores the exact earlier graph."""

    text = "Edit"
    #: commands with the same non-None merge_id merge into one undo step (moves while dragging)
    merge_id: Any = None

    def do(self, graph: Graph) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def undo(self, graph: Graph) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def merge(self, other: Command) -> bool:
        """Absorb ``other`` (already done) into this one; True when merged."""
        return False


def _snapshot_block(graph: Graph, block_id: str) -> tuple[dict[str, Any], int]:
    block = graph.block(block_id)
    index = list(graph.blocks).index(block_id)
    return (
        {
            "type": block.type,
            "name": block.name,
            "params": dict(block.params),
            "position": block.position,
            "frozen": block.frozen,
            "id": block.id,
        },
        index,
    )


def _restore_block(graph: Graph, snap: dict[str, Any], index: int) -> Block:
    return graph.add_block(
        snap["type"],
        name=snap["name"],
        params=snap["params"],
        position=snap["position"],
        frozen=snap["frozen"],
        id=snap["id"],
        index=index,
    )


@dataclass
class AddBlock(Command):
    type_id: str
    position: tuple[float, float] = (0.0, 0.0)
    name: str | None = None
    params: dict[str, Any] | None = None
    block_id: str | None = None
    frozen: bool = False

    def __post_init__(self) -> None:
        self.text = f"Add {self.name or self.type_id}"

    def do(self, graph: Graph) -> None:
        block = graph.add_block(
            self.type_id,
            name=self.name,
            params=self.params,
            position=self.position,
            frozen=self.frozen,
            id=self.block_id,
        )
        # the redo must recreate the very same block
        self.block_id, self.name = block.id, block.name
        self.text = f"Add {block.name}"

    def undo(self, graph: Graph) -> None:
        graph.remove_block(self.block_id)


@dataclass
class RemoveBlocks(Command):
    """Delete blocks and every wire that touches them (or just wires, by id)."""

    block_ids: list[str]
    edge_ids: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        n = len(self.block_ids)
        self.text = "Delete wire" if n == 0 else f"Delete {n} block{'s' * (n != 1)}"
        self._blocks: list[tuple[dict[str, Any], int]] = []
        self._edges: list[tuple[Edge, int]] = []

    def do(self, graph: Graph) -> None:
        ids = set(self.block_ids)
        edge_order = list(graph.edges)
        doomed = [
            e for e in graph.edges.values() if e.src in ids or e.dst in ids or e.id in self.edge_ids
        ]
        self._edges = [(e, edge_order.index(e.id)) for e in doomed]
        self._blocks = [_snapshot_block(graph, b) for b in self.block_ids]
        if len(self.block_ids) == 1 and not self.edge_ids:
            self.text = f"Delete {graph.block(self.block_ids[0]).name}"
        for e in doomed:
            graph.disconnect(e.id)
        for bid in self.block_ids:
            graph.remove_block(bid)

    def undo(self, graph: Graph) -> None:
        for snap, index in sorted(self._blocks, key=lambda s: s[1]):
            _restore_block(graph, snap, index)
        for edge, index in sorted(self._edges, key=lambda s: s[1]):
            graph.insert_edge(edge, index)


@dataclass
class Connect(Command):
    src: str
    src_port: str
    dst: str
    dst_port: str
    edge_id: str | None = None
    text: str = "Connect"

    def do(self, graph: Graph) -> None:
        edge = graph.connect(self.src, self.src_port, self.dst, self.dst_port, id=self.edge_id)
        self.edge_id = edge.id
        self.text = f"Connect {graph.block(self.src).name} → {graph.block(self.dst).name}"

    def undo(self, graph: Graph) -> None:
        graph.disconnect(self.edge_id)


@dataclass
class SetParams(Command):
    block_id: str
    params: dict[str, Any]

    def __post_init__(self) -> None:
        self._old: dict[str, Any] | None = None
        self._cut: RemoveBlocks | None = None
        keys = ", ".join(k.replace("_", " ") for k in self.params)
        self.text = f"Change {keys}"

    def do(self, graph: Graph) -> None:
        block = graph.block(self.block_id)
        merged = block.spec.coerce_params({**block.params, **self.params})  # refuse bad values first
        # wires on ports that the new values remove (fewer Add inputs) go, and come back on undo
        ins = {p.name for p in block.spec.input_ports(merged)}
        outs = {p.name for p in block.spec.output_ports(merged)}
        cut = [
            e.id
            for e in graph.edges_of(self.block_id)
            if (e.dst == self.block_id and e.dst_port not in ins)
            or (e.src == self.block_id and e.src_port not in outs)
        ]
        self._cut = RemoveBlocks([], cut) if cut else None
        if self._cut:
            self._cut.do(graph)
        old = graph.set_params(self.block_id, self.params)
        self._old = {k: old[k] for k in self.params}
        self.text = f"Change {block.name}: " + ", ".join(k.replace("_", " ") for k in self.params)

    def undo(self, graph: Graph) -> None:
        graph.set_params(self.block_id, self._old)
        if self._cut:
            self._cut.undo(graph)


@dataclass
class Rename(Command):
    block_id: str
    name: str

    def __post_init__(self) -> None:
        self._old: str | None = None
        self.text = f"Rename to {self.name}"

    def do(self, graph: Graph) -> None:
        self._old = graph.rename(self.block_id, self.name)
        self.text = f"Rename {self._old} to {self.name}"

    def undo(self, graph: Graph) -> None:
        graph.rename(self.block_id, self._old)


@dataclass
class Move(Command):
    """Move blocks to new positions. Consecutive moves of the same blocks merge."""

    positions: dict[str, tuple[float, float]]

    def __post_init__(self) -> None:
        self._old: dict[str, tuple[float, float]] = {}
        self.merge_id = ("move", frozenset(self.positions))
        n = len(self.positions)
        self.text = f"Move {n} block{'s' * (n != 1)}"

    def do(self, graph: Graph) -> None:
        for bid, pos in self.positions.items():
            old = graph.move(bid, pos)
            self._old.setdefault(bid, old)

    def undo(self, graph: Graph) -> None:
        for bid, pos in self._old.items():
            graph.move(bid, pos)

    def merge(self, other: Command) -> bool:
        if isinstance(other, Move) and other.merge_id == self.merge_id:
            self.positions = dict(other.positions)
            return True
        return False


@dataclass
class SetFrozen(Command):
    block_ids: list[str]
    frozen: bool

    def __post_init__(self) -> None:
        self._old: dict[str, bool] = {}
        self.text = ("Freeze" if self.frozen else "Unfreeze") + f" {len(self.block_ids)} block(s)"

    def do(self, graph: Graph) -> None:
        self._old = {bid: graph.set_frozen(bid, self.frozen) for bid in self.block_ids}

    def undo(self, graph: Graph) -> None:
        for bid, old in self._old.items():
            graph.set_frozen(bid, old)


class Macro(Command):
    """Several commands as one undo step (paste, duplicate, auto-arrange, insert between)."""

    def __init__(self, text: str, commands: list[Command]) -> None:
        self.text = text
        self.commands = list(commands)
        self._done = 0

    def do(self, graph: Graph) -> None:
        self._done = 0
        try:
            for cmd in self.commands:
                cmd.do(graph)
                self._done += 1
        except Exception:
            # leave the graph as it was: a half-applied macro must not stay behind
            for cmd in reversed(self.commands[: self._done]):
                cmd.undo(graph)
            raise

    def undo(self, graph: Graph) -> None:
        for cmd in reversed(self.commands):
            cmd.undo(graph)


class History:
    """A headless undo stack over commands (the GUI uses QUndoStack with the same commands)."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self._done: list[Command] = []
        self._undone: list[Command] = []

    def push(self, cmd: Command) -> Command:
        cmd.do(self.graph)  # raises (and changes nothing) when the edit is refused
        self._undone.clear()
        if self._done and cmd.merge_id is not None and self._done[-1].merge(cmd):
            return self._done[-1]
        self._done.append(cmd)
        return cmd

    def undo(self) -> Command | None:
        if not self._done:
            return None
        cmd = self._done.pop()
        cmd.undo(self.graph)
        self._undone.append(cmd)
        return cmd

    def redo(self) -> Command | None:
        if not self._undone:
            return None
        cmd = self._undone.pop()
        cmd.do(self.graph)
        self._done.append(cmd)
        return cmd

    @property
    def can_undo(self) -> bool:
        return bool(self._done)

    @property
    def can_redo(self) -> bool:
        return bool(self._undone)
