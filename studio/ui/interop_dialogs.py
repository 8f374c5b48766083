"""File > Export ▸ (one entry per format in ``studio.interop.exporters.FORMATS``) and
File > Import…, both running the interop calls off the GUI thread.

The work is done by :mod:`studio.interop` (no Qt), the same calls ``studio export`` and
``studio import`` make. A :class:`Job` runs one call in a ``QThread`` on a snapshot of the
project and hands the result (or the exception) back to the GUI thread through signals.
"""

from __future__ import annotations

import copy
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from studio.graph.project import Project
from studio.ui.detached import detached
from studio.ui.jobs import Job

#: menu order; formats registered later (plug-ins) follow in registration order
MENU_ORDER = ("python", "script", "notebook", "weights", "torchscript", "onnx")
def snapshot(project: Project) -> Project:
    """A copy the worker thread can read while the user keeps editing the original."""
    return Project(
        name=project.name,
        graph=project.graph.copy(),
        training=copy.deepcopy(project.training),
        metadata=copy.deepcopy(project.metadata),
        path=project.path,
    )


def _one_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def menu_formats() -> list:
    from studio.interop.exporters import FORMATS

    names = [n for n in MENU_ORDER if n in FORMATS] + [n for n in FORMATS if n not in MENU_ORDER]
    return [FORMATS[n] for n in names]


class InteropController(QObject):
    """Adds File > Import… and File > Export ▸ to the window and runs them."""

    def __init__(self, window) -> None:
        super().__init__(window)
        self.w = window
        self.import_action = QAction("&Import PyTorch Model…", window)
        self.import_action.setStatusTip("Turn a torchvision model, a module or a .py file into a project")
        self.import_action.triggered.connect(lambda checked=False: self.import_dialog())
        self.export_menu = QMenu("E&xport", window)
        self.export_actions: dict[str, QAction] = {}
        for fmt in menu_formats():
            action = self.export_menu.addAction(f"{fmt.label}…")
            action.setStatusTip(fmt.description)
            action.triggered.connect(lambda checked=False, name=fmt.name: self.export(name))
            self.export_actions[fmt.name] = action
        self.last_job: Job | None = None
        self.dialog: ImportDialog | None = None

    def install(self, file_menu: QMenu, before: QAction | None = None) -> None:
        """Put Import… and the Export submenu into ``file_menu`` (before ``before``)."""
        file_menu.insertAction(before, self.import_action)
        file_menu.insertMenu(before, self.export_menu)

    # ------------------------------------------------------------ hooks for tests
    def show_message(self, title: str, text: str) -> None:
        box = QMessageBox(QMessageBox.Icon.Information, title, text, parent=self.w)
        box.open()  # not exec(): the window stays usable

    def run_for_export(self) -> str | None:
        """The training run whose weights to export (weights, TorchScript, ONNX); None for
        freshly initialised weights. A training dock may set ``window.last_run_dir``."""
        return getattr(self.w, "last_run_dir", None)

    # ------------------------------------------------------------------ export
    def export(self, fmt_name: str) -> Job | None:
        from studio.interop.exporters import FORMATS, export_project

        w = self.w
        fmt = FORMATS[fmt_name]
        w.ensure_compiler()
        if w.doc.analysis is None or not w.doc.analysis.ok:
            w.files.error("The model has problems (see the Problems list); fix them before exporting.")
            return None
        stem = "train" if fmt_name == "script" else (Path(w.doc.project.name.replace(" ", "_").lower()).name or "model")
        path = w.files.choose_save_path(
            f"Export {fmt.label}", stem + fmt.suffix, f"{fmt.label} (*{fmt.suffix});;All files (*)"
        )
        if not path:
            return None
        options = {}
        run = self.run_for_export() if fmt.uses_weights else None
        if run:
            options["run"] = run
        # a copy later edits do not reach, taken in milliseconds; the whole graph is built from it
        # in the worker (graph.copy() here held the GUI thread 52-137 ms at 2,000 blocks)
        quick = detached(w.doc.project)
        project = snapshot(w.doc.project) if quick is None else None
        job = Job(lambda: export_project(project or snapshot(quick), fmt_name, path, **options))
        job.succeeded.connect(lambda result: self._exported(fmt.label, result))
        job.failed.connect(lambda e: self._export_failed(fmt.label, e))
        w.statusBar().showMessage(f"Exporting {fmt.label}…")
        self.last_job = job.begin()
        return job

    def _exported(self, label: str, result) -> None:
        self.w.statusBar().showMessage(f"Exported {result.path}", 6000)
        self.show_message(f"Export {label}", result.message())

    def _export_failed(self, label: str, e: BaseException) -> None:
        self.w.statusBar().clearMessage()
        self.w.files.error(f"Export {label} failed: {_one_line(e)}")

    # ------------------------------------------------------------------ import
    def import_dialog(self) -> ImportDialog:
        dialog = ImportDialog(self.w)
        dialog.imported.connect(self._imported)
        self.dialog = dialog
        dialog.open()
        return dialog

    def _imported(self, result) -> None:
        w = self.w
        if not w.files.maybe_save():
            return
        w.files.discard_recovery()
        w.set_project(result.project)
        w.doc.undo_stack.resetClean()  # an imported model is unsaved work
        w.update_title()
        notes = "".join(f"\n• {n}" for n in result.notes)
        self.show_message("Import", f"Imported {result.project.name}: {result.summary()}{notes}")


