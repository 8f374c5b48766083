"""The welcome view: the examples (with their descriptions) and recent files."""

from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFrame,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from studio.places import EXAMPLES_DIR

PATH_ROLE = Qt.ItemDataRole.UserRole


def list_examples(folder: Path = EXAMPLES_DIR) -> list[tuple[Path, str, str]]:
    """(path, name, description) of each example project; reads only name and metadata."""
    out = []
    for path in sorted(folder.glob("*.studio.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            out.append((path, str(data.get("name", path.stem)), str(data.get("metadata", {}).get("description", ""))))
        except (OSError, ValueError, AttributeError):
            continue
    return out


class WelcomeView(QWidget):
    open_requested = Signal(str)
    new_requested = Signal()

    def __init__(self, recent: list[str], parent=None) -> None:
        super().__init__(parent)
        # in a scroll area: squeezed by the Training panel at 1280x720, the dock clipped the
        # welcome text mid-line; now it scrolls, and nothing is cut
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        inner = QWidget()
        scroll.setWidget(inner)
        outer.addWidget(scroll)
        layout = QVBoxLayout(inner)
        title = QLabel("<h2>Welcome to Studio</h2>Build a PyTorch model by dragging blocks, then train or export it.")
        title.setWordWrap(True)
        layout.addWidget(title)
        new = QPushButton("New empty project")
        new.clicked.connect(self.new_requested)
        layout.addWidget(new)
        layout.addWidget(QLabel("<b>Examples</b>"))
        self.examples = QListWidget()
        self.examples.setWordWrap(True)
        self.examples.setSpacing(3)  # one example's text must not run into the next
        for path, name, description in list_examples():
            item = QListWidgetItem(f"{name}\n{description}" if description else name)
            item.setData(PATH_ROLE, str(path))
            item.setToolTip(description)
            self.examples.addItem(item)
        layout.addWidget(self.examples)
        layout.addWidget(QLabel("<b>Recent files</b>"))
        self.recent = QListWidget()
        self.set_recent(recent)
        layout.addWidget(self.recent)
        for lst in (self.examples, self.recent):
            # activated alone: a double-click also activates, so a second slot opened it twice
            # (and the second call read an item the first open had already cleared away)
            lst.itemActivated.connect(self._open)

    def set_recent(self, recent: list[str]) -> None:
        self.recent.clear()
        for p in recent:
            item = QListWidgetItem(Path(p).name.removesuffix(".studio.json") + f"\n{p}")
            item.setData(PATH_ROLE, p)
            self.recent.addItem(item)
        if not recent:
            self.recent.addItem("No recent files yet.")

    def _open(self, item: QListWidgetItem | None) -> None:
        path = item.data(PATH_ROLE) if item is not None else None
        if path:
            self.open_requested.emit(path)
