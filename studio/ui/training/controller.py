"""The training controller: Train / Pause / Stop, the run history, and what a run shows in the
window (plots, progress, learning indicators on the canvas, failures in the problems list).

It owns at most one `TrainingWorker`. While a run goes the graph is locked: the editor's
document is a `GatedDocument` that asks to stop the run before an edit, and undo is off.
What a run shows is `RunView`'s; where runs are kept is `RunStore`'s; trying a kept run is
`try_loader`'s. The window follows `state_changed` (its status bar says training / paused).
"""

from __future__ import annotations

import copy
import time
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QEvent, QObject, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog, QMessageBox, QStyle

from studio.graph.project import Project, dumps
from studio.graph.search_commands import SetSearch
from studio.training.kinds import DATASETS, pin_data
from studio.training.run_lock import RunFolderBusy
from studio.training.runs import RunStore, runs_root
from studio.training.settings import TrainingSettings
from studio.ui.training.commands import SetTraining
from studio.ui.training.dock import TrainingPanel
from studio.ui.training.gate import GatedDocument
from studio.ui.training.learning_text import describe_learning
from studio.ui.training.run_view import RunView
from studio.ui.training.runs_watch import RunsWatcher
from studio.ui.training.try_loader import load_run

CANVAS_UPDATE_S = 0.5  # learning indicators redraw at most twice a second
PREWARM_MS = 3000  # after PyTorch loaded in the window: start the spare training process
GUI_REPORT_SECONDS = 0.045  # window runs read metrics back at least this often (~22 Hz)


#: training workers still stopping when their window went (see TrainingController.shutdown)
_STOPPING: set = set()


