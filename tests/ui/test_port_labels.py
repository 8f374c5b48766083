"""Blocks with several ports, as a user sees them on the canvas: every port label has a row of
its own below the title and the text lines, no two labels overlap, and a long one is elided."""

from dataclasses import replace

from PySide6.QtCore import QRectF

from studio.blocks.params import Int
from studio.blocks.registry import all_block_types
from studio.ui.canvas.geometry import BLOCK_WIDTH
from studio.ui.theme import current_theme

MANY = 6  # a merge's or a Function's inputs/outputs, beside each type's default


def port_variants(spec):
    """The parameter values to try: the defaults, and each port count at MANY and at its most."""
    variants = [{}]
    for name in ("inputs", "outputs"):
        param = spec.params.get(name)
        if isinstance(param, Int):
            variants += [{name: max(param.min, min(MANY, param.max))}, {name: param.max}]
    return variants


def multi_port_blocks(window):
    """A block of every registered type (and port count) that has several ports on a side."""
    placed = []
    x = 0
    for spec in all_block_types():
        for changes in port_variants(spec):
            values = {**spec.defaults(), **changes}
            if max(len(spec.input_ports(values)), len(spec.output_ports(values))) < 2:
                continue
            bid = window.editor.add_block(spec.id, (x, 2000))
            assert bid is not None, spec.id
            if changes:
                assert window.editor.set_params(bid, changes), (spec.id, changes)
            placed.append((f"{spec.id} {changes}", bid))
            x += 240
    return placed


def check_labels(item, where):
    fm = current_theme().small_metrics
    look, layout, labels = item.look, item.layout, item.port_labels
    block = QRectF(0, 0, BLOCK_WIDTH, item.height)
    texts = layout.text_rects()
    assert len(texts) == 1 + 3 + len(look.extra), where  # title, type, parameters, count (and more)
    labelled = [ports for ports in (look.inputs, look.outputs) if len(ports) > 1]
    assert len(labels) == sum(len(p) for p in labelled), where  # every port of such a side
    for i, label in enumerate(labels):
        assert block.contains(label.rect), where
        assert not any(label.rect.intersects(t) for t in texts), f"{where}: {label.full!r} over the text"
        assert not any(label.rect.intersects(other.rect) for other in labels[i + 1:]), f"{where}: {label.full!r}"
        assert fm.horizontalAdvance(label.text) <= label.rect.width() + 0.5, where
        assert label.text == label.full or label.text.endswith("…"), where
    for output, ports in ((False, look.inputs), (True, look.outputs)):
        ys = [item.port_local(output, name).y() for name, _ in ports]
        assert all(b - a >= 16 for a, b in zip(ys, ys[1:])), where  # ports do not crowd either
        assert all(texts[-1].bottom() < y < item.height for y in ys) or len(ports) < 2, where


def test_every_multi_port_block_type_gives_each_label_its_own_row(window, qtbot):
    placed = multi_port_blocks(window)
    names = " ".join(where for where, _ in placed)
    for expected in ("lstm", "multihead_attention", "concat", "function"):
        assert expected in names  # the walk reached the types users reported
    for where, bid in placed:
        check_labels(window.scene.blocks[bid], where)


def test_lstm_outputs_sit_below_the_parameter_line(window, qtbot):
    bid = window.editor.add_block("lstm", (0, 2000))
    item = window.scene.blocks[bid]
    assert [label.full for label in item.port_labels] == ["output", "h_n", "c_n"]
    params_line = item.layout.line_rect(1)
    assert all(label.rect.top() >= params_line.bottom() for label in item.port_labels)
    # the wire still starts where the port is drawn: the hit test finds h_n at its point
    point = item.port_local(True, "h_n")
    assert item.port_at(point) == (True, "h_n")


def test_a_long_port_label_is_elided_within_its_half_of_the_row(window, qtbot):
    bid = window.editor.add_block("multihead_attention", (0, 2000))
    item = window.scene.blocks[bid]
    long = "attention_weights_averaged_over_every_head"
    item.set_look(replace(item.look, outputs=[("out", "out"), ("weights", long)]))
    label = next(lb for lb in item.port_labels if lb.full == long)
    assert label.text != long and label.text.endswith("…")
    assert label.rect.left() > BLOCK_WIDTH / 2  # the inputs' labels keep the left half
    check_labels(item, "long label")
