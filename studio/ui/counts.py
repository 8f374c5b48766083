"""Parameter and MAC counts as a user reads them: per block in the inspector, in total in the
status bar.

Frozen weights are named as such (a frozen backbone's millions are not "trainable"), and MACs
are per sample, so the figure does not change with the batch size.
"""

from __future__ import annotations

from PySide6.QtWidgets import QFormLayout, QGroupBox, QLabel

from studio.blocks.shapes import fmt_count


def params_text(params: int, trainable: int) -> str:
    """``1,520,937 (3,081 trainable, 1,517,856 frozen)``; ``4,482 (all trainable)``."""
    if not params:
        return "none"
    frozen = params - trainable
    if not frozen:
        return f"{params:,} (all trainable)"
    if not trainable:
        return f"{params:,} (all frozen)"
    return f"{params:,} ({trainable:,} trainable, {frozen:,} frozen)"


def counts_text(totals) -> str:
    """The status bar's totals of the whole model (an ``Analysis.totals()``)."""
    return (
        f"Parameters: {params_text(totals.params, totals.trainable)}  ·  "
        f"MACs: {fmt_count(totals.macs)} per sample  ·  Size: {totals.size_mb:.2f} MB"
    )


class CountsSection(QGroupBox):
    """The inspector's "Counts" box for the selected block (``show(BlockInfo or None)``)."""

    def __init__(self, parent=None) -> None:
        super().__init__("Counts", parent)
        self.params_label = QLabel()
        self.macs_label = QLabel()
        self.size_label = QLabel()
        self.memory_label = QLabel()  # one training step's memory of the block (Cost panel's batch)
        self.time_label = QLabel()  # its time in a step, once profiled
        #: block id -> (memory text, time text); set by the window's cost controller
        self.cost_source = None
        self._block_id: str | None = None
        form = QFormLayout(self)
        form.setContentsMargins(6, 4, 6, 4)
        form.addRow("Parameters", self.params_label)
        form.addRow("MACs", self.macs_label)
        form.addRow("Size", self.size_label)
        form.addRow("Memory", self.memory_label)
        form.addRow("Time", self.time_label)
        self._form = form
        for label in (self.params_label, self.macs_label, self.size_label, self.memory_label, self.time_label):
            label.setWordWrap(True)
        self.setVisible(False)

    def show_cost(self) -> None:
        """The block's memory and time rows, from the cost controller (hidden when not known)."""
        mem, time = self.cost_source(self._block_id) if self.cost_source and self._block_id else ("", "")
        for label, text in ((self.memory_label, mem), (self.time_label, time)):
            label.setText(text)
            self._form.setRowVisible(label, bool(text))

    def show_info(self, info, block_id: str | None = None) -> None:
        """Fill from a ``BlockInfo``; ``None`` (no block, or shapes not known yet) hides the box."""
        self._block_id = block_id
        self.show_cost()
        known = info is not None and (info.in_shapes or info.out_shapes)
        if not known or info.error or any(s is None for s in info.out_shapes):
            self.setVisible(False)  # nothing counted: the inspector says why
            return
        self.params_label.setText(params_text(info.params, info.trainable))
        self.macs_label.setText("—" if info.macs is None else f"{fmt_count(info.macs)} per sample")
        self.size_label.setText(f"{info.size_bytes / 1e6:.2f} MB" if info.size_bytes else "0 MB")
        self.setVisible(True)
