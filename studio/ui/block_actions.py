"""The handlers of the context actions block types declare (``BlockType.actions``): a new head
for a Backbone, getting its pretrained weights with a progress dialog, and trusting the code a
Hub model or a file-based Custom module runs.

The declaration says which actions a type offers; :data:`HANDLERS` maps action ids to Qt code,
so no table here is keyed on block types."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Qt, QThread, Signal
from PySide6.QtWidgets import QInputDialog, QMenu, QMessageBox, QProgressDialog, QWidget

#: downloads in flight (kept here, not on the window, so nothing reaches into its attributes)
_RUNNING: set[QThread] = set()


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
    from studio.blocks.registry import ASSET_WEIGHTS
    from studio.hub.weights import cached_path

    block = window.doc.graph.blocks[block_id]
    names = [a.name for a in block.spec.needed_assets(block.params) if a.kind == ASSET_WEIGHTS]
    if not names:
        window.show_hint("This block uses no pretrained weights.")
        return None
    name = names[0]
    if cached_path(name) is not None:
        window.show_hint(f"{name} is already on this computer.")
        return None
    job = WeightsDownload(name, window)
    dialog = QProgressDialog(f"Downloading {name}…", "Cancel", 0, 100, window)
    dialog.setWindowModality(Qt.WindowModality.WindowModal)
    dialog.setMinimumDuration(300)
    dialog.canceled.connect(job.cancel.set)

    def on_progress(name: str, done: int, total: int) -> None:
        dialog.setLabelText(f"Downloading {name}: {done / 1e6:.1f} MB")
        if total:
            dialog.setValue(int(100 * done / total))

    def on_done(message: str) -> None:
        dialog.reset()
        window.show_hint(message or f"{name} is ready.")
        if message and not job.cancel.is_set():
            QMessageBox.warning(window, "Pretrained weights", message)

    job.progress.connect(on_progress)
    job.done.connect(on_done)
    _RUNNING.add(job)  # a running QThread must outlive this call; dropped when it ends
    job.finished.connect(lambda: _RUNNING.discard(job))
    job.start()
    return job


def open_layers(window, block_id: str) -> bool:
    """Replace a Backbone by its layers as module definitions (one undo step), keeping its
    pretrained weights in a file beside the project. Needs the weights on this computer."""
    from studio.hub.weights import graph_weights, prepare_graph_weights
    from studio.interop.open_backbone import OpenError, open_backbone

    graph = window.doc.graph
    single = graph.copy()
    missing = [n for n in graph_weights(single) if _not_local(n)]
    if missing:
        window.show_hint(f"Get the pretrained weights first ({missing[0]}): Download pretrained weights in this menu.")
        return False
    path = window.doc.project.path
    folder = Path(path).parent if path is not None else Path(window.settings.folder) / "opened"
    window.setCursor(Qt.CursorShape.WaitCursor)
    try:
        opened = open_backbone(graph, block_id, folder, fetch=prepare_graph_weights)
    except OpenError as e:
        window.show_hint(str(e))
        return False
    finally:
        window.unsetCursor()
    if not window.editor.macro(opened.command.text, [opened.command]):
        return False
    extra = f"; {'; '.join(opened.notes)}" if opened.notes else ""
    window.show_hint(f"Opened into {opened.classes} modules; pretrained weights in {opened.weights_file.name}{extra}.")
    return True


def _not_local(weights_id: str) -> bool:
    from studio.hub.weights import cached_path

    return cached_path(weights_id) is None


def _confirm(window, text: str, ask: Callable[[str], bool] | None) -> bool:
    if ask is not None:
        return ask(text)
    answer = QMessageBox.question(window, "Run outside code?", text)
    return answer == QMessageBox.StandardButton.Yes


def trust_repo(window, block_id: str, ask: Callable[[str], bool] | None = None) -> bool:
    """Ask, then let this block's torch.hub repository run for the rest of the session."""
    from studio.hub.repos import HubError, trust_prompt
    from studio.trust import trust

    block = window.doc.graph.blocks[block_id]
    repo = block.params["repo"]
    try:
        prompt = trust_prompt(repo)
    except HubError as e:
        window.show_hint(str(e))
        return False
    if not _confirm(window, prompt, ask):
        return False
    trust(repo)
    if not block.params["trusted"]:
        window.editor.set_params(block_id, {"trusted": True})
    window.doc.reanalyse()
    return True


def trust_file(window, block_id: str, ask: Callable[[str], bool] | None = None) -> bool:
    """Ask, then let the file or module this Custom module loads its class from run for the session."""
    from studio.blocks.catalogue.ops import parse_source
    from studio.trust import trust

    block = window.doc.graph.blocks[block_id]
    try:
        kind, where, cls = parse_source(block.params["source"])
    except ValueError as e:
        window.show_hint(f"Custom module: {e}.")
        return False
    from studio.trust import allows

    if allows(where):
        window.show_hint(f"{block.name} loads {cls} from {where}, which Studio always allows: nothing to trust.")
        return False
    what = "that file's" if kind == "file" else "that module's"
    prompt = f"The block {block.name!r} loads {cls} from {where}, which runs {what} code. Trust it?"
    if not _confirm(window, prompt, ask):
        return False
    trust(where)
    window.doc.reanalyse()
    return True


#: action id (declared by block types) -> handler(window, block_id)
HANDLERS: dict[str, Callable] = {
    "new_head": new_head,
    "download_weights": download_weights,
    "open_layers": open_layers,
    "trust_repo": trust_repo,
    "trust_file": trust_file,
}


def add_block_actions(menu: QMenu, window: QWidget, block_id: str) -> None:
    """Add the actions the block's type declares."""
    block = window.doc.graph.blocks.get(block_id)
    actions = block.spec.actions if block is not None else ()
    if actions:
        menu.addSeparator()
    for action in actions:
        menu.addAction(action.text, lambda h=HANDLERS[action.id]: h(window, block_id))
