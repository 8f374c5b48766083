"""View > Compare with…: two projects side by side (this one and another project, or two runs'
models), blocks outlined by what happened to them (added green, removed red, changed amber,
renamed blue), and below, the differences as text: settings, wires, modules, ranges, the
generated code's diff. Selecting a block shows its old and new values. Reads `graph.diff`;
the canvases are ordinary scenes on their own documents, shown read-only."""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QPen
from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QGraphicsItem,
    QGraphicsRectItem,
    QGraphicsView,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from studio.graph.diff import ProjectDiff, diff_projects
from studio.training.run_table import IGNORED_SETTINGS
from studio.ui.window_layout import fit_to_screen

COLOURS = {"added": "#2e7d32", "removed": "#c62828", "changed": "#ef8f00", "renamed": "#1565c0"}


class CompareWindow(QDialog):
    def __init__(self, a, b, title_a: str, title_b: str, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Compare {title_a} with {title_b}")
        fit_to_screen(self, 1300, 820)
        self.a, self.b = a, b
        self.diff: ProjectDiff = diff_projects(a, b, _code(a), _code(b), ignore=IGNORED_SETTINGS)
        self.kinds_a, self.kinds_b = _kinds(self.diff)
        self.side_a = _Side(a, title_a, self.kinds_a)
        self.side_b = _Side(b, title_b, self.kinds_b)
        self.details = QLabel("Select a block to see its old and new values.")
        self.details.setWordWrap(True)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.text = QPlainTextEdit(self.diff.to_text())
        self.text.setReadOnly(True)
        self.text.setFont(QFont("monospace"))
        legend = QLabel(
            "  ".join(f"<span style='color:{c}'>■</span> {k}" for k, c in COLOURS.items())
        )
        canvases = QSplitter(Qt.Orientation.Horizontal)
        canvases.addWidget(self.side_a)
        canvases.addWidget(self.side_b)
        lower = QWidget()
        box = QVBoxLayout(lower)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(legend)
        box.addWidget(self.details)
        box.addWidget(self.text, 1)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(canvases)
        split.addWidget(lower)
        split.setSizes([520, 300])
        layout = QVBoxLayout(self)
        layout.addWidget(split)
        self.changes_a = {c.a: c for c in self.diff.graph.matched}
        self.changes_b = {c.b: c for c in self.diff.graph.matched}
        self.side_a.scene.selectionChanged.connect(
            lambda: self._selected(self.side_a, self.changes_a, "a")
        )
        self.side_b.scene.selectionChanged.connect(
            lambda: self._selected(self.side_b, self.changes_b, "b")
        )

    def _selected(self, side, changes, which: str) -> None:
        try:
            ids = [bid for bid, item in side.scene.blocks.items() if item.isSelected()]
        except RuntimeError:  # the scene is being torn down (the window closes): nothing to show
            return
        if not ids:
            return
        bid = ids[0]
        change = changes.get(bid)
        graph = side.project.graph
        name = graph.blocks[bid].name
        if change is None:
            what = "added in the second" if which == "b" else "only in the first (removed)"
            self.details.setText(f"<b>{name}</b>: {what} project.")
            return
        rows = [
            f"<b>{change.name_a}</b>" + (f" → <b>{change.name_b}</b>" if change.renamed else "")
        ]
        rows += [f"{k}: {old!r} → {new!r}" for k, (old, new) in change.params.items()]
        if change.frozen is not None:
            rows.append(f"frozen: {change.frozen[0]} → {change.frozen[1]}")
        if len(rows) == 1:
            rows.append("the same in both" + (" (moved)" if change.moved else ""))
        self.details.setText("<br>".join(rows))
        other = self.side_b if which == "a" else self.side_a
        other_id = change.b if which == "a" else change.a
        other.view.centerOn(other.scene.blocks[other_id])


class _Side(QWidget):
    """One project's canvas, read-only, each block outlined by its kind of change."""

    def __init__(self, project, title: str, kinds: dict[str, str]) -> None:
        super().__init__()
        from studio.ui.canvas.scene import GraphScene
        from studio.ui.document import Document

        self.project = project
        self.doc = Document(project, self)
        self.doc.attach_compiler()
        self.scene = GraphScene(self.doc, self)
        self.view = QGraphicsView(self.scene)
        self.view.setRenderHint(self.view.renderHints().Antialiasing, True)
        self.view.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.outlines: dict[str, QGraphicsRectItem] = {}
        for bid, item in self.scene.blocks.items():
            item.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsMovable, False)
            kind = kinds.get(bid)
            if kind is None:
                continue
            colour = QColor(COLOURS[kind])
            fill = QColor(colour)
            fill.setAlpha(40)
            rect = item.sceneBoundingRect().adjusted(-5, -5, 5, 5)
            outline = QGraphicsRectItem(QRectF(rect))
            outline.setPen(QPen(colour, 4))
            outline.setBrush(QBrush(fill))
            outline.setZValue(item.zValue() + 1)
            outline.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
            outline.setToolTip(kind)
            self.scene.addItem(outline)
            self.outlines[bid] = outline
        label = QLabel(f"<b>{title}</b>")
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        row.addWidget(label, 1)
        box.addLayout(row)
        box.addWidget(self.view, 1)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        rect = self.scene.itemsBoundingRect().adjusted(-40, -40, 40, 40)
        self.view.fitInView(rect, Qt.AspectRatioMode.KeepAspectRatio)


