"""Validation kept up to date from the graph's events gives exactly what validating the whole graph
gives, in the same order, after any sequence of edits, undos and redos (random, with hypothesis),
including the loops and doubled wires only a file can hold; so do the analysis's shapes and totals,
and the graph's kept topological order stays one."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from studio.blocks.params import ParamError
from studio.blocks.registry import BATCH
from studio.compiler import Analysis, analyze
from studio.graph.commands import History
from studio.graph.model import Graph, GraphError
from studio.graph.validation import Validation, validate
from tests.graph.test_properties import SMALL, TYPES, random_edit
from tests.helpers import mlp

#: 30 edits each; 120 examples took 6-13 s a test, and `-m slow` runs test_properties' BIG
SHORT = settings(SMALL, max_examples=60)


def _lenient_wire(draw, g: Graph) -> None:
    """A wire a file may hold and no command makes: a loop, or a second wire into an input."""
    blocks = list(g.blocks.values())
    src, dst = draw(st.sampled_from(blocks)), draw(st.sampled_from(blocks))
    if src.output_ports() and dst.input_ports():
        try:
            g.connect(
                src.id,
                src.output_ports()[0].name,
                dst.id,
                draw(st.sampled_from(dst.input_ports())).name,
                strict=False,
            )
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


@SHORT
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
        _assert_equals_full(g, analysis)
    validation.close()
    analysis.close()


def _assert_equals_full(g: Graph, analysis: Analysis) -> None:
    full = analyze(g)
    assert analysis.diagnostics == full.diagnostics
    assert analysis.info == full.info
    assert analysis.totals() == full.totals()
    assert [b.id for b in analysis.outputs()] == [b.id for b in full.outputs()]
    for e in g.edges.values():  # the shapes on the wires, as the canvas labels them
        assert analysis.edge_spec(e) == full.edge_spec(e)
    _assert_topological(g)


def _assert_topological(g: Graph) -> None:
    """The kept order is a topological order, or the graph has a loop and says so."""
    _, cyclic = g.topological_order()
    topology = g.topology()
    assert topology.cyclic == bool(cyclic)
    if not cyclic:
        pos = topology.positions
        assert set(pos) == set(g.blocks)
        assert all(pos[e.src] < pos[e.dst] for e in g.edges.values())


def _wide(n_layers: int) -> Graph:
    """An input, ``n_layers`` linear/relu blocks in a chain with a few side branches, an output."""
    g = Graph()
    prev = g.add_block("input", params={"shape": [8]})
    for i in range(n_layers):
        b = g.add_block(
            "linear" if i % 2 else "relu", params={"out_features": 8} if i % 2 else None
        )
        g.connect(prev.id, "out", b.id, "in")
        prev = b
    out = g.add_block("output")
    g.connect(prev.id, "out", out.id, "in")
    return g


@SHORT
@given(st.data())
def test_random_wire_and_block_edits_on_a_larger_graph_equal_full_recomputation(data):
    """Wires added anywhere (forward, backward in the kept order, refused loops), removed, put
    back by undo in their place, blocks added and removed: each step equals a full analysis."""
    g = _wide(30)
    history = History(g)
    validation = Validation(g)
    analysis = Analysis(g)
    from studio.graph.commands import AddBlock, Connect, RemoveBlocks

    for _ in range(25):
        blocks = list(g.blocks.values())
        kind = data.draw(
            st.sampled_from(
                ["wire", "wire", "unwire", "add", "remove", "undo", "undo", "redo", "lenient"]
            )
        )
        cmd = None
        if kind == "wire":
            src, dst = data.draw(st.sampled_from(blocks)), data.draw(st.sampled_from(blocks))
            if src.output_ports() and dst.input_ports():
                cmd = Connect(
                    src.id,
                    src.output_ports()[0].name,
                    dst.id,
                    data.draw(st.sampled_from(dst.input_ports())).name,
                )
        elif kind == "unwire" and g.edges:
            cmd = RemoveBlocks([], [data.draw(st.sampled_from(sorted(g.edges)))])
        elif kind == "add":
            cmd = AddBlock(
                data.draw(st.sampled_from(["linear", "relu", "add", "output", "identity"]))
            )
        elif kind == "remove":
            cmd = RemoveBlocks([data.draw(st.sampled_from(blocks)).id])
        elif kind == "lenient":
            _lenient_wire(data.draw, g)
        try:
            if kind in ("undo", "redo"):
                getattr(history, kind)()
            elif cmd is not None:
                history.push(cmd)
        except (GraphError, ParamError):
            pass
        assert validation.diagnostics() == validate(g)
        analysis.refresh()
        _assert_equals_full(g, analysis)
    validation.close()
    analysis.close()


def test_names_stay_unique_and_reuse_the_lowest_free_number():
    g = Graph()
    fcs = [g.add_block("linear") for _ in range(5)]
    assert [b.name for b in fcs] == ["fc1", "fc2", "fc3", "fc4", "fc5"]
    g.remove_block(fcs[1].id)
    assert g.add_block("linear").name == "fc2"
    g.rename(fcs[3].id, "dense")
    assert g.add_block("linear").name == "fc4"
    assert g.add_block("linear").name == "fc6"
    with pytest.raises(GraphError, match="already called"):
        g.add_block("linear", name="fc6")
    g.rename(fcs[0].id, "fc6x")
    assert g.add_block("linear", name="fc1").name == "fc1"
    assert len(g.names()) == len(g)


def test_every_block_type_added_then_removed_keeps_validation_and_analysis_whole():
    g = _wide(4)
    validation, analysis = Validation(g), Analysis(g)
    added = [g.add_block(t) for t in TYPES]
    for b in added:
        if b.input_ports():
            g.connect(next(iter(g.blocks)), "out", b.id, b.input_ports()[0].name)
    analysis.refresh()
    assert validation.diagnostics() == validate(g)
    _assert_equals_full(g, analysis)
    for b in added:
        g.remove_block(b.id)
    analysis.refresh()
    assert validation.diagnostics() == validate(g)
    _assert_equals_full(g, analysis)


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
    assert found == validate(g) and any(
        d.edge_id == first.id and "Two wires" in d.message for d in found
    )
    g.remove_block(ids["fc2"])
    assert validation.diagnostics() == validate(g)


def test_after_close_edits_are_not_followed():
    g = mlp()
    validation = Validation(g)
    validation.close()
    g.add_block("linear")
    assert len(g.events.block_added) == 0


def _counting(monkeypatch) -> list[str]:
    """The ids of the blocks the analysis evaluates, as it does."""
    seen: list[str] = []
    real = Analysis._evaluate

    def counting(self, block):
        seen.append(block.id)
        return real(self, block)

    monkeypatch.setattr(Analysis, "_evaluate", counting)
    return seen


def _branched(n_layers: int) -> Graph:
    """``_wide`` with a skip connection (an Add) halfway, so a merge is below the middle."""
    g = _wide(n_layers)
    chain = [b.id for b in g.blocks.values() if b.type in ("linear", "relu")]
    a, b = chain[n_layers // 4], chain[n_layers // 2]
    after = g.successor_ids(b)[0]
    wire = g.edge_into(after, "in")
    g.disconnect(wire.id)
    add = g.add_block("add")
    g.connect(b, "out", add.id, "in1")
    g.connect(a, "out", add.id, "in2")
    g.connect(add.id, "out", after, "in")
    return g


def test_a_wire_put_back_restores_the_shapes_below_it_without_evaluating_them(monkeypatch):
    """Removing a wire mid-chain makes every shape below it unknown; putting it back (or undoing
    the removal) brings back what was there, block for block, without evaluating them again."""
    from studio.graph.commands import RemoveBlocks

    g = _branched(40)
    history = History(g)
    analysis = Analysis(g)
    seen = _counting(monkeypatch)
    middle = [b.id for b in g.blocks.values() if b.type == "linear"][8]
    for put_back in ("insert", "undo", "connect"):
        wire = g.wires_into(middle)[0]
        if put_back == "undo":
            history.push(RemoveBlocks([], [wire.id]))
        else:
            g.disconnect(wire.id)
        seen.clear()
        below = analysis.refresh()
        _assert_equals_full(g, analysis)
        assert len(below) > 20 and len(seen) >= len(below)  # evaluated: they all went unknown
        assert not any(s for b in below for s in analysis.block_info(b).out_shapes)  # unknown
        seen.clear()
        if put_back == "insert":
            g.insert_edge(wire)
        elif put_back == "undo":
            history.undo()
        else:  # a new wire between the same ports
            g.connect(wire.src, wire.src_port, wire.dst, wire.dst_port)
        assert analysis.refresh() == below
        assert seen == []
        _assert_equals_full(g, analysis)
    analysis.close()


def test_a_wire_put_back_after_other_edits_is_evaluated_again(monkeypatch):
    """Only the exact inverse of the last refresh's wire edits is put back from what it kept."""
    g = _branched(30)
    analysis = Analysis(g)
    seen = _counting(monkeypatch)
    linears = [b.id for b in g.blocks.values() if b.type == "linear"]
    middle, lower = linears[5], linears[10]
    # a parameter edit below the removed wire, then the wire back: the kept shapes are stale
    wire = g.wires_into(middle)[0]
    g.disconnect(wire.id)
    analysis.refresh()
    g.set_params(lower, {"out_features": 5})
    g.insert_edge(wire)
    seen.clear()
    analysis.refresh()
    assert seen
    _assert_equals_full(g, analysis)
    assert analysis.block_info(lower).out_shapes == ((BATCH, 5),)
    # a refresh in between that changed something else: nothing kept from before it
    wire = g.wires_into(middle)[0]
    g.disconnect(wire.id)
    analysis.refresh()
    g.set_params(lower, {"out_features": 6})
    analysis.refresh()
    g.insert_edge(wire)
    seen.clear()
    analysis.refresh()
    assert seen
    _assert_equals_full(g, analysis)
    # two wires moved in one refresh, undone in another in the other order: put back
    a, b = g.wires_into(linears[3])[0], g.wires_into(linears[12])[0]
    g.disconnect(a.id)
    g.disconnect(b.id)
    analysis.refresh()
    g.insert_edge(b)
    g.insert_edge(a)
    seen.clear()
    analysis.refresh()
    assert seen == []
    _assert_equals_full(g, analysis)
    analysis.close()


