"""Train > Sweep…: run `studio sweep` on the saved project in a separate process (the GUI never
waits on it; trials appear in the Runs table as they finish), Stop it, and apply the best
trial to the project as one undo step.

Why a process and not a thread: a trial is a whole training run (seconds to hours, many of
them); in its own process it neither holds the GUI's interpreter lock nor dies with the
window, and it is exactly the command a terminal or a cluster runs. The dialog sets the
number of trials and the training-setting ranges (block ranges are set in the inspector)."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

from PySide6.QtCore import QObject, QProcess, QProcessEnvironment
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
)

from studio.graph.search import SearchError, parse
from studio.graph.search_commands import ApplyValues, SetSearch


class SweepDialog(QDialog):
    """The ranges the sweep will search (remove any; add a training setting's) and the trials."""

    def __init__(self, project, parent=None) -> None:
        from studio.training.search_targets import SETTINGS

        super().__init__(parent)
        self.setWindowTitle("Sweep")
        self.project, self.search = project, project.search
        self.ranges = QListWidget()
        self.setting = QComboBox()
        for name, target in SETTINGS.items():
            self.setting.addItem(name)
            self.setting.setItemData(self.setting.count() - 1, target.doc, 3)  # tooltip
        self.values = QLineEdit()
        self.values.setPlaceholderText("1e-4..1e-1:log   16..128:step=16   adam,sgd")
        self.add = QPushButton("Add")
        self.add.clicked.connect(self._add)
        self.remove = QPushButton("Remove selected")
        self.remove.clicked.connect(self._remove)
        self.ranges.itemSelectionChanged.connect(
            lambda: self.remove.setEnabled(bool(self.ranges.selectedItems()))
        )
        self.empty = QLabel(
            "No ranges yet. Add a training setting below (for example lr, 1e-4..1e-1:log), or give "
            "a block's parameter a range: select the block, then Search range… in the inspector."
        )
        self.empty.setWordWrap(True)
        self.empty.setStyleSheet("color: palette(mid)")
        self.trials = QSpinBox()
        self.trials.setRange(1, 10_000)
        self.trials.setValue(20)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setStyleSheet("color: #d32f2f;")
        add_row = QHBoxLayout()
        add_row.addWidget(self.setting)
        add_row.addWidget(self.values, 1)
        add_row.addWidget(self.add)
        form = QFormLayout()
        form.addRow("Add a setting", add_row)
        form.addRow("Trials", self.trials)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.start = buttons.addButton("Start sweep", QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.accepted.connect(self._start)
        buttons.rejected.connect(self.reject)
        intro = QLabel(
            "Each trial trains the model once with values drawn from these ranges "
            "(Optuna's TPE sampler; trials that fall behind are pruned). Block "
            "parameters get their range in the inspector."
        )
        intro.setWordWrap(True)  # unwrapped, it made the dialog 1,090 px wide
        self.setMinimumWidth(520)
        self.resize(600, 420)
        box = QVBoxLayout(self)
        box.addWidget(intro)
        box.addWidget(self.ranges, 1)
        box.addWidget(self.empty, 1)
        remove_row = QHBoxLayout()
        remove_row.addStretch(1)
        remove_row.addWidget(self.remove)
        box.addLayout(remove_row)
        box.addLayout(form)
        box.addWidget(self.message)
        box.addWidget(buttons)
        self._fill()

    def _fill(self) -> None:
        self.ranges.clear()
        for r in self.search.ranges:
            item = QListWidgetItem(f"{r.label(self.project.graph)}: {r.describe()}")
            item.setData(256, r.key)
            self.ranges.addItem(item)
        self.start.setEnabled(bool(self.search))
        self.ranges.setVisible(bool(self.search.ranges))
        self.empty.setVisible(not self.search.ranges)
        self.remove.setEnabled(bool(self.ranges.selectedItems()))

    def _add(self) -> bool:
        from studio.training.search_targets import setting_problem

        try:
            rng = parse(f"{self.setting.currentText()}={self.values.text()}")
        except SearchError as e:
            self.message.setText(str(e).split(": ", 1)[-1])
            return False
        problem = setting_problem(rng)
        if problem:
            self.message.setText(problem)
            return False
        self.message.clear()
        self.search = self.search.with_range(rng)
        self.values.clear()
        self._fill()
        return True

    def _remove(self) -> None:
        for item in self.ranges.selectedItems():
            self.search = self.search.without(item.data(256))
        self._fill()

    def _start(self) -> None:
        from studio.training.search_targets import problems

        errs = problems(self.search, self.project.graph)
        if errs:
            self.message.setText(" ".join(errs))
            return
        self.accept()


class SweepController(QObject):
    def __init__(self, window) -> None:
        super().__init__(window)
        self.w = window
        self.process: QProcess | None = None
        self.output: list[str] = []
        self.sweep_action = QAction("Sweep…", window)
        self.sweep_action.setStatusTip(
            "Train the model many times with values from the search ranges (Optuna)"
        )
        self.sweep_action.triggered.connect(lambda: self.open_dialog())
        self.stop_action = QAction("Stop Sweep", window)
        self.stop_action.triggered.connect(lambda: self.stop())
        self.apply_action = QAction("Apply Best Trial", window)
        self.apply_action.setStatusTip("Set the best trial's values in the project (one undo step)")
        self.apply_action.triggered.connect(lambda: self.apply_best())
        menu = next((a.menu() for a in window.menuBar().actions() if a.text() == "&Train"), None)
        if menu is not None:
            menu.addSeparator()
            for a in (self.sweep_action, self.stop_action, self.apply_action):
                menu.addAction(a)
        self._update()

    @property
    def running(self) -> bool:
        return self.process is not None

    def message(self, text: str, error: bool = False, reveal: bool = False) -> None:
        """Say ``text`` in the Training panel; ``reveal`` opens the panel (an answer to the
        user's own command: Apply Best Trial with the panel closed said nothing visible)."""
        self.w.training.panel.show_message(text, error=error)
        if reveal:
            self.w.show_training()

    # ----------------------------------------------------------------------- start
    def open_dialog(self) -> bool:
        if self.running or self.w.training.running:
            self.message("A run or sweep is going; stop it first.", error=True, reveal=True)
            return False
        dialog = SweepDialog(self.w.doc.project, self.w)
        if not self.run_dialog(dialog):
            return False
        if dialog.search != self.w.doc.project.search:
            self.w.doc.push(SetSearch(self.w.doc.project, dialog.search))
            self.w.files.changed()
        return self.start(dialog.trials.value())

    def run_dialog(self, dialog) -> bool:
        """Show the dialog modally (tests replace this)."""
        return dialog.exec() == QDialog.DialogCode.Accepted

    def start(self, trials: int) -> bool:
        """Save the project (the sweep reads the file and keeps its study beside it), then start
        `studio sweep` on it."""
        files, project = self.w.files, self.w.doc.project
        if (
            project.path is None
            or files.is_example(project.path)
            or not self.w.doc.undo_stack.isClean()
        ):
            if not files.save():
                self.message(
                    "Save the project first: a sweep keeps its trials beside the file.",
                    error=True,
                    reveal=True,
                )
                return False
        project = self.w.doc.project
        proc = QProcess(self)
        env = QProcessEnvironment.systemEnvironment()
        root = str(Path(__file__).resolve().parents[3])  # the folder holding the studio package
        env.insert("PYTHONPATH", os.pathsep.join(p for p in (root, env.value("PYTHONPATH")) if p))
        proc.setProcessEnvironment(env)
        proc.setProcessChannelMode(QProcess.ProcessChannelMode.MergedChannels)
        proc.readyReadStandardOutput.connect(self._read)
        proc.finished.connect(self._finished)
        self.output = []
        self.process = proc
        proc.start(
            sys.executable, ["-m", "studio", "sweep", str(project.path), "--trials", str(trials)]
        )
        self.message(
            f"Sweep started: {trials} trial(s); they appear in the Runs tab as they finish.",
            reveal=True,
        )
        self.w.training.panel.left.setCurrentWidget(self.w.training.panel.runs)
        self._update()
        return True

    def stop(self) -> None:
        """Stop after the current batch: the command's own Ctrl-C (the trial is kept, stopped)."""
        if self.process is not None:
            pid = self.process.processId()
            if pid and hasattr(signal, "SIGINT") and sys.platform != "win32":
                os.kill(pid, signal.SIGINT)
            else:
                self.process.terminate()
            self.message("Stopping the sweep after this batch…")

    def wait(self, ms: int = 600_000) -> bool:
        return self.process is None or self.process.waitForFinished(ms)

    def _read(self) -> None:
        if self.process is None:
            return
        text = bytes(self.process.readAllStandardOutput()).decode("utf-8", "replace")
        for line in text.splitlines():
            line = line.strip()
            if not line:
                continue
            self.output.append(line)
            if line.startswith("trial "):
                self.w.training.refresh_runs()
            self.message(f"Sweep: {line}", error=line.startswith("studio sweep: error"))

    def _finished(self, code: int, status) -> None:
        self._read()
        self.process = None
        self.w.training.refresh_runs()
        last = self.output[-1] if self.output else ""
        if code == 0:  # the command's last line, without its advice for the command line
            best = last.split("; apply it with:")[0].rstrip(".")
            self.message(f"Sweep finished. {best}. Train > Apply Best Trial sets its values.")
        else:
            self.message(f"The sweep ended: {last}", error=code not in (0, 130))
        self._update()

    def _update(self) -> None:
        self.sweep_action.setEnabled(not self.running)
        self.stop_action.setEnabled(self.running)
        self.apply_action.setEnabled(not self.running)

    # ----------------------------------------------------------------------- apply
    def apply_best(self) -> bool:
        from studio.training.search_targets import apply_settings
        from studio.training.sweep import (
            SweepError,
            best_values,
            default_storage,
            default_study_name,
            load_study,
        )

        project = self.w.doc.project
        try:
            study = load_study(
                default_storage(self.w.training.runs_root()), default_study_name(project)
            )
            values = best_values(study, project.search)
        except SweepError as e:
            self.message(str(e), error=True, reveal=True)
            return False
        best = study.best_trial
        training = apply_settings(project.training, values)
        if not self.w.doc.push(
            ApplyValues(project, values, training, text=f"Apply sweep trial {best.number}")
        ):
            return False
        self.w.training.panel.form.load(project.training)
        self.w.files.changed()
        self.message(
            f"Applied trial {best.number} (best {best.value:.4g}); Undo restores the previous values.",
            reveal=True,
        )
        return True
