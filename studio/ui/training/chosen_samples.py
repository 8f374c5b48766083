"""The validation samples behind one cell of Try it's confusion matrix, shown in the Data tab.

`pick(result, truth, predicted)` takes them out of Try it's result (the very tensors the model
read: images as tiles, table rows as their features, a text classifier's texts);
`ChosenSamples` is the Data tab's page that shows them, each with its validation index and its
true and predicted class.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QSize
from PySide6.QtGui import QIcon, QImage, QPixmap
from PySide6.QtWidgets import (
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

TILE = 88
MAX_COLUMNS = 64  # table features shown


def _name(names: list, k: int) -> str:
    return str(names[k]) if 0 <= k < len(names) else str(k)


def pick(result: dict, truth: int, predicted: int) -> dict:
    """The samples of class ``truth`` the model took for ``predicted`` (indices into the
    validation samples Try it ran on)."""
    names = list(result.get("class_names") or [])
    index = np.flatnonzero((result["truth"] == truth) & (result["labels"] == predicted))
    texts = result.get("texts")
    return {
        "truth": _name(names, truth),
        "predicted": _name(names, predicted),
        "index": index,
        "x": result["x"][index],
        "texts": [texts[i]["text"] for i in index if i < len(texts)] if texts else None,
        "of": len(result["truth"]),
    }


def _tile(x: np.ndarray) -> QPixmap:
    """A model input (C×H×W or H×W, any range) as a grey or RGB tile, scaled to its own range."""
    if x.ndim == 3:
        x = x[0] if x.shape[0] == 1 else np.moveaxis(x[:3], 0, -1)
    x = x.astype(np.float32)
    lo, hi = float(x.min()), float(x.max())
    a = ((x - lo) / (hi - lo or 1.0) * 255).astype(np.uint8)
    if a.ndim == 2:
        a = np.repeat(a[..., None], 3, axis=2)
    if a.shape[2] == 2:
        a = np.concatenate([a, a[..., :1]], axis=2)
    a = np.ascontiguousarray(a)
    image = QImage(a.data, a.shape[1], a.shape[0], a.strides[0], QImage.Format.Format_RGB888).copy()
    return QPixmap.fromImage(image).scaled(TILE, TILE)


class ChosenSamples(QWidget):
    """A title line over the samples: tiles for images, a table for rows or texts."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.title = QLabel()
        self.title.setWordWrap(True)
        self.tiles = QListWidget()
        self.tiles.setViewMode(QListView.ViewMode.IconMode)
        self.tiles.setIconSize(QSize(TILE, TILE))
        self.tiles.setResizeMode(QListView.ResizeMode.Adjust)
        self.tiles.setMovement(QListView.Movement.Static)
        self.tiles.setSpacing(6)
        self.table = QTableWidget()
        self.table.verticalHeader().setDefaultSectionSize(22)
        box = QVBoxLayout(self)
        box.addWidget(self.title)
        box.addWidget(self.tiles, 1)
        box.addWidget(self.table, 1)
        self.chosen: dict | None = None

    def tab_text(self) -> str:
        c = self.chosen or {}
        return f"True {c.get('truth')} → predicted {c.get('predicted')}"

    def show_chosen(self, chosen: dict) -> None:
        self.chosen = chosen
        n, what = len(chosen["index"]), f"class {chosen['truth']!r}"
        how = "predicted as" if chosen["truth"] != chosen["predicted"] else "predicted rightly as"
        self.title.setText(
            f"{n} of the {chosen['of']} validation samples Try it ran on are of {what}, {how} "
            f"{chosen['predicted']!r}."
            if n
            else f"No validation sample of {what} was predicted as {chosen['predicted']!r}."
        )
        self.tiles.clear()
        self.table.clear()
        x = chosen["x"]
        images = chosen["texts"] is None and x.ndim in (3, 4)
        self.tiles.setVisible(images and n > 0)
        self.table.setVisible(not images and n > 0)
        caption = f"true {chosen['truth']}, predicted {chosen['predicted']}"
        if images:
            for i, sample in zip(chosen["index"], x, strict=True):
                item = QListWidgetItem(QIcon(_tile(sample)), f"#{i}")
                item.setToolTip(f"validation sample {i}: {caption}")
                self.tiles.addItem(item)
            return
        if chosen["texts"] is not None:
            rows, heads = [[t] for t in chosen["texts"]], ["text"]
        else:
            flat = x.reshape(len(x), -1)[:, :MAX_COLUMNS]
            rows = [[f"{v:.4g}" for v in row] for row in flat.tolist()]
            heads = [f"feature {j}" for j in range(flat.shape[1])]
        self.table.setColumnCount(len(heads))
        self.table.setRowCount(len(rows))
        self.table.setHorizontalHeaderLabels(heads)
        for r, (i, row) in enumerate(zip(chosen["index"], rows, strict=False)):
            self.table.setVerticalHeaderItem(r, QTableWidgetItem(f"#{i}"))
            for j, text in enumerate(row):
                item = QTableWidgetItem(text)
                item.setToolTip(f"validation sample {i}: {caption}")
                self.table.setItem(r, j, item)
