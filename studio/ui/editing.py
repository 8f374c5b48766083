"""User intents -> model commands. Every gesture of the canvas, palette and inspector ends here;
this is also what tests drive. It holds no state besides the document."""

from __future__ import annotations

from typing import Any

from studio.graph.commands import (
    AddBlock,
    Connect,
    Macro,
    Move,
    RemoveBlocks,
    Rename,
    SetFrozen,
    SetParams,
)
from studio.graph.layout import (
    COLUMN_GAP,
    ROW_GAP,
    free_near,
    free_offset,
    layered_layout,
    wrapped_layout,
)
from studio.graph.module_commands import DetachCopy, GroupIntoModule, Ungroup
from studio.ui import clipboard
from studio.ui.canvas.geometry import GRID, snap
from studio.ui.document import Document


class Editor:
    def __init__(self, doc: Document) -> None:
        self.doc = doc

    @property
    def graph(self):
        return self.doc.graph

    def add_block(
        self,
        type_id: str,
        position: tuple[float, float],
        snap_to_grid: bool = True,
        free_space: bool = False,
    ) -> str | None:
        """Add a block (drop from the palette, double-click, quick add). Returns its id. With
        ``free_space`` it goes to the free spot nearest ``position`` rather than on a block."""
        x, y = position
        if snap_to_grid:
            x, y = snap(x), snap(y)
        if free_space:
            x, y = free_near(self.graph, (x, y), step=GRID if snap_to_grid else 20.0)
        cmd = AddBlock(type_id, position=(x, y))
        return cmd.block_id if self.doc.push(cmd) else None

    def add_block_on_wire(
        self, type_id: str, position: tuple[float, float], edge_id: str, snap_to_grid: bool = True
    ) -> str | None:
        """Drop a block onto a wire: it goes in between (source -> new block -> destination),
        as one undo step. A block with no input or no output is only added. When the two ends
        are too close for a block between them, the destination and what follows it move one
        column right (as Blender's auto-offset does), so nothing ends up covered. Only blocks on
        the same row move: the next bands of a wrapped model stay where they are."""
        edge = self.graph.edges.get(edge_id)
        spec = self.graph.library.spec(type_id)  # a module's use too
        ins, outs = spec.input_ports(spec.defaults()), spec.output_ports(spec.defaults())
        if edge is None or not ins or not outs:
            return self.add_block(type_id, position, snap_to_grid)
        x, y = position
        if snap_to_grid:
            x, y = snap(x), snap(y)
        src, dst = self.graph.blocks[edge.src], self.graph.blocks[edge.dst]
        make_room: list[Move] = []
        if dst.position[0] - src.position[0] < 2 * COLUMN_GAP:
            x, y = src.position[0] + COLUMN_GAP, src.position[1]
            shift = src.position[0] + 2 * COLUMN_GAP - dst.position[0]
            # only what follows on the same row moves: a wrapped model's next bands stay put
            moved = {
                b
                for b in self.graph.downstream([dst.id]) - {src.id}
                if abs(self.graph.blocks[b].position[1] - dst.position[1]) < ROW_GAP / 2
                and self.graph.blocks[b].position[0] >= dst.position[0]
            }
            make_room.append(
                Move(
                    {
                        b: (
                            self.graph.blocks[b].position[0] + shift,
                            self.graph.blocks[b].position[1],
                        )
                        for b in moved
                    }
                )
            )
        add = AddBlock(type_id, position=(x, y), block_id=self.graph.new_id())
        cmd = Macro(
            f"Insert {spec.label}",
            [
                *make_room,
                add,
                RemoveBlocks([], [edge.id]),
                Connect(edge.src, edge.src_port, add.block_id, ins[0].name),
                Connect(add.block_id, outs[0].name, edge.dst, edge.dst_port),
            ],
        )
        if self.doc.push(cmd):
            return add.block_id
        return self.add_block(type_id, position, snap_to_grid)  # the wire refused it: just add

    def connect(self, src: str, src_port: str, dst: str, dst_port: str) -> str | None:
        """Connect two ports; returns the reason when refused (None when connected)."""
        reason = self.graph.can_connect(src, src_port, dst, dst_port)
        if reason:
            self.doc.edit_refused.emit(reason)
            return reason
        self.doc.push(Connect(src, src_port, dst, dst_port))
        return None

    def input_for_drop(self, dst: str) -> str | None:
        """The input a wire released on a block's body goes to (not on a port: the wire was
        dropped and nothing happened): the block's first free input, else its first input (whose
        refusal then says why); None for a block without inputs."""
        ports = [p.name for p in self.graph.blocks[dst].input_ports()]
        free = [p for p in ports if self.graph.edge_into(dst, p) is None]
        return (free or ports or [None])[0]

    def move_blocks(
        self, positions: dict[str, tuple[float, float]], snap_to_grid: bool = True
    ) -> None:
        if snap_to_grid:
            positions = {bid: (snap(x), snap(y)) for bid, (x, y) in positions.items()}
        positions = {b: p for b, p in positions.items() if self.graph.blocks[b].position != p}
        if positions:
            self.doc.push(Move(positions))

    def delete(self, block_ids: list[str], edge_ids: list[str] = ()) -> None:
        edge_ids = [e for e in edge_ids if e in self.graph.edges]
        if block_ids or edge_ids:
            self.doc.push(RemoveBlocks(list(block_ids), list(edge_ids)))

    def copy(self, block_ids: list[str]) -> str:
        return clipboard.copy_blocks(self.graph, block_ids)

    def paste(
        self, text: str, at: tuple[float, float] | None = None, label: str = "Paste"
    ) -> list[str]:
        """Paste at ``at`` (the cursor), or else shifted into free space (never on top of the
        originals)."""
        data = clipboard.parse(text)
        if data is None:
            return []
        offset = free_offset(self.graph, [tuple(b["position"]) for b in data.get("blocks", [])])
        cmd, ids = clipboard.paste_command(self.graph, data, at=at, offset=offset, text=label)
        if not cmd.commands:
            return []
        n = len(ids)
        cmd.text = (
            f"{label} {n} block{'s' * (n != 1)}" if n != 1 else f"{label} {cmd.commands[0].name}"
        )
        return ids if self.doc.push(cmd) else []

    def duplicate(self, block_ids: list[str]) -> list[str]:
        return self.paste(self.copy(block_ids), label="Duplicate")

    def arrange(self, fit: tuple[float, float] | None = None) -> None:
        """Auto-arrange: data order left to right; with ``fit`` (the scene size the view shows
        at a readable zoom), a long chain wraps into bands like lines of text, as an example
        opens, instead of one row far wider than the window."""
        positions = (wrapped_layout(self.graph, *fit) if fit else None) or layered_layout(
            self.graph
        )
        positions = {b: p for b, p in positions.items() if self.graph.blocks[b].position != p}
        if positions:  # a Macro so it never merges with a drag of the same blocks
            self.doc.push(Macro("Auto-arrange", [Move(positions)]))

    def rename(self, block_id: str, name: str) -> bool:
        if self.graph.blocks[block_id].name == name:
            return True
        return self.doc.push(Rename(block_id, name))

    def set_params(self, block_id: str, params: dict[str, Any]) -> bool:
        block = self.graph.blocks[block_id]
        changed = {k: v for k, v in params.items() if block.params.get(k) != v}
        changed = block.spec.changed_params(block.params, changed) if changed else changed
        return self.doc.push(SetParams(block_id, changed)) if changed else True

    def set_frozen(self, block_ids: list[str], frozen: bool) -> None:
        if block_ids:
            self.doc.push(SetFrozen(list(block_ids), frozen))

    # ---------------------------------------------------------------- modules
    def group(self, block_ids: list[str], name: str) -> str | None:
        """Group blocks into a new module ``name``; returns the id of its use. The Inputs
        inside get the shapes the analysis knows of the values crossing in."""
        from studio.blocks.registry import BATCH

        sel, specs = set(block_ids), {}
        analysis = self.doc.analysis
        for e in self.graph.edges.values():
            if analysis is not None and e.dst in sel and e.src not in sel:
                spec = analysis.edge_spec(e)
                if spec is not None and spec[0] and spec[0][0] == BATCH:
                    specs[(e.src, e.src_port)] = (tuple(spec[0][1:]), spec[1])
        cmd = GroupIntoModule(list(block_ids), name, specs)
        return cmd.use_id if self.doc.push(cmd) else None

    def ungroup(self, use_id: str) -> list[str]:
        cmd = Ungroup(use_id)
        return cmd.block_ids if self.doc.push(cmd) else []

    def detach(self, use_id: str) -> str | None:
        """Give the use its own copy of its module; returns the copy's name."""
        cmd = DetachCopy(use_id)
        return cmd.definition.name if self.doc.push(cmd) else None

    def macro(self, text: str, commands) -> bool:
        return self.doc.push(Macro(text, list(commands)))
