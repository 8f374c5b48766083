"""Widgets laid over the canvas: the hint on an empty canvas and the "blocks out of view"
button. They paint nothing of the model; the view tells them what to show."""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtWidgets import QLabel, QPushButton

from studio.ui.theme import current_theme

EMPTY_HINT = (
    "<h3>An empty model</h3>"
    "Drag a block here from <b>Blocks</b>,<br>press <b>Tab</b> to search for one by name,<br>"
    "or open an example from <b>Start</b>."
)
RECOUNT_MS = 60  # at most ~16 recounts a second while panning, and none per item repaint


class CanvasOverlays(QObject):
    def __init__(self, view) -> None:
        super().__init__(view)
        self.view = view
        self.hint = QLabel(EMPTY_HINT, view.viewport())
        self.hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.hint.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.hint.hide()
        # a model larger than the view says so; a click fits it all
        self.offscreen = QPushButton(view.viewport())
        self.offscreen.setCursor(Qt.CursorShape.PointingHandCursor)
        self.offscreen.clicked.connect(lambda: view.fit_all())
        self.offscreen.hide()
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(RECOUNT_MS)
        self._timer.timeout.connect(self.update_offscreen)

    def schedule(self, *_: object) -> None:
        self._timer.start()

    def set_empty_hint(self, shown: bool) -> None:
        """What to do first, in the middle of an empty canvas (File > New). Called on every
        graph change: does nothing unless the hint appears or goes."""
        if shown == self.hint.isVisibleTo(self.view):
            return
        self.hint.setStyleSheet(f"color: {current_theme().subtle_text.name()}; background: transparent;")
        self.hint.setVisible(shown)
        self.place()

    def update_offscreen(self) -> None:
        counts = self.view.offscreen_counts()
        total = sum(counts.values())
        if not total:
            self.offscreen.hide()
            return
        where = ", ".join(f"{n} {side}" for side, n in counts.items() if n)
        self.offscreen.setText(f"{total} block{'s' * (total != 1)} out of view ({where}) · Fit all (Ctrl+0)")
        self.offscreen.adjustSize()
        self.place()
        self.offscreen.show()

    def place(self) -> None:
        """The hint in the middle, the button in the bottom-right corner of the viewport."""
        vp = self.view.viewport().rect()
        self.hint.adjustSize()
        r = self.hint.rect()
        r.moveCenter(vp.center())
        self.hint.move(r.topLeft())
        self.offscreen.move(vp.right() - self.offscreen.width() - 8, vp.bottom() - self.offscreen.height() - 8)
