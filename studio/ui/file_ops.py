"""New, open, save, export, recent files, autosave and recovery for the main window."""

from __future__ import annotations

import time
import weakref
from pathlib import Path

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QFileDialog, QMessageBox

from studio.graph.project import (
    SUFFIX,
    Project,
    ProjectError,
    load_project,
    save_project,
    write_atomic,
)
from studio.ui import diagram_export
from studio.ui.autosave_writer import AutosaveWriter
from studio.ui.recovery import RecoveryFile, RecoveryStore

#: the recovery file follows the edits: written after a pause of DEBOUNCE_MS, and never later
#: than MAX_WAIT_MS after the first edit it has not seen (so a crash loses at most ~1 s of work)
DEBOUNCE_MS = 300
MAX_WAIT_MS = 900
PROJECT_FILTER = f"Studio projects (*{SUFFIX});;All files (*)"
PROBLEMS = "The model has problems (see the Problems list); fix them before exporting."


class FileController(QObject):
    def __init__(self, window) -> None:
        super().__init__(window)
        self.w = window
        self.recovery = RecoveryStore(window.settings.folder)
        self.autosave_timer = QTimer(self)
        self.autosave_timer.setSingleShot(True)
        self.autosave_timer.setInterval(DEBOUNCE_MS)
        self.autosave_timer.timeout.connect(self.autosave)
        self._pending_since: float | None = None  # first edit the recovery file has not seen
        # the document those edits belong to, weakly: a project replaced must be free to go (held
        # here, File > New kept the old document until the new project's first edit)
        self._doc: weakref.ref | None = None
        self.autosave_failed = False
        self.last_folder: Path | None = None  # where a file dialog chose its file last
        self.writer = AutosaveWriter(self)  # the JSON and the write, off the GUI thread
        self.writer.done.connect(self._autosaved)

    # ------------------------------------------------------------ dialogs (hooks for tests)
    def ask_save_changes(self) -> QMessageBox.StandardButton:
        name = self.w.doc.project.name
        return QMessageBox.question(
            self.w,
            "Save changes?",
            f"Save the changes to {name!r} before closing it?",
            QMessageBox.StandardButton.Save
            | QMessageBox.StandardButton.Discard
            | QMessageBox.StandardButton.Cancel,
        )

    def choose_open_path(self) -> str:
        path = QFileDialog.getOpenFileName(
            self.w, "Open project", str(self._dir()), PROJECT_FILTER
        )[0]
        return self._chosen(path)

    def choose_save_path(self, title: str, suggested: str, filters: str) -> str:
        path = QFileDialog.getSaveFileName(self.w, title, str(self._dir() / suggested), filters)[0]
        return self._chosen(path)

    def _chosen(self, path: str) -> str:
        if path:
            self.last_folder = Path(path).parent
        return path

    def error(self, message: str) -> None:
        QMessageBox.warning(self.w, "Studio", message)

    def _dir(self) -> Path:
        """Where the file dialogs open: the project's folder; for an example or a new project, the
        folder a dialog chose last in this session (a second export went back to the home folder),
        else that of the last project opened or saved (never the examples' own folder, inside the
        installed package), else the home folder."""
        path = self.w.doc.project.path if self.w.doc else None
        if path and not self.is_example(path):
            return path.parent
        if self.last_folder is not None and self.last_folder.is_dir():
            return self.last_folder
        for recent in self.w.settings.recent_files():
            if not self.is_example(recent) and Path(recent).parent.is_dir():
                return Path(recent).parent
        return Path.home()

    # ------------------------------------------------------------------ open / new
    def maybe_save(self) -> bool:
        """True when it is fine to drop the open project (saved, discarded or clean)."""
        doc = self.w.doc
        if doc is None or doc.undo_stack.isClean():
            return True
        answer = self.ask_save_changes()
        if answer == QMessageBox.StandardButton.Save:
            return self.save()
        return answer == QMessageBox.StandardButton.Discard

    def new(self) -> None:
        if self.maybe_save():
            self.discard_recovery()
            self.w.set_project(Project(name="Untitled"))

    def open_dialog(self) -> None:
        path = self.choose_open_path()
        if path:
            self.open_path(path)

    def open_path(self, path: str | Path, ask: bool = True) -> bool:
        project = self._load(path, ask)
        if project is None:
            return False
        self.w.set_project(project)
        if not self.is_example(project.path):
            self.w.settings.add_recent(project.path)
        self.w.refresh_recent()
        return True

    def open_copy(self, path: str | Path, name: str) -> bool:
        """Open a project file as a new, unsaved project called `name` (a run's kept graph: Save
        asks where, and the run folder is never written to)."""
        project = self._load(path, ask=True)
        if project is None:
            return False
        project.path, project.name = None, name
        self.w.set_project(project)
        return True

    def _load(self, path: str | Path, ask: bool) -> Project | None:
        """The project at `path` once the open one may go (its changes saved or discarded), else
        None; a bad file is reported. The file is read first: a file that cannot be opened is
        reported without asking to save the open project's changes (they stay as they were)."""
        try:
            project = load_project(path)
        except ProjectError as e:
            self.error(str(e))
            return None
        if ask:
            if not self.maybe_save():
                return None
            current = self.w.doc.project.path if self.w.doc else None
            if current is not None and _same_file(current, path):  # just saved over: read it again
                try:
                    project = load_project(path)
                except ProjectError as e:
                    self.error(str(e))
                    return None
        self.discard_recovery()
        return project

    @staticmethod
    def is_example(path: Path | None) -> bool:
        from studio.ui.welcome import EXAMPLES_DIR

        return path is not None and Path(path).resolve().parent == EXAMPLES_DIR

    # ------------------------------------------------------------------------ save
    def save(self) -> bool:
        project = self.w.doc.project
        if project.path is None or self.is_example(project.path):
            return self.save_as()
        return self._write(project.path)

    def save_as(self) -> bool:
        project = self.w.doc.project
        suggested = (project.name if project.name != "Untitled" else "model") + SUFFIX
        path = self.choose_save_path("Save project as", suggested, PROJECT_FILTER)
        if not path:
            return False
        if not path.endswith(SUFFIX):
            path = path.removesuffix(".json") + SUFFIX
        # runs of an unsaved project (or an example) wait in the config dir: they follow the file
        unsaved_runs = (
            self.w.training.runs_root()
            if project.path is None or self.is_example(project.path)
            else None
        )
        old_name = project.name
        if project.name == "Untitled":
            project.name = Path(path).name.removesuffix(SUFFIX)
        if not self._write(Path(path)):
            project.name = old_name
            return False
        if unsaved_runs is not None:
            self.w.training.adopt_runs(unsaved_runs)
        return True

    def _write(self, path: Path) -> bool:
        project = self.w.doc.project
        try:
            save_project(project, path)
        except ProjectError as e:
            self.error(str(e))
            return False
        project.path = Path(path)
        self.w.doc.undo_stack.setClean()
        self.discard_recovery()
        self.w.settings.add_recent(path)
        self.w.refresh_recent()
        self.w.update_title()
        self.w.statusBar().showMessage(f"Saved {path}", 4000)
        return True

    # ---------------------------------------------------------------------- export
    def export_python(self) -> bool:
        """File > Export Python: asks where, then writes the Code view's text there once it is
        current (written in slices if an edit made it stale: the window answers meanwhile)."""
        self.w.ensure_compiler()
        if self.w.doc.analysis is None or not self.w.doc.analysis.ok:
            self.error(PROBLEMS)
            return False
        suggested = Path(self.w.doc.project.name.replace(" ", "_").lower() or "model").name + ".py"
        path = self.choose_save_path("Export Python", suggested, "Python files (*.py)")
        if not path:
            return False
        self.w.statusBar().showMessage("Writing the code to export…")
        self.w.code_view.when_current(
            lambda source, ok: self._export_python(Path(path), source, ok)
        )
        return True

    def _export_python(self, path: Path, source: str, ok: bool) -> None:
        if not ok:  # an edit made while it was written broke the model
            self.w.statusBar().clearMessage()
            self.error(PROBLEMS)
            return
        try:
            write_atomic(path, source)
        except ProjectError as e:
            self.w.statusBar().clearMessage()
            self.error(str(e))
            return
        self.w.statusBar().showMessage(f"Exported {path}", 4000)

    def export_diagram(self) -> bool:
        path = self.choose_save_path(
            "Export diagram", "model.png", "PNG image (*.png);;SVG drawing (*.svg)"
        )
        if not path:
            return False
        scene = self.w.scene
        try:
            if path.lower().endswith(".svg"):
                diagram_export.export_svg(scene, path, scene.blocks_rect(), self.w.doc.project.name)
            else:
                if not path.lower().endswith(".png"):
                    path += ".png"
                diagram_export.export_png(scene, path, scene.blocks_rect())
        except OSError as e:
            self.error(str(e))
            return False
        self.w.statusBar().showMessage(f"Exported {path}", 4000)
        return True

    # ------------------------------------------------------------ autosave/recovery
    def changed(self) -> None:
        """Called after every edit: the recovery file is written DEBOUNCE_MS after the edits
        pause, and at the latest MAX_WAIT_MS after the first unsaved one (the first edit after
        a project opens included), so continuous editing is never left unsaved for long."""
        now = time.monotonic()
        if self._doc is None or self._doc() is not self.w.doc:
            self._doc, self._pending_since = weakref.ref(self.w.doc), None
        if self._pending_since is None:
            self._pending_since = now
        waited_ms = (now - self._pending_since) * 1000
        self.autosave_timer.start(int(max(0, min(DEBOUNCE_MS, MAX_WAIT_MS - waited_ms))))

    def autosave(self) -> None:
        """Write the recovery file. A failure says so in the window (once with a message box,
        and in the status bar until an autosave works again): silently losing work is worse."""
        self._pending_since = None
        doc = self.w.doc
        if doc is None:
            return
        if doc.undo_stack.isClean():
            self.discard_recovery()
            return
        try:  # the GUI thread only takes the snapshot; the text and the write follow in a thread
            snap = self.recovery.snapshot(doc.project)
        except ProjectError as e:
            self._autosaved(e)
            return
        self.writer.submit(lambda: self.recovery.write_snapshot(snap))

    def autosave_busy(self) -> bool:
        """True while a recovery file asked for is still being written."""
        return self.writer.busy()

    def discard_recovery(self) -> None:
        """Remove the recovery file once the writes under way have ended (else one of them
        would put it back)."""
        self.writer.wait()
        self.recovery.discard()

    def _autosaved(self, error: Exception | None) -> None:
        if error is not None:
            reason = (
                str(error)
                if isinstance(error, ProjectError)
                else f"{type(error).__name__}: {error}"
            )
            self.w.statusBar().showMessage(f"Autosave failed: {reason}")
            if not self.autosave_failed:
                self.autosave_failed = True
                self.error(
                    f"Autosave failed, so a crash would lose your changes: {reason}. Save the project to keep them."
                )
            return
        if self.autosave_failed:
            self.autosave_failed = False
            self.w.statusBar().showMessage("Autosave works again.", 4000)

    def recoverable_files(self) -> list[RecoveryFile]:
        return self.recovery.recoverable()

    def restore(self, item: RecoveryFile) -> bool:
        try:
            project = self.recovery.load(item)
        except ProjectError as e:
            self.error(str(e))
            return False
        self.w.set_project(project)
        # restored work is unsaved work: mark it dirty so closing asks to save
        self.w.doc.undo_stack.resetClean()
        self.w.update_title()
        self.recovery.remove(item)
        self.autosave()
        return True

    def offer_recovery(self) -> bool:
        items = self.recoverable_files()
        if not items:
            return False
        text = "Studio was not closed properly. Restore the unsaved work?\n\n" + "\n".join(
            f"• {it.describe()}" for it in items[:5]
        )
        box = QMessageBox(QMessageBox.Icon.Question, "Restore unsaved work", text, parent=self.w)
        restore = box.addButton("Restore", QMessageBox.ButtonRole.AcceptRole)
        box.addButton("Discard", QMessageBox.ButtonRole.DestructiveRole)
        box.exec()
        if box.clickedButton() is restore:
            return self.restore(items[0])
        for it in items:
            self.recovery.remove(it)
        return False


def _same_file(a: str | Path, b: str | Path) -> bool:
    try:
        return Path(a).resolve() == Path(b).resolve()
    except OSError:
        return False
