"""The main window: canvas in the middle, palette and start page on the left, inspector and
code on the right, problems below. It wires parts together; the parts hold the behaviour."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from PySide6.QtCore import QPointF, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QGuiApplication, QUndoGroup
from PySide6.QtWidgets import QDockWidget, QInputDialog, QLabel, QMainWindow, QVBoxLayout, QWidget

from studio import gctune
from studio.graph.commands import Move
from studio.graph.layout import wrapped_layout
from studio.graph.project import SUFFIX, Project
from studio.ui import gui_gc, window_layout
from studio.ui.actions import Actions
from studio.ui.canvas.scene import GraphScene
from studio.ui.canvas.view import CanvasView
from studio.ui.canvas_menu import context_menu
from studio.ui.code_view import CodeView
from studio.ui.cost import CostController
from studio.ui.counts import counts_text
from studio.ui.document import CompilerLoader, Document
from studio.ui.editing import Editor
from studio.ui.file_ops import FileController
from studio.ui.icons import icon
from studio.ui.inspector import Inspector
from studio.ui.interop_dialogs import InteropController
from studio.ui.jobs import wait_for_jobs
from studio.ui.module_nav import ModuleNavigator
from studio.ui.palette import Palette
from studio.ui.problems import ProblemsList
from studio.ui.quick_add import QuickAdd
from studio.ui.settings import Settings
from studio.ui.theme import apply_widget_palette, current_theme, set_theme, system_is_dark
from studio.ui.training.controller import TrainingController
from studio.ui.welcome import WelcomeView

STARTUP_PROBE_ENV = "STUDIO_STARTUP_PROBE"


class MainWindow(QMainWindow):
    compiler_ready = Signal()

    def __init__(
        self, project: Project | None = None, config_dir: str | os.PathLike[str] | None = None
    ) -> None:
        super().__init__()
        gui_gc.hold(self)  # garbage is collected on this thread only while the window is open
        set_theme(system_is_dark())
        apply_widget_palette(current_theme().dark)
        self.settings = Settings(config_dir)
        self.files = FileController(self)
        self.undo_group = QUndoGroup(self)
        self.doc: Document | None = None
        self.scene: GraphScene | None = None
        self.inspector: Inspector | None = None
        self._loader: CompilerLoader | None = None
        self._shown_once = False
        self._fit_pending = False
        self.setWindowIcon(icon("app"))
        self.setAcceptDrops(True)

        placeholder = Document(Project(), self)
        self.view = CanvasView(GraphScene(placeholder, self), Editor(placeholder), self)
        self.modules = ModuleNavigator(
            self
        )  # opened module definitions, breadcrumb above the canvas
        centre = QWidget()
        column = QVBoxLayout(centre)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        column.addWidget(self.modules.bar)
        column.addWidget(self.view)
        self.setCentralWidget(centre)
        self.palette_widget = Palette()
        self.welcome = WelcomeView(self.settings.recent_files())
        self.blocks_dock = self._dock(
            "Blocks", self.palette_widget, Qt.DockWidgetArea.LeftDockWidgetArea
        )
        self.start_dock = self._dock("Start", self.welcome, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.inspector_dock = self._dock("Inspector", None, Qt.DockWidgetArea.RightDockWidgetArea)
        self.code_dock = self._dock("Code", None, Qt.DockWidgetArea.RightDockWidgetArea)
        self.problems_dock = self._dock("Problems", None, Qt.DockWidgetArea.RightDockWidgetArea)
        # the code is written while its tab is in front; brought to the front, it catches up
        self.code_dock.visibilityChanged.connect(self._code_to_front)
        self.training = TrainingController(self)
        self.training.state_changed.connect(self._update_totals)
        self.training_dock = self._dock(
            "Training", self.training.panel, Qt.DockWidgetArea.BottomDockWidgetArea
        )
        self.training.train_action.triggered.connect(self.show_training)
        self.cost = CostController(self)  # memory and time per block: status bar, overlay, panel
        self.cost_dock = self._dock("Cost", self.cost.panel, Qt.DockWidgetArea.BottomDockWidgetArea)
        self.cost.changed.connect(
            lambda: self.inspector is not None and self.inspector.counts.show_cost()
        )
        # beside the batch size in the training settings: the same estimate's peak and largest batch
        self.cost.changed.connect(
            lambda: self.training.panel.form.set_batch_hint(*self.cost.batch_hint())
        )

        self.actions_ = Actions(self)
        self.actions_.build_menus(self)
        toolbar = self.actions_.build_toolbar(self)
        # the toolbar's and View menu's Training panel: opens it (as tall as Train opens it; it
        # came back at its minimum), brings it in front of the Cost tab, or closes it
        panel = self.training_panel_action = QAction("Training panel", self)
        panel.setCheckable(True)
        panel.setStatusTip("Show or hide the training settings, plots and runs")
        self.training_dock.toggleViewAction().toggled.connect(panel.setChecked)
        panel.triggered.connect(lambda _checked: self._training_panel_clicked())
        toolbar.addAction(panel)
        self.interop = InteropController(self)  # File > Import…, File > Export ▸ (every format)
        self.interop.install(self.file_menu, self.actions_.export_python)
        from studio.ui.training.sweeps import SweepController

        self.sweeps = SweepController(self)  # Train > Sweep…, Stop Sweep, Apply Best Trial
        for dock in (
            self.blocks_dock,
            self.start_dock,
            self.inspector_dock,
            self.code_dock,
            self.problems_dock,
            self.training_dock,
            self.cost_dock,
        ):
            toggle = dock.toggleViewAction()
            self.view_menu.addAction(
                self.training_panel_action if dock is self.training_dock else toggle
            )
            # shown from View, a dock comes to the front of its tabs (View > Cost beside the
            # Training panel only added a "Cost" tab behind it)
            toggle.triggered.connect(lambda on, d=dock: on and d.raise_())
        self.view_menu.addSeparator()
        self.view_menu.addAction(self.cost.overlay_action)
        self.view_menu.addAction(self.cost.profile_action)
        self.view_menu.addSeparator()
        self.view_menu.addAction("Reset &Layout", self.reset_layout)
        from studio.ui import compare_view

        compare_view.install(self)  # View > Compare With…, the Runs tab's Compare
        self.window_settings = window_layout.window_settings(self.settings.folder)
        window_layout.arrange_default(self)
        self.tabifyDockWidget(self.training_dock, self.cost_dock)  # with Training, shown on demand
        self.cost_dock.hide()
        window_layout.restore(self, self.window_settings)
        self.quick_add = QuickAdd(self)
        self.quick_add.chosen.connect(self._quick_add_chosen)
        self._quick_pos = QPointF()

        self.totals_label = QLabel()
        self.statusBar().addPermanentWidget(self.totals_label)
        self.statusBar().addPermanentWidget(self.cost.status)
        self.palette_widget.activated.connect(
            lambda t: self.view.drop_block(t, self.view.centre_scene_pos())
        )
        self.welcome.open_requested.connect(lambda p: self._from_start(self.files.open_path, p))
        self.welcome.new_requested.connect(lambda: self._from_start(self.files.new))
        self.view.hint.connect(self.show_hint)
        self.view.context_requested.connect(self._context_menu)
        self.view.open_requested.connect(self.modules.open_use)
        self.palette_widget.rename_module_requested.connect(self.modules.rename_definition)
        self.palette_widget.delete_module_requested.connect(self.modules.delete_definition)
        self.view.quick_add_requested.connect(self._open_quick_add)
        QGuiApplication.styleHints().colorSchemeChanged.connect(self._scheme_changed)

        self.set_project(project or Project(name="Untitled"))
        self.refresh_recent()

    def _dock(self, title: str, widget, area) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(title.lower())
        if widget is not None:
            dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    # --------------------------------------------------------------- projects
    def set_project(self, project: Project) -> None:
        old = self.doc
        if old is not None:
            self.training.shutdown()  # a run trains the old project: stop it first
            for part in (self.code_view, self.problems):
                part.detach()
            self.undo_group.removeStack(old.undo_stack)
        self.doc = Document(project, self)
        self.modules.attach(self.doc)
        self.bind_canvas(self.doc)
        if old is not None:
            old.close()
        self.code_view = CodeView(self.doc)
        self.problems = ProblemsList(self.doc, self.editor)
        self.problems.changed.connect(self._update_totals)
        self.problems.failure_cleared.connect(lambda: self.scene.set_run_problem(None, ""))
        self.problems.block_clicked.connect(self.show_block)
        self.problems.edge_clicked.connect(self._show_edge)
        _replace_widget(self.code_dock, self.code_view)
        _replace_widget(self.problems_dock, self.problems)
        self.undo_group.addStack(self.doc.undo_stack)
        self.undo_group.setActiveStack(self.doc.undo_stack)
        self.doc.undo_stack.cleanChanged.connect(self.update_title)
        self.doc.edit_refused.connect(self.show_hint)
        self.doc.analysed.connect(self._update_totals)
        self.doc.graph.events.changed.connect(self.files.changed)
        self.doc.graph.events.changed.connect(self._update_empty_hint)
        self.doc.graph.library.changed.connect(lambda *_: self.files.changed())
        self.palette_widget.set_library(self.doc.graph.library)
        self.quick_add.library = self.doc.graph.library
        self.training.set_document(self.doc)
        self.cost.attach(self.doc)
        self.update_title()
        self._update_totals()
        self._update_empty_hint()
        if old is not None:
            old.deleteLater()
        if (
            "studio.compiler" in sys.modules
            and self._loader is None
            or (self._loader and self._loader.isFinished())
        ):
            self.doc.attach_compiler()
        QTimer.singleShot(0, self._show_whole_model)
        # a large project's objects out of the collector's full passes (studio/gctune.py), once
        # the event loop has turned (the old document's deleteLater)
        blocks = len(project.graph)
        QTimer.singleShot(0, lambda: gctune.project_opened(blocks))

    def bind_canvas(self, doc) -> None:
        """Show ``doc`` on the canvas: the model, or an opened module definition (a scope of
        the same project), each with its own editor, scene and inspector."""
        for part in (self.scene, self.inspector):
            if part is not None:
                part.detach()
        old_scene = self.scene
        self.editor = Editor(self.training.gate(doc))  # edits ask to stop a run first
        self.scene = GraphScene(doc, self)
        self.view.setScene(self.scene)
        self.view.editor = self.editor
        self.scene.selectionChanged.connect(self._selection_changed)
        self.inspector = Inspector(doc, self.editor)
        self.inspector.open_requested.connect(self.modules.open_use)
        self.inspector.counts.cost_source = self.cost.block_text
        self.scene.set_heat(self.cost.heat())
        _replace_widget(self.inspector_dock, self.inspector)
        if old_scene is not None:
            old_scene.deleteLater()
        self._update_empty_hint()

    def show_training(self) -> None:
        """Train (or View > Training) opens the Training dock below the canvas, tall enough for
        four readable plots (at 1400x860 they were 40 px high at the dock's own minimum)."""
        opening = not self.training_dock.isVisible()
        self.training_dock.show()
        self.training_dock.raise_()
        if opening:
            self._size_training_dock()

    def _training_panel_clicked(self) -> None:
        """Open, bring forward or close the Training dock. Open behind the Cost tab, the button
        closed it (a dock's own toggle only shows or hides)."""
        dock = self.training_dock
        behind = not dock.isHidden() and not dock.isFloating() and dock.visibleRegion().isEmpty()
        if dock.isHidden() or behind:
            self.show_training()
        else:
            dock.hide()
        self.training_panel_action.setChecked(not dock.isHidden())

    def _size_training_dock(self) -> None:
        if not self.training_dock.isFloating():
            self.resizeDocks(
                [self.training_dock], [max(300, int(self.height() * 0.48))], Qt.Orientation.Vertical
            )

    def reset_layout(self) -> None:
        """View > Reset layout: docks and window size as on a first start."""
        window_layout.arrange_default(self)

    def _from_start(self, action, *args) -> None:
        """Opening or starting a project from the Start page: then show the Blocks to add."""
        action(*args)
        self.blocks_dock.raise_()

    def show_hint(self, message: str) -> None:
        if message:
            self.statusBar().showMessage(message, 6000)
        else:
            self.statusBar().clearMessage()

    def _code_to_front(self, front: bool) -> None:
        code_view = getattr(self, "code_view", None)
        if front and code_view is not None:
            code_view.shown()

    def update_title(self, *_: object) -> None:
        project = self.doc.project
        where = f" — {project.path}" if project.path else ""
        self.setWindowTitle(f"{project.name}[*]{where} — Studio")
        self.setWindowModified(not self.doc.undo_stack.isClean())
        code_view = getattr(self, "code_view", None)
        if code_view is not None and code_view.doc is self.doc:
            code_view.follow_name()

    def refresh_recent(self) -> None:
        recent = self.settings.recent_files()
        self.welcome.set_recent(recent)
        self.recent_menu.clear()
        for p in recent:
            self.recent_menu.addAction(Path(p).name, lambda p=p: self.files.open_path(p))
        self.recent_menu.setEnabled(bool(recent))

    # --------------------------------------------------------------- compiler
    def start_compiler_loading(self) -> None:
        if self._loader is not None or self.doc.analysis is not None:
            return
        self.statusBar().showMessage("Loading PyTorch…")
        self._loader = CompilerLoader(self)
        self._loader.finished.connect(self._compiler_loaded)
        self._loader.start()

    def _compiler_loaded(self) -> None:
        if "studio.compiler" in sys.modules:
            self.doc.attach_compiler()
            self.training.ensure_views()
            self.training.prewarm()
            self.statusBar().showMessage("PyTorch loaded", 2000)
            self.compiler_ready.emit()

    def ensure_compiler(self) -> None:
        """Load the compiler now (blocking); for export and tests."""
        if self._loader is not None and self._loader.isRunning():
            self._loader.wait()
        import studio.compiler  # noqa: F401

        self.doc.attach_compiler()
        self.doc.wait_for_analysis()
        self.training.ensure_views()
        self.doc.refresh()

    def _show_whole_model(self) -> None:
        """On opening: the whole model in view at a readable zoom. An example (or an unsaved
        project) that is too long for the window is wrapped into bands first, as one undoable
        step; a user's own layout is kept (the off-screen indicator says what is outside)."""
        if not self.isVisible():
            self._fit_pending = True
            return
        self._fit_pending = False
        doc, view = self.doc, self.view
        if doc.undo_stack.count() == 0 and (
            doc.project.path is None or self.files.is_example(doc.project.path)
        ):
            width, height = view.readable_scene_size()
            if not view.fits_readable(self.scene.blocks_rect()):
                positions = wrapped_layout(doc.graph, width, height)
                moved = {
                    b: p for b, p in (positions or {}).items() if doc.graph.blocks[b].position != p
                }
                if moved and self.editor.macro("Arrange to fit the window", [Move(moved)]):
                    doc.undo_stack.setClean()  # nothing of the user's to save
        view.fit_all(readable=True)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._fit_pending:
            QTimer.singleShot(0, self._show_whole_model)
        if self._shown_once:
            return
        self._shown_once = True
        if os.environ.get(STARTUP_PROBE_ENV):
            QTimer.singleShot(0, self._startup_probe)
            return
        QTimer.singleShot(0, self.start_compiler_loading)

    def _startup_probe(self) -> None:
        print(f"STUDIO_WINDOW_SHOWN {time.time():.6f} torch={'torch' in sys.modules}", flush=True)
        self.files.discard_recovery()
        QGuiApplication.instance().exit(0)

    # ------------------------------------------------------------------ status
    def _update_totals(self, *_: object) -> None:
        analysis = self.doc.analysis
        if analysis is None:
            self.totals_label.setText("Parameters: … (loading PyTorch)")
            return
        t = analysis.totals()
        errors = max(len(analysis.errors), self.problems.error_count())  # the data check counts too
        problems = (
            f"  ·  {errors} problem{'s' * (errors != 1)}" if errors else "  ·  ready to train"
        )
        training = getattr(self, "training", None)
        if training is not None and training.running:
            problems = "  ·  paused" if training.control.paused else "  ·  training…"
        self.totals_label.setText(f"{counts_text(t)}{problems}")

    def _update_empty_hint(self) -> None:
        if self.scene is not None:
            self.view.set_empty_hint(not self.scene.graph.blocks)

    # ---------------------------------------------------------------- selection
    def _selection_changed(self) -> None:
        ids = self.scene.selected_block_ids()
        self.inspector.show_block(ids[0] if len(ids) == 1 else None)

    def show_block(self, block_id: str) -> None:
        self.modules.go_to(0)  # problems name the model's blocks
        self.scene.select_blocks([block_id])
        self.view.centre_on_block(block_id)

    def _show_edge(self, edge_id: str) -> None:
        self.modules.go_to(0)
        item = self.scene.wires.get(edge_id)
        if item is not None:
            self.scene.clearSelection()
            item.setSelected(True)
            self.view.centerOn(item.sceneBoundingRect().center())

    # --------------------------------------------------------------- edit slots
    def copy(self) -> None:
        ids = self.scene.selected_block_ids()
        if ids:
            QGuiApplication.clipboard().setText(self.editor.copy(ids))

    def cut(self) -> None:
        ids = self.scene.selected_block_ids()
        if ids:
            self.copy()
            self.editor.delete(ids)

    def paste(self, at: QPointF | None = None) -> None:
        """Paste at ``at``, else at the mouse when it is over the canvas, else shifted into
        free space beside the originals."""
        text = QGuiApplication.clipboard().text()
        at = at if at is not None else self.view.cursor_scene_pos()
        pos = (at.x(), at.y()) if at is not None else None
        ids = self.editor.paste(text, at=pos)
        if ids:
            self.scene.select_blocks(ids)

    def duplicate(self) -> None:
        ids = self.editor.duplicate(self.scene.selected_block_ids())
        if ids:
            self.scene.select_blocks(ids)

    def delete_selection(self) -> None:
        self.editor.delete(self.scene.selected_block_ids(), self.scene.selected_edge_ids())

    def select_all(self) -> None:
        self.scene.select_blocks(self.scene.graph.blocks)

    def arrange(self) -> None:
        self.editor.arrange(self.view.readable_scene_size())
        self.view.fit_all(readable=True)

    def rename_selected(self) -> None:
        ids = self.scene.selected_block_ids()
        if len(ids) != 1:
            return
        block = self.scene.graph.blocks[ids[0]]
        name, ok = QInputDialog.getText(self, "Rename block", "Name:", text=block.name)
        if ok and name.strip():
            if not self.editor.rename(block.id, name.strip()):
                self.statusBar().showMessage("Rename refused; see the message above.", 4000)

    def toggle_freeze(self) -> None:
        ids = self.scene.selected_block_ids()
        if ids:
            frozen = not all(self.scene.graph.blocks[b].frozen for b in ids)
            self.editor.set_frozen(ids, frozen)

    # ------------------------------------------------------ menus and quick add
    def _context_menu(self, block_id: str | None, scene_pos: QPointF) -> None:
        menu = context_menu(self, block_id, scene_pos)
        menu.popup(self.view.mapToGlobal(self.view.mapFromScene(scene_pos)))

    def _open_quick_add(self, scene_pos: QPointF) -> None:
        self._quick_pos = scene_pos
        self.quick_add.search.clear()
        at = self.view.mapToGlobal(self.view.mapFromScene(scene_pos))
        screen = (self.screen() or QGuiApplication.primaryScreen()).availableGeometry()
        at.setX(max(screen.left(), min(at.x(), screen.right() - self.quick_add.width())))
        at.setY(max(screen.top(), min(at.y(), screen.bottom() - self.quick_add.height())))
        self.quick_add.move(at)  # whole on screen, even opened near the bottom edge
        self.quick_add.show()
        self.quick_add.search.setFocus()

    def quick_add_at_cursor(self) -> None:
        self._open_quick_add(self.view.centre_scene_pos())

    def _quick_add_chosen(self, type_id: str) -> None:
        self.view.drop_block(type_id, self._quick_pos)

    # --------------------------------------------------------------- appearance
    def _scheme_changed(self, *_: object) -> None:
        set_theme(system_is_dark())
        apply_widget_palette(current_theme().dark)
        self.scene.update()
        for item in self.scene.items():
            item.update()
        self.scene._grid_pen.setColor(current_theme().grid)

    # ---------------------------------------------------------- dropping files
    def dragEnterEvent(self, event) -> None:
        if any(u.toLocalFile().endswith(SUFFIX) for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        for url in event.mimeData().urls():
            path = url.toLocalFile()
            if path.endswith(SUFFIX):
                self.files.open_path(path)
                event.acceptProposedAction()
                return

    # ------------------------------------------------------------------ closing
    def closeEvent(self, event) -> None:
        if not self.files.maybe_save():
            event.ignore()
            return
        self.training.shutdown()
        window_layout.save(self, self.window_settings)
        self.files.autosave_timer.stop()
        self.files.discard_recovery()
        if self._loader is not None and self._loader.isRunning():
            self._loader.wait()
        if self.doc._warmer is not None:
            self.doc._warmer.wait()
        wait_for_jobs()
        event.accept()
        gui_gc.release(self)  # no worker of this window runs any more


def _replace_widget(dock, widget) -> None:
    """``widget`` in ``dock``, the one it replaces deleted: setWidget leaves that one a hidden
    child of the dock, and with it the old project's document, graph and analysis (every
    project opened stayed in memory until the window closed)."""
    old = dock.widget()
    dock.setWidget(widget)
    if old is not None and old is not widget:
        old.deleteLater()
