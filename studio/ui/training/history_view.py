"""The Runs tab: every kept run as one row of a sortable table (newest first), with a column for
each setting and block parameter that differs between the runs, their final and best metrics,
time and sweep (`studio.training.run_table`). Ticking runs overlays their curves; selecting
rows plots a parameter against a metric (the Compare plot); Compare opens two runs' models side
by side (the two selected rows, else the two ticked); Export writes the table as CSV.
The current run can be resumed from its last checkpoint, have its settings applied to the
project, be tried (its weights loaded into the graph it was trained with), or have that graph
opened as a new project. Below the table, the current run's TensorBoard files: where they are
and the command that opens them, or the install hint when tensorboard is not installed."""

from __future__ import annotations

import shlex

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from studio.training import tensorboard
from studio.training.run_table import RunTable, format_value
from studio.training.runs import RunRecord

RECORD_ROLE = Qt.ItemDataRole.UserRole
#: column titles a person reads (the others are the settings' own dotted names)
TITLES = {
    "run": "Run",
    "started": "Started",
    "status": "Status",
    "sweep": "Sweep",
    "trial": "Trial",
    "epochs": "Epochs",
    "seconds": "Time (s)",
    "best": "Best",
}


class _Item(QTableWidgetItem):
    """A cell that sorts numbers as numbers and puts empty cells last."""

    def __init__(self, value) -> None:
        super().__init__(format_value(value))
        self.value = value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            self.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)

    def __lt__(self, other) -> bool:
        a, b = self.value, getattr(other, "value", None)
        num = (int, float)
        if (
            isinstance(a, num)
            and isinstance(b, num)
            and not isinstance(a, bool)
            and not isinstance(b, bool)
        ):
            return a < b
        if a is None or b is None:
            return b is None and a is not None
        return str(a) < str(b)


class RunTableWidget(QTableWidget):
    """The table; its first column holds the tick box and the run. `count`, `item(row)` and
    `setCurrentRow` read it like a list of runs (column 0), as the run list it replaced."""

    def count(self) -> int:
        return self.rowCount()

    def item(self, row: int, column: int = 0):
        return super().item(row, column)

    def setCurrentRow(self, row: int) -> None:
        self.setCurrentCell(row, 0)


