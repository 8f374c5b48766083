"""Counts as the user reads them: the status bar's totals and the inspector's Counts box,
through freezing, unfreezing, undo and a pretrained backbone."""

import pytest
from PySide6.QtCore import QPoint, Qt

from tests.ui.conftest import by_name, open_window

TRANSFER = "resources/examples/transfer_learning.studio.json"


@pytest.fixture
def transfer_window(qtbot, config_dir):
    return open_window(qtbot, TRANSFER)


def settle(qtbot):
    qtbot.wait(1)  # the coalesced 0-ms analysis refresh


def real_macs_per_sample(graph) -> int:
    """MACs of the module Export writes, counted on the real thing at batch 1 (not by Studio's
    own inference), so the figure on screen is checked against what training runs."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from studio.compiler import build_model, input_specs

    model = build_model(graph, "Counted").eval()
    xs = [torch.zeros((1, *shape)) for _, shape, _ in input_specs(graph)]
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(*xs)
    return counter.get_total_flops() // 2


def frozen_in_first_stages(n: int) -> int:
    """Parameters of MobileNetV3-small's first ``n`` feature stages, counted by torchvision."""
    import torch
    from torchvision.models import mobilenet_v3_small

    with torch.device("meta"):
        net = mobilenet_v3_small()
    return sum(p.numel() for p in net.features[:n].parameters())


def test_status_bar_follows_freezing_and_unfreezing_a_backbone(transfer_window, qtbot):
    w = transfer_window
    g = w.doc.graph
    backbone = by_name(g, "backbone")
    assert backbone.params["freeze"] == "backbone"
    text = w.totals_label.text()
    assert "(3,081 trainable, 1,517,856 frozen)" in text, text

    w.editor.set_params(backbone.id, {"freeze": "none"})  # what the inspector's freeze choice pushes
    settle(qtbot)
    assert "Parameters: 1,520,937 (all trainable)" in w.totals_label.text()
    w.editor.set_params(backbone.id, {"freeze": "up to features.4"})
    settle(qtbot)
    frozen = frozen_in_first_stages(5)
    assert f"({1_520_937 - frozen:,} trainable, {frozen:,} frozen)" in w.totals_label.text()

    w.doc.undo_stack.undo()
    w.doc.undo_stack.undo()
    settle(qtbot)
    assert "(3,081 trainable, 1,517,856 frozen)" in w.totals_label.text()


def test_status_bar_shows_the_macs_the_exported_model_computes(transfer_window, qtbot):
    """The backbone's MACs are counted (it used to count 0): the total on screen matches a
    FlopCounterMode count of the built module."""
    from studio.blocks.shapes import fmt_count

    w = transfer_window
    macs = real_macs_per_sample(w.doc.graph)
    assert macs > 10_000_000  # MobileNetV3-small at 96×96 does millions, not the head's thousands
    assert f"MACs: {fmt_count(macs)} per sample" in w.totals_label.text()
    assert w.doc.analysis.totals().macs == macs


def test_inspector_counts_follow_the_frozen_checkbox_and_undo(window, qtbot):
    window.show()
    qtbot.waitExposed(window)
    g = window.doc.graph
    fc = next(b for b in g.blocks.values() if b.type == "linear")
    window.show_block(fc.id)
    counts = window.inspector.counts
    assert counts.isVisible()
    n = window.doc.analysis.block_info(fc.id).params
    assert counts.params_label.text() == f"{n:,} (all trainable)"
    assert counts.macs_label.text().endswith("per sample") and counts.macs_label.text() != "0 per sample"

    box = window.inspector.frozen_box
    qtbot.mouseClick(box, Qt.MouseButton.LeftButton, pos=QPoint(8, box.height() // 2))
    settle(qtbot)
    assert g.blocks[fc.id].frozen
    assert counts.params_label.text() == f"{n:,} (all frozen)"
    assert f"{n:,} frozen)" in window.totals_label.text()

    window.doc.undo_stack.undo()
    settle(qtbot)
    assert counts.params_label.text() == f"{n:,} (all trainable)"
    assert "(all trainable)" in window.totals_label.text()


def test_inspector_counts_hide_without_a_block(window, qtbot):
    fc = next(b for b in window.doc.graph.blocks.values() if b.type == "linear")
    window.inspector.show_block(fc.id)
    assert not window.inspector.counts.isHidden()
    window.inspector.show_block(None)
    assert window.inspector.counts.isHidden()


def test_inspector_shows_a_backbones_frozen_parameters_and_macs(transfer_window, qtbot):
    w = transfer_window
    backbone = by_name(w.doc.graph, "backbone")
    w.inspector.show_block(backbone.id)
    counts = w.inspector.counts
    assert counts.params_label.text() == "1,517,856 (all frozen)"
    assert counts.macs_label.text() not in ("0 per sample", "—")
    w.editor.set_params(backbone.id, {"freeze": "none"})
    settle(qtbot)
    assert counts.params_label.text() == "1,517,856 (all trainable)"
