"""The Compare plot: one numeric column of the runs table against another (a parameter against a
metric), one point per run; the runs selected in the table, or all of them when fewer than two
are selected. Reads `RunTable`; knows nothing of where runs come from."""

from __future__ import annotations

import math

import pyqtgraph as pg
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from studio.training.run_table import FIXED, RunTable


class RunScatter(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.table = RunTable.build([])
        self.shown: list[str] = []  # run ids plotted
        self.x = QComboBox()
        self.y = QComboBox()
        self.x.setToolTip("The parameter on the horizontal axis")
        self.y.setToolTip("The metric on the vertical axis")
        self.x.currentTextChanged.connect(lambda *_: self.redraw())
        self.y.currentTextChanged.connect(lambda *_: self.redraw())
        self.plot = pg.PlotWidget(background="w")
        self.plot.showGrid(x=True, y=True, alpha=0.3)
        # a PlotDataItem of symbols only: it follows the plot's log mode (a bare ScatterPlotItem does not)
        self.line = pg.PlotDataItem(
            pen=None,
            symbol="o",
            symbolSize=9,
            symbolPen=pg.mkPen("#1f4e99"),
            symbolBrush=pg.mkBrush(70, 130, 220, 170),
        )
        self.points = self.line.scatter  # the points (tooltips, tests)
        self.points.opts["hoverable"] = True
        self.points.opts["tip"] = self._tip
        self.plot.addItem(self.line)
        self.note = QLabel("")
        row = QHBoxLayout()
        row.addWidget(QLabel("x"))
        row.addWidget(self.x, 1)
        row.addWidget(QLabel("y"))
        row.addWidget(self.y, 1)
        box = QVBoxLayout(self)
        box.setContentsMargins(2, 2, 2, 2)
        box.addLayout(row)
        box.addWidget(self.plot, 1)
        box.addWidget(self.note)
        self._ids: list[str] = []
        self._selected: set[str] = set()

    def set_table(self, table: RunTable, selected: list | None = None) -> None:
        """Show ``table``'s runs (only ``selected`` ones when two or more are)."""
        self.table = table
        self._selected = {r.id for r in selected or []}
        numeric = [c for c in table.columns if c not in ("run", "trial") and table.numeric(c)]
        params = [c for c in numeric if c not in table.metrics and c not in FIXED] + [
            c for c in ("epochs", "seconds", "trial") if c in table.columns and table.numeric(c)
        ]
        metrics = [c for c in table.metrics if table.numeric(c)]
        _refill(self.x, params or numeric, prefer=params[0] if params else None)
        _refill(self.y, metrics or numeric, prefer=_preferred_metric(metrics))
        self.redraw()

    def redraw(self) -> None:
        xc, yc = self.x.currentText(), self.y.currentText()
        rows = [
            (rec, row)
            for rec, row in zip(self.table.records, self.table.rows)
            if len(self._selected) < 2 or rec.id in self._selected
        ]
        xs, ys, ids = [], [], []
        for rec, row in rows:
            x, y = row.get(xc), row.get(yc)
            if _num(x) and _num(y):
                xs.append(float(x))
                ys.append(float(y))
                ids.append(rec.id)
        self._ids = ids
        self.line.setData(xs, ys, data=ids)
        self.plot.setLabel("bottom", xc)
        self.plot.setLabel("left", yc)
        log = bool(xs) and min(xs) > 0 and max(xs) / min(xs) > 50
        self.plot.setLogMode(x=log, y=False)
        which = "the selected runs" if len(self._selected) >= 2 else "every run"
        self.note.setText(
            f"{len(ids)} run(s): {which}" + (" (log scale)" if log else "")
            if xc and yc
            else "No numeric column to plot yet: train a few runs with different settings."
        )

    def _tip(self, x, y, data) -> str:
        """The run and its values as in the table (x may be shown on a log axis)."""
        row = next((r for rec, r in zip(self.table.records, self.table.rows) if rec.id == data), {})
        xc, yc = self.x.currentText(), self.y.currentText()
        return f"run {data}\n{xc} = {row.get(xc, x):.4g}\n{yc} = {row.get(yc, y):.4g}"


def _refill(combo: QComboBox, items: list[str], prefer: str | None) -> None:
    current = combo.currentText()
    combo.blockSignals(True)
    combo.clear()
    combo.addItems(items)
    choice = current if current in items else prefer
    if choice in items:
        combo.setCurrentText(choice)
    combo.blockSignals(False)


def _preferred_metric(metrics: list[str]) -> str | None:
    for name in ("best", "final_val_loss", "final_train_loss"):
        if name in metrics:
            return name
    return metrics[0] if metrics else None


def _num(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
