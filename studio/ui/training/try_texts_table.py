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
        self.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 8)  # one line a row
        header = self.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in range(1, len(COLUMNS)):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.setMinimumHeight(100)

    def show_rows(self, rows: list[dict], first: str = "Text", columns: list[str] | None = None) -> None:
        """`rows` from `try_text.sample_rows`; `first` heads the inputs' column, or a table's
        rows (`feature_rows`: their "cells") take one column each, headed by `columns`."""
        inputs = list(columns) if columns else [first]
        titles = (*inputs, *COLUMNS[1:])
        self.setColumnCount(len(titles))
        self.setHorizontalHeaderLabels(titles)
        header = self.horizontalHeader()
        for column in range(len(titles)):  # a text stretches; a table's numbers take their width
            stretch = column == 0 and not columns
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Stretch if stretch
                                        else QHeaderView.ResizeMode.ResizeToContents)
        self.setRowCount(len(rows))
        red = QBrush(WRONG)
        right = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
        left = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
        k = len(inputs)
        for i, row in enumerate(rows):
            values = row["cells"] if columns else [" ".join(row["text"].split())]  # newlines would cut the row
            predicted = f"{'✓' if row['right'] else '✕'} {row['predicted']}"
            cells = (*values, row["truth"], predicted, f"{row['probability']:.0%}")
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(row["text"])
                if columns and column < k or column >= k + 1:  # numbers right, a prediction left
                    item.setTextAlignment(right if column != k + 1 else left)
                if column == k + 1 and not row["right"]:
                    item.setForeground(red)
                self.setItem(i, column, item)
        self.scrollToTop()

    def row_texts(self, i: int) -> tuple[str, ...]:
        """What row `i` reads, cell by cell (what a user sees)."""
        return tuple(self.item(i, c).text() for c in range(self.columnCount()))
