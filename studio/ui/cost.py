"""The cost of a step, in the window: memory per block (estimated whenever the model or the
batch changes) and time per block (Profile). Both run in a worker thread on a snapshot of the
project, so the window never waits; the results reach the status bar, the inspector's Counts
box, the canvas's heat overlay (View > Cost Heat Map) and the Cost panel's sorted table.
"""

from __future__ import annotations

import json
import weakref

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from studio.ui.jobs import Job
from studio.units import fmt_bytes, parse_size

ESTIMATE_DELAY_MS = 700  # after the last edit: typing a batch size starts one estimate
#: a block keeping or taking more than this share of the step is marked on the overlay
HOT_SHARE = 0.10
DEFAULT_MEMORY = "24GB"


def _snapshot(project) -> dict:
    from studio.graph.project import dumps

    return json.loads(dumps(project, compact=True))


def _keyed(project, batch: int, precision: str, last_key):
    """In the worker: the snapshot of ``project`` (a detached copy, or a snapshot the GUI
    thread took), what the estimate depends on (its key) and, unless that is ``last_key``, the
    estimate or the exception that stopped it. Serialising 2,000 blocks costs 60-100 ms: the
    GUI thread only takes the detached copy (about 2 ms)."""
    snapshot = project if isinstance(project, dict) else _snapshot(project)
    key = (
        json.dumps(snapshot["graph"] if "graph" in snapshot else snapshot, sort_keys=True),
        batch,
        precision,
        json.dumps(snapshot.get("training"), sort_keys=True),
    )
    if key == last_key:
        return key, None, True
    try:
        return key, _estimate(snapshot, batch, precision), False
    except Exception as e:  # shown as the estimate's error, with the key it failed for
        return key, e, False


def _first_line(e: BaseException) -> str:
    return str(e).splitlines()[0] if str(e) else type(e).__name__


def _estimate(snapshot: dict, batch: int, precision: str):
    from studio.compiler.analysis import analyze
    from studio.graph.project import loads
    from studio.training.cost import memory_for
    from studio.training.settings import TrainingSettings

    project = loads(json.dumps(snapshot))
    analysis = analyze(project.graph)
    if not analysis.ok:
        return None
    settings = TrainingSettings.from_dict(project.training)
    return memory_for(project.graph, settings, batch=batch, precision=precision, analysis=analysis)


def _profile(snapshot: dict, batch: int, base_dir):
    from studio.graph.project import loads
    from studio.training.profile import profile_run
    from studio.training.settings import TrainingSettings

    project = loads(json.dumps(snapshot))
    settings = TrainingSettings.from_dict(project.training)
    return profile_run(project, settings, batch=batch, base_dir=base_dir)


class CostPanel(QWidget):
    """Batch, precision and memory to fit; the verdict; the blocks that cost most, sorted."""

    profile_requested = Signal()
    block_clicked = Signal(str)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.batch = QSpinBox()
        self.batch.setRange(1, 1 << 20)
        self.batch.setToolTip(
            "The batch size the estimate and the profile use (the training setting's at first)"
        )
        self.precision = QComboBox()
        self.precision.addItems(["fp32", "bf16", "fp16"])
        self.memory = QLineEdit(DEFAULT_MEMORY)
        self.memory.setToolTip(
            "The device memory to fit, e.g. 24GB, 16GiB or 8000MB (the GPU found, if any)"
        )
        self.memory.setMaximumWidth(90)
        self.profile_button = QPushButton("Profile")
        self.profile_button.setToolTip(
            "Time each block over a few real training steps (off the window's thread)"
        )
        self.profile_button.clicked.connect(self.profile_requested)
        row = QHBoxLayout()
        for label, w in (
            ("Batch", self.batch),
            ("Precision", self.precision),
            ("Memory", self.memory),
        ):
            row.addWidget(QLabel(label))
            row.addWidget(w)
        row.addStretch(1)
        row.addWidget(self.profile_button)
        self.summary = QLabel("Memory: estimating…")
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.table = QTableWidget(0, 6)
        self.table.setHorizontalHeaderLabels(
            ["Block", "Memory", "Share", "Forward ms", "Backward ms", "Of step"]
        )
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.cellClicked.connect(self._clicked)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        layout.addLayout(row)
        layout.addWidget(self.summary)
        layout.addWidget(self.table, 1)

    def _clicked(self, row: int, _col: int) -> None:
        item = self.table.item(row, 0)
        if item is not None:
            self.block_clicked.emit(item.data(Qt.ItemDataRole.UserRole))

    def fill(self, rows: list[tuple[str, str, str, str, str, str, str]]) -> None:
        """``(block id, name, memory, share, forward, backward, of step)``, in order shown."""
        self.table.setRowCount(len(rows))
        for r, (bid, *cells) in enumerate(rows):
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if c:
                    item.setTextAlignment(
                        Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
                    )
                if c == 0:
                    item.setData(Qt.ItemDataRole.UserRole, bid)
                self.table.setItem(r, c, item)
        self.table.resizeColumnsToContents()


