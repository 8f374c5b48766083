"""Live training curves (pyqtgraph), drawn from a timer, never per batch.

Values land in preallocated numpy buffers that grow by doubling (`Series`); a 25 Hz timer calls
`setData` on the filled slice of the curves that changed. Curves clip to the view and downsample
by peaks; per-step curves past a few thousand points hand pyqtgraph their incrementally kept peak
envelope (`Envelope`), so a frame costs the same at a million steps as at ten thousand. Non-finite values are stored as NaN and
drawn with `connect='finite'` (a gap), so NaN or inf never break the axes.
"""

from __future__ import annotations

import math
import time
from functools import partial
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QCheckBox, QGridLayout, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from studio.ui.training.series import EmaState, Envelope, Series, StableRange, ema

REFRESH_MS = 35  # ~28 Hz asked, so that at least 20 Hz arrive while the trainer holds the GIL
SLOW_CURVE_S = 0.5  # curves that change slowly (learning rate) redraw at most twice a second
# Pens are 1 px wide: in Qt's raster engine a 2 px line costs ~3x as much to draw, and the
# drawing holds the GUI thread while the trainer wants the GIL.
CURVE_KEY = "loss per step: faint = every step, dark = smoothed"
ENVELOPE_FROM = 4096  # per-step curves longer than this are drawn from their peak envelope
OVERLAY_COLOURS = ("#8e24aa", "#00897b", "#f4511e", "#3949ab", "#c0ca33", "#6d4c41")


class ValueAxis(pg.AxisItem):
    """A value axis that keeps its labels apart in a short plot.

    pyqtgraph asks for at least 2.25 intervals whatever the length, so a 60 px axis from 0 to 1
    got six labels at 0.2 spacing, touching at 8 pt. Here the major spacing grows (1, 2, 5, 10...)
    until each label has 1.15 lines of room; the old spacing stays as unlabelled minor ticks.
    """

    def tickSpacing(self, minVal, maxVal, size):
        levels = super().tickSpacing(minVal, maxVal, size)
        if not levels or size <= 0:
            return levels
        line = pg.QtGui.QFontMetricsF(self.style["tickFont"] or self.font()).height()
        spacing = levels[0][0]
        while abs(maxVal - minVal) / spacing * line * 1.15 > size:
            spacing = _nice_up(spacing)
        return levels if spacing == levels[0][0] else [(spacing, 0), levels[0]]


class EpochAxis(pg.AxisItem):
    """Epochs are whole numbers: pyqtgraph labelled a five-epoch run 0.5, 1, 1.5...; here no
    tick is finer than one epoch."""

    def tickSpacing(self, minVal, maxVal, size):
        levels, out = super().tickSpacing(minVal, maxVal, size), []
        for spacing, offset in levels:
            if spacing >= 1 or not out:
                out.append((max(1.0, spacing), offset))
        return out


def _nice_up(spacing: float) -> float:
    """The next spacing in 1, 2, 5, 10, 20, ..."""
    p10 = 10.0 ** math.floor(math.log10(spacing))
    m = spacing / p10
    return (2 if m < 1.5 else 5 if m < 3.5 else 10) * p10


class PlotRange:
    """A `StableRange` applied to one pyqtgraph plot (a hand pan or zoom releases it)."""

    def __init__(self, plot: pg.PlotItem):
        self.plot = plot
        self.state = StableRange()
        plot.vb.sigRangeChangedManually.connect(self.state.release)

    def reset(self) -> None:
        self.state.reset()
        self.plot.enableAutoRange()

    def expect(self, x_max: float) -> None:
        self.state.expect(x_max)

    def forget_y(self) -> None:
        self.state.y = None

    def fit_x(self, curves: list[Curve]) -> None:
        """A run ended: the step axis ends at its last step (it had grown x1.5 ahead of the
        data, and the learning-rate plot, drawn less often, could end 40% past the run)."""
        x_hi = max((c.x_max for c in curves), default=-math.inf)
        if self.state.managed and math.isfinite(x_hi) and x_hi > 0:
            self.state.x_max = x_hi
            self.plot.vb.setXRange(0.0, x_hi, padding=0.02)

    def update(self, curves: list[Curve]) -> None:
        x_range, y_range = self.state.update(curves, self.plot.ctrl.logYCheck.isChecked())
        if x_range is not None:
            self.plot.vb.setXRange(*x_range, padding=0)
        if y_range is not None:
            self.plot.vb.setYRange(*y_range, padding=0)


