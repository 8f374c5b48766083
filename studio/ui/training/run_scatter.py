"""The Compare plot: one numeric column of the runs table against another (a parameter against a
metric), one point per run; or, with *All parameters*, parallel coordinates: one line per run
across every differing parameter and the chosen metric (each axis scaled to its own range, log
where it spans more than 50x; the line's colour is the metric, blue best). The runs selected in
the table, or all of them when fewer than two are selected. Reads `RunTable`; knows nothing of
where runs come from."""

from __future__ import annotations

import math

import pyqtgraph as pg
from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from studio.training.run_table import FIXED, RunTable
from studio.units import counted


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
        # what the user picked, kept while the runs change; until then the axes follow the runs
        # (two runs that differ in lr: x is the rate, not the epochs both share)
        self._picked: dict[QComboBox, str] = {}
        for combo in (self.x, self.y):
            combo.activated.connect(lambda _, c=combo: self._picked.__setitem__(c, c.currentText()))
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
        self.parallel = QCheckBox("All parameters")
        self.parallel.setToolTip(
            "Parallel coordinates: one line per run across every parameter and the metric"
        )
        self.parallel.toggled.connect(lambda *_: self.redraw())
        row.addWidget(self.parallel)
        box = QVBoxLayout(self)
        box.setContentsMargins(2, 2, 2, 2)
        box.addLayout(row)
        box.addWidget(self.plot, 1)
        box.addWidget(self.note)
        self._ids: list[str] = []
        self._selected: set[str] = set()
        self._params: list[str] = []
        self.lines: list = []  # parallel coordinates: one PlotDataItem per run
        self._labels: list = []

    def set_table(self, table: RunTable, selected: list | None = None) -> None:
        """Show ``table``'s runs (only ``selected`` ones when two or more are)."""
        self.table = table
        self._selected = {r.id for r in selected or []}
        numeric = [c for c in table.columns if c not in ("run", "trial") and table.numeric(c)]
        params = [c for c in numeric if c not in table.metrics and c not in FIXED] + [
            c for c in ("epochs", "seconds", "trial") if c in table.columns and table.numeric(c)
        ]
        metrics = [c for c in table.metrics if table.numeric(c)]
        self._params = params
        _refill(self.x, params or numeric, self._picked.get(self.x) or (params[0] if params else None))
        _refill(self.y, metrics or numeric, self._picked.get(self.y) or _preferred_metric(metrics))
        self.redraw()

    def redraw(self) -> None:
        for item in self.lines + self._labels:
            self.plot.removeItem(item)
        self.lines, self._labels = [], []
        self.x.setEnabled(not self.parallel.isChecked())
        if self.parallel.isChecked():
            self._draw_parallel()
            return
        self.line.setVisible(True)
        self.plot.getAxis("bottom").setTicks(None)
        self.plot.getAxis("left").setTicks(None)
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
            f"{counted(len(ids), 'run')}: {which}" + (" (log scale)" if log else "")
            if xc and yc
            else "No numeric column to plot yet: train a few runs with different settings."
        )

    def _shown_rows(self) -> list:
        return [
            (rec, row)
            for rec, row in zip(self.table.records, self.table.rows)
            if len(self._selected) < 2 or rec.id in self._selected
        ]

    def _draw_parallel(self) -> None:
        self.line.setVisible(False)
        self.plot.setLogMode(x=False, y=False)
        yc = self.y.currentText()
        axes = [c for c in self._params if c not in ("epochs", "seconds", "trial")] + (
            [yc] if yc else []
        )
        rows = [
            (rec, row) for rec, row in self._shown_rows() if all(_num(row.get(a)) for a in axes)
        ]
        scales = [_scale([float(row[a]) for _, row in rows]) for a in axes]
        metric = [float(row[yc]) for _, row in rows] if yc else []
        # colour by rank, not value: one bad outlier would leave every other line the same blue
        order = sorted(range(len(metric)), key=lambda i: metric[i], reverse=yc.endswith("accuracy"))
        rank = {i: r for r, i in enumerate(order)}
        for i, ((rec, row), m) in enumerate(zip(rows, metric)):
            ys = [scale(float(row[a])) for a, scale in zip(axes, scales)]
            t = rank[i] / max(1, len(metric) - 1)  # 0: the best run
            colour = pg.mkColor(int(40 + 200 * t), int(90 + 40 * (1 - t)), int(220 - 180 * t), 200)
            item = pg.PlotDataItem(
                list(range(len(axes))),
                ys,
                pen=pg.mkPen(colour, width=2),
                symbol="o",
                symbolSize=5,
                symbolBrush=colour,
                symbolPen=None,
            )
            item.setToolTip(f"run {rec.id}: {yc} = {m:.4g}")
            self.plot.addItem(item)
            self.lines.append(item)
        self.plot.getAxis("bottom").setTicks([[(i, a) for i, a in enumerate(axes)]])
        self.plot.getAxis("left").setTicks([[(0, "low"), (1, "high")]])
        self.plot.setLabel("bottom", "")
        self.plot.setLabel("left", "each axis: its own range")
        self.plot.setXRange(-0.2, max(0, len(axes) - 1) + 0.2)
        self.plot.setYRange(-0.05, 1.05)
        self._ids = [rec.id for rec, _ in rows]
        which = "the selected runs" if len(self._selected) >= 2 else "every run"
        self.note.setText(f"{counted(len(rows), 'run')}: {which}; colour: {yc} rank (blue best, red worst)")

    def _tip(self, x, y, data) -> str:
        """The run and its values as in the table (x may be shown on a log axis)."""
        row = next((r for rec, r in zip(self.table.records, self.table.rows) if rec.id == data), {})
        xc, yc = self.x.currentText(), self.y.currentText()
        return f"run {data}\n{xc} = {row.get(xc, x):.4g}\n{yc} = {row.get(yc, y):.4g}"


def _refill(combo: QComboBox, items: list[str], prefer: str | None) -> None:
    """``items`` in ``combo``, ``prefer`` chosen where it is one (else the first)."""
    combo.blockSignals(True)
    combo.clear()
    combo.addItems(items)
    if prefer in items:
        combo.setCurrentText(prefer)
    combo.blockSignals(False)



def _preferred_metric(metrics: list[str]) -> str | None:
    for name in ("best", "final_val_loss", "final_train_loss"):
        if name in metrics:
            return name
    return metrics[0] if metrics else None


def _scale(values: list[float]):
    """Maps a column's values onto 0..1 (log when they are positive and span more than 50x)."""
    lo, hi = (min(values), max(values)) if values else (0.0, 1.0)
    log = lo > 0 and hi / lo > 50
    if log:
        lo, hi = math.log10(lo), math.log10(hi)
    span = hi - lo or 1.0

    def scale(v: float) -> float:
        v = math.log10(v) if log else v
        return 0.5 if hi == lo else (v - lo) / span

    return scale


def _num(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