class TrainingController(QObject):
    state_changed = Signal()  # a run started, paused, resumed or ended

    def __init__(self, window) -> None:
        super().__init__(window)
        self.w = window
        self.worker = None
        self.control = None
        self.record = None
        self.store: RunStore | None = None
        self.view: RunView | None = None  # built with the plots
        self._last_canvas = 0.0
        self.last_model = None  # (model, data) of the latest run, for the try-it panel
        self.train_action = self._action(
            "Train", "F5", self.train, "Train the model with these settings (F5)"
        )
        self.pause_action = self._action(
            "Pause", "F6", self.pause_resume, "Pause or resume the run (F6)"
        )
        self.stop_action = self._action(
            "Stop", "Shift+F5", self.stop, "Stop the run after this batch (Shift+F5)"
        )
        self.actions = [self.train_action, self.pause_action, self.stop_action]
        style = window.style()
        for a, px in (
            (self.train_action, QStyle.StandardPixmap.SP_MediaPlay),
            (self.pause_action, QStyle.StandardPixmap.SP_MediaPause),
            (self.stop_action, QStyle.StandardPixmap.SP_MediaStop),
        ):
            a.setIcon(style.standardIcon(px))
        self.panel = TrainingPanel(self.actions)
        self.runs_watch = RunsWatcher(self)  # runs a terminal adds or ends show up
        self.runs_watch.changed.connect(self.refresh_runs)
        p = self.panel
        p.form.edited.connect(self._settings_edited)
        p.runs.overlay_changed.connect(self._overlay)
        p.runs.resume_requested.connect(self.resume)
        p.runs.apply_requested.connect(self._apply_settings)
        p.runs.try_requested.connect(self.try_run)
        p.runs.open_requested.connect(self.open_run_model)
        p.export_png.clicked.connect(self.export_png)
        p.export_csv.clicked.connect(self.export_csv)
        self._update_actions()

    @property
    def plots(self):
        self.ensure_views()
        return self.panel.plots

    def ensure_views(self) -> None:
        """Build the plots and try-it panel (after the window showed, or when first needed)."""
        if self.panel.plots is None:
            self.panel.build_views()
            self.panel.try_panel.source = self._try_source
            self.panel.data_panel.pipeline_changed.connect(self._pipeline_edited)
            self.view = RunView(self.panel, self.panel.plots)
            if getattr(self, "doc", None) is not None:
                self._show_last_run()
                self._data_source()

    def _action(self, text, key, slot, tip) -> QAction:
        a = QAction(text, self.w)
        a.setShortcut(QKeySequence(key))
        a.setToolTip(tip)
        a.setStatusTip(tip)
        a.triggered.connect(lambda checked=False: slot())
        return a

    # ------------------------------------------------------------------ documents
    def gate(self, doc) -> GatedDocument:
        return GatedDocument(doc, self.allow_edit)

    def set_document(self, doc) -> None:
        """A project was opened: show its settings and runs (a running run was stopped first)."""
        self.doc = doc
        self.panel.form.folder = lambda: (
            self.doc.project.path.parent if self.doc.project.path else None
        )
        self.panel.form.load(doc.project.training)
        doc.undo_stack.indexChanged.connect(self._undo_moved)
        doc.graph.events.changed.connect(self._graph_edited)
        self.record = None
        self.last_model = (
            None  # Try it runs this project's runs, never the previous project's model
        )
        if self.panel.try_panel is not None:
            self.panel.try_panel.forget()
        if self.panel.plots is not None:
            self.panel.plots.set_overlays([])
        self.panel.show_message("")
        self.refresh_runs()
        self._show_last_run()
        self._data_source()

    def _show_last_run(self) -> None:
        """A project opened: its last kept run's curves, as that run ended (not while one trains)."""
        if self.view is None or self.running:
            return
        runs = self.store.runs() if self.store is not None else []
        if runs:
            rec = runs[-1]
            self.view.show_record(rec, TrainingSettings.from_dict(rec.settings).metric_name)
        else:
            self.view.clear()

    def _undo_moved(self, *_):
        if self.panel.form.settings() != self.doc.project.training:
            self.panel.form.load(self.doc.project.training)
        self._data_source()

    def _data_source(self) -> None:
        """The Data tab follows the project's training settings (it reloads what changed)."""
        if self.panel.data_panel is not None and getattr(self, "doc", None) is not None:
            path = self.doc.project.path
            self.panel.data_panel.set_source(
                self.doc.project.training, path.parent if path else None
            )

    def _pipeline_edited(self, steps: list) -> None:
        new = copy.deepcopy(self.doc.project.training or {})
        for key in ("data", "val_data"):  # a version-3 file's checkbox is now this list
            if isinstance(new.get(key), dict):
                new[key].pop("augment", None)
        new["augment"] = steps
        self.doc.push(SetTraining(self.doc.project, new, "augment", label="augmentation"))
        self.panel.form.load(self.doc.project.training)
        self.w.files.changed()

    def _graph_edited(self) -> None:
        self.w.scene.set_run_problem(None, "")

    def runs_root(self) -> Path:
        project = self.doc.project
        return runs_root(project.path, project.name, self.w.settings.folder)

    def prewarm(self, delay_ms: int = PREWARM_MS) -> None:
        """Soon after start-up, start the spare training process (it imports torch, ~1.5 s of one
        core), so that even the first Train starts at once. Not while a run goes or once the
        window is closed."""
        QTimer.singleShot(delay_ms, self, self._prewarm_now)

    def _prewarm_now(self) -> None:
        if not self.running and self.w.isVisible():
            from studio.training.remote import warm_spare

            warm_spare()

    def adopt_runs(self, old_root: Path) -> None:
        """The project was saved for the first time: the runs this session kept for it in the
        config dir move next to the file."""
        if self.running:
            return
        store = RunStore(self.runs_root())
        problems = store.adopt(old_root)
        if problems:
            self.panel.show_message(" ".join(problems), error=True)
        if self.record is not None and not self.record.folder.exists():
            self.record = store.find(self.record.id)
        self.refresh_runs()

    def refresh_runs(self) -> None:
        if getattr(self, "doc", None) is None:
            return
        self.store = RunStore(self.runs_root())
        runs = self.store.runs()
        self.panel.runs.set_runs(runs, self.record.id if self.record else None)
        self.runs_watch.follow(self.store.root, runs)

    # ------------------------------------------------------------------ settings
    def _settings_edited(self, settings: dict, key: str) -> None:
        label = self.panel.form.label_for(key)
        self.doc.push(SetTraining(self.doc.project, settings, key, label=label))
        self.w.files.changed()

    def _apply_settings(self, rec) -> None:
        self.doc.push(SetTraining(self.doc.project, copy.deepcopy(rec.settings), ""))
        self.panel.form.load(self.doc.project.training)
        self.w.files.changed()
        self.panel.show_message(
            f"Settings of run {rec.id} applied (Undo restores the previous ones)."
        )

    # ------------------------------------------------------------------ lock
    @property
    def running(self) -> bool:
        return self.worker is not None

    def allow_edit(self, cmd) -> bool:
        if not self.running or isinstance(
            cmd, (SetTraining, SetSearch)
        ):  # neither changes the model
            return True
        if self.ask_stop_for_edit():
            self.stop(wait=True)
            return True
        self.doc.edit_refused.emit(
            "The model is locked while it trains; stop the run (Shift+F5) to edit it."
        )
        return False

    def ask_stop_for_edit(self) -> bool:
        """Hook (tests replace it): may this edit stop the run?"""
        answer = QMessageBox.question(
            self.w,
            "Stop training?",
            "The model is training. Stop the run to edit the model?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        return answer == QMessageBox.StandardButton.Yes

    def _lock(self, on: bool) -> None:
        self.w.undo_group.setActiveStack(None if on else self.doc.undo_stack)
        self.panel.runs.set_busy(on)
        self._update_actions()
        self.state_changed.emit()  # the status bar says training / paused / ready

    # ------------------------------------------------------------------ runs
    def train(self) -> None:
        self._start(None)

    def resume(self, rec) -> None:
        self._start(rec)

    def _start(self, rec) -> None:
        if self.running:
            return
        self.w.ensure_compiler()
        if not self.doc.analysis.ok:
            msg = "The model has problems (see the Problems list); fix them before training."
            self.panel.show_message(msg, error=True)
            return
        settings_dict = copy.deepcopy(self.doc.project.training)
        if rec is not None:
            settings_dict = TrainingSettings.for_resume(rec.settings, settings_dict)
        path = self.doc.project.path
        settings_dict = pin_data(settings_dict, Path(path).resolve().parent if path else None)
        settings = TrainingSettings.from_dict(settings_dict)
        problems = settings.validate()
        if not problems:  # the check before Train: data that does not fit the model is an error
            self.w.problems.refresh()
            problems = (
                self._fit_now(settings_dict)
                if self.w.problems.is_reading()
                else self.w.problems.error_texts()
            )
        if problems:
            self.panel.show_message(" ".join(problems), error=True)
            return
        from studio.ui.training.worker import TrainingWorker

        # the curves should move at the plots' 20+ Hz: read metrics back at least every 45 ms
        settings.report_seconds = min(float(settings.report_seconds), GUI_REPORT_SECONDS)

        self.store = RunStore(self.runs_root())
        if rec is not None:
            try:  # a `studio train --out` into this run's folder holds it now
                self.store.claim(rec)
            except RunFolderBusy as e:
                self.panel.show_message(str(e), error=True)
                return
        self.ensure_views()
        self.view.begin(settings.metric_name, rec)
        resume_from = None
        project = Project(
            self.doc.project.name, self.doc.graph.copy(), settings_dict, path=self.doc.project.path
        )
        if rec is None:  # the run keeps the graph it trains (dumps writes no path)
            self.record = self.store.create(
                settings.to_dict(), self.doc.project.name, model_json=dumps(project)
            )
        else:
            self.record = rec
            resume_from = rec.last_checkpoint
            self.store.update(rec, status="running", settings_epochs=settings.epochs)
        self._clear_failure()
        self.w.scene.set_learning({})
        self.last_model = None  # the try-it panel follows this run from now on
        self.worker = TrainingWorker(project, settings, self.record.folder, resume_from, self)
        self.control = self.worker.control
        self.worker.signals.chunk.connect(self._chunk)
        self.worker.signals.paused_ready.connect(self._paused_ready)
        self.worker.signals.status.connect(lambda text: self.panel.show_message(text))
        self.worker.signals.started.connect(self._started)
        self.worker.done.connect(self._done)
        self._lock(True)
        self.panel.right.setCurrentWidget(self.plots)
        self.worker.start()

    def _fit_now(self, settings_dict: dict) -> list[str]:
        """The check before Train while the Problems list is still reading the data: generated
        data is checked here at once (its signature is its declared options); a file is left to
        the run, whose preparation refuses data that does not fit before the first step."""
        from studio.training.fit_check import check_training

        data = settings_dict.get("data")
        kind = DATASETS.get(data.get("kind")) if isinstance(data, dict) else None
        if kind is None or kind.family != "generated":
            return []
        graph = self.doc.graph
        found = check_training(graph, self.doc.analysis, self.doc.project.training)
        return [
            p.describe(graph) + (f" (Fix: {p.fix.text}.)" if p.fix else "")
            for p in found
            if p.is_error
        ]

    def pause_resume(self) -> None:
        if not self.running:
            return
        if self.control.paused:
            if self.panel.try_panel is not None and self.panel.try_panel.busy():
                return  # the try-it panel is reading the paused model
            self.control.resume()
            self.panel.show_message("Training…")
        else:
            self.control.pause()
            self.panel.show_message("Pausing after this batch…")
        self._update_actions()
        self.state_changed.emit()

    def _paused_ready(self) -> None:
        """The run paused and this process holds a copy of the model as it is now."""
        if self.worker is not None and self.control.paused:
            self.last_model = (self.worker.model, self.worker.data)
            self.panel.show_message("Paused: the model can be tried in the Try it tab.")
            if self.panel.try_panel is not None:
                self.panel.try_panel.model_ready(self.worker.data)

    def stop(self, wait: bool = False) -> None:
        if not self.running:
            return
        self.control.stop()
        self.panel.show_message("Stopping after this batch…")
        if wait:
            self.wait()

    def wait(self, ms: int = 10000) -> None:
        """Block until the run ended and its last signals are handled (edits, closing)."""
        if self.worker is not None:
            self.worker.wait(ms)
            QCoreApplication.sendPostedEvents(None, QEvent.Type.MetaCall)
            if self.worker is not None and self.worker.isFinished():
                self._done(self.worker.result)

    def shutdown(self) -> None:
        if self.running:
            self.control.stop()
            self.wait()
        worker = self.worker
        if worker is not None and worker.isRunning():
            # still stopping after wait()'s 10 s (a loaded machine): a QThread destroyed while it
            # runs aborts the process, and this one is the controller's child, deleted with the
            # window. It lives on its own until its thread ends.
            worker.setParent(None)
            _STOPPING.add(worker)
            worker.finished.connect(lambda: _STOPPING.discard(worker))

    # ------------------------------------------------------------------ signals from the worker
    def _started(self, info) -> None:
        self.view.started(info)
        notes = " ".join(info.notes)
        self.panel.show_message(f"Training on {info.device}: {info.description}. {notes}".strip())

    def _chunk(self, c) -> None:
        self.view.chunk(c)
        if c.learning:
            now = time.perf_counter()
            if now - self._last_canvas >= CANVAS_UPDATE_S or c.epochs:
                self._last_canvas = now
                self.w.scene.set_learning(
                    {bid: describe_learning(v) for bid, v in c.learning.items()}
                )

    def _done(self, result) -> None:
        worker = self.worker
        if worker is None or result is None:
            return
        self.worker = None
        worker.wait()
        if worker.model is not None:
            self.last_model = (worker.model, worker.data)
            if self.panel.try_panel is not None:
                self.panel.try_panel.model_ready(worker.data)
        r = result
        plots = self.plots
        steps, losses = plots.raw.series.data()
        history = r.history or self.view.history
        status = r.status
        if (
            status == "failed"
            and r.failure
            and r.failure.kind == "weights"
            and self.control.stop_requested
        ):
            status = "stopped"
        self.store.finish(
            self.record,
            status,
            r.message,
            r.failure.kind if r.failure else None,
            history,
            r.best_epoch,
            r.best_value,
            r.monitor,
        )
        self.store.update(self.record, epoch_steps=self.view.epoch_steps[: len(history)])
        if len(steps):
            self.store.save_steps(self.record, steps, losses)
        plots.redraw(everything=True)
        self.view.history = history
        self.view.finish(status)
        if status == "failed":
            self._show_failure(r.failure, worker.code)
        else:
            self.panel.show_message(" ".join([r.message, *getattr(r, "warnings", [])]))
        self.refresh_runs()
        self._lock(False)
        from studio.training.remote import warm_spare

        warm_spare()  # the next run starts without waiting for a new process to load torch

    # ------------------------------------------------------------------ failures
    def _show_failure(self, failure, code) -> None:
        message = failure.message if failure else "The run failed."
        self.panel.show_message(message, error=True, details=failure.details if failure else "")
        block_id = None
        if failure is not None and failure.location and code is not None:
            from studio.compiler.build import block_at

            block_id = block_at(failure.location[0], failure.location[1], code)
        self.w.problems.pin(
            f"Training: {message}", block_id, failure.details or message if failure else message
        )
        if block_id is not None:
            self.w.scene.set_run_problem(block_id, message)
        self.w.problems_dock.raise_()

    def _clear_failure(self) -> None:
        self.w.problems.unpin()
        self.w.scene.set_run_problem(None, "")

    def failure_text(self) -> str:
        """The message line and, for a failure, its details (what Details shows)."""
        bar = self.panel.message
        return bar.full_text() if bar.details_button.isVisibleTo(bar) else bar.text()

    # ------------------------------------------------------------------ plots, export, try it
    def _overlay(self, records) -> None:
        runs = [
            (r.id[-4:], r.history(), r.steps(), TrainingSettings.from_dict(r.settings).metric_name)
            for r in records
            if self.record is None or r.id != self.record.id or not self.running
        ]
        self.plots.set_overlays(runs)

    def export_png(self, path: str | None = None) -> bool:
        path = (
            path
            or QFileDialog.getSaveFileName(
                self.w, "Export plots", "training.png", "PNG image (*.png)"
            )[0]
        )
        return bool(path) and self.plots.export_png(path)

    def export_csv(self, path: str | None = None) -> bool:
        path = (
            path
            or QFileDialog.getSaveFileName(self.w, "Export metrics", "metrics.csv", "CSV (*.csv)")[
                0
            ]
        )
        if not path:
            return False
        self.plots.export_csv(path)
        return True

    def open_run_model(self, rec) -> bool:
        """The graph a run was trained with, with its settings, as a new unsaved project."""
        if self.running or rec.model_file is None:
            return False
        return self.w.files.open_copy(rec.model_file, f"{self.doc.project.name} (run {rec.id})")

    def try_run(self, rec) -> None:
        """Load a kept run's weights into the graph it was trained with (the current one for runs
        that kept none), off the GUI thread, then try it."""
        if self.running:
            return
        self.w.ensure_compiler()
        self.ensure_views()
        panel = self.panel.try_panel
        if load_run(rec, self.doc.project, self.doc.graph.copy(), panel, self._accept_tried):
            self.panel.right.setCurrentWidget(panel)

    def _accept_tried(self, model, data) -> bool:
        if self.running:
            return False
        self.last_model = (model, data)
        return True

    def _try_source(self):
        """(model, data) to try, or why there is none: a sentence for the Try it tab."""
        if self.running and not self.control.paused:
            return "Pause the run (F6) to try the model while it trains."
        if self.running and self.last_model is None:
            return "The paused model is still loading; try again in a moment."
        if self.last_model and self.last_model[0] is not None:
            return self.last_model
        runs = self.store.runs() if self.store else []
        kept = [r for r in runs if r.weights or r.last_checkpoint]
        if kept and not self.running:  # a reopened project (or a terminal's run): the newest
            self.try_run(kept[-1])
            return self.panel.try_panel.message.text()  # "Loading the weights of run …"
        return None

    def _update_actions(self) -> None:
        running = self.running
        self.train_action.setEnabled(not running)
        self.pause_action.setEnabled(running)
        self.stop_action.setEnabled(running)
        self.pause_action.setText("Resume" if running and self.control.paused else "Pause")