class Curve:
    """One plotted Series and its PlotDataItem."""

    def __init__(self, plot: pg.PlotItem, name: str, pen, symbol=None, capacity: int = 1024, every: float = 0.0):
        self.series = Series(capacity)
        self.every, self._drawn_at = every, 0.0
        self.name = name
        self.item = plot.plot(
            [], [], pen=pen, name=name, symbol=symbol, symbolSize=5,
            symbolBrush=pen.color() if symbol else None, symbolPen=pen.color() if symbol else None,
            connect="finite", clipToView=True, autoDownsample=True, downsampleMethod="peak",
        )
        self.dirty = False
        self.x_max, self.y_min, self.y_max = -math.inf, math.inf, -math.inf
        self.envelope = Envelope() if capacity >= ENVELOPE_FROM else None
        self.full_detail = False  # the user zoomed in: give pyqtgraph every point (it clips to the view)

    def append(self, xs, ys) -> None:
        if len(xs):
            self.series.append(xs, ys)
            self.dirty = True
            added = self.series.y[self.series.n - len(xs) : self.series.n]
            finite = added[np.isfinite(added)]
            if len(finite):
                self.y_min = min(self.y_min, float(finite.min()))
                self.y_max = max(self.y_max, float(finite.max()))
            self.x_max = max(self.x_max, float(np.max(xs)))

    def draw(self) -> bool:
        if not self.dirty:
            return False
        if self.every:
            now = time.monotonic()
            if now - self._drawn_at < self.every:
                return False
            self._drawn_at = now
        self.dirty = False
        if self.envelope is not None and not self.full_detail and self.series.n > ENVELOPE_FROM:
            self.envelope.update(self.series)
            x, y = self.envelope.data(self.series)
        else:
            x, y = self.series.data()
        self.item.setData(x, y)
        return True

    def clear(self) -> None:
        self.series.clear()
        if self.envelope is not None:
            self.envelope.clear()
        self.dirty = True
        self.x_max, self.y_min, self.y_max = -math.inf, math.inf, -math.inf


