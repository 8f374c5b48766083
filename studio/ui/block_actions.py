"""Extra context-menu actions for block types that need them (a lookup table, not a type switch):
a new head for a Backbone, getting its pretrained weights with a progress dialog, and trusting
the code a Hub model or a file-based Custom module runs."""

from __future__ import annotations

import threading
from collections.abc import Callable

from PySide6.QtCore import QObject, Qt, QThread, Signal
from PySide6.QtWidgets import QInputDialog, QMenu, QMessageBox, QProgressDialog, QWidget


class WeightsDownload(QThread):
    """Fetches a weights enum into torch's cache off the GUI thread; cancellable."""

    progress = Signal(str, int, int)  # file name, bytes done, bytes total (0: unknown)
    done = Signal(str)  # "" on success, else the message for the user

    def __init__(self, weights_id: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.weights_id = weights_id
        self.cancel = threading.Event()

    def run(self) -> None:
        from studio.hub.weights import WeightsError, ensure_weights

        try:
            ensure_weights(
                self.weights_id,
                progress=lambda p: self.progress.emit(p.filename, p.done, p.total or 0),
                cancel=self.cancel,
            )
        except WeightsError as e:
            self.done.emit(str(e))
        except Exception as e:  # never let a worker take the app down
            self.done.emit(f"{type(e).__name__}: {e}")
        else:
            self.done.emit("")


def new_head(window, block_id: str, num_classes: int | None = None) -> bool:
    """Add a Linear head for ``num_classes`` (asked for when None) after a Backbone."""
    from studio.hub.transfer import new_head as make_new_head

    if num_classes is None:
        num_classes, ok = QInputDialog.getInt(window, "New head", "Number of classes:", 10, 1, 100_000)
        if not ok:
            return False
    try:
        macro = make_new_head(window.doc.graph, block_id, num_classes, window.doc.analysis)
    except ValueError as e:
        window.show_hint(str(e))
        return False
    return window.editor.macro(macro.text, macro.commands)


def download_weights(window, block_id: str) -> WeightsDownload | None:
    """Start getting the block's pretrained weights; a progress dialog can cancel it."""
    from studio.hub.models import resolve_weights, weights_id
    from studio.hub.weights import cached_path

    block = window.doc.graph.blocks[block_id]
    w = resolve_weights(block.params["model"], block.params["weights"])
    if w is None:
        window.show_hint("This backbone uses no pretrained weights.")
        return None
    if cached_path(w) is not None:
        window.show_hint(f"{weights_id(w)} is already on this computer.")
        return None
    job = WeightsDownload(weights_id(w), window)
    dialog = QProgressDialog(f"Downloading {weights_id(w)}…", "Cancel", 0, 100, window)
    dialog.setWindowModality(Qt.WindowModality.WindowModal)
    dialog.setMinimumDuration(300)
    dialog.canceled.connect(job.cancel.set)

    def on_progress(name: str, done: int, total: int) -> None:
        dialog.setLabelText(f"Downloading {name}: {done / 1e6:.1f} MB")
        if total:
            dialog.setValue(int(100 * done / total))

    def on_done(message: str) -> None:
        dialog.reset()
        window.show_hint(message or f"{weights_id(w)} is ready.")
        if message and not job.cancel.is_set():
            QMessageBox.warning(window, "Pretrained weights", message)

    job.progress.connect(on_progress)
    job.done.connect(on_done)
    job.start()
    window._weights_job = job  # keep it alive
    return job


def trust_code(window, block_id: str, ask: Callable[[str], bool] | None = None) -> bool:
    """Ask, then let this block's outside code run for the rest of the session."""
    from studio.trust import trust

    block = window.doc.graph.blocks[block_id]
    source, prompt = _code_source(block)
    if source is None:
        return False
    if ask is None:

        def ask(text: str) -> bool:
            answer = QMessageBox.question(window, "Run outside code?", text)
            return answer == QMessageBox.StandardButton.Yes

    if not ask(prompt):
        return False
    trust(source)
    if block.type == "hub_model" and not block.params["trusted"]:
        window.editor.set_params(block_id, {"trusted": True})
    window.doc.reanalyse()
    return True


def _code_source(block) -> tuple[str | None, str]:
    p = block.params
    if block.type == "hub_model":
        from studio.hub.repos import HubError, trust_prompt

        try:
            return p["repo"], trust_prompt(p["repo"])
        except HubError as e:
            return None, str(e)
    from studio.blocks.catalogue.ops import parse_source

    try:
        kind, where, cls = parse_source(p["source"])
    except ValueError as e:
        return None, str(e)
    from studio.trust import allows

    if allows(where):
        return None, ""
    what = "that file's" if kind == "file" else "that module's"
    return where, f"The block {block.name!r} loads {cls} from {where}, which runs {what} code. Trust it?"


#: block type -> (menu text, handler(window, block_id))
BLOCK_ACTIONS: dict[str, list[tuple[str, Callable]]] = {
    "backbone": [("New head…", new_head), ("Download pretrained weights", download_weights)],
    "hub_model": [("Trust this repository's code…", trust_code)],
    "custom_module": [("Trust this file's code…", trust_code)],
}


def add_block_actions(menu: QMenu, window: QWidget, block_id: str) -> None:
    block = window.doc.graph.blocks.get(block_id)
    entries = BLOCK_ACTIONS.get(block.type, []) if block is not None else []
    if entries:
        menu.addSeparator()
    for text, handler in entries:
        menu.addAction(text, lambda h=handler: h(window, block_id))
