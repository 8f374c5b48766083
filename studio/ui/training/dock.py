"""The training panel's widgets (layout only; `controller.py` holds the behaviour).

    [Train] [Pause] [Stop]   progress bar   epoch · step · samples/s · ETA     [PNG] [CSV]
    message (status, or a failure: one red line, details on request)
    Settings | Runs  ||  Curves | Try it | Data
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QScrollArea,
    QSplitter,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from studio.ui.training.history_view import RunList
from studio.ui.training.message_bar import MessageBar
from studio.ui.training.settings_form import SettingsForm


class TrainingPanel(QWidget):
    def __init__(self, actions, parent=None):
        super().__init__(parent)
        self.buttons = []
        row = QHBoxLayout()
        row.setContentsMargins(4, 4, 4, 0)
        for a in actions:
            b = QToolButton()
            b.setDefaultAction(a)
            b.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
            row.addWidget(b)
            self.buttons.append(b)
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.progress.setFormat("idle")
        self.progress.setMinimumWidth(190)
        self.progress.setMaximumWidth(260)
        self.rate = QLabel("")
        row.addSpacing(8)
        row.addWidget(self.progress)
        row.addWidget(self.rate, 1)
        self.export_png = QToolButton(text="PNG")
        self.export_png.setToolTip("Export the plots as a PNG image")
        self.export_csv = QToolButton(text="CSV")
        self.export_csv.setToolTip("Export the metrics as CSV")
        row.addWidget(self.export_png)
        row.addWidget(self.export_csv)

        self.message = MessageBar()

        self.form = SettingsForm()
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.form)
        self.runs = RunList()
        self.left = QTabWidget()
        self.left.addTab(scroll, "Settings")
        self.left.addTab(self.runs, "Runs")
        self.plots = self.try_panel = self.compare = self.data_panel = None  # built by build_views()
        self.right = QTabWidget()
        self.right.addTab(QLabel("The plots appear once PyTorch has loaded…"), "Curves")
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.left)
        split.addWidget(self.right)
        split.setStretchFactor(0, 0)
        split.setStretchFactor(1, 1)
        split.setSizes([300, 900])

        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(2)
        box.addLayout(row)
        box.addWidget(self.message)
        box.addWidget(split, 1)

    def build_views(self) -> None:
        """Create the plots and the try-it panel (imports pyqtgraph, ~0.3 s: not at start-up)."""
        if self.plots is not None:
            return
        from studio.ui.training.data_panel import DataPanel
        from studio.ui.training.plots import TrainingPlots
        from studio.ui.training.run_scatter import RunScatter
        from studio.ui.training.try_panel import TryPanel

        self.plots = TrainingPlots()
        self.try_panel = TryPanel()
        self.compare = RunScatter()
        old = self.right.widget(0)
        self.right.removeTab(0)
        old.deleteLater()
        self.right.addTab(self.plots, "Curves")
        self.right.addTab(self.try_panel, "Try it")
        self.data_panel = DataPanel()
        self.right.addTab(self.data_panel, "Data")
        self.try_panel.cell_chosen.connect(self._show_chosen)
        self.right.addTab(self.compare, "Compare runs")
        self.right.setCurrentWidget(self.plots)
        self.compare.set_table(self.runs.table, self.runs.selected_rows())
        self.runs.selection_changed.connect(self._show_compare)
        self.runs.table_changed.connect(self._show_compare)

    def _show_chosen(self, chosen: dict) -> None:
        """A confusion-matrix cell clicked in Try it: its samples, in the Data tab."""
        self.data_panel.show_chosen(chosen)
        self.right.setCurrentWidget(self.data_panel)

    def _show_compare(self, *_) -> None:
        self.compare.set_table(self.runs.table, self.runs.selected_rows())

    def show_message(self, text: str, error: bool = False, details: str = "") -> None:
        self.message.show_message(text, error, details)
