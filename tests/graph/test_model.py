import pytest

from studio.graph.commands import (
    AddBlock,
    Connect,
    History,
    Macro,
    Move,
    RemoveBlocks,
    Rename,
    SetFrozen,
    SetParams,
)
from studio.graph.model import Graph, GraphError
from tests.helpers import mlp


def test_new_blocks_get_unique_numbered_names():
    g = Graph()
    names = [g.add_block("linear").name for _ in range(3)]
    assert names == ["fc1", "fc2", "fc3"]
    assert g.add_block("input").name == "x"
    assert g.add_block("input").name == "x1"


def test_connect_refuses_loops_second_wires_and_bad_ports():
    g = mlp()
    ids = {b.name: b.id for b in g}
    with pytest.raises(GraphError, match="loop"):
        g.connect(ids["fc2"], "out", ids["fc1"], "in")
    with pytest.raises(GraphError, match="already has a wire"):
        g.connect(ids["x"], "out", ids["fc2"], "in")
    with pytest.raises(GraphError, match="no input called"):
        g.connect(ids["x"], "out", ids["fc2"], "weights")
    with pytest.raises(GraphError, match="itself"):
        g.connect(ids["fc1"], "out", ids["fc1"], "in")


def test_rename_refuses_duplicates_and_empty_names():
    g = mlp()
    fc1 = g.block_by_name("fc1")
    with pytest.raises(GraphError, match="already called"):
        g.rename(fc1.id, "fc2")
    with pytest.raises(GraphError, match="needs a name"):
        g.rename(fc1.id, "  ")


def test_events_follow_every_mutation():
    g = Graph()
    seen = []
    g.events.block_added.connect(lambda b: seen.append(("added", b.name)))
    g.events.block_changed.connect(lambda b, what: seen.append((what, b.name)))
    g.events.edge_added.connect(lambda e: seen.append(("edge", e.dst)))
    g.events.block_removed.connect(lambda b: seen.append(("removed", b.name)))
    a = g.add_block("input")
    b = g.add_block("linear")
    g.connect(a.id, "out", b.id, "in")
    g.set_params(b.id, {"out_features": 8})
    g.move(b.id, (10, 20))
    g.remove_block(b.id)
    assert seen == [
        ("added", "x"),
        ("added", "fc1"),
        ("edge", b.id),
        ("params", "fc1"),
        ("position", "fc1"),
        ("removed", "fc1"),
    ]


def test_every_command_undoes_to_the_exact_earlier_graph():
    g = mlp()
    h = History(g)
    ids = {b.name: b.id for b in g}
    before = g.to_dict()
    cmds = [
        AddBlock("dropout", (5, 5)),
        SetParams(ids["fc1"], {"out_features": 32}),
        Rename(ids["act"], "activation"),
        Move({ids["fc2"]: (100.0, 50.0)}),
        SetFrozen([ids["fc1"]], True),
        RemoveBlocks([ids["act"]]),
    ]
    for c in cmds:
        h.push(c)
    assert g.to_dict() != before
    while h.can_undo:
        h.undo()
    assert g.to_dict() == before
    while h.can_redo:
        h.redo()
    after = g.to_dict()
    while h.can_undo:
        h.undo()
    assert g.to_dict() == before
    while h.can_redo:
        h.redo()
    assert g.to_dict() == after


def test_moves_of_the_same_blocks_merge_into_one_undo_step():
    g = mlp()
    h = History(g)
    bid = g.block_by_name("fc1").id
    start = g.block(bid).position
    for x in range(5):
        h.push(Move({bid: (float(x), 0.0)}))
    assert g.block(bid).position == (4.0, 0.0)
    h.undo()
    assert g.block(bid).position == start
    assert not h.can_undo


def test_fewer_add_inputs_removes_their_wires_and_undo_brings_them_back():
    g = mlp()
    h = History(g)
    x = g.block_by_name("x")
    add = h.push(AddBlock("add", params={"inputs": 3}))
    for port in ("in1", "in2", "in3"):
        g.connect(x.id, "out", add.block_id, port)
    before = g.to_dict()
    h.push(SetParams(add.block_id, {"inputs": 2}))
    assert [e.dst_port for e in g.edges.values() if e.dst == add.block_id] == ["in1", "in2"]
    h.undo()
    assert g.to_dict() == before


def test_a_refused_macro_leaves_the_graph_untouched():
    g = mlp()
    h = History(g)
    before = g.to_dict()
    ids = {b.name: b.id for b in g}
    bad = Macro("paste", [AddBlock("relu", name="r"), Connect(ids["fc2"], "out", ids["fc1"], "in")])
    with pytest.raises(GraphError):
        h.push(bad)
    assert g.to_dict() == before
    assert not h.can_undo


def test_bad_parameter_values_are_refused_with_a_clear_message():
    g = mlp()
    fc1 = g.block_by_name("fc1")
    with pytest.raises(ValueError, match="at least 1"):
        g.set_params(fc1.id, {"out_features": 0})
    with pytest.raises(ValueError, match="whole number"):
        g.set_params(fc1.id, {"out_features": "many"})
    assert g.block(fc1.id).params["out_features"] == 16