class RunList(QWidget):
    overlay_changed = Signal(object)  # list[RunRecord] ticked
    selection_changed = Signal(object)  # list[RunRecord] selected (the Compare plot follows)
    table_changed = Signal()  # the runs shown changed
    resume_requested = Signal(object)  # RunRecord
    apply_requested = Signal(object)  # RunRecord
    try_requested = Signal(object)  # RunRecord
    open_requested = Signal(object)  # RunRecord
    compare_requested = Signal(object)  # [RunRecord, RunRecord]: their models and settings

    def __init__(self, parent=None):
        super().__init__(parent)
        self.table: RunTable = RunTable.build([])
        self.list = RunTableWidget(0, 0)
        self.list.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.list.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.list.setAlternatingRowColors(True)
        self.list.verticalHeader().setVisible(False)
        self.list.verticalHeader().setDefaultSectionSize(22)
        self.list.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.list.setSortingEnabled(True)
        self.list.itemChanged.connect(self._item_changed)
        self.list.currentCellChanged.connect(lambda *_: self._update_buttons())
        self.list.selectionModel().selectionChanged.connect(lambda *_: self._selection_changed())
        self.resume_button = QPushButton("Resume")
        self.resume_button.setToolTip("Continue the selected run from its last checkpoint")
        self.apply_button = QPushButton("Use settings")
        self.apply_button.setToolTip("Copy the selected run's settings into the project (undoable)")
        self.try_button = QPushButton("Try it")
        self.try_button.setToolTip(
            "Load the selected run's weights into the model and try it on validation samples"
        )
        self.resume_button.clicked.connect(lambda: self._emit(self.resume_requested))
        self.apply_button.clicked.connect(lambda: self._emit(self.apply_requested))
        self.try_button.clicked.connect(lambda: self._emit(self.try_requested))
        self.open_button = QPushButton("Open model")
        self.open_button.setToolTip(
            "Open the graph this run was trained with as a new, unsaved project"
        )
        self.open_button.clicked.connect(lambda: self._emit(self.open_requested))
        self.compare_button = QPushButton("Compare")
        self.compare_button.setToolTip(
            "Tick or select two runs: their models side by side, with what differs"
        )
        self.compare_button.clicked.connect(
            lambda: self.compare_requested.emit(self.compared_rows())
        )
        self.export_button = QPushButton("Export CSV")
        self.export_button.setToolTip("Save the table (every row and column shown) as a CSV file")
        self.export_button.clicked.connect(lambda: self.export_csv())
        row = QHBoxLayout()
        for b in (self.resume_button, self.apply_button, self.try_button, self.open_button):
            row.addWidget(b)
        row.addStretch(1)
        row.addWidget(self.compare_button)
        row.addWidget(self.export_button)
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(self.list, 1)
        box.addLayout(row)
        self.board = BoardHint()
        box.addWidget(self.board)
        self.busy = False
        self._update_buttons()

    def set_runs(self, runs: list[RunRecord], current_id: str | None = None) -> None:
        """Show `runs`, keeping what was ticked and selected; the run being trained
        (`current_id`), the first time the table holds it, becomes the one selected: after Train
        the table no longer stays on the run before."""
        ticked = {r.id for r in self.ticked()}
        selected = {r.id for r in self.selected_rows()}
        shown = {r.id for r in self.records()}
        arrived = current_id is not None and current_id not in shown and any(r.id == current_id for r in runs)
        if arrived:
            selected = {current_id}
        t = self.table = RunTable.build(list(reversed(runs)))
        table = self.list
        table.blockSignals(True)
        table.setSortingEnabled(False)
        table.clearContents()
        table.setColumnCount(len(t.columns))
        table.setRowCount(len(t.rows))
        table.setHorizontalHeaderLabels([TITLES.get(c, c) for c in t.columns])
        for c, name in enumerate(t.columns):
            table.horizontalHeaderItem(c).setToolTip(_column_tip(name))
        for r, (rec, values) in enumerate(zip(t.records, t.rows)):
            for c, name in enumerate(t.columns):
                item = _Item(values.get(name))
                item.setData(RECORD_ROLE, rec)
                item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
                if c == 0:
                    item.setText(rec.id)
                    item.setToolTip(f"{rec.folder}\n{rec.status.get('message', '')}")
                    item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                    checked = rec.id in ticked and rec.id != current_id
                    item.setCheckState(
                        Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked
                    )
                table.setItem(r, c, item)
        table.setSortingEnabled(True)
        table.resizeColumnsToContents()
        for r in range(table.rowCount()):
            if table.item(r).data(RECORD_ROLE).id in selected:
                table.selectRow(r)
        table.blockSignals(False)
        self._update_buttons()
        self.table_changed.emit()
        if arrived:
            self.selection_changed.emit(self.selected_rows())

    def records(self) -> list[RunRecord]:
        """The runs in the order the table shows them."""
        return [self.list.item(i).data(RECORD_ROLE) for i in range(self.list.count())]

    def ticked(self) -> list[RunRecord]:
        return [
            self.list.item(i).data(RECORD_ROLE)
            for i in range(self.list.count())
            if self.list.item(i).checkState() == Qt.CheckState.Checked
        ]

    def selected_rows(self) -> list[RunRecord]:
        rows = sorted({i.row() for i in self.list.selectionModel().selectedRows()})
        return [self.list.item(r).data(RECORD_ROLE) for r in rows]

    def compared_rows(self) -> list[RunRecord]:
        """The two runs Compare opens: the two selected rows, else the two ticked ones (the tick
        boxes are what a user sees first; ticking two left Compare greyed out)."""
        selected = self.selected_rows()
        if len(selected) == 2:
            return selected
        ticked = self.ticked()
        return ticked if len(ticked) == 2 else []

    def set_busy(self, busy: bool) -> None:
        self.busy = busy
        self._update_buttons()

    def selected(self) -> RunRecord | None:
        row = self.list.currentRow()
        item = self.list.item(row) if row >= 0 else None
        return item.data(RECORD_ROLE) if item is not None else None

    def export_csv(self, path: str | None = None) -> bool:
        """Write the table as shown (rows in the shown order) to a CSV file."""
        if path is None:
            path = QFileDialog.getSaveFileName(self, "Export runs", "runs.csv", "CSV (*.csv)")[0]
        if not path:
            return False
        order = {r.id: i for i, r in enumerate(self.records())}
        shown = RunTable.build(sorted(self.table.records, key=lambda r: order.get(r.id, 0)))
        try:
            with open(path, "w", encoding="utf-8", newline="") as f:
                f.write(shown.to_csv())
        except OSError as e:
            self.board.label.setText(f"Could not write {path}: {e.strerror or e}")
            self.board.setVisible(True)
            return False
        return True

    def _selection_changed(self) -> None:
        self._update_buttons()
        self.selection_changed.emit(self.selected_rows())

    def _item_changed(self, item) -> None:
        if item.column() == 0:
            self._update_buttons()
            self.overlay_changed.emit(self.ticked())

    def _emit(self, signal) -> None:
        rec = self.selected()
        if rec is not None:
            signal.emit(rec)

    def _update_buttons(self) -> None:
        rec = self.selected()
        self.resume_button.setEnabled(
            rec is not None and not self.busy and rec.last_checkpoint is not None
        )
        self.apply_button.setEnabled(rec is not None)
        self.try_button.setEnabled(
            rec is not None
            and not self.busy
            and (rec.weights is not None or rec.last_checkpoint is not None)
        )
        self.open_button.setEnabled(
            rec is not None and not self.busy and rec.model_file is not None
        )
        self.export_button.setEnabled(self.list.rowCount() > 0)
        self.compare_button.setEnabled(len(self.compared_rows()) == 2)
        self.board.show_run(rec)


def _column_tip(name: str) -> str:
    if name.startswith("final_"):
        return f"{name[6:]} after the last epoch"
    if name == "best":
        return "the best value of the metric the run monitored"
    if name in TITLES:
        return TITLES[name]
    return f"{name}: differs between the runs shown"


class BoardHint(QWidget):
    """Where a run's TensorBoard files are and how to open them; hidden when there is nothing to say."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.copy_button = QPushButton("Copy")
        self.copy_button.clicked.connect(self.copy)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.label, 1)
        row.addWidget(self.copy_button, 0, Qt.AlignmentFlag.AlignTop)
        self.command = ""
        self.setVisible(False)

    def show_run(self, rec: RunRecord | None) -> None:
        folder = rec.tensorboard_dir if rec is not None else None
        installed = tensorboard.available()
        lines = []
        if folder is not None:
            self.command = f"tensorboard --logdir {shlex.quote(str(folder))}"
            lines = [f"TensorBoard logs: {folder}", f"Open them with: {self.command}"]
            self.copy_button.setToolTip("Copy the command that opens this run in TensorBoard")
        elif rec is not None and not installed:
            self.command = tensorboard.INSTALL
            self.copy_button.setToolTip("Copy the install command")
        else:
            self.command = ""
        if not installed:
            lines.append(f"TensorBoard is not installed: {tensorboard.INSTALL}")
        self.label.setText("\n".join(lines))
        self.setVisible(bool(self.command))

    def copy(self) -> None:
        QGuiApplication.clipboard().setText(self.command)
