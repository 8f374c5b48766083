"""Search ranges in the inspector: the selected block's ranges (one line each) and a button that
adds, changes or removes the range of one of its parameters. Values are written as on the
command line (``8..128``, ``1e-4..1e-1:log``, ``16..128:step=16``, ``adam,sgd``), checked by the
same parser, and pushed as one `SetSearch` command."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QToolButton,
    QVBoxLayout,
)

from studio.graph.search import SearchError, param_problem, parse
from studio.graph.search_commands import SetSearch

SEARCHABLE = ("int", "float", "choice", "bool")


def searchable_params(block) -> list[str]:
    return [n for n, p in block.spec.params.items() if p.kind in SEARCHABLE]


def add_search_row(inspector, block) -> None:
    """The block's ranges and the "Search range…" button (top-level graphs: a sweep varies the
    model it trains; inside a module a use's per-use parameter is searched instead)."""
    if inspector.doc.graph.owner is not None or not searchable_params(block):
        return
    search = inspector.doc.project.search
    ranges = search.for_block(block.id)
    text = "<br>".join(f"{r.param}: {r.describe()}" for r in ranges) or "<i>none</i>"
    label = QLabel(text)
    label.setToolTip("The values a sweep (Training > Sweep…) tries for these parameters")
    inspector.search_label = label
    button = QToolButton()
    button.setText("Search range…")
    button.setToolTip("Let a sweep try a range of values for one of this block's parameters")
    button.clicked.connect(lambda: edit_range(inspector, block.id))
    inspector.search_button = button
    inspector.form.addRow("Sweep", label)
    inspector.form.addRow("", button)


class RangeDialog(QDialog):
    def __init__(self, block, search, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Search range of {block.name}")
        self.block, self.search = block, search
        self.param = QComboBox()
        self.param.addItems(searchable_params(block))
        self.values = QLineEdit()
        self.values.setPlaceholderText("8..128   1e-4..1e-1:log   16..128:step=16   a,b,c")
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setStyleSheet("color: #d32f2f;")
        form = QFormLayout()
        form.addRow("Parameter", self.param)
        form.addRow("Values", self.values)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.remove = buttons.addButton("Remove range", QDialogButtonBox.ButtonRole.DestructiveRole)
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        self.remove.clicked.connect(self._remove)
        box = QVBoxLayout(self)
        box.addWidget(
            QLabel(
                f"A sweep trains the model once per trial with values of "
                f"{block.name}'s parameter drawn from this range."
            )
        )
        box.addLayout(form)
        box.addWidget(self.message)
        box.addWidget(buttons)
        self.param.currentTextChanged.connect(self._show)
        self.result_search = None
        first = search.for_block(block.id)
        if first:
            self.param.setCurrentText(first[0].param)
        self._show(self.param.currentText())

    def _show(self, param: str) -> None:
        rng = self.search.get(f"{self.block.id}.{param}")
        if rng is not None:
            text = (
                ",".join(str(c).lower() if isinstance(c, bool) else str(c) for c in rng.choices)
                if rng.choices
                else f"{rng.low}..{rng.high}"
                + (":log" if rng.log else "")
                + (f":step={rng.step}" if rng.step is not None else "")
            )
        else:
            p = self.block.spec.params[param]
            text = (
                ",".join(p.options_for(self.block.params))
                if p.kind == "choice"
                else ("true,false" if p.kind == "bool" else "")
            )
        self.values.setText(text)
        self.remove.setEnabled(rng is not None)
        self.message.clear()

    def _accept(self) -> None:
        try:
            rng = parse(
                f"{self.block.id}.{self.param.currentText()}={self.values.text()}", _One(self.block)
            )
        except SearchError as e:
            self.message.setText(str(e).split(": ", 1)[-1])
            return
        problem = param_problem(rng, self.block)
        if problem:
            self.message.setText(problem)
            return
        self.result_search = self.search.with_range(rng)
        self.accept()

    def _remove(self) -> None:
        self.result_search = self.search.without(f"{self.block.id}.{self.param.currentText()}")
        self.accept()


class _One:
    """The block alone, as `parse` looks blocks up (by id here)."""

    def __init__(self, block) -> None:
        self.blocks = {block.id: block}

    def block_by_name(self, name):
        return None


def edit_range(inspector, block_id: str) -> bool:
    block = inspector.doc.graph.blocks[block_id]
    dialog = RangeDialog(block, inspector.doc.project.search, inspector)
    if not run_dialog(dialog) or dialog.result_search is None:
        return False
    return set_search(inspector, block_id, dialog.result_search)


def run_dialog(dialog) -> bool:
    """Show the dialog modally (tests replace this)."""
    return dialog.exec() == QDialog.DialogCode.Accepted


def set_search(inspector, block_id: str, search) -> bool:
    ok = inspector.doc.push(SetSearch(inspector.doc.project, search))
    inspector.block_id = None
    inspector.show_block(block_id)
    return ok