def _kinds(d: ProjectDiff) -> tuple[dict[str, str], dict[str, str]]:
    """Block id -> kind of change, for each side."""
    a = {bid: "removed" for bid, _, _ in d.graph.removed}
    b = {bid: "added" for bid, _, _ in d.graph.added}
    for c in d.graph.matched:
        kind = "changed" if c.changed else "renamed" if c.renamed else None
        if kind:
            a[c.a] = b[c.b] = kind
    return a, b


def _code(project) -> str:
    try:
        import studio.compiler as compiler

        return compiler.generate(project.graph, "Model").source
    except Exception as e:  # an invalid graph: the rest of the comparison still helps
        return f"# no code: {e}\n"


def choose_and_compare(window) -> CompareWindow | None:
    """View > Compare with…: pick a project file (or a run's model.studio.json) and show it."""
    path = choose_file(window)
    if not path:
        return None
    return compare_with_file(window, path)


def choose_file(window) -> str:
    """The file to compare with, '' when cancelled (tests replace this)."""
    return QFileDialog.getOpenFileName(
        window, "Compare with", "", "Studio projects (*.studio.json *.json)"
    )[0]


def compare_with_file(window, path: str) -> CompareWindow | None:
    from pathlib import Path

    from studio.graph.project import ProjectError, load_project

    try:
        other = load_project(path)
    except ProjectError as e:
        window.files.error(str(e))
        return None
    current = window.doc.project
    view = CompareWindow(current, other, f"{current.name} (open)", Path(path).name, window)
    view.show()
    window.compare_window = view
    return view


def compare_runs(window, records) -> CompareWindow | None:
    """Two kept runs: the models and settings they trained with."""
    from studio.graph.project import ProjectError, load_project

    if len(records) != 2 or any(r.model_file is None for r in records):
        window.training.panel.show_message(
            "Tick or select two runs that kept their model to compare them.", error=True
        )
        return None
    try:
        a, b = (load_project(r.model_file) for r in records)
    except ProjectError as e:
        window.training.panel.show_message(str(e), error=True)
        return None
    a.training, b.training = dict(records[0].settings), dict(records[1].settings)
    view = CompareWindow(a, b, f"run {records[0].id}", f"run {records[1].id}", window)
    view.show()
    window.compare_window = view
    return view


def install(window) -> None:
    """View > Compare with…, and the Runs tab's Compare button."""
    window.view_menu.addSeparator()
    action = window.view_menu.addAction("Compare &With…", lambda: choose_and_compare(window))
    action.setStatusTip(
        "Show another project (or a run's model) beside this one, with what changed"
    )
    window.compare_action = action
    window.training.panel.runs.compare_requested.connect(lambda recs: compare_runs(window, recs))
