"""The scene mirrors the graph: it follows the model's events and the analysis, and keeps one
item per block and per wire. It never changes the model."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF
from PySide6.QtGui import QPainter, QPen
from PySide6.QtWidgets import QGraphicsScene

from studio.blocks.shapes import fmt_shape
from studio.graph.model import Block, Edge
from studio.ui.canvas.geometry import GRID
from studio.ui.canvas.items import LOD_TEXT, BlockItem, BlockLook, WireItem
from studio.ui.canvas.module_look import module_lines
from studio.ui.document import Document
from studio.ui.theme import current_theme


def format_count(n: int) -> str:
    if n >= 1_000_000:
        return f"{n / 1e6:.2f}M params"
    if n >= 10_000:
        return f"{n / 1e3:.1f}k params"
    return f"{n:,} params"


class GraphScene(QGraphicsScene):
    def __init__(self, doc: Document, parent=None) -> None:
        super().__init__(parent)
        self.doc = doc
        self.graph = doc.graph
        self.blocks: dict[str, BlockItem] = {}
        self.wires: dict[str, WireItem] = {}
        self._wires_of: dict[str, set[str]] = {}
        self._block_problem: dict[str, tuple[str, str]] = {}
        self._edge_problem: dict[str, str] = {}
        self._learning: dict[str, tuple[str, str]] = {}  # block id -> (indicator text, state)
        self._heat: dict[str, tuple[str, float]] = {}  # block id -> (cost text, share of the step)
        self._run_problem: tuple[str | None, str] = (None, "")  # block a training failure points at
        self._searched: dict[str, str] = {}  # block id -> its sweep ranges' line, as shown
        self._grid_pen = QPen(current_theme().grid, 0)
        self.setSceneRect(QRectF(-5000, -5000, 10000, 10000))
        for block in self.graph.blocks.values():
            self._add_block(block)
        for edge in self.graph.edges.values():
            self._add_edge(edge)
        self._grow_scene_rect()
        ev = self.graph.events
        self._subs = [
            (ev.block_added, self._add_block),
            (ev.block_removed, self._remove_block),
            (ev.block_changed, self._block_changed),
            (ev.edge_added, self._add_edge),
            (ev.edge_removed, self._remove_edge),
            (self.graph.library.changed, self._definition_changed),
            (ev.changed, self._search_changed),
        ]
        for event, cb in self._subs:
            event.connect(cb)
        doc.analysed.connect(self._analysed)

    def detach(self) -> None:
        for event, cb in self._subs:
            event.disconnect(cb)
        self.doc.analysed.disconnect(self._analysed)

    # ------------------------------------------------------------------ looks
    def look(self, block: Block) -> BlockLook:
        spec = block.spec
        analysis = self.doc.analysis
        count = ""
        all_frozen = block.frozen
        if analysis is not None:
            info = analysis.block_info(block.id)
            all_frozen = all_frozen or bool(info.params and not info.trainable)
            if info.params < 0:  # a tie: the tensor it shares is counted once, at its owner
                count = f"shares {format_count(-info.params)}, counted once"
            elif info.params:
                count = format_count(info.params)
                if info.trainable == 0:
                    count += " (frozen)"
                elif info.trainable < info.params:
                    count += f" ({format_count(info.trainable)} trainable)"
        problem, severity = self._block_problem.get(block.id, ("", ""))
        if not problem and self._run_problem[0] == block.id:
            problem, severity = self._run_problem[1], "error"
        learning, learning_state = self._learning.get(block.id, ("", ""))
        heat, heat_share = self._heat.get(block.id, ("", 0.0))
        type_label = f"{spec.label} · {spec.torch_name}" if spec.torch_name else spec.label
        # inside an opened module: the values of the use it was opened from
        params = analysis.params_of(block) if analysis is not None and self.graph.owner is not None else block.params
        key_params, extra, tooltip, module = spec.key_params_text(params), [], spec.tooltip(), None
        if spec.definition is not None:
            module = module_lines(block, spec.definition, analysis)
            type_label, key_params, extra = module.type_label, module.key_params, [module.shapes, module.inside]
            tooltip = f"{tooltip}\n\n{module.tooltip}"
        searched = self._search_text(block)
        if searched:
            extra = [*extra, searched]
            tooltip = f"{tooltip}\n\nSweep ranges: {searched[2:]}"
        return BlockLook(
            title=block.name,
            type_label=type_label,
            category=spec.category,
            key_params=key_params,
            extra=extra,
            chips=module.chips if module else (),
            badge=module.badge if module else "",
            count=count,
            inputs=[(p.name, p.title) for p in block.input_ports()],
            outputs=[(p.name, p.title) for p in block.output_ports()],
            problem=problem,
            severity=severity,
            frozen=all_frozen,
            tooltip=tooltip,
            learning=learning,
            learning_state=learning_state,
            heat=heat,
            heat_share=heat_share,
        )

    def _definition_changed(self, defn) -> None:
        """A module's inside changed: its uses' previews follow (their shapes come with the
        analysis)."""
        self._relook(b.id for b in self.graph.blocks.values() if b.type == defn.type_id)

    def _wire_label(self, edge: Edge) -> str:
        analysis = self.doc.analysis
        if analysis is None:
            return ""
        shape = analysis.edge_shape(edge)
        return fmt_shape(shape) if shape is not None else "?"

    # ----------------------------------------------------------- model events
    def _add_block(self, block: Block) -> None:
        item = BlockItem(block.id, self.look(block))
        item.setPos(*block.position)
        self.blocks[block.id] = item
        self._wires_of.setdefault(block.id, set())
        self.addItem(item)
        self._keep_inside(item)

    def _keep_inside(self, item: BlockItem) -> None:
        rect = item.sceneBoundingRect()
        if not self.sceneRect().contains(rect):
            self.setSceneRect(self.sceneRect().united(rect.adjusted(-2000, -2000, 2000, 2000)))

    def _remove_block(self, block: Block) -> None:
        item = self.blocks.pop(block.id, None)
        self._wires_of.pop(block.id, None)
        if item is not None:
            self.removeItem(item)

    def _block_changed(self, block: Block, what: str) -> None:
        item = self.blocks[block.id]
        if what == "position":
            item.setPos(*block.position)
            self._keep_inside(item)
        else:
            item.set_look(self.look(block))
        self._route_wires_of(block.id)

    def _add_edge(self, edge: Edge) -> None:
        item = WireItem(edge.id)
        self.wires[edge.id] = item
        self._wires_of.setdefault(edge.src, set()).add(edge.id)
        self._wires_of.setdefault(edge.dst, set()).add(edge.id)
        self._route(edge, item)
        item.set_label(self._wire_label(edge), self._edge_problem.get(edge.id, ""))
        self.addItem(item)

    def _remove_edge(self, edge: Edge) -> None:
        item = self.wires.pop(edge.id, None)
        for bid in (edge.src, edge.dst):
            self._wires_of.get(bid, set()).discard(edge.id)
        if item is not None:
            self.removeItem(item)

    def _route(self, edge: Edge, item: WireItem, offset: dict[str, QPointF] | None = None) -> None:
        a = self.blocks[edge.src].port_scene(True, edge.src_port)
        b = self.blocks[edge.dst].port_scene(False, edge.dst_port)
        if offset:
            a = a + offset.get(edge.src, QPointF())
            b = b + offset.get(edge.dst, QPointF())
        item.set_ends(a, b)

    def _route_wires_of(self, block_id: str) -> None:
        for eid in self._wires_of.get(block_id, ()):
            edge = self.graph.edges.get(eid)
            if edge is not None:
                self._route(edge, self.wires[eid])

    # --------------------------------------------------------------- analysis
    def _analysed(self, changed: set[str]) -> None:
        analysis = self.doc.analysis
        if analysis is None:
            return
        block_problem: dict[str, tuple[str, str]] = {}
        edge_problem: dict[str, str] = {}
        for d in analysis.diagnostics:
            if d.edge_id is not None:
                edge_problem.setdefault(d.edge_id, d.message)
            elif d.block_id is not None:
                old = block_problem.get(d.block_id)
                if old is None or (old[1] != "error" and d.is_error):
                    block_problem[d.block_id] = (d.message, d.severity)
        touched = set(changed)
        for bid in set(block_problem) | set(self._block_problem):
            if block_problem.get(bid) != self._block_problem.get(bid):
                touched.add(bid)
        edges_touched = {eid for eid in set(edge_problem) | set(self._edge_problem)
                         if edge_problem.get(eid) != self._edge_problem.get(eid)}
        self._block_problem, self._edge_problem = block_problem, edge_problem
        for bid in touched:
            block = self.graph.blocks.get(bid)
            if block is None:
                continue
            self.blocks[bid].set_look(self.look(block))
            edges_touched.update(e for e in self._wires_of.get(bid, ()) if self.graph.edges[e].src == bid)
        for eid in edges_touched:
            edge = self.graph.edges.get(eid)
            if edge is not None:
                self.wires[eid].set_label(self._wire_label(edge), edge_problem.get(eid, ""))

    # --------------------------------------------------------------- training
    def set_learning(self, stats: dict[str, tuple[str, str]]) -> None:
        """Show each block's live learning indicator ({} clears them); repaints changed blocks.
        The run's blocks are the model's: an opened module shows none."""
        if self.graph.owner is not None:
            stats = {}
        old, self._learning = self._learning, dict(stats)
        self._relook(bid for bid in set(old) | set(stats) if old.get(bid) != stats.get(bid))

    def set_heat(self, heat: dict[str, tuple[str, float]]) -> None:
        """The cost overlay: each block's cost text and share of the step ({} clears it). The
        costs are the model's blocks': an opened module shows none."""
        if self.graph.owner is not None:
            heat = {}
        old, self._heat = self._heat, dict(heat)
        self._relook(bid for bid in set(old) | set(heat) if old.get(bid) != heat.get(bid))

    def set_run_problem(self, block_id: str | None, message: str) -> None:
        """Mark the block a failed run points at (None clears the mark); the model's blocks
        only, so not inside an opened module."""
        if self.graph.owner is not None:
            block_id, message = None, ""
        old, self._run_problem = self._run_problem, (block_id, message)
        if old != self._run_problem:
            self._relook(b for b in (old[0], block_id) if b is not None)

    def _search_text(self, block) -> str:
        """'⇄ out_features 8..128' for a block whose parameters a sweep searches."""
        project = getattr(self.doc, "project", None)
        if self.graph.owner is not None or project is None:
            return ""
        text = _line(project.search, block.id)
        self._searched[block.id] = text
        return text

    def _search_changed(self, *_) -> None:
        project = getattr(self.doc, "project", None)
        if project is None or self.graph.owner is not None:
            return
        now = {r.block for r in project.search.ranges if r.block}
        stale = [bid for bid in now | {b for b, t in self._searched.items() if t}
                 if bid in self.graph.blocks and self._searched.get(bid, "") != _line(project.search, bid)]
        self._relook(stale)

    def _relook(self, block_ids) -> None:
        for bid in block_ids:
            block = self.graph.blocks.get(bid)
            if block is not None and bid in self.blocks:
                self.blocks[bid].set_look(self.look(block))

    # ------------------------------------------------------------ view helpers
    def preview_offset(self, block_ids: list[str], delta: QPointF) -> None:
        """Show blocks displaced by ``delta`` while they are dragged (view only: the model
        gets one Move command on release)."""
        offsets = {}
        for bid in block_ids:
            block = self.graph.blocks[bid]
            self.blocks[bid].setPos(QPointF(*block.position) + delta)
            offsets[bid] = delta
        done: set[str] = set()
        for bid in block_ids:
            for eid in self._wires_of.get(bid, ()):
                if eid not in done:
                    done.add(eid)
                    edge = self.graph.edges[eid]
                    # port_scene already includes the moved item position
                    self._route(edge, self.wires[eid])

    def end_preview(self, block_ids: list[str]) -> None:
        for bid in block_ids:
            block = self.graph.blocks.get(bid)
            if block is not None:
                self.blocks[bid].setPos(*block.position)
                self._route_wires_of(bid)

    def selected_block_ids(self) -> list[str]:
        sel = {i.block_id for i in self.selectedItems() if isinstance(i, BlockItem)}
        return [bid for bid in self.graph.blocks if bid in sel]

    def selected_edge_ids(self) -> list[str]:
        return [i.edge_id for i in self.selectedItems() if isinstance(i, WireItem)]

    def select_blocks(self, block_ids) -> None:
        ids = set(block_ids)
        self.clearSelection()
        for bid in ids:
            item = self.blocks.get(bid)
            if item is not None:
                item.setSelected(True)

    def blocks_rect(self) -> QRectF:
        rect = QRectF()
        for item in self.blocks.values():
            rect = rect.united(item.sceneBoundingRect())
        return rect

    def _grow_scene_rect(self) -> None:
        rect = self.blocks_rect().adjusted(-3000, -3000, 3000, 3000)
        self.setSceneRect(self.sceneRect().united(rect))

    def drawBackground(self, painter: QPainter, rect: QRectF) -> None:
        t = current_theme()
        painter.fillRect(rect, t.background)
        if painter.worldTransform().m11() < LOD_TEXT:
            return
        painter.setPen(self._grid_pen)
        step = GRID * 2
        left = int(rect.left() // step) * step
        top = int(rect.top() // step) * step
        lines = []
        x = left
        while x < rect.right():
            lines.append((QPointF(x, rect.top()), QPointF(x, rect.bottom())))
            x += step
        y = top
        while y < rect.bottom():
            lines.append((QPointF(rect.left(), y), QPointF(rect.right(), y)))
            y += step
        for a, b in lines:
            painter.drawLine(a, b)


def _line(search, block_id: str) -> str:
    ranges = search.for_block(block_id)
    return "⇄ " + "; ".join(f"{r.param} {r.describe()}" for r in ranges) if ranges else ""