class TrainingPlots(QWidget):
    """Loss per step (raw + EMA), per-epoch losses, accuracy/MAE and learning rate."""

    hovered = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        pg.setConfigOptions(antialias=False, foreground="#404040", background="w")
        # one view per plot: a redraw of the step curve repaints its own view, not all four
        self.layout_widget = QWidget()
        grid = QGridLayout(self.layout_widget)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setSpacing(2)
        self.widgets = [  # the two per-epoch plots (top right, bottom left) count whole epochs
            pg.PlotWidget(axisItems={"left": ValueAxis("left"), **({"bottom": EpochAxis("bottom")} if i in (1, 2) else {})})
            for i in range(4)
        ]
        for i, w in enumerate(self.widgets):
            grid.addWidget(w, i // 2, i % 2)
        self.step_plot, self.epoch_plot, self.metric_plot, self.lr_plot = (w.getPlotItem() for w in self.widgets)
        self.plots = (self.step_plot, self.epoch_plot, self.metric_plot, self.lr_plot)
        axes = (("step", "loss"), ("epoch", "loss"), ("epoch", "accuracy"), ("step", "learning rate"))
        for p, (x_label, y_label) in zip(self.plots, axes, strict=True):
            label_axes(p, x_label, y_label)
        # The plots that change every frame have no grid and no legend: pyqtgraph draws the grid
        # with the axes, over the whole view, so a grid tripled the cost of each live repaint.
        for p in (self.epoch_plot, self.metric_plot):
            p.showGrid(x=True, y=True, alpha=0.25)
            p.addLegend(offset=(-6, 4), labelTextSize="8pt", verSpacing=-6, brush=pg.mkBrush(255, 255, 255, 190))
        faint = pg.mkPen(120, 150, 200, 90)
        self.raw = Curve(self.step_plot, "loss", faint, capacity=4096)
        self.smooth = Curve(self.step_plot, "smoothed", pg.mkPen("#0d47a1", width=1), capacity=4096)
        self.train_loss = Curve(self.epoch_plot, "train", pg.mkPen("#1565c0", width=1), "o", 64)
        self.val_loss = Curve(self.epoch_plot, "validation", pg.mkPen("#ef6c00", width=1), "o", 64)
        self.train_metric = Curve(self.metric_plot, "train", pg.mkPen("#1565c0", width=1), "o", 64)
        self.val_metric = Curve(self.metric_plot, "validation", pg.mkPen("#ef6c00", width=1), "o", 64)
        self.lr = Curve(self.lr_plot, "lr", pg.mkPen("#2e7d32", width=1), every=SLOW_CURVE_S)
        self.curves = (self.raw, self.smooth, self.train_loss, self.val_loss, self.train_metric,
                       self.val_metric, self.lr)
        self.ranges = [
            (PlotRange(self.step_plot), [self.raw, self.smooth]),
            (PlotRange(self.epoch_plot), [self.train_loss, self.val_loss]),
            (PlotRange(self.metric_plot), [self.train_metric, self.val_metric]),
            (PlotRange(self.lr_plot), [self.lr]),
        ]
        self._ema = EmaState()
        # zoomed or panned by hand: the step curves show every point in view again
        self.step_plot.vb.sigRangeChangedManually.connect(lambda *_: self._full_detail(True))
        self._overlays: list[tuple[pg.PlotItem, pg.PlotDataItem]] = []
        self.frames = 0  # redraws that had new data (the benchmark's plot_hz)
        self._turn = 0  # which of the slower plots may repaint next

        self.log_box = QCheckBox("Log scale (loss)")
        self.log_box.toggled.connect(self.set_log)
        # the step plot's key lives here, not in a title row: at 1280x720 each plot is ~100 px tall
        self.hover_label = QLabel(CURVE_KEY)
        self.hover_label.setMinimumWidth(200)
        top = QHBoxLayout()
        top.setContentsMargins(4, 0, 4, 0)
        top.addWidget(self.log_box)
        top.addStretch(1)
        top.addWidget(self.hover_label)
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.addLayout(top)
        box.addWidget(self.layout_widget, 1)
        self._proxies = [
            pg.SignalProxy(w.scene().sigMouseMoved, rateLimit=30, slot=partial(self._mouse_moved, p))
            for w, p in zip(self.widgets, self.plots, strict=True)
        ]

        self.timer = QTimer(self)
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(REFRESH_MS)
        self.timer.timeout.connect(self.redraw)
        self.timer.start()

    # ---------------------------------------------------------------- data in
    def reset(self, metric_name: str = "accuracy") -> None:
        for c in self.curves:
            c.clear()
            c._drawn_at = 0.0
        for rng, _ in self.ranges:
            rng.reset()
        self._ema = EmaState()
        self._full_detail(False)
        self.hover_label.setText(CURVE_KEY)
        self.metric_plot.setLabel("left", metric_name if metric_name == "accuracy" else "mean absolute error")
        # the key sits where the curves are not: losses and errors fall, accuracy rises
        self.metric_plot.legend.anchor((1, 1) if metric_name == "accuracy" else (1, 0),
                                       (1, 1) if metric_name == "accuracy" else (1, 0),
                                       offset=(-6, -4) if metric_name == "accuracy" else (-6, 4))
        self.redraw()

    def _full_detail(self, on: bool) -> None:
        for c in (self.raw, self.smooth):
            c.full_detail = on
            c.dirty = True

    def expect(self, steps: int, epochs: int) -> None:
        """The length of the run, once known: the epoch axes are set once for all of it. The
        step axes follow the data (growing x1.5 at the edge): sized to a long planned run, the
        first steps were a one-pixel sliver."""
        _, epoch_a, epoch_b, _ = (r for r, _ in self.ranges)
        epoch_a.expect(epochs + 0.5)
        epoch_b.expect(epochs + 0.5)

    def add_steps(self, steps: np.ndarray, losses: np.ndarray) -> None:
        if len(steps):
            self.raw.append(steps, losses)
            smooth, self._ema = ema(np.asarray(losses, dtype=np.float64), self._ema)
            self.smooth.append(steps, smooth)

    def add_lr(self, steps, lrs) -> None:
        self.lr.append(steps, lrs)

    def add_epochs(self, rows: list[dict], metric_name: str) -> None:
        if not rows:
            return
        ep = [r.get("epoch", math.nan) for r in rows]
        self.train_loss.append(ep, [r.get("train_loss", math.nan) for r in rows])
        self.train_metric.append(ep, [r.get(f"train_{metric_name}", math.nan) for r in rows])
        if any("val_loss" in r for r in rows):
            self.val_loss.append(ep, [r.get("val_loss", math.nan) for r in rows])
            self.val_metric.append(ep, [r.get(f"val_{metric_name}", math.nan) for r in rows])

    def point_count(self) -> int:
        return self.raw.series.n

    # ---------------------------------------------------------------- drawing
    def redraw(self, everything: bool = False) -> None:
        """Called by the timer; `everything` also draws the slow curves now (a run ended)."""
        if everything:
            self.lr._drawn_at = 0.0
        step, others = self.ranges[0], self.ranges[1:]
        drew = self._draw(*step)
        # The other plots take turns: at most one of them repaints per tick (unless a run just
        # ended), so their paints do not pile up into one long stall of the GUI thread.
        for k in range(len(others)):
            i = (self._turn + k) % len(others)
            if self._draw(*others[i]):
                drew = True
                if not everything:
                    self._turn = i + 1
                    break
        if drew:
            self.frames += 1
        if everything:  # the run ended: the step axes end where it did
            for rng, curves in (self.ranges[0], self.ranges[3]):
                rng.fit_x(curves)

    def _draw(self, rng: PlotRange, curves: list[Curve]) -> bool:
        changed = False
        for c in curves:
            changed = c.draw() or changed
        if changed:
            rng.update(curves)
        return changed

    def set_log(self, on: bool) -> None:
        for rng, _ in self.ranges[:2]:
            rng.plot.setLogMode(y=on)
            if on:
                rng.plot.enableAutoRange()  # log axes: pyqtgraph's own range
            else:
                rng.forget_y()

    def set_overlays(self, runs: list[tuple[str, list[dict], np.ndarray, str]]) -> None:
        """Curves of other runs for comparison: (label, epoch history, (n, 2) steps, metric name)."""
        for plot, item in self._overlays:
            plot.removeItem(item)
        self._overlays = []
        for i, (label, history, steps, metric_name) in enumerate(runs):
            colour = OVERLAY_COLOURS[i % len(OVERLAY_COLOURS)]
            dash = pg.mkPen(colour, width=1.5, style=pg.QtCore.Qt.PenStyle.DashLine)
            opts = dict(connect="finite", clipToView=True, autoDownsample=True, downsampleMethod="peak")
            if len(steps):
                smooth, _ = ema(steps[:, 1].astype(np.float64))
                self._add_overlay(self.step_plot, steps[:, 0], smooth, dash, label, **opts)
            if history:
                ep = np.array([r.get("epoch", math.nan) for r in history])
                for key, plot in (("train_loss", self.epoch_plot), ("val_loss", self.epoch_plot),
                                  (f"val_{metric_name}", self.metric_plot)):
                    ys = np.array([r.get(key, math.nan) for r in history], dtype=np.float64)
                    if np.isfinite(ys).any():
                        name = f"{label} {key.split('_')[0]}"
                        self._add_overlay(plot, ep, np.where(np.isfinite(ys), ys, np.nan), dash, name, **opts)

    def _add_overlay(self, plot, x, y, pen, name, **opts) -> None:
        item = plot.plot([], [], pen=pen, name=name, **opts)  # data after it sits in its view box
        item.setData(x, y)
        self._overlays.append((plot, item))

    # ------------------------------------------------------------------ hover
    def _mouse_moved(self, which, args) -> None:
        pos = args[0]
        for plot, curves, xname in (
            (self.step_plot, (self.raw, self.smooth), "step"),
            (self.epoch_plot, (self.train_loss, self.val_loss), "epoch"),
            (self.metric_plot, (self.train_metric, self.val_metric), "epoch"),
            (self.lr_plot, (self.lr,), "step"),
        ):
            if plot is which and plot.sceneBoundingRect().contains(pos):
                x = plot.vb.mapSceneToView(pos).x()
                parts = []
                for c in curves:
                    hit = c.series.value_at(x)
                    if hit is not None:
                        parts.append(f"{c.name} {hit[1]:.4g}")
                        at = hit[0]
                if parts:
                    text = f"{xname} {at:g}: " + ", ".join(parts)
                    self.hover_label.setText(text)
                    self.hovered.emit(text)
                return

    # ------------------------------------------------------------------ export
    def export_png(self, path: str | Path) -> bool:
        return self.layout_widget.grab().save(str(path), "PNG")

    def export_csv(self, path: str | Path) -> None:
        """Per-step rows (step, loss, smoothed) then per-epoch rows, in one long CSV."""
        import csv

        with open(path, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["kind", "x", "loss", "smoothed", "train_loss", "val_loss", "train_metric", "val_metric"])
            x, y = self.raw.series.data()
            _, s = self.smooth.series.data()
            for row in zip(x.tolist(), y.tolist(), s.tolist(), strict=True):
                w.writerow(["step", int(row[0]), row[1], row[2], "", "", "", ""])
            ep, tl = self.train_loss.series.data()
            vl = _aligned(self.val_loss.series, ep)
            tm = _aligned(self.train_metric.series, ep)
            vm = _aligned(self.val_metric.series, ep)
            for i, e in enumerate(ep.tolist()):
                w.writerow(["epoch", int(e), "", "", tl[i], vl[i], tm[i], vm[i]])


def label_axes(plot: pg.PlotItem, x_label: str, y_label: str) -> None:
    """Name both axes and show plain numbers: pyqtgraph's automatic SI prefix turned a loss of
    0.6 into "600" with a "(x0.001)" that the narrow axis cut off. Tick text is 8 pt so the
    ticks of a quarter of the dock stay apart at 1280x720."""
    font = pg.QtGui.QFont()
    font.setPointSize(8)
    plot.layout.setContentsMargins(2, 2, 4, 2)
    for side, text in (("bottom", x_label), ("left", y_label)):
        axis = plot.getAxis(side)
        axis.enableAutoSIPrefix(False)
        axis.setTickFont(font)
        axis.setStyle(tickLength=-4, tickTextOffset=2)  # ticks inside: the label gets the room
        axis.setLabel(text)
        axis.label.setFont(font)
        axis.label.document().setDocumentMargin(2)  # not Qt's 4 px around the text: 10% of a plot
        axis.resizeEvent()  # the axis sizes itself from its label and tick text


def _aligned(series: Series, xs: np.ndarray) -> list:
    d = dict(zip(*(a.tolist() for a in series.data()), strict=True))
    return [d.get(x, "") for x in xs.tolist()]
