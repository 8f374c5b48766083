"""Try it for a text or table classifier: the validation texts (or a table's rows, one column
per feature under the file's column names, in its units) with their true and predicted label and
the model's probability for its prediction, one row each, in a table that scrolls; a wrong
prediction is marked ✕ in red, the whole text (or row, named) is in the row's tooltip."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem

COLUMNS = ("Text", "True label", "Predicted", "Probability")
WRONG = QColor("#c62828")


class TextsTable(QTableWidget):
    def __init__(self, parent=None) -> None:
        super().__init__(0, len(COLUMNS), parent)
        self.setHorizontalHeaderLabels(COLUMNS)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setWordWrap(False)
        self.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.setAlternatingRowColors(True)
        self.verticalHeader().setVisible(False)
        self.verticalHeader().setDefaultSectionSize(
            self.fontMetrics().height() + 8
        )  # one line a row
        header = self.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in range(1, len(COLUMNS)):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.setMinimumHeight(100)

    def show_rows(
        self, rows: list[dict], first: str = "Text", columns: list[str] | None = None
    ) -> None:
        """`rows` from `try_text.sample_rows`: the input (headed `first`), then true label,
        prediction and probability; a table's rows (`feature_rows`: their "cells") after those,
        one column each headed by `columns`, so the prediction is in view however wide the row."""
        labels = COLUMNS[1:]
        titles = (*labels, *columns) if columns else (first, *labels)
        self.setColumnCount(len(titles))
        self.setHorizontalHeaderLabels(titles)
        header = self.horizontalHeader()
        text = None if columns else 0  # the column that stretches: a text's
        for column in range(len(titles)):
            mode = (
                QHeaderView.ResizeMode.Stretch
                if column == text
                else QHeaderView.ResizeMode.ResizeToContents
            )
            header.setSectionResizeMode(column, mode)
        # emptied first: items replaced in a filled table re-measure the fitted columns on every
        # setItem (200 wine rows shown again: 30 s; emptied: as fast as the first time)
        self.setRowCount(0)
        self.setRowCount(len(rows))
        red = QBrush(WRONG)
        right = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
        left = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
        at = 0 if columns else 1  # where true label, prediction and probability start
        for i, row in enumerate(rows):
            predicted = f"{'✓' if row['right'] else '✕'} {row['predicted']}"
            shown = (row["truth"], predicted, f"{row['probability']:.0%}")
            if columns:
                cells = (*shown, *row["cells"])
            else:  # newlines and tabs would cut the row
                cells = (" ".join(row["text"].split()), *shown)
            for column, value in enumerate(cells):
                item = QTableWidgetItem(value)
                item.setToolTip(row["text"])
                if column == at + 1:
                    item.setTextAlignment(left)
                    if not row["right"]:
                        item.setForeground(red)
                elif column == at + 2 or column >= 3 and columns:  # numbers: right-aligned
                    item.setTextAlignment(right)
                self.setItem(i, column, item)
        self.scrollToTop()

    def row_texts(self, i: int) -> tuple[str, ...]:
        """What row `i` reads, cell by cell (what a user sees)."""
        return tuple(self.item(i, c).text() for c in range(self.columnCount()))
