"""The inspector: name and parameters of the selected block, plus what analysis knows of it.

It follows the model: when the block changes (undo, another view) the editors are refilled
from the model; edits go out as Rename / SetParams commands through the Editor. It is a scroll
area, so a block with many parameters scrolls inside its dock instead of growing the window."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QFormLayout,
    QFrame,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from studio.blocks.shapes import fmt_shape
from studio.graph.model import Block
from studio.ui import per_use, search_ranges
from studio.ui.counts import CountsSection
from studio.ui.document import Document
from studio.ui.editing import Editor
from studio.ui.param_editors import INVALID_STYLE, ParamEditor, editor_for, with_dependents


class Inspector(QScrollArea):
    #: the Open button of a module block (block id)
    open_requested = Signal(str)

    def __init__(self, doc: Document, editor: Editor, parent=None) -> None:
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.doc = doc
        self.editor = editor
        self.block_id: str | None = None
        self.editors: dict[str, ParamEditor] = {}
        self.per_use_menu = None
        self.title = QLabel("Select a block to edit it.")
        self.title.setWordWrap(True)
        self.title.setTextFormat(Qt.TextFormat.RichText)
        self.name_edit = QLineEdit()
        self.name_edit.editingFinished.connect(self._rename)
        self.name_edit.textEdited.connect(self._name_typed)
        self.frozen_box = QCheckBox("Frozen (weights are not trained)")
        self.frozen_box.toggled.connect(self._freeze)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setStyleSheet("color: #d32f2f;")
        self.info = QLabel()
        self.info.setWordWrap(True)
        self.info.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.form = QFormLayout()
        self.form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        body = QWidget()
        layout = QVBoxLayout(body)
        layout.addWidget(self.title)
        self.form_host = QWidget()
        self.form_host.setLayout(self.form)
        layout.addWidget(self.form_host)
        layout.addWidget(self.message)
        layout.addWidget(self.info)
        self.counts = CountsSection()  # parameters (trainable / frozen), MACs, size
        layout.addWidget(self.counts)
        layout.addStretch(1)
        self.setWidget(body)
        self.form_host.setVisible(False)
        doc.graph.events.block_changed.connect(self._block_changed)
        doc.graph.events.block_removed.connect(self._block_removed)
        doc.analysed.connect(self._analysed)

    def detach(self) -> None:
        self.doc.graph.events.block_changed.disconnect(self._block_changed)
        self.doc.graph.events.block_removed.disconnect(self._block_removed)
        self.doc.analysed.disconnect(self._analysed)

    # ---------------------------------------------------------------- showing
    def show_block(self, block_id: str | None) -> None:
        if block_id == self.block_id:
            return
        self.block_id = block_id
        while self.form.rowCount():
            self.form.removeRow(0)
        self.editors = {}
        self.message.clear()
        block = self.doc.graph.blocks.get(block_id) if block_id else None
        self.form_host.setVisible(block is not None)
        if block is None:
            self.title.setText("Select a block to edit it.")
            self.info.clear()
            self.counts.show_info(None)
            return
        spec = block.spec
        self.title.setText(f"<b>{spec.label}</b> <code>{spec.torch_name}</code><br><small>{spec.description}</small>")
        self.name_edit = QLineEdit()
        self.name_edit.editingFinished.connect(self._rename)
        self.name_edit.textEdited.connect(self._name_typed)
        self.form.addRow("Name", self.name_edit)
        for name, param in spec.params.items():
            ed = editor_for(name, param)
            ed.edited.connect(self._param_edited)  # a method, not a closure (see there)
            ed.invalid.connect(self.message.setText)
            self.editors[name] = ed
            self.form.addRow(ed.label, ed.widget)
        self.frozen_box = QCheckBox("Frozen (weights are not trained)")
        self.frozen_box.toggled.connect(self._freeze)
        self.form.addRow("", self.frozen_box)
        if spec.definition is not None:
            self.open_button = QPushButton(f"Open {spec.definition.name}")
            self.open_button.setToolTip("Show and edit what is inside (double-click the block, or Enter)")
            self.open_button.clicked.connect(lambda: self.open_requested.emit(block.id))
            self.form.addRow("", self.open_button)
        per_use.add_per_use_row(self, block)  # inside an opened module: settings each use sets
        search_ranges.add_search_row(self, block)  # the values a sweep tries
        self._fill(block)

    def _fill(self, block: Block) -> None:
        self.name_edit.setText(block.name)
        self.name_edit.setStyleSheet("")
        for name, ed in self.editors.items():
            ed.set_value(block.params[name], block.params)
        self.frozen_box.blockSignals(True)
        self.frozen_box.setChecked(block.frozen)
        self.frozen_box.blockSignals(False)
        self._show_info()

    def _show_info(self) -> None:
        analysis = self.doc.analysis
        if self.block_id is None or self.block_id not in self.doc.graph.blocks:
            return
        if analysis is None:
            self.info.setText("<i>Shapes appear once PyTorch has loaded…</i>")
            return
        info = analysis.block_info(self.block_id)
        block = self.doc.graph.blocks[self.block_id]
        # "Frozen" means something only for a block with weights (not a ReLU or an Output);
        # while the input shape is unknown the weights are too, so it is offered then
        known = all(s is not None for s in info.in_shapes) and not info.error
        own = block.spec.freezing_param  # the block's own choice of what trains replaces the box
        self.frozen_box.setVisible(block.frozen or (not own and (bool(info.params) or not known)))
        ins = ", ".join(fmt_shape(s) if s else "?" for s in info.in_shapes) or "—"
        outs = ", ".join(fmt_shape(s) if s else "?" for s in info.out_shapes) or "—"
        self.counts.show_info(info, self.block_id)
        text = f"In: {ins}<br>Out: {outs}"
        if info.error:
            text += f"<br><span style='color:#d32f2f'>{info.error}</span>"
        self.info.setText(text)

    # -------------------------------------------------------------- following
    def _block_changed(self, block: Block, what: str) -> None:
        if block.id == self.block_id and what != "position":
            self._fill(block)

    def _block_removed(self, block: Block) -> None:
        if block.id == self.block_id:
            self.show_block(None)

    def _analysed(self, changed) -> None:
        if self.block_id is not None:
            self._show_info()

    # ------------------------------------------------------------------ edits
    def _param_edited(self, value) -> None:
        """A parameter editor's value. Its editors and the placeholder name field have no Qt
        parent, so their connections live as long as this inspector's Python object: a closure
        over the inspector there (a lambda) made a cycle through C++ the garbage collector cannot
        see, and kept the inspector and its document alive after another project opened."""
        self._edited(self.sender().name, value)

    def _edited(self, name: str, value) -> None:
        if self.block_id is None:
            return
        self.message.clear()
        block = self.doc.graph.blocks[self.block_id]
        new = with_dependents(block.spec.params, block.params, name, value)
        changed = {k: v for k, v in new.items() if block.params.get(k) != v}
        if changed and not self.editor.set_params(self.block_id, changed):
            self._fill(block)  # refused (the reason is in the status bar): show the model again

    def _rename(self) -> None:
        if self.block_id is None or self.block_id not in self.doc.graph.blocks:
            return
        new = self.name_edit.text().strip()
        if new == self.doc.graph.blocks[self.block_id].name:
            return
        refused: list[str] = []
        self.doc.edit_refused.connect(refused.append)
        try:
            ok = self.editor.rename(self.block_id, new)
        finally:
            self.doc.edit_refused.disconnect(refused.append)
        if not ok:
            self._name_message(refused[0] if refused else "This name cannot be used.")

    def _name_typed(self, _text: str) -> None:
        self._name_message("")

    def _name_message(self, text: str) -> None:
        self.name_edit.setStyleSheet(INVALID_STYLE if text else "")
        self.message.setText(text)

    def _freeze(self, checked: bool) -> None:
        if self.block_id is not None:
            self.editor.set_frozen([self.block_id], checked)
