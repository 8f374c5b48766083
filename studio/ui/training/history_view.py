"""The run list: every kept run, newest first. Ticking runs overlays their curves; a selected run
can be resumed from its last checkpoint, have its settings applied to the project, be tried (its
weights loaded into the graph it was trained with), or have that graph opened as a new project.
Below the list, the selected run's TensorBoard files: where they are and the command that opens
them (with a button that copies it), or the install hint when tensorboard is not installed."""

from __future__ import annotations

import shlex

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from studio.training import tensorboard
from studio.training.runs import RunRecord

RECORD_ROLE = Qt.ItemDataRole.UserRole


class RunList(QWidget):
    overlay_changed = Signal(object)  # list[RunRecord] ticked
    resume_requested = Signal(object)  # RunRecord
    apply_requested = Signal(object)  # RunRecord
    try_requested = Signal(object)  # RunRecord
    open_requested = Signal(object)  # RunRecord

    def __init__(self, parent=None):
        super().__init__(parent)
        self.list = QListWidget()
        self.list.itemChanged.connect(lambda *_: self.overlay_changed.emit(self.ticked()))
        self.list.currentItemChanged.connect(lambda *_: self._update_buttons())
        self.resume_button = QPushButton("Resume")
        self.resume_button.setToolTip("Continue the selected run from its last checkpoint")
        self.apply_button = QPushButton("Use settings")
        self.apply_button.setToolTip("Copy the selected run's settings into the project (undoable)")
        self.try_button = QPushButton("Try it")
        self.try_button.setToolTip("Load the selected run's weights into the model and try it on validation samples")
        self.resume_button.clicked.connect(lambda: self._emit(self.resume_requested))
        self.apply_button.clicked.connect(lambda: self._emit(self.apply_requested))
        self.try_button.clicked.connect(lambda: self._emit(self.try_requested))
        self.open_button = QPushButton("Open model")
        self.open_button.setToolTip("Open the graph this run was trained with as a new, unsaved project")
        self.open_button.clicked.connect(lambda: self._emit(self.open_requested))
        row = QHBoxLayout()
        row.addWidget(self.resume_button)
        row.addWidget(self.apply_button)
        row.addWidget(self.try_button)
        row.addWidget(self.open_button)
        row.addStretch(1)
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(self.list, 1)
        box.addLayout(row)
        self.board = BoardHint()
        box.addWidget(self.board)
        self.busy = False
        self._update_buttons()

    def set_runs(self, runs: list[RunRecord], current_id: str | None = None) -> None:
        ticked = {r.id for r in self.ticked()}
        self.list.blockSignals(True)
        self.list.clear()
        for rec in reversed(runs):
            item = QListWidgetItem(rec.summary())
            item.setData(RECORD_ROLE, rec)
            item.setToolTip(f"{rec.folder}\n{rec.status.get('message', '')}")
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            checked = rec.id in ticked and rec.id != current_id
            item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
            self.list.addItem(item)
        self.list.blockSignals(False)
        self._update_buttons()

    def records(self) -> list[RunRecord]:
        return [self.list.item(i).data(RECORD_ROLE) for i in range(self.list.count())]

    def ticked(self) -> list[RunRecord]:
        return [
            self.list.item(i).data(RECORD_ROLE) for i in range(self.list.count())
            if self.list.item(i).checkState() == Qt.CheckState.Checked
        ]

    def set_busy(self, busy: bool) -> None:
        self.busy = busy
        self._update_buttons()

    def selected(self) -> RunRecord | None:
        item = self.list.currentItem()
        return item.data(RECORD_ROLE) if item is not None else None

    def _emit(self, signal) -> None:
        rec = self.selected()
        if rec is not None:
            signal.emit(rec)

    def _update_buttons(self) -> None:
        rec = self.selected()
        self.resume_button.setEnabled(rec is not None and not self.busy and rec.last_checkpoint is not None)
        self.apply_button.setEnabled(rec is not None)
        self.try_button.setEnabled(rec is not None and not self.busy
                                   and (rec.weights is not None or rec.last_checkpoint is not None))
        self.open_button.setEnabled(rec is not None and not self.busy and rec.model_file is not None)
        self.board.show_run(rec)


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
