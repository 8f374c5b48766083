"""Try it for a text or table classifier: the validation texts (or rows) with their true and
predicted label and the model's probability for its prediction, one row each, in a table that scrolls; a wrong
prediction is marked ✕ in red, the whole text is in the row's tooltip."""

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

    def show_rows(self, rows: list[dict], first: str = "Text") -> None:
        """`rows` from `try_text.sample_rows`; `first` heads the inputs' column."""
        self.setHorizontalHeaderLabels((first, *COLUMNS[1:]))
        self.setRowCount(len(rows))
        red = QBrush(WRONG)
        for i, row in enumerate(rows):
            one_line = " ".join(row["text"].split())  # newlines and tabs would cut the row
            predicted = f"{'✓' if row['right'] else '✕'} {row['predicted']}"
            cells = (one_line, row["truth"], predicted, f"{row['probability']:.0%}")
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(row["text"])
                if column >= 2:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter if column == 3
                                          else Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
                if column == 2 and not row["right"]:
                    item.setForeground(red)
                self.setItem(i, column, item)
        self.scrollToTop()

    def row_texts(self, i: int) -> tuple[str, ...]:
        """What row `i` reads, cell by cell (what a user sees)."""
        return tuple(self.item(i, c).text() for c in range(self.columnCount()))
