"""The problems list: the model's diagnostics and the check before Train (does the data fit?).

Clicking a row selects and centres its block; a row whose fix is one obvious edit carries a
button that pushes that edit as an undoable command. The data's signature is read in a worker
thread the first time a data spec is seen (a large CSV is streamed once), then comes from
`fit_check`'s cache, so checking on every edit never touches a file on the GUI thread.
A failed run's message stays pinned on top until the model or settings are edited into a state
with no problems: then it is stale and goes.
"""

from __future__ import annotations

import copy
from pathlib import Path

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from studio.ui.document import Document

BLOCK_ROLE = Qt.ItemDataRole.UserRole
EDGE_ROLE = Qt.ItemDataRole.UserRole + 1
READING = "Reading the training data…"
#: a word this long is broken after its "_", "." or "/" (MobileNet_V3_Small_Weights.IMAGENET1K_V1
#: would not wrap: the row grew wider than the dock and its text was cut at both ends)
LONG_WORD = 24
_BREAK = "\u200b"  # zero-width space: a place to wrap, invisible


def breakable(text: str) -> str:
    """``text`` with wrap points after "_", "." and "/" inside words of LONG_WORD or more."""
    import re

    def split(m: re.Match) -> str:
        return re.sub(r"([_./])(?=\w)", "\\1" + _BREAK, m.group(0))

    return re.sub(rf"\S{{{LONG_WORD},}}", split, text)


