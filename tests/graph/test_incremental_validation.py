"""Validation kept up to date from the graph's events gives exactly what validating the whole graph
gives, in the same order, after any sequence of edits, undos and redos (random, with hypothesis),
including the loops and doubled wires only a file can hold."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from studio.blocks.params import ParamError
from studio.compiler import Analysis, analyze
from studio.graph.commands import History
from studio.graph.model import Graph, GraphError
from studio.graph.validation import Validation, validate
from tests.graph.test_properties import SMALL, random_edit
from tests.helpers import mlp


def _lenient_wire(draw, g: Graph) -> None:
    """A wire a file may hold and no command makes: a loop, or a second wire into an input."""
    blocks = list(g.blocks.values())
    src, dst = draw(st.sampled_from(blocks)), draw(st.sampled_from(blocks))
    if src.output_ports() and dst.input_ports():
        try:
            g.connect(src.id, src.output_ports()[0].name, dst.id, draw(st.sampled_from(dst.input_ports())).name,
                      strict=False)
        except GraphError:
            pass


def _edit(draw, g: Graph, history: History) -> None:
    if g.blocks and draw(st.integers(0, 5)) == 0:
        _lenient_wire(draw, g)
        return
    cmd = random_edit(draw, g)
    if cmd is None:
        return
    try:  # an undo may meet a wire the history did not make, and refuse: the graph stays whole
        getattr(history, cmd)() if cmd in ("undo", "redo") else history.push(cmd)
    except (GraphError, ParamError):
        pass


@SMALL
@given(st.data())
def test_incremental_validation_equals_full_validation_after_random_edits(data):
    g = mlp()
    history = History(g)
    validation = Validation(g)
    analysis = Analysis(g)
    assert validation.diagnostics() == validate(g)
    for _ in range(30):
        _edit(data.draw, g, history)
        assert validation.diagnostics() == validate(g)
        analysis.refresh()
        assert analysis.diagnostics == analyze(g).diagnostics
    validation.close()
    analysis.close()


def test_a_rename_changes_the_message_of_an_unused_block_and_of_its_own_problems():
    g = mlp()
    validation = Validation(g)
    lonely = g.add_block("linear", name="lonely")
    assert validation.diagnostics() == validate(g)
    g.rename(lonely.id, "alone")
    found = validation.diagnostics()
    assert found == validate(g)
    assert any("'alone' has nothing wired" in d.message for d in found)
    assert any("'alone' does not lead to any Output" in d.message for d in found)


def test_a_loaded_file_with_a_loop_and_a_doubled_wire_then_edited():
    data = mlp().to_dict()
    ids = {b["name"]: b["id"] for b in data["blocks"]}
    data["edges"] += [
        {"id": "loop", "from": [ids["fc2"], "out"], "to": [ids["fc1"], "in"]},
        {"id": "dup", "from": [ids["x"], "out"], "to": [ids["fc2"], "in"]},
    ]
    g = Graph.from_dict(data)
    validation = Validation(g)
    assert validation.diagnostics() == validate(g)
    assert any(d.edge_id == "loop" for d in validation.diagnostics())
    g.disconnect("loop")
    assert validation.diagnostics() == validate(g)
    dup = g.disconnect("dup")
    first = g.edge_into(ids["fc2"], "in")
    g.disconnect(first.id)
    g.insert_edge(dup, 0)  # as undo does: the wire goes back to its place, first
    g.connect(first.src, first.src_port, first.dst, first.dst_port, id=first.id, strict=False)
    found = validation.diagnostics()
    assert found == validate(g) and any(d.edge_id == first.id and "Two wires" in d.message for d in found)
    g.remove_block(ids["fc2"])
    assert validation.diagnostics() == validate(g)


def test_after_close_edits_are_not_followed():
    g = mlp()
    validation = Validation(g)
    validation.close()
    g.add_block("linear")
    assert len(g.events.block_added) == 0