def test_a_doubled_wire_put_back_in_another_order_is_evaluated_again(monkeypatch):
    """Two wires into one input (only a file holds them): the first in the graph's order counts,
    and a wire put back goes last, so the shapes below can differ from before: evaluated."""
    g = _wide(6)
    analysis = Analysis(g)
    linears = [b.id for b in g.blocks.values() if b.type == "linear"]
    wide = g.add_block("linear", params={"out_features": 3})
    g.connect(linears[0], "out", wide.id, "in")
    target = linears[2]
    g.connect(wide.id, "out", target, "in", strict=False)  # the second wire into its input
    analysis.refresh()
    _assert_equals_full(g, analysis)
    first = g.wires_into(target)[0]
    g.disconnect(first.id)
    analysis.refresh()
    _assert_equals_full(g, analysis)
    seen = _counting(monkeypatch)
    g.connect(first.src, first.src_port, target, "in", strict=False)  # now second: 3 wide counts
    analysis.refresh()
    assert target in seen
    _assert_equals_full(g, analysis)
    assert analysis.block_info(target).in_shapes == ((BATCH, 3),)
    analysis.close()


def test_the_outputs_wire_put_back_restores_every_blocks_answer_without_walking_again(
    monkeypatch,
):
    """Removing the only Output's wire tells every block it leads to no Output, without walking
    up through them (no Output is fed: nothing leads to one); putting the wire back (or undoing)
    takes that back without walking either, unless the wiring changed between (then it walks,
    and still equals validating the whole graph)."""
    g = _branched(30)
    g.add_block("tie", params={"attribute": "a.weight", "to": "b.weight"})  # never 'unused'
    validation = Validation(g)
    validation.diagnostics()
    walks = []
    real = Validation._live_changed

    def counting(self, block_id, step):
        walks.append(block_id)
        return real(self, block_id, step)

    monkeypatch.setattr(Validation, "_live_changed", counting)
    out = next(b for b in g.blocks.values() if b.type == "output")
    wire = g.edge_into(out.id, "in")
    g.disconnect(wire.id)
    unused = validation.diagnostics()
    assert unused == validate(g) and walks == []
    assert sum(not d.is_error for d in unused) == len(g.blocks) - 2  # all but Output and tie
    g.insert_edge(wire)
    assert validation.diagnostics() == validate(g) and walks == []
    assert not any(not d.is_error for d in validation.diagnostics())
    # a block renamed between: its warning says its new name when it comes back
    g.disconnect(wire.id)
    validation.diagnostics()
    first = next(iter(g.blocks.values()))
    g.rename(first.id, "renamed")
    g.insert_edge(wire)
    assert validation.diagnostics() == validate(g) and walks == []
    g.disconnect(wire.id)
    found = validation.diagnostics()
    assert found == validate(g) and any("'renamed'" in d.message for d in found)
    g.insert_edge(wire)
    # a wire added between, into a block the removal had flipped (it leads to an Output again
    # once the wire is back, and so does the new wire's block): the put-back walks
    side = g.add_block("relu")
    linears = [b.id for b in g.blocks.values() if b.type == "linear"]
    validation.diagnostics()
    walks.clear()
    g.disconnect(wire.id)
    validation.diagnostics()
    g.connect(side.id, "out", linears[5], "in", strict=False)
    g.insert_edge(wire)
    found = validation.diagnostics()
    assert found == validate(g) and len(walks) == 1
    assert not any(d.block_id == side.id and not d.is_error for d in found)  # it leads somewhere
    validation.close()