class CostController(QObject):
    """Keeps the memory estimate current and runs the profile; tells every view."""

    changed = Signal()

    def __init__(self, window) -> None:
        super().__init__(window)
        self.w = window
        self.panel = CostPanel()
        self.memory = None  # MemoryEstimate for the current model and batch
        self.profile = None  # StepProfile, cleared when the model changes
        self.error = ""
        self._job: Job | None = None
        self._job_doc: weakref.ref | None = None  # the document the running estimate is of
        self._profile_job: Job | None = None
        self._pending = False
        self._key = None
        self._result = None  # (memory, error) of the estimate made for self._key
        self.status = QLabel()
        self.status.setToolTip("One training step's peak memory at the Cost panel's batch size")
        self.overlay_action = QAction("Cost &Heat Map", window)
        self.overlay_action.setCheckable(True)
        self.overlay_action.setStatusTip(
            "Colour each block by the memory it keeps (and its time, once profiled)"
        )
        self.overlay_action.toggled.connect(lambda _: self._show())
        self.profile_action = QAction("&Profile a Training Step", window)
        self.profile_action.setStatusTip("Time each block over a few real training steps")
        self.profile_action.triggered.connect(self.run_profile)
        self.panel.profile_requested.connect(self.run_profile)
        self.panel.block_clicked.connect(self._select)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(ESTIMATE_DELAY_MS)
        self._timer.timeout.connect(self.estimate)
        self.panel.batch.valueChanged.connect(lambda _: self.schedule())
        self.panel.precision.currentIndexChanged.connect(lambda _: self.schedule())
        self.panel.memory.editingFinished.connect(self._show)

    # ------------------------------------------------------------ project
    def attach(self, doc) -> None:
        """A project was opened: its batch size and precision, and a fresh estimate."""
        self.doc = doc
        self.memory = self.profile = None
        self._training = None
        self.follow_training()
        found = self._found_gpu()
        if found:
            self.panel.memory.setText(found)
        doc.analysed.connect(lambda *_: self.schedule())
        # a bound method: Qt drops the connection with this controller (a lambda outlived it)
        doc.undo_stack.indexChanged.connect(self._undo_moved)
        self._key = self._result = None  # the last project's estimate: its memory can go
        self.schedule()

    def _undo_moved(self, _index: int) -> None:
        if self.sender() is self.doc.undo_stack:  # not a project this window has left
            self.follow_training()

    def follow_training(self) -> None:
        """The training settings' batch size and precision, when they change (typed in the
        settings form, undone, a run's settings applied); a new optimizer is estimated too."""
        training = self.doc.project.training or {}
        seen = (
            training.get("batch_size", 64),
            training.get("precision", "none"),
            json.dumps(training.get("optimizer"), sort_keys=True),
        )
        if seen == self._training:
            return  # another setting (epochs, data...): the estimate stands
        self._training = seen
        self.panel.batch.blockSignals(True)
        self.panel.batch.setValue(int(training.get("batch_size", 64) or 64))
        self.panel.batch.blockSignals(False)
        prec = {"none": "fp32"}.get(
            training.get("precision", "none"), training.get("precision", "fp32")
        )
        self.panel.precision.blockSignals(True)
        self.panel.precision.setCurrentText(prec if prec in ("fp32", "bf16", "fp16") else "fp32")
        self.panel.precision.blockSignals(False)
        self.schedule()
        self._show()  # "estimating" until the new figure comes

    @staticmethod
    def _found_gpu() -> str | None:
        import sys

        if "torch" not in sys.modules:
            return None
        from studio.training.cost import device_memory

        found = device_memory()
        return f"{found[0] / 1e9:.0f}GB" if found else None

    def schedule(self) -> None:
        self._timer.start()

    def _batch(self) -> int:
        return self.panel.batch.value()

    def _precision(self) -> str:
        return {"fp32": "none"}.get(
            self.panel.precision.currentText(), self.panel.precision.currentText()
        )

    def estimate(self) -> None:
        doc = getattr(self, "doc", None)
        if doc is None or doc.analysis is None or not doc.analysis.ok:
            self.memory = None
            self.error = "" if doc is None or doc.analysis is None else "fix the problems first"
            self._show()
            return
        if self._job is not None:  # one at a time: the newest edit is estimated after this one
            self._pending = True
            return
        from studio.ui.detached import detached

        project = detached(doc.project) or _snapshot(doc.project)  # modules: the slow copy
        batch, precision = self._batch(), self._precision()
        last = self._key if self._result is not None else None
        self._job = Job(lambda: _keyed(project, batch, precision, last))
        self._job_doc = weakref.ref(doc)
        self._job.succeeded.connect(self._estimated)
        self._job.failed.connect(self._estimate_failed)
        self._job.begin()

    def _left(self) -> bool:
        """Whether the estimate that just ended is of a project this window has left (one opened
        while it ran): then its figures are dropped and the current project's are made."""
        self._job = None
        if self._job_doc is not None and self._job_doc() is self.doc:
            return False
        self._pending = False
        self.estimate()
        return True

    def _estimated(self, keyed) -> None:
        if self._left():  # its table and heat map were shown for the next project until its own
            return
        key, est, same = keyed
        if same:
            # back to the model last estimated (a batch typed and typed back, a deletion
            # undone): its figure again, not what the problem in between left shown
            self.memory, self.error = self._result
        else:
            if self._key is not None and key[0] != self._key[0]:
                self.profile = None  # the model changed: its old times no longer apply
            self._key = key
            if isinstance(est, Exception):
                self.memory, self.error = None, _first_line(est)
            else:
                self.memory, self.error = est, ""
            self._result = (self.memory, self.error)
        self._show()
        if self._pending:
            self._pending = False
            self.estimate()

    def _estimate_failed(self, e) -> None:
        if self._left():
            return
        self.memory, self.error = None, _first_line(e)
        self._key, self._result = None, None
        self._show()

    def wait(self) -> None:
        """Let a running estimate or profile finish (tests; closing the window)."""
        for job in (self._job, self._profile_job):
            if job is not None:
                job.wait()

    # ------------------------------------------------------------ profile
    def run_profile(self) -> None:
        doc = getattr(self, "doc", None)
        if doc is None or self._profile_job is not None:
            return
        if doc.analysis is None or not doc.analysis.ok:
            self.panel.summary.setText("Profile: fix the problems first.")
            return
        from pathlib import Path

        dock = getattr(self.w, "cost_dock", None)
        if dock is not None:  # the table the times arrive in
            dock.show()
            dock.raise_()
        snapshot, batch = _snapshot(doc.project), self._batch()
        base = (
            Path(doc.project.path).resolve().parent if getattr(doc.project, "path", None) else None
        )
        self.panel.profile_button.setEnabled(False)
        self.profile_action.setEnabled(False)
        self.panel.profile_button.setText("Profiling…")
        self._profile_job = Job(lambda: _profile(snapshot, batch, base))
        self._profile_job.succeeded.connect(self._profiled)
        self._profile_job.failed.connect(self._profile_failed)
        self._profile_job.begin()

    def _profile_done(self) -> None:
        self._profile_job = None
        self.panel.profile_button.setEnabled(True)
        self.profile_action.setEnabled(True)
        self.panel.profile_button.setText("Profile")

    def _profiled(self, prof) -> None:
        self._profile_done()
        self.profile = prof
        self.overlay_action.setChecked(True)
        self._show()

    def _profile_failed(self, e) -> None:
        self._profile_done()
        self.w.show_hint(
            f"Profile failed: {str(e).splitlines()[0] if str(e) else type(e).__name__}"
        )

    # --------------------------------------------------------------- views
    def _memory_size(self) -> int | None:
        try:
            return parse_size(self.panel.memory.text())
        except ValueError:
            return None

    def block_text(self, block_id: str) -> tuple[str, str]:
        """The inspector's Memory and Time rows for a block of the model ("" when not known)."""
        mem = time = ""
        if self.memory is not None:
            row = self.memory.by_block().get(block_id)
            if row is not None:
                mem = (
                    f"{fmt_bytes(row.total)} at batch {self.memory.batch} "
                    f"({fmt_bytes(row.activations)} activations, {fmt_bytes(row.weights)} weights, "
                    f"{fmt_bytes(row.gradients + row.optimizer)} gradients and optimizer state)"
                )
        if self.profile is not None:
            t = self.profile.by_block().get(block_id)
            if t is not None:
                time = (
                    f"{t.total * 1e3:.2f} ms, {t.total / self.profile.step:.1%} of a step "
                    f"({t.forward * 1e3:.2f} forward, {t.backward * 1e3:.2f} backward)"
                )
        return mem, time

    def _show(self) -> None:
        est, prof = self.memory, self.profile
        if est is None:  # no import here: the window shows this at start-up, before torch loads
            text = f"Peak memory: {self.error}" if self.error else "Peak memory: …"
            self.status.setText(f"·  {text}")
            self.panel.summary.setText(text)
            self.panel.fill([])
        else:
            from studio.training.cost import verdict

            self.status.setText(f"·  Peak memory: {fmt_bytes(est.peak)} at batch {est.batch}")
            size = self._memory_size()
            summary = (
                f"One training step at batch {est.batch} keeps {fmt_bytes(est.peak)}: weights "
                f"{fmt_bytes(est.weights)}, gradients {fmt_bytes(est.gradients)}, {est.optimizer} state "
                f"{fmt_bytes(est.optimizer_state)}, activations {fmt_bytes(est.activations)}."
            )
            if size is not None:
                summary += " " + verdict(est, size, fmt_bytes(size)).text(est)
            else:
                summary += " Give the memory as e.g. 24GB for a verdict."
            if prof is not None:
                summary += (
                    f" Profile on {prof.device}: step {prof.step * 1e3:.1f} ms, blocks "
                    f"{prof.attributed * 1e3:.1f} ms, optimizer {prof.optimizer * 1e3:.1f} ms, loss "
                    f"{prof.loss * 1e3:.1f} ms, other {prof.other * 1e3:.1f} ms (the same step "
                    f"unmeasured: {prof.plain_step * 1e3:.1f} ms)."
                )
            self.panel.summary.setText(summary)
            self.panel.fill(self._rows())
        self._paint_overlay()
        self.changed.emit()

    def batch_hint(self) -> tuple[str, str]:
        """``(text, tooltip)`` beside the training settings' batch size: the peak at the
        Cost panel's batch (which follows that setting) and the largest batch that fits."""
        est = self.memory
        busy = self._job is not None or self._pending or self._timer.isActive()
        if est is None or est.batch != self._batch() or busy:  # asked at start-up: no torch yet
            if self.error and not busy:
                return f"peak memory: {self.error}", ""
            return ("peak memory: estimating…", "") if getattr(self, "doc", None) else ("", "")
        from studio.training.cost import verdict

        text = f"peak {fmt_bytes(est.peak)} at batch {est.batch}"
        size = self._memory_size()
        if size is None:  # on the CPU with no size: what it needs, no verdict
            return text, "Give a memory size in the Cost panel for the largest batch that fits"
        v = verdict(est, size, fmt_bytes(size))
        return f"{text} · {v.short()}", v.text(est)

    def _rows(self):
        est, prof = self.memory, self.profile
        times = prof.by_block() if prof is not None else {}
        rows = []
        for b in est.blocks:
            t = times.get(b.path[0])
            rows.append((b.path[0], b.name, b.total, t))
        key = (lambda r: -(r[3].total if r[3] else 0.0)) if prof is not None else (lambda r: -r[2])
        rows.sort(key=key)
        peak = est.peak or 1
        return [
            (
                bid,
                name,
                fmt_bytes(total),
                f"{total / peak:.0%}",
                f"{t.forward * 1e3:.2f}" if t else "",
                f"{t.backward * 1e3:.2f}" if t else "",
                f"{t.total / prof.step:.1%}" if t else "",
            )
            for bid, name, total, t in rows
        ]

    def heat(self) -> dict[str, tuple[str, float]]:
        """Block id -> (pill text, share of the step) for the overlay; {} when it is off."""
        if not self.overlay_action.isChecked() or self.memory is None:
            return {}  # asked at start-up too, before torch has loaded
        out = {}
        if self.profile is not None:
            for b in self.profile.blocks:
                share = b.total / self.profile.step if self.profile.step else 0.0
                out[b.path[0]] = (f"{b.total * 1e3:.1f} ms · {share:.0%}", share)
            return out
        peak = self.memory.peak or 1
        for b in self.memory.blocks:
            share = b.total / peak
            if b.total:
                out[b.path[0]] = (f"{fmt_bytes(b.total)} · {share:.0%}", share)
        return out

    def _paint_overlay(self) -> None:
        scene = getattr(self.w, "scene", None)
        if scene is not None and hasattr(scene, "set_heat"):
            scene.set_heat(self.heat())

    def _select(self, block_id: str) -> None:
        scene = getattr(self.w, "scene", None)
        if scene is not None and block_id in scene.blocks:
            scene.select_blocks([block_id])
            self.w.view.centerOn(scene.blocks[block_id])