class ProblemsList(QListWidget):
    block_clicked = Signal(str)
    edge_clicked = Signal(str)
    #: the rows changed (the status bar's problem count follows)
    changed = Signal()
    #: a failed run's pinned message went stale and was removed (the canvas drops its mark)
    failure_cleared = Signal()

    def __init__(self, doc: Document, editor=None, parent=None) -> None:
        super().__init__(parent)
        self.doc = doc
        self.editor = editor  # edits go through it (it asks to stop a run first)
        self._shown: list[tuple] | None = None  # (text, severity, block id, edge id, fix)
        self._pinned: tuple | None = None  # (text, block id, tooltip)
        self._pinned_at = 0  # the undo index when the failure was pinned
        self._reading: object | None = None  # the Job reading a data signature
        self.setWordWrap(True)
        self.setVerticalScrollMode(QListWidget.ScrollMode.ScrollPerPixel)  # rows of several lines
        self.itemClicked.connect(self._clicked)
        self.itemActivated.connect(self._clicked)
        doc.analysed.connect(self.refresh)
        self._later = QTimer(self, singleShot=True, interval=0)
        self._later.timeout.connect(self.refresh)
        doc.undo_stack.indexChanged.connect(self._later.start)  # training settings live there too
        self.addItem("Checking the model once PyTorch has loaded…")

    def detach(self) -> None:
        self.doc.analysed.disconnect(self.refresh)
        self.doc.undo_stack.indexChanged.disconnect(self._later.start)
        self._later.stop()

    # ------------------------------------------------------------------ rows
    def refresh(self, *_: object) -> None:
        analysis = self.doc.analysis
        if analysis is None:
            return
        graph = self.doc.graph
        rows = [(d.describe(graph), d.severity, d.block_id, d.edge_id, None) for d in analysis.diagnostics]
        fit = self._fit_problems(analysis)
        rows += [(d.describe(graph), d.severity, d.block_id, None, d.fix) for d in fit]
        rows += [(d.describe(graph), d.severity, d.block_id, None, d.fixes) for d in self._weights_problems()]
        if self._reading is None and not any(d.is_error for d in fit):  # only data that reads and fits
            rows += [(d.describe(graph), d.severity, d.block_id, None, d.fix) for d in self._standardize_problems()]
        stale = self._pinned is not None and self.doc.undo_stack.index() != self._pinned_at and not self._errors(rows)
        if stale:
            self._pinned = None  # edited since the run failed, and nothing is wrong now
            self.failure_cleared.emit()
        elif rows == self._shown:
            return
        self._shown = rows
        self._render()
        self.changed.emit()

    def _fit_problems(self, analysis) -> list:
        from studio.training.fit_check import (
            FIT_PREFIX,
            FitProblem,
            cached_signature,
            check_training,
            data_spec,
            settings_problems,
        )

        training = self.doc.project.training
        problems = settings_problems(training)
        if problems:
            return problems
        from studio.training.balance_check import needs_read

        spec, base = data_spec(training), self._base_dir()
        signature = cached_signature(spec, base)
        if signature is None or needs_read(training, base):  # the class counts too
            self._read(spec, base, training)
            if signature is None:
                return []
        try:
            return check_training(self.doc.graph, analysis, training, base, signature=signature)
        except Exception as e:  # noqa: BLE001 - a check must never take the window down
            return [FitProblem(f"{FIT_PREFIX}: could not be checked against the model ({e}).", severity="warning")]

    def _weights_problems(self) -> list:
        """Pretrained weights not on this computer, frozen blocks with random weights."""
        from studio.training.weights_check import weights_problems

        try:
            return weights_problems(self.doc.graph)
        except Exception:  # noqa: BLE001 - a check must never take the window down
            return []

    def _standardize_problems(self) -> list:
        """Data standardised as it is read, with no Standardize block in the model."""
        from studio.training.standardize_check import standardize_problems

        try:
            return standardize_problems(self.doc.graph, self.doc.project.training, self._base_dir())
        except Exception:  # noqa: BLE001 - a check must never take the window down
            return []

    def _base_dir(self) -> str:
        path = self.doc.project.path
        return str(Path(path).resolve().parent) if path else str(Path.cwd())

    def _read(self, spec, base: str, training) -> None:
        """Read the data's signature and class counts in a worker thread, then check again."""
        if self._reading is not None:
            return
        from studio.training.balance_check import read_counts
        from studio.training.fit_check import read_signature
        from studio.ui.jobs import Job

        training = copy.deepcopy(training)  # the settings as they are now, not as edited later
        job = Job(lambda: (read_signature(spec, base), read_counts(training, base)))
        job.finished.connect(self._read_done)
        self._reading = job.begin()

    def _read_done(self) -> None:
        self._reading = None
        self._shown = None  # draw again even if no row changed ("Reading…" goes)
        self.refresh()

    @staticmethod
    def _errors(rows) -> int:
        return sum(1 for row in rows if row[1] == "error")

    def error_texts(self) -> list[str]:
        """The errors shown, the check before Train included, each with its fix's wording."""
        return [
            text + "".join(f" (Fix: {f.text}.)" for f in _fixes(fix))
            for text, severity, _, _, fix in self._shown or []
            if severity == "error"
        ]

    def error_count(self) -> int:
        """Errors shown, the check before Train included (not a pinned run failure)."""
        return self._errors(self._shown or [])

    def is_reading(self) -> bool:
        return self._reading is not None

    # --------------------------------------------------------------- pinning
    def pin(self, text: str, block_id: str | None, tooltip: str = "") -> None:
        """A row above the diagnostics that stays through re-analysis (a failed run's message),
        until `unpin` or an edit that leaves no problem."""
        self._pinned = (text, block_id, tooltip or text)
        self._pinned_at = self.doc.undo_stack.index()
        self._render()

    def unpin(self) -> None:
        if self._pinned is not None:
            self._pinned = None
            self._render()

    def pinned_text(self) -> str | None:
        return self._pinned[0] if self._pinned else None

    # --------------------------------------------------------------- drawing
    def _render(self) -> None:
        self.clear()
        style = self.style()
        err = style.standardIcon(QStyle.StandardPixmap.SP_MessageBoxCritical)
        warn = style.standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning)
        if self._pinned is not None:
            text, block_id, tooltip = self._pinned
            item = QListWidgetItem(err, breakable(text))
            if block_id is not None and block_id in self.doc.graph.blocks:  # a deleted block: no link
                item.setData(BLOCK_ROLE, block_id)
            item.setToolTip(tooltip)
            self.addItem(item)
        rows = self._shown or []
        for text, severity, block_id, edge_id, fix in rows:
            icon = err if severity == "error" else warn
            # a row with fix buttons draws its own icon: the view places a row widget right of
            # the item's icon, so the row was narrower than the width its height was fitted to
            item = QListWidgetItem("") if _fixes(fix) else QListWidgetItem(icon, breakable(text))
            item.setData(BLOCK_ROLE, block_id)
            item.setData(EDGE_ROLE, edge_id)
            item.setToolTip(text)
            self.addItem(item)
            if _fixes(fix):
                self.setItemWidget(item, self._fix_row(text, fix, icon))
        if self._shown is not None and not rows:
            ok = style.standardIcon(QStyle.StandardPixmap.SP_DialogApplyButton)
            text = READING if self._reading is not None else "No problems: the model is ready to train."
            self.addItem(QListWidgetItem(ok, text))
        self._fit_rows()

    def _fix_row(self, text: str, fix, icon) -> QWidget:
        """The problem's icon, its text, and its fix buttons under the text (a narrow dock
        keeps each readable)."""
        row = QWidget()
        outer = QHBoxLayout(row)
        outer.setContentsMargins(2, 3, 4, 4)
        outer.setSpacing(6)
        size = self._icon_size()
        mark = QLabel()
        mark.setPixmap(icon.pixmap(size, size))
        mark.setFixedWidth(size)
        outer.addWidget(mark, 0, Qt.AlignmentFlag.AlignTop)
        layout = QVBoxLayout()
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(3)
        outer.addLayout(layout, 1)
        label = QLabel(breakable(text))
        label.setWordWrap(True)
        layout.addWidget(label)
        for f in _fixes(fix):  # one under the other: a narrow dock shows each whole
            button = QPushButton(f.text)
            button.setToolTip(f"{f.text} (undo with Ctrl+Z)")
            button.clicked.connect(lambda _=False, f=f: self.apply_fix(f))
            layout.addWidget(button, 0, Qt.AlignmentFlag.AlignLeft)
        return row

    def _icon_size(self) -> int:
        size = self.iconSize().width()
        return size if size > 0 else self.style().pixelMetric(QStyle.PixelMetric.PM_SmallIconSize)

    def _fit_rows(self) -> None:
        """Rows with a button wrap to the list's width (an item widget does not by itself)."""
        bar = self.verticalScrollBar()
        reserve = 0 if bar.isVisible() else bar.sizeHint().width()  # tall rows may bring it
        width = max(self.viewport().width() - reserve - 4, 120)
        for i in range(self.count()):
            item = self.item(i)
            row = self.itemWidget(item)
            if row is not None:
                item.setSizeHint(QSize(width, max(row.layout().totalHeightForWidth(width), 28)))

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit_rows()

    # ------------------------------------------------------------------ input
    def apply_fix(self, fix) -> bool:
        """Push the fix's command (undoable, as any edit); the list follows the new analysis."""
        target = self.editor.doc if self.editor is not None else self.doc
        make_with = getattr(fix, "make_with", None)
        if make_with is not None:  # the fix needs a file chosen first
            path, _ = QFileDialog.getOpenFileName(self, fix.text.rstrip("…"), "", fix.filter)
            return bool(path) and target.push(make_with(self.doc.graph, path))
        training = getattr(fix, "training", None)
        if training is not None:  # the graph and the settings change as one undo step
            from studio.graph.commands import Macro
            from studio.ui.training.commands import SetTraining

            try:
                command = fix.make(self.doc.graph)
            except Exception as e:  # noqa: BLE001 - e.g. the data cannot be read: say so, change nothing
                QMessageBox.warning(self, fix.text, f"{fix.text} failed: {e}")
                return False
            project = self.doc.project
            both = Macro(fix.text, [command, SetTraining(project, training(project.training), "data")])
            return target.push(both)
        return target.push(fix.make(self.doc.graph))

    def problem_texts(self) -> list[str]:
        return [row[0] for row in self._shown or []]

    def all_fix_buttons(self) -> dict[str, list[QPushButton]]:
        """Every fix button of each shown problem, by the text of the problem (its tooltip:
        the label's has wrap points)."""
        out = {}
        for i in range(self.count()):
            row = self.itemWidget(self.item(i))
            if row is not None:
                out[self.item(i).toolTip()] = row.findChildren(QPushButton)
        return out

    def fix_buttons(self) -> dict[str, QPushButton]:
        """Each shown fix button by the text of its problem (what a test clicks)."""
        out = {}
        for i in range(self.count()):
            row = self.itemWidget(self.item(i))
            if row is not None:
                out[self.item(i).toolTip()] = row.findChild(QPushButton)
        return out

    def _clicked(self, item: QListWidgetItem) -> None:
        block_id = item.data(BLOCK_ROLE)
        edge_id = item.data(EDGE_ROLE)
        if edge_id:
            self.edge_clicked.emit(edge_id)
        elif block_id:
            self.block_clicked.emit(block_id)


def _fixes(fix) -> tuple:
    """A row's fixes: none, one, or several (a tuple)."""
    if fix is None:
        return ()
    return tuple(fix) if isinstance(fix, tuple) else (fix,)