def test_with_two_outputs_removing_one_outputs_wire_walks_up_from_it(monkeypatch):
    """Another Output is still fed: only the blocks that led to the first alone flip."""
    g = _branched(20)
    linears = [b.id for b in g.blocks.values() if b.type == "linear"]
    second = g.add_block("output")
    g.connect(linears[4], "out", second.id, "in")
    validation = Validation(g)
    validation.diagnostics()
    walks = []
    real = Validation._live_changed
    monkeypatch.setattr(
        Validation,
        "_live_changed",
        lambda self, b, step, *rest: walks.append(b) or real(self, b, step, *rest),
    )
    out = next(b for b in g.blocks.values() if b.type == "output" and b.id != second.id)
    wire = g.edge_into(out.id, "in")
    g.disconnect(wire.id)
    found = validation.diagnostics()
    assert found == validate(g) and len(walks) == 1
    assert not any(d.block_id == linears[4] for d in found)  # it feeds the second Output
    assert any(d.block_id == linears[6] and not d.is_error for d in found)
    g.disconnect(g.edge_into(second.id, "in").id)  # now none is fed
    assert validation.diagnostics() == validate(g) and len(walks) == 1
    g.connect(linears[4], "out", second.id, "in")
    g.insert_edge(wire)
    assert validation.diagnostics() == validate(g) == []
    validation.close()


