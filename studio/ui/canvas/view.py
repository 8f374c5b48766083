"""The canvas view: turns mouse and keyboard gestures into Editor calls.

Dragging blocks shows a preview (items displaced, nothing read back) and pushes one Move on
release; dragging from an output port draws a pending wire and connects on release."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRect, QRectF, Qt, Signal
from PySide6.QtGui import QKeySequence, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsPathItem, QGraphicsView

from studio.ui.canvas.items import BlockItem, WireItem
from studio.ui.canvas.overlays import CanvasOverlays
from studio.ui.canvas.scene import GraphScene
from studio.ui.editing import Editor
from studio.ui.theme import current_theme

BLOCK_MIME = "application/x-studio-block"
MIN_ZOOM, MAX_ZOOM = 0.05, 3.0
READABLE_ZOOM = 0.8


class CanvasView(QGraphicsView):
    hint = Signal(str)  # a message for the status bar
    context_requested = Signal(object, object)  # (block id or None, scene QPointF)
    quick_add_requested = Signal(object)  # scene QPointF
    open_requested = Signal(object)  # block id (double-click) or None (Enter: the selected one)

    def __init__(self, scene: GraphScene, editor: Editor, parent=None) -> None:
        super().__init__(scene, parent)
        self.editor = editor
        self.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.setRenderHint(QPainter.RenderHint.TextAntialiasing)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.SmartViewportUpdate)
        self.setOptimizationFlag(QGraphicsView.OptimizationFlag.DontSavePainterState)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setDragMode(QGraphicsView.DragMode.RubberBandDrag)
        self.setAcceptDrops(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.snap = True
        self._drag_ids: list[str] = []
        self._drag_start = QPointF()
        self._dragging = False
        self._wire_from: tuple[str, str] | None = None
        self._pending: QGraphicsPathItem | None = None
        self._pan_from: QPointF | None = None
        self._space = False
        self.overlays = CanvasOverlays(self)
        self.empty_hint, self.offscreen = self.overlays.hint, self.overlays.offscreen
        if scene is not None:
            scene.changed.connect(self.overlays.schedule)

    def setScene(self, scene) -> None:
        old = self.scene()
        if old is not None:
            try:
                old.changed.disconnect(self.overlays.schedule)
            except (RuntimeError, TypeError):
                pass
        super().setScene(scene)
        scene.changed.connect(self.overlays.schedule)
        self.overlays.schedule()

    def set_empty_hint(self, shown: bool) -> None:
        self.overlays.set_empty_hint(shown)

    def offscreen_counts(self) -> dict[str, int]:
        """How many blocks lie wholly outside the view, by side (left, right, above, below)."""
        seen = self.mapToScene(self.viewport().rect()).boundingRect()
        x0, y0, x1, y1 = seen.left(), seen.top(), seen.right(), seen.bottom()
        counts = {"left": 0, "right": 0, "above": 0, "below": 0}
        for item in self.graph_scene.blocks.values():
            x, y = item.x(), item.y()
            left, top, right, bottom = item.extent()
            left, top, right, bottom = x + left, y + top, x + right, y + bottom
            if left < x1 and right > x0 and top < y1 and bottom > y0:
                continue  # in view, if only in part
            if right < x0:
                counts["left"] += 1
            elif left > x1:
                counts["right"] += 1
            elif bottom < y0:
                counts["above"] += 1
            else:
                counts["below"] += 1
        return counts

    def scrollContentsBy(self, dx: int, dy: int) -> None:
        super().scrollContentsBy(dx, dy)  # this scrolls the viewport's child widgets too:
        self.overlays.place()  # put the overlays back where they belong at once
        self.overlays.schedule()

    def resizeEvent(self, event) -> None:
        old = event.oldSize()  # the viewport's (it is already the new size here)
        before = (
            self.mapToScene(QRect(0, 0, old.width(), old.height())).boundingRect()
            if old.isValid()
            else None
        )
        super().resizeEvent(event)
        self._keep_blocks_in_view(before)
        self.overlays.place()
        self.overlays.schedule()

    def _keep_blocks_in_view(self, before: QRectF | None) -> None:
        """A canvas made shorter (the Training panel opening below it) kept its top edge: a model
        shown across the middle of the view went out of it, leaving an empty canvas. When blocks
        were in view and none is now, the view moves to them, keeping its left edge."""
        blocks = self.graph_scene.blocks_rect()
        now = self.mapToScene(self.viewport().rect()).boundingRect()
        if (
            before is None
            or blocks.isNull()
            or not before.intersects(blocks)
            or now.intersects(blocks)
        ):
            return
        shown = before.intersected(blocks)  # what the user was looking at
        y = (
            shown.center().y()
            if shown.height() <= now.height()
            else shown.top() + now.height() / 2 - 40
        )
        self.centerOn(now.center().x(), y)

    @property
    def graph_scene(self) -> GraphScene:
        return self.scene()

    # ------------------------------------------------------------------- zoom
    def zoom_by(self, factor: float) -> None:
        current = self.transform().m11()
        factor = max(MIN_ZOOM / current, min(MAX_ZOOM / current, factor))
        self.scale(factor, factor)
        self.overlays.schedule()

    def zoom(self) -> float:
        return self.transform().m11()

    def fit_all(self, readable: bool = False) -> None:
        """Show every block. ``readable`` (on opening a project): never zoom out so far that
        block text disappears; show the start of the model (its inputs, top left) instead."""
        rect = self.graph_scene.blocks_rect()
        if rect.isNull():
            rect = QRectF(-200, -150, 400, 300)
        self.fitInView(rect.adjusted(-60, -60, 60, 60), Qt.AspectRatioMode.KeepAspectRatio)
        if self.zoom() > 1.2:
            self.resetTransform()
            self.scale(1.2, 1.2)
            self.centerOn(rect.center())
        elif readable and self.zoom() < READABLE_ZOOM:
            self.resetTransform()
            self.scale(READABLE_ZOOM, READABLE_ZOOM)
            half_width = self.viewport().width() / (2 * READABLE_ZOOM)
            half_height = self.viewport().height() / (2 * READABLE_ZOOM)
            y = (
                rect.center().y()
                if rect.height() + 80 <= 2 * half_height
                else rect.top() - 40 + half_height
            )
            self.centerOn(rect.left() - 40 + half_width, y)  # the start (top left) of the model
        self.overlays.schedule()

    def readable_scene_size(self, margin: float = 60) -> tuple[float, float]:
        """How much of the scene the view shows at the readable zoom (less a margin)."""
        vp = self.viewport().size()
        return vp.width() / READABLE_ZOOM - 2 * margin, vp.height() / READABLE_ZOOM - 2 * margin

    def fits_readable(self, rect: QRectF) -> bool:
        width, height = self.readable_scene_size()
        return rect.width() <= width and rect.height() <= height

    def centre_on_block(self, block_id: str) -> None:
        item = self.graph_scene.blocks.get(block_id)
        if item is not None:
            self.centerOn(item.sceneBoundingRect().center())

    def wheelEvent(self, event) -> None:
        delta = event.angleDelta().y()
        if delta:
            self.zoom_by(1.0015**delta)
        event.accept()

    # -------------------------------------------------------------- hit tests
    def _item_at(self, pos) -> tuple[BlockItem | None, tuple[bool, str] | None]:
        scene_pos = self.mapToScene(pos)
        for item in self.items(pos):
            if isinstance(item, BlockItem):
                return item, item.port_at(item.mapFromScene(scene_pos))
        # ports stick out of the block a little: look just around the point
        for item in self.graph_scene.items(
            QRectF(scene_pos - QPointF(10, 10), scene_pos + QPointF(10, 10))
        ):
            if isinstance(item, BlockItem):
                port = item.port_at(item.mapFromScene(scene_pos))
                if port:
                    return item, port
        return None, None

    # ------------------------------------------------------------------ mouse
    def mousePressEvent(self, event) -> None:
        if event.button() == Qt.MouseButton.MiddleButton or (
            self._space and event.button() == Qt.MouseButton.LeftButton
        ):
            self._pan_from = event.position()
            self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
            event.accept()
            return
        if event.button() == Qt.MouseButton.RightButton:
            block, _ = self._item_at(event.position().toPoint())
            if block is not None and block.isSelected():
                event.accept()  # the context menu acts on the whole selection (Group into Module)
                return
        if event.button() == Qt.MouseButton.LeftButton:
            block, port = self._item_at(event.position().toPoint())
            if block is not None and port is not None and port[0]:
                self._start_wire(block.block_id, port[1])
                event.accept()
                return
            if block is not None and port is not None and not port[0]:
                # dragging from a wired input detaches that wire: pick it up from its source
                edge = self.editor.graph.edge_into(block.block_id, port[1])
                if edge is not None:
                    self.editor.delete([], [edge.id])
                    self._start_wire(edge.src, edge.src_port)
                    event.accept()
                    return
            if block is not None:
                mods = event.modifiers()
                if mods & (Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier):
                    block.setSelected(not block.isSelected())
                elif not block.isSelected():
                    self.graph_scene.select_blocks([block.block_id])
                self._drag_ids = self.graph_scene.selected_block_ids()
                self._drag_start = self.mapToScene(event.position().toPoint())
                self._dragging = False
                event.accept()
                return
        super().mousePressEvent(event)

    def mouseDoubleClickEvent(self, event) -> None:
        """Double-click a module block: open its definition."""
        block, port = self._item_at(event.position().toPoint())
        if event.button() == Qt.MouseButton.LeftButton and block is not None and port is None:
            self.open_requested.emit(block.block_id)
            event.accept()
            return
        super().mouseDoubleClickEvent(event)

    def mouseMoveEvent(self, event) -> None:
        if self._pan_from is not None:
            d = event.position() - self._pan_from
            self._pan_from = event.position()
            self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() - int(d.x()))
            self.verticalScrollBar().setValue(self.verticalScrollBar().value() - int(d.y()))
            return
        scene_pos = self.mapToScene(event.position().toPoint())
        if self._wire_from is not None:
            self._update_pending(scene_pos, event.position().toPoint())
            return
        if self._drag_ids:
            delta = scene_pos - self._drag_start
            if self._dragging or delta.manhattanLength() > 3:
                self._dragging = True
                self.graph_scene.preview_offset(self._drag_ids, delta)
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event) -> None:
        if self._pan_from is not None:
            self._pan_from = None
            self.viewport().unsetCursor()
            return
        if self._wire_from is not None:
            self._finish_wire(event.position().toPoint())
            return
        if self._drag_ids:
            ids, self._drag_ids = self._drag_ids, []
            if self._dragging:
                delta = self.mapToScene(event.position().toPoint()) - self._drag_start
                graph = self.editor.graph
                positions = {
                    bid: (
                        graph.blocks[bid].position[0] + delta.x(),
                        graph.blocks[bid].position[1] + delta.y(),
                    )
                    for bid in ids
                }
                self.graph_scene.end_preview(ids)
                self.editor.move_blocks(positions, snap_to_grid=self.snap)
            self._dragging = False
            return
        super().mouseReleaseEvent(event)

    # ------------------------------------------------------------------ wires
    def _start_wire(self, block_id: str, port: str) -> None:
        self._wire_from = (block_id, port)
        self._pending = QGraphicsPathItem()
        pen = QPen(current_theme().pending_pen)
        self._pending.setPen(pen)
        self._pending.setZValue(10)
        self.graph_scene.addItem(self._pending)

    def _update_pending(self, scene_pos: QPointF, view_pos) -> None:
        src, port = self._wire_from
        a = self.graph_scene.blocks[src].port_scene(True, port)
        path = QPainterPath(a)
        dx = max(abs(scene_pos.x() - a.x()) * 0.5, 40.0)
        path.cubicTo(a + QPointF(dx, 0), scene_pos - QPointF(dx, 0), scene_pos)
        self._pending.setPath(path)
        block, dst_port = self._wire_target(view_pos)
        if block is not None and dst_port is not None:
            reason = self.editor.graph.can_connect(src, port, block.block_id, dst_port)
            self.hint.emit(f"Cannot connect: {reason}" if reason else "Release to connect")
            self.setToolTip(reason or "")
        else:
            self.hint.emit("")  # off the port: "Release to connect" no longer holds
            self.setToolTip("")

    def _finish_wire(self, view_pos) -> None:
        src, port = self._wire_from
        block, dst_port = self._wire_target(view_pos)
        self._wire_from = None
        if self._pending is not None:
            self.graph_scene.removeItem(self._pending)
            self._pending = None
        self.setToolTip("")
        self.hint.emit("")  # the wire is made (or not): the drag's hint is over
        if block is None or dst_port is None:
            return
        reason = self.editor.connect(src, port, block.block_id, dst_port)
        if reason:
            self.hint.emit(f"Cannot connect: {reason}")

    def _wire_target(self, view_pos) -> tuple[BlockItem | None, str | None]:
        """The block and input a wire dragged to `view_pos` would go into: the input port under
        it, or, over a block's body, the input `Editor.input_for_drop` picks."""
        block, target = self._item_at(view_pos)
        if block is None or (target is not None and target[0]):
            return None, None
        if target is not None:
            return block, target[1]
        if self._wire_from is not None and block.block_id == self._wire_from[0]:
            return None, None  # still over the block it starts from
        return block, self.editor.input_for_drop(block.block_id)

    # --------------------------------------------------------------- keyboard
    def keyPressEvent(self, event) -> None:
        key = event.key()
        if key == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = True
            self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
            return
        if key == Qt.Key.Key_Tab:
            self.quick_add_requested.emit(self._cursor_scene_pos())
            return
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self.graph_scene.selected_block_ids():
            self.open_requested.emit(None)
            return
        if event.matches(QKeySequence.StandardKey.ZoomIn) or key in (
            Qt.Key.Key_Plus,
            Qt.Key.Key_Equal,
        ):
            self.zoom_by(1.25)
            return
        if event.matches(QKeySequence.StandardKey.ZoomOut) or key == Qt.Key.Key_Minus:
            self.zoom_by(0.8)
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = False
            self.viewport().unsetCursor()
            return
        super().keyReleaseEvent(event)

    def focusNextPrevChild(self, next: bool) -> bool:
        return False  # Tab opens quick add instead of moving focus

    def _cursor_scene_pos(self) -> QPointF:
        pos = self.viewport().mapFromGlobal(self.cursor().pos())
        if not self.viewport().rect().contains(pos):
            return self.mapToScene(self.viewport().rect().center())
        return self.mapToScene(pos)

    def cursor_scene_pos(self) -> QPointF | None:
        """Where the mouse is on the canvas; None when it is not over the canvas."""
        pos = self.viewport().mapFromGlobal(self.cursor().pos())
        return (
            self.mapToScene(pos)
            if self.viewport().rect().contains(pos) and self.underMouse()
            else None
        )

    def centre_scene_pos(self) -> QPointF:
        return self.mapToScene(self.viewport().rect().center())

    # ----------------------------------------------------------- context menu
    def contextMenuEvent(self, event) -> None:
        block, _ = self._item_at(event.pos())
        scene_pos = self.mapToScene(event.pos())
        if block is not None and not block.isSelected():
            self.graph_scene.select_blocks([block.block_id])
        self.context_requested.emit(block.block_id if block else None, scene_pos)

    # ------------------------------------------------------------ drag & drop
    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasFormat(BLOCK_MIME):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:
        if event.mimeData().hasFormat(BLOCK_MIME):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event) -> None:
        mime = event.mimeData()
        if not mime.hasFormat(BLOCK_MIME):
            event.ignore()
            return
        type_id = bytes(mime.data(BLOCK_MIME)).decode()
        self.drop_block(type_id, self.mapToScene(event.position().toPoint()), splice=True)
        event.acceptProposedAction()

    def wire_at(self, scene_pos: QPointF) -> str | None:
        """The wire under ``scene_pos`` (a few pixels either side count), unless a block is."""
        r = 6 / max(self.zoom(), 1e-3)
        items = self.graph_scene.items(QRectF(scene_pos - QPointF(r, r), scene_pos + QPointF(r, r)))
        if any(isinstance(i, BlockItem) for i in items):
            return None
        return next((i.edge_id for i in items if isinstance(i, WireItem)), None)

    def drop_block(self, type_id: str, scene_pos: QPointF, splice: bool = False) -> str | None:
        """Add a block of ``type_id`` centred near ``scene_pos`` (what a palette drop does), in
        the free spot nearest it when a block is there; with ``splice``, dropped onto a wire it
        goes in between (one undo step)."""
        at = (scene_pos.x() - 90, scene_pos.y() - 30)
        edge_id = self.wire_at(scene_pos) if splice else None
        if edge_id is not None:
            bid = self.editor.add_block_on_wire(type_id, at, edge_id, snap_to_grid=self.snap)
        else:
            bid = self.editor.add_block(type_id, at, snap_to_grid=self.snap, free_space=True)
        if bid is not None:
            self.graph_scene.select_blocks([bid])
            item = self.graph_scene.blocks.get(bid)
            if item is not None:  # a quick add at the edge, or moved to free space: show it whole
                self.ensureVisible(item, 16, 16)
        return bid


__all__ = ["BLOCK_MIME", "CanvasView", "WireItem"]
