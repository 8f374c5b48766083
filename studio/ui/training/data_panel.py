"""The Data tab: what the project's dataset holds, and what the augmentation does to it.

    message (the description, or why the data cannot be read: one line)
    [x] Before the transforms  [Re-draw]  [Refresh]
    Samples | Augmentation | Rows | Text | Statistics   ||   class balance (train / validation)
                                                       ||   augmentation pipeline editor

The data is read off the GUI thread (`jobs.Job` running `data_preview.load_view`); a newer
request supersedes an older one, whose result is dropped. The controller calls `set_source`
whenever the training settings change; the tab reloads when it is shown (or at once if it is).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QIcon, QImage, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from studio.training.transforms import data_of
from studio.ui.elided import ElidedLabel
from studio.ui.jobs import Job
from studio.ui.training.balance_chart import BalanceChart
from studio.ui.training.chosen_samples import ChosenSamples
from studio.ui.training.pipeline_editor import PipelineEditor

TILE = 88  # pixels of one sample tile
DATA_KEYS = ("data", "val_data", "val_split", "seed", "augment", "loss")


def _pixmap(pixels: np.ndarray, size: int = TILE) -> QPixmap:
    a = np.ascontiguousarray(pixels)
    image = QImage(a.data, a.shape[1], a.shape[0], a.strides[0], QImage.Format.Format_RGB888).copy()
    return QPixmap.fromImage(image).scaled(
        size, size, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.FastTransformation
    )


def _grid() -> QListWidget:
    grid = QListWidget()
    grid.setViewMode(QListView.ViewMode.IconMode)
    grid.setIconSize(QSize(TILE, TILE))
    grid.setResizeMode(QListView.ResizeMode.Adjust)
    grid.setMovement(QListView.Movement.Static)
    grid.setSpacing(6)
    grid.setUniformItemSizes(True)
    return grid


class DataPanel(QWidget):
    pipeline_changed = Signal(object)  # the augment list the editor made

    def __init__(self, parent=None):
        super().__init__(parent)
        self.settings: dict = {}
        self.base_dir: Path | None = None
        self.summary = self.preview = None
        self.seed = 0
        self._generation = 0
        self._loaded_key = None
        self._job: Job | None = None
        self.message = ElidedLabel("Choose a dataset in the settings.")
        self.before = QCheckBox("Before the transforms")
        self.before.setToolTip("Show the image files as they are, not as the model reads them")
        self.before.toggled.connect(self._draw_samples)
        self.redraw = QPushButton("Re-draw")
        self.redraw.setToolTip("Draw the augmentation again on the same samples")
        self.redraw.clicked.connect(self.draw_again)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.setToolTip("Read the data again (after files changed on disk)")
        self.refresh_button.clicked.connect(lambda: self.reload(force=True))
        top = QHBoxLayout()
        top.addWidget(self.message, 1)
        top.addWidget(self.before)
        top.addWidget(self.redraw)
        top.addWidget(self.refresh_button)

        self.samples = _grid()
        self.augmented = _grid()
        self.rows = QTableWidget()
        self.rows.verticalHeader().setDefaultSectionSize(22)
        self.windows = QTableWidget(0, 2)
        self.windows.setHorizontalHeaderLabels(["context", "next tokens"])
        head = self.windows.horizontalHeader()
        head.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        head.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.windows.verticalHeader().setDefaultSectionSize(22)
        self.stats = QTableWidget(0, 3)
        self.stats.setHorizontalHeaderLabels(["", "mean", "std"])
        self.cells = QLabel("")
        self.cells.setWordWrap(True)
        self.cells.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        stats_page = QWidget()
        stats_box = QVBoxLayout(stats_page)
        stats_box.addWidget(self.stats, 1)
        stats_box.addWidget(self.cells)
        self.views = QTabWidget()
        self.pages = {
            "samples": (self.samples, "Samples"),
            "augmentation": (self.augmented, "Augmentation"),
            "rows": (self.rows, "Rows"),
            "windows": (self.windows, "Text"),
            "statistics": (stats_page, "Statistics"),
        }
        self.chosen = ChosenSamples()  # Try it's confusion cell, when one was clicked
        self.chart = BalanceChart()
        self.editor = PipelineEditor()
        self.editor.changed.connect(self.pipeline_changed)
        column = QWidget()
        right_box = QVBoxLayout(column)
        right_box.setContentsMargins(0, 0, 0, 0)
        right_box.addWidget(self.editor)  # first: what the user edits, the chart below it
        right_box.addWidget(self.chart, 1)
        # scrolls when short: the chart and the editor's minimum (362 px) was the whole Training
        # panel's, which left the canvas 220 px at 1280x720
        self.right = right = QScrollArea()
        right.setWidgetResizable(True)
        right.setFrameShape(QFrame.Shape.NoFrame)
        right.setWidget(column)
        right.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)  # only down
        right.setMinimumWidth(
            column.minimumSizeHint().width() + right.verticalScrollBar().sizeHint().width()
        )
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.views)
        split.addWidget(right)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setSizes([600, 400])
        box = QVBoxLayout(self)
        box.setContentsMargins(4, 4, 4, 4)
        box.addLayout(top)
        box.addWidget(split, 1)
        self._timer = QTimer(self, singleShot=True, interval=250)
        self._timer.timeout.connect(self.reload)

    # -- the source ------------------------------------------------------------------------------

    def set_source(self, settings: dict, base_dir: str | Path | None) -> None:
        """The project's training settings changed (or another project opened)."""
        self.settings, self.base_dir = settings or {}, Path(base_dir) if base_dir else None
        from studio.training.settings import TrainingSettings

        steps = TrainingSettings.from_dict(
            self.settings
        ).augment  # an older file's checkbox, as a list
        self.editor.set_steps(steps, data_of(self.settings.get("data")))
        if self.isVisible():
            self._timer.start()

    def showEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        self._timer.start(0)

    def _key(self):
        import json

        return json.dumps(
            {k: self.settings.get(k) for k in DATA_KEYS}, sort_keys=True, default=str
        ), self.seed

    def reload(self, force: bool = False) -> None:
        """Read the data again off the GUI thread (unless nothing it depends on changed)."""
        key = (self._key(), str(self.base_dir))
        if key == self._loaded_key and not force:
            return
        from studio.training.data_preview import load_view

        self._loaded_key = key
        self._generation += 1
        generation, settings, base, seed = (
            self._generation,
            dict(self.settings),
            self.base_dir,
            self.seed,
        )
        self.message.setStyleSheet("color: palette(mid)")
        self.message.setText("Reading the data…")
        job = Job(lambda: load_view(settings, base, seed))
        job.succeeded.connect(lambda result, g=generation: self._loaded(g, result))
        job.failed.connect(lambda e, g=generation: self._failed(g, e))
        self._job = job.begin()

    def busy(self) -> bool:
        return self._job is not None and self._job.isRunning()

    def draw_again(self) -> None:
        self.seed += 1
        self.reload()

    # -- results ---------------------------------------------------------------------------------

    def _failed(self, generation: int, error: Exception) -> None:
        if generation == self._generation:
            self._show_problem((str(error).splitlines() or [type(error).__name__])[0])

    def _show_problem(self, text: str) -> None:
        self.message.setStyleSheet("color: #c62828")
        self.message.setText(text)
        self.message.setToolTip(text)

    def _loaded(self, generation: int, result) -> None:
        if generation != self._generation:
            return  # a newer request is on its way
        self.summary, self.preview = result
        s = self.summary
        current = self.views.currentWidget()
        for widget, _ in [*self.pages.values(), (self.chosen, "")]:
            index = self.views.indexOf(widget)
            if index >= 0:
                self.views.removeTab(index)
        if s.problem:
            self._show_problem(s.problem)
            if self.chosen.chosen is not None:  # the model's samples, not the file's: they stay
                self.views.addTab(self.chosen, self.chosen.tab_text())
            self.chart.show_counts([], [], [])
            return
        self.message.setStyleSheet("")
        shape = " x ".join(map(str, s.sample_shape))
        self.message.setText(f"{s.label}: {s.description} · one sample: {shape}")
        self.message.setToolTip("\n".join(s.lines()))
        # an image set held as tensors (generated shapes) cannot be augmented: no such page
        augments = self.editor.isEnabled()
        pages = {
            "image": ["samples", "augmentation"] if augments else ["samples"],
            "table": ["rows"],
            "text": ["windows"],
        }.get(s.family, [])
        for name in [*pages, "statistics"]:
            widget, title = self.pages[name]
            self.views.addTab(widget, title)
        if self.chosen.chosen is not None:
            self.views.addTab(self.chosen, self.chosen.tab_text())
        if current is not None and self.views.indexOf(current) >= 0:
            self.views.setCurrentWidget(current)
        for button in (self.before, self.redraw):  # image files only: not for text or tables
            button.setVisible(s.family == "image")
            button.setEnabled(s.family == "image" and augments)
        self._draw_samples()
        self._draw_augmented()
        self._draw_rows()
        self._draw_windows()
        self._draw_stats()
        title = f"classes ({s.estimated})" if s.estimated else "classes"
        ratio = s.imbalance()
        if ratio > 5:
            title += f" · unbalanced: {ratio:.1f}x"
            self.chart.setToolTip(
                "Unbalanced classes: consider Balanced sampling or the cross-entropy's Class weights"
            )
        self.chart.show_counts(s.classes, s.train_counts, s.val_counts, title if s.classes else "")
        self.chart.setVisible(bool(s.classes))
        self.editor.setVisible(self.editor.isEnabled())
        self.right.setVisible(bool(s.classes) or self.editor.isEnabled())

    def show_chosen(self, chosen: dict) -> None:
        """Try it's confusion-matrix cell: its validation samples on a page of their own."""
        self.chosen.show_chosen(chosen)
        if self.views.indexOf(self.chosen) < 0:
            self.views.addTab(self.chosen, "")
        self.views.setTabText(self.views.indexOf(self.chosen), self.chosen.tab_text())
        self.views.setCurrentWidget(self.chosen)

    def _draw_samples(self) -> None:
        self.samples.clear()
        p = self.preview
        if p is None:
            return
        images = p.before if self.before.isChecked() else p.after
        for pixels, label, split in zip(images, p.labels, p.splits, strict=True):
            item = QListWidgetItem(
                QIcon(_pixmap(pixels)), f"{label}" + (" (val)" if split == "val" else "")
            )
            item.setToolTip(f"{label} · {split}")
            self.samples.addItem(item)

    def _draw_augmented(self) -> None:
        self.augmented.clear()
        p = self.preview
        if p is None:
            return
        for draws, label in zip(p.draws[:8], p.labels, strict=False):
            for n, pixels in enumerate(draws, 1):
                item = QListWidgetItem(QIcon(_pixmap(pixels)), f"{label} #{n}")
                self.augmented.addItem(item)

    def _draw_rows(self) -> None:
        s = self.summary
        self.rows.clear()
        if s.family != "table" or not s.columns:
            self.rows.setRowCount(0)
            return
        self.rows.setColumnCount(len(s.columns))
        self.rows.setRowCount(len(s.rows))
        stats = dict(zip(s.stat_names, zip(s.mean, s.std, strict=False), strict=False))
        for j, name in enumerate(s.columns):
            head = QTableWidgetItem(f"{name} (target)" if name == s.target else name)
            if name in stats:
                head.setToolTip(
                    f"mean {stats[name][0]:.4g}, std {stats[name][1]:.4g} ({s.stats_from})"
                )
            self.rows.setHorizontalHeaderItem(j, head)
        bad = {(c.line, c.column) for c in s.cells}
        target = s.columns.index(s.target) if s.target in s.columns else -1
        for i, (line, row) in enumerate(zip(s.row_lines, s.rows, strict=True)):
            self.rows.setVerticalHeaderItem(i, QTableWidgetItem(str(line)))
            for j, cell in enumerate(row[: len(s.columns)]):
                item = QTableWidgetItem(cell)
                if j == target:
                    item.setBackground(QColor(232, 240, 254))
                if (line, s.columns[j]) in bad:
                    item.setBackground(QColor(255, 205, 210))
                    item.setToolTip("missing or not a number")
                self.rows.setItem(i, j, item)
        _fit_columns(self.rows)

    def _draw_windows(self) -> None:
        s = self.summary
        self.windows.setRowCount(len(s.windows))
        for i, w in enumerate(s.windows):
            context, nxt = w["context"], w["next"]
            self.windows.setItem(i, 0, QTableWidgetItem(context.replace("\n", "⏎")))
            self.windows.setItem(
                i, 1, QTableWidgetItem(f"→ {nxt[-1:]!r}   (targets: …{nxt[-16:]!r})")
            )

    def _draw_stats(self) -> None:
        s = self.summary
        self.stats.setRowCount(len(s.stat_names))
        self.stats.setHorizontalHeaderLabels(
            ["channel" if s.family == "image" else "feature", "mean", "std"]
        )
        for i, (name, m, sd) in enumerate(zip(s.stat_names, s.mean, s.std, strict=False)):
            for j, text in enumerate((name, f"{m:.4g}", f"{sd:.4g}")):
                self.stats.setItem(i, j, QTableWidgetItem(text))
        _fit_columns(self.stats)
        lines = [f"Statistics from {s.stats_from}." if s.stats_from else ""]
        if s.bad_cells:
            lines.append(f"{s.bad_cells} missing or non-numeric cells, e.g.:")
            lines += [f"  line {c.line}, column {c.column}: {c.value!r}" for c in s.cells[:8]]
        self.cells.setText("\n".join(x for x in lines if x))


#: the widest a column of the Rows and Statistics tables grows to fit its name and cells
MAX_COLUMN = 260


def _fit_columns(table: QTableWidget) -> None:
    """Each column as wide as its name and cells (up to MAX_COLUMN): at the default 100 px a
    scikit-learn name such as 'sepal length (cm)' showed as 'epal length (cm'."""
    table.resizeColumnsToContents()
    for j in range(table.columnCount()):
        table.setColumnWidth(j, min(table.columnWidth(j), MAX_COLUMN))