class ImportDialog(QDialog):
    """The model to import, its keyword arguments and input shapes; imports in a worker thread."""

    imported = Signal(object)  # ImportResult

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Import PyTorch model")
        self.setMinimumWidth(520)
        self.spec = QLineEdit()
        self.spec.setPlaceholderText("torchvision:resnet18, package.module:Class or path/to/file.py[:Class]")
        browse = QPushButton("File…")
        browse.clicked.connect(self._browse)
        spec_row = QHBoxLayout()
        spec_row.addWidget(self.spec, 1)
        spec_row.addWidget(browse)
        self.kwargs = QLineEdit()
        self.kwargs.setPlaceholderText("num_classes=10  (literals only)")
        self.shapes = QLineEdit()
        self.shapes.setPlaceholderText("3,224,224 without the batch; several inputs: 3,32,32; 10")
        self.opaque = QCheckBox("Keep the whole model as one block (for models torch.fx cannot trace)")
        self.warning = QLabel(
            "Importing a file runs its Python code, with your permissions. Import only files you trust."
        )
        self.warning.setWordWrap(True)
        self.trust = QCheckBox("I trust this file: run its code")
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.progress = QProgressBar()
        self.progress.setRange(0, 0)  # busy
        self.progress.hide()
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.import_button = self.buttons.addButton("Import", QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.accepted.connect(self.start)
        self.buttons.rejected.connect(self.reject)

        form = QFormLayout()
        form.addRow("Model:", spec_row)
        form.addRow("Keyword arguments:", self.kwargs)
        form.addRow("Input shape:", self.shapes)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.opaque)
        layout.addWidget(self.warning)
        layout.addWidget(self.trust)
        layout.addWidget(self.status)
        layout.addWidget(self.progress)
        layout.addWidget(self.buttons)
        self.spec.textChanged.connect(self._spec_changed)
        self._spec_changed()
        self.job: Job | None = None
        self.result = None
        self.cancelled = False

    def reject(self) -> None:
        self.cancelled = True  # a running import finishes in the background and is dropped
        super().reject()

    def _browse(self) -> None:
        path = QFileDialog.getOpenFileName(self, "Python file", str(Path.home()), "Python files (*.py)")[0]
        if not path:
            return
        from studio.interop.sources import SourceError, model_classes

        try:  # read, not run: the file runs only on Import, once trusted
            names = model_classes(Path(path))
        except SourceError as e:
            names, note = [], str(e)
        else:
            note = "" if len(names) == 1 else (
                f"It defines {', '.join(names)}: {names[0]} is filled in; type another after the colon."
                if names else "It defines no class with a forward method: type the model's name after the colon."
            )
        self.spec.setText(f"{path}:{names[0] if names else ''}")
        self.status.setText(note)
        self.spec.setFocus()

    def _user_file(self):
        from studio.interop.sources import SourceError, parse_spec, runs_user_file

        try:
            return runs_user_file(parse_spec(self.spec.text()))
        except SourceError:
            return None

    def _spec_changed(self) -> None:
        runs_code = self._user_file() is not None
        self.warning.setVisible(runs_code)
        self.trust.setVisible(runs_code)
        if not runs_code:
            self.trust.setChecked(False)

    def _inputs(self):
        from studio.interop.sources import parse_input_shape

        parts = [p for p in self.shapes.text().split(";") if p.strip()]
        return [parse_input_shape(p) for p in parts] or None

    def start(self) -> Job | None:
        """Check the fields and import in a worker thread (the Import button)."""
        from studio.interop.fx_import import import_spec
        from studio.interop.sources import SourceError, parse_kwargs, parse_spec, runs_user_file

        if self.job is not None:
            return None
        self.cancelled = False
        try:
            spec = parse_spec(self.spec.text())
            kwargs = parse_kwargs(self.kwargs.text())
            inputs = self._inputs()
        except SourceError as e:
            self.status.setText(str(e))
            return None
        if runs_user_file(spec) is not None and not self.trust.isChecked():
            self.status.setText("Importing this file runs its code: tick “I trust this file” to go on.")
            return None
        opaque = self.opaque.isChecked()
        self.job = Job(lambda: import_spec(spec, kwargs, inputs, opaque=opaque))
        self.job.succeeded.connect(self._succeeded)
        self.job.failed.connect(self._failed)
        self._busy(True)
        self.status.setText(f"Importing {spec}…")
        return self.job.begin()

    def _busy(self, busy: bool) -> None:
        for widget in (self.spec, self.kwargs, self.shapes, self.opaque, self.trust, self.import_button):
            widget.setEnabled(not busy)
        self.progress.setVisible(busy)

    def _succeeded(self, result) -> None:
        self.job = None
        self._busy(False)
        if self.cancelled:
            return
        self.result = result
        self.status.setText(result.summary())
        self.accept()
        self.imported.emit(result)

    def _failed(self, e: BaseException) -> None:
        from studio.interop.fx_import import UntraceableError

        self.job = None
        self._busy(False)
        if isinstance(e, UntraceableError):
            self.opaque.setChecked(True)
            self.status.setText(
                f"torch.fx cannot trace {e.name}: {e.reason}. Import it whole as one block instead: "
                "the option below is now ticked; press Import again."
            )
            return
        self.status.setText(f"Import failed: {_one_line(e)}")