@pytest.mark.parametrize("seed", range(6))
def test_outputs_wires_removed_and_put_back_around_other_edits_equal_full_validation(
    seed, monkeypatch
):
    """Two or three Outputs fed from random places; an Output's wire (or another) removed,
    blocks added and removed between (an Output, a block with no ports, a block wired in or
    not), the wire put back (in place or as a new wire): each step equals validating the whole
    graph. Walking down from the Outputs (``Validation._walk_down``) ran, and so did a wire put
    back after a block was added between without walking up again."""
    import random

    from studio.graph.commands import RemoveBlocks

    rng = random.Random(seed)
    g = _branched(30)
    chain = [b.id for b in g.blocks.values() if b.type in ("linear", "relu")]
    for _ in range(rng.choice([1, 2])):
        g.connect(rng.choice(chain[:8]), "out", g.add_block("output").id, "in")
    validation = Validation(g)
    history = History(g)
    assert validation.diagnostics() == validate(g)
    import studio.graph.validation as validation_module

    monkeypatch.setattr(validation_module, "_SHORT", 3)  # (64 at 5,000 blocks: this is 35)
    down, walks = [], []
    real_down, real_walk = Validation._walk_down, Validation._live_changed
    monkeypatch.setattr(
        Validation, "_walk_down", lambda self, *a: real_down(self, *a) and not down.append(1)
    )
    monkeypatch.setattr(
        Validation, "_live_changed", lambda self, *a: walks.append(1) or real_walk(self, *a)
    )
    quiet = 0  # wires put back after a block added between, with no walk
    for _ in range(60):
        outputs = [b.id for b in g.blocks.values() if b.type == "output" and g.wires_into(b.id)]
        if outputs and rng.random() < 0.7:
            wire = g.wires_into(rng.choice(outputs))[0]
        else:
            wire = g.edges[rng.choice(sorted(g.edges))]
        g.disconnect(wire.id)
        assert validation.diagnostics() == validate(g)
        added = []
        for _ in range(rng.randint(0, 2)):
            kind = rng.choice(["output", "relu", "tie", "wired", "remove", "remove", "undone"])
            if kind == "remove":  # one just added (no wires) or any other but the wire's ends
                spare = added or [b for b in g.blocks if b not in (wire.src, wire.dst)]
                g.remove_block(spare.pop(rng.randrange(len(spare))))
            elif kind == "undone":  # one of the wire's ends removed, and the removal undone
                history.push(RemoveBlocks([rng.choice([wire.src, wire.dst])]))
                assert validation.diagnostics() == validate(g)
                history.undo()
            elif kind == "wired":
                new = g.add_block("relu")
                feeds = [b.id for b in g.blocks.values() if b.output_ports() and b.id != new.id]
                g.connect(rng.choice(feeds), "out", new.id, "in")
            else:
                params = {"attribute": "a.weight", "to": "b.weight"} if kind == "tie" else None
                added.append(g.add_block(kind, params=params).id)
            assert validation.diagnostics() == validate(g)
        if wire.src in g.blocks and wire.dst in g.blocks and not g.wires_into(wire.dst):
            before = len(walks)
            if rng.random() < 0.5:
                g.insert_edge(wire)
            else:
                g.connect(wire.src, wire.src_port, wire.dst, wire.dst_port)
            assert validation.diagnostics() == validate(g)
            quiet += bool(added) and len(walks) == before
        for bid in added[: rng.randint(0, len(added))]:
            g.remove_block(bid)
            assert validation.diagnostics() == validate(g)
    assert down and quiet  # the new paths ran
    validation.close()


def test_the_removed_wires_own_block_removed_and_back_before_the_wire():
    """The Input's only wire, into the only Output, removed (kept whole to put back), then the
    Input removed and the removal undone: the wire put back after that is walked again, and the
    Input leads to the Output once more."""
    from studio.graph.commands import RemoveBlocks

    g = Graph()
    x = g.add_block("input", params={"shape": [4]})
    out = g.add_block("output")
    wire = g.connect(x.id, "out", out.id, "in")
    history = History(g)
    validation = Validation(g)
    validation.diagnostics()
    g.disconnect(wire.id)
    assert validation.diagnostics() == validate(g)
    history.push(RemoveBlocks([x.id]))
    assert validation.diagnostics() == validate(g)
    history.undo()
    assert validation.diagnostics() == validate(g)
    g.insert_edge(wire)
    assert validation.diagnostics() == validate(g) == []
    validation.close()
