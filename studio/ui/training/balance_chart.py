"""Class balance as a bar chart: the training and validation split side by side, counts and shares."""

from __future__ import annotations

import pyqtgraph as pg

MAX_BARS = 40  # classes drawn; the rest are summed into "others"
TRAIN, VAL = (66, 133, 244), (251, 140, 0)


class BalanceChart(pg.PlotWidget):
    def __init__(self, parent=None):
        super().__init__(parent, background="w")
        self.setMinimumHeight(180)
        self.plot_item = self.getPlotItem()
        self.plot_item.setMenuEnabled(False)
        self.plot_item.setMouseEnabled(x=False, y=False)
        self.plot_item.hideButtons()
        self.plot_item.showGrid(y=True, alpha=0.2)
        self.plot_item.setLabel("left", "samples")
        self.train_bars = pg.BarGraphItem(
            x=[], height=[], width=0.38, brush=pg.mkBrush(*TRAIN), name="train"
        )
        self.val_bars = pg.BarGraphItem(
            x=[], height=[], width=0.38, brush=pg.mkBrush(*VAL), name="validation"
        )
        self.plot_item.addItem(self.train_bars)
        self.plot_item.addItem(self.val_bars)
        self.labels: list[pg.TextItem] = []
        self.shown: list[tuple[str, int, int]] = []  # (class, train, val) as drawn

    def show_counts(
        self, classes: list[str], train: list[int], val: list[int], title: str = ""
    ) -> None:
        for item in self.labels:
            self.plot_item.removeItem(item)
        self.labels = []
        rows = list(zip(classes, train, val or [0] * len(train), strict=False))
        if len(rows) > MAX_BARS:
            rest = rows[MAX_BARS - 1 :]
            rows = rows[: MAX_BARS - 1] + [
                (f"{len(rest)} others", sum(r[1] for r in rest), sum(r[2] for r in rest))
            ]
        self.shown = rows
        xs = list(range(len(rows)))
        self.train_bars.setOpts(x=[x - 0.2 for x in xs], height=[r[1] for r in rows])
        self.val_bars.setOpts(x=[x + 0.2 for x in xs], height=[r[2] for r in rows])
        tt, tv = sum(r[1] for r in rows) or 1, sum(r[2] for r in rows) or 1
        if len(rows) <= 12:
            for x, (_, a, b) in enumerate(rows):
                for dx, n, total, colour in ((-0.2, a, tt, TRAIN), (0.2, b, tv, VAL)):
                    if n:
                        label = pg.TextItem(
                            f"{n:,}\n{n / total:.0%}", color=colour, anchor=(0.5, 1.0)
                        )
                        label.setPos(x + dx, n)
                        self.plot_item.addItem(label)
                        self.labels.append(label)
        axis = self.plot_item.getAxis("bottom")
        axis.setTicks([[(x, name[:14]) for x, (name, _, _) in enumerate(rows)]])
        key = "<span style='color:#4285f4'>■ train</span>  <span style='color:#fb8c00'>■ validation</span>"
        self.plot_item.setTitle(f"{title}  {key}" if rows else title, size="10pt")
        top = max([r[1] for r in rows] + [r[2] for r in rows] + [1])
        self.plot_item.setXRange(-0.7, len(rows) - 0.3, padding=0)
        self.plot_item.setYRange(0, top * 1.4, padding=0)
