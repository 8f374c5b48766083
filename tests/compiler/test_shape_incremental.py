"""The analysis kept up to date edit by edit equals a full analysis of the graph, after seeded
random sequences of wire, parameter and block edits, undos and redos on a graph shaped like
``benchmarks/graph_scale.py``'s (merges, parameters, concatenations, attention with optional
inputs); in particular below a wire removed mid-chain, where every shape goes unknown without
the ordered queue (``Analysis._flood``), merges included."""

from __future__ import annotations

import random

import pytest

from studio.blocks.params import ParamError
from studio.blocks.registry import BATCH
from studio.compiler import Analysis
from studio.graph.commands import AddBlock, Connect, History, RemoveBlocks, SetParams
from studio.graph.model import Graph, GraphError
from studio.graph.validation import validate
from tests.graph.test_incremental_validation import _assert_equals_full


def _apply(history, cmd) -> None:
    """Push `cmd` (or undo / redo); a refused one leaves the graph whole."""
    try:
        if cmd in ("undo", "redo"):
            getattr(history, cmd)()
        elif cmd is not None:
            history.push(cmd)
    except (GraphError, ParamError):
        pass


def _units(n_units: int) -> Graph:
    """An Input, then ``n_units`` residual units (linear, norm, activation, a learned scale
    multiplied in, a skip connection added back), every third one with a concatenated side
    branch and every fourth with self-attention (its key and value unwired), then an Output."""
    g = Graph()
    prev = g.add_block("input", params={"shape": [4, 16]})
    kinds = ["gelu", "relu", "tanh", "silu"]
    for unit in range(n_units):
        fc1 = g.add_block("linear", params={"out_features": 8 + 4 * (unit % 3)})
        act = g.add_block(kinds[unit % len(kinds)])
        fc2 = g.add_block("linear", params={"out_features": 16})
        scale = g.add_block("parameter", params={"shape": [1, 16], "init": "ones"})
        mul = g.add_block("multiply")
        add = g.add_block("add")
        norm = g.add_block("layernorm")
        for a, b in ((prev, fc1), (fc1, act), (act, fc2)):
            g.connect(a.id, "out", b.id, "in")
        g.connect(fc2.id, "out", mul.id, "in1")
        g.connect(scale.id, "out", mul.id, "in2")
        g.connect(mul.id, "out", add.id, "in1")
        g.connect(prev.id, "out", add.id, "in2")
        g.connect(add.id, "out", norm.id, "in")
        prev = norm
        if unit % 3 == 2:
            side = g.add_block("linear", params={"out_features": 8})
            cat = g.add_block("concatenate", params={"dim": 2})
            fix = g.add_block("linear", params={"out_features": 16})
            g.connect(prev.id, "out", side.id, "in")
            g.connect(prev.id, "out", cat.id, "in1")
            g.connect(side.id, "out", cat.id, "in2")
            g.connect(cat.id, "out", fix.id, "in")
            prev = fix
        if unit % 4 == 3:
            attn = g.add_block("multihead_attention", params={"num_heads": 2})
            g.connect(prev.id, "out", attn.id, "query")
            prev = attn
    out = g.add_block("output")
    g.connect(prev.id, "out", out.id, "in")
    return g


def _random_command(rng: random.Random, g: Graph, removed: list):
    blocks = list(g.blocks.values())
    kind = rng.choice(
        ["unwire", "unwire", "rewire", "wire", "width", "inputs", "add", "remove", "undo", "redo"]
    )
    if kind == "unwire" and g.edges:
        edge = g.edges[rng.choice(sorted(g.edges))]
        removed.append(edge)
        return RemoveBlocks([], [edge.id])
    if kind == "rewire" and removed:  # a removed wire back, by a new command (not an undo)
        e = removed.pop(rng.randrange(len(removed)))
        if e.src in g.blocks and e.dst in g.blocks:
            return Connect(e.src, e.src_port, e.dst, e.dst_port)
    if kind == "wire":
        src, dst = rng.choice(blocks), rng.choice(blocks)
        if src.output_ports() and dst.input_ports():
            port = rng.choice(dst.input_ports()).name
            return Connect(src.id, src.output_ports()[0].name, dst.id, port)
    if kind == "width":
        linears = [b for b in blocks if b.type == "linear"]
        if linears:
            return SetParams(rng.choice(linears).id, {"out_features": rng.choice([8, 12, 16])})
    if kind == "inputs":  # a merge with a third input, unwired, or back to two
        merges = [b for b in blocks if b.type in ("add", "multiply", "concatenate")]
        if merges:
            return SetParams(rng.choice(merges).id, {"inputs": rng.choice([2, 2, 3])})
    if kind == "add":
        return AddBlock(rng.choice(["relu", "add", "linear", "identity"]))
    if kind == "remove" and blocks:
        return RemoveBlocks([rng.choice(blocks).id])
    if kind in ("undo", "redo"):
        return kind
    return None


@pytest.mark.parametrize("seed", range(6))
def test_random_edits_below_merges_equal_a_full_analysis(seed):
    rng = random.Random(seed)
    g = _units(12)
    history = History(g)
    analysis = Analysis(g)
    removed: list = []
    for _ in range(40):
        cmd = _random_command(rng, g, removed)
        _apply(history, cmd)
        analysis.refresh()
        _assert_equals_full(g, analysis)
        assert analysis._validation.diagnostics() == validate(g)
    # every wire of what is left, removed and put back (and undone), one by one
    for eid in sorted(g.edges)[:: max(1, len(g.edges) // 25)]:
        history.push(RemoveBlocks([], [eid]))
        analysis.refresh()
        _assert_equals_full(g, analysis)
        history.undo()
        analysis.refresh()
        _assert_equals_full(g, analysis)
    analysis.close()


def test_a_merge_below_a_removed_wire_names_its_other_inputs_shape():
    """Below a removed wire a merge's outputs are unknown, and what it shows as its inputs is
    the other input's shape, also when that input's block changes in the same refresh after
    the merge was reached (the queue answers it again)."""
    g = Graph()
    x = g.add_block("input", params={"shape": [8]})
    a = g.add_block("linear", params={"out_features": 8})
    g.connect(x.id, "out", a.id, "in")
    chain = x
    for _ in range(4):  # made after ``a``: later in the kept order
        nxt = g.add_block("linear", params={"out_features": 8})
        g.connect(chain.id, "out", nxt.id, "in")
        chain = nxt
    relu = g.add_block("relu")
    g.connect(a.id, "out", relu.id, "in")
    add = g.add_block("add")
    g.connect(relu.id, "out", add.id, "in1")
    g.connect(chain.id, "out", add.id, "in2")
    after = g.add_block("relu")
    g.connect(add.id, "out", after.id, "in")
    out = g.add_block("output")
    g.connect(after.id, "out", out.id, "in")
    analysis = Analysis(g)
    wire = g.wires_into(a.id)[0]
    g.disconnect(wire.id)
    analysis.refresh()
    _assert_equals_full(g, analysis)
    assert analysis.block_info(add.id).in_shapes == (None, (BATCH, 8))
    assert analysis.block_info(after.id).out_shapes == (None,)
    g.insert_edge(wire)
    analysis.refresh()
    _assert_equals_full(g, analysis)
    # the wire removed and the other input's block changed, in one refresh
    g.disconnect(wire.id)
    g.set_params(chain.id, {"out_features": 5})
    analysis.refresh()
    _assert_equals_full(g, analysis)
    assert analysis.block_info(add.id).in_shapes == (None, (BATCH, 5))
    g.insert_edge(wire)
    analysis.refresh()
    _assert_equals_full(g, analysis)  # add now mixes 8 and 5: an error, as a full analysis says
    assert analysis.block_info(add.id).error
    g.set_params(chain.id, {"out_features": 6})  # (a refresh between: nothing is put back)
    analysis.refresh()
    assert analysis.block_info(add.id).error
    g.disconnect(wire.id)  # unknown again: the error goes with the shapes
    analysis.refresh()
    _assert_equals_full(g, analysis)
    assert not analysis.block_info(add.id).error
    assert not any(d.block_id == add.id for d in analysis.diagnostics)
    analysis.close()


_REAL_EVALUATE = Analysis._evaluate


def _evaluated(monkeypatch) -> list[str]:
    """The ids of the blocks the analysis evaluates from here on."""
    seen: list[str] = []

    def counting(self, block):
        seen.append(block.id)
        return _REAL_EVALUATE(self, block)

    monkeypatch.setattr(Analysis, "_evaluate", counting)
    return seen


def test_a_wire_put_back_after_another_edit_takes_each_blocks_last_answer(monkeypatch):
    """Not the inverse of the last refresh (a block was added between): the blocks below take
    back their answers from before the wire was removed, without being evaluated or inferred
    again, except the one whose parameters changed meanwhile and those below it."""
    import studio.compiler.analysis as analysis_module

    g = _units(6)
    analysis = Analysis(g)
    inferred: list = []
    real = analysis_module.evaluate_block
    monkeypatch.setattr(
        analysis_module,
        "evaluate_block",
        lambda spec, params, *rest: inferred.append(spec.id) or real(spec, params, *rest),
    )
    linears = [b.id for b in g.blocks.values() if b.type == "linear"]
    wire = g.wires_into(linears[2])[0]
    g.disconnect(wire.id)
    below = analysis.refresh()
    assert len(below) > 20 and inferred == ["output"]  # the rest take the unknown answer
    g.add_block("relu")
    analysis.refresh()
    g.insert_edge(wire)
    inferred.clear()
    evaluated = _evaluated(monkeypatch)
    assert analysis.refresh() >= below - {linears[2]}
    assert inferred == [] and len(evaluated) <= 2  # the wire's block and the relu, at most
    _assert_equals_full(g, analysis)
    monkeypatch.setattr(Analysis, "_evaluate", _REAL_EVALUATE)
    # a parameter changed below while the wire was out: that block is inferred again
    g.disconnect(wire.id)
    analysis.refresh()
    g.set_params(linears[-1], {"out_features": 12})
    analysis.refresh()
    g.insert_edge(wire)
    inferred.clear()
    analysis.refresh()
    assert sorted(inferred) == ["linear", "output"]
    _assert_equals_full(g, analysis)
    analysis.close()


@pytest.mark.parametrize("seed", range(4))
def test_a_wire_put_back_after_other_edits_equals_a_full_analysis(seed, monkeypatch):
    """A wire removed, then other edits (each refreshed: a width above or below it, a block
    added or removed, another wire, undo, redo), then the same wire back (in its place or as a
    new wire), then removed again at once: each step equals a full analysis. The removal's kept
    record is put back (``Analysis._rebase``) with what the edits between touched evaluated
    again, and the put back's own record serves the removal after it."""
    rebased: list = []
    real = Analysis._rebase
    monkeypatch.setattr(Analysis, "_rebase", lambda self, *a: rebased.append(1) or real(self, *a))
    rng = random.Random(seed)
    g = _units(8)
    history = History(g)
    analysis = Analysis(g)
    removed: list = []
    for _ in range(10):
        pos = g.topology().positions  # a wire in the upper two thirds: much goes unknown
        upper = [e for e in sorted(g.edges) if pos[g.edges[e].dst] * 3 < len(pos) * 2]
        wire = g.edges[rng.choice(upper)]
        g.disconnect(wire.id)
        analysis.refresh()
        for _ in range(rng.randint(1, 3)):
            linears = [b for b in g.blocks.values() if b.type == "linear"]
            if rng.random() < 0.4 and linears:  # a width anywhere: above the wire or below it
                cmd = SetParams(rng.choice(linears).id, {"out_features": rng.choice([8, 16])})
            else:
                cmd = _random_command(rng, g, removed)
            _apply(history, cmd)
            analysis.refresh()
        if wire.src not in g.blocks or wire.dst not in g.blocks:
            continue
        if g.edge_into(wire.dst, wire.dst_port) is not None:
            continue  # (the port took another wire meanwhile)
        if rng.random() < 0.5:
            g.insert_edge(wire)
        else:
            wire = g.connect(wire.src, wire.src_port, wire.dst, wire.dst_port)
        analysis.refresh()
        _assert_equals_full(g, analysis)
        g.disconnect(wire.id)  # removed again: the put back is undone from its own record
        analysis.refresh()
        _assert_equals_full(g, analysis)
        g.insert_edge(wire)
        analysis.refresh()
        _assert_equals_full(g, analysis)
    assert len(rebased) >= 3  # the new path ran
    analysis.close()


def test_the_first_wire_removed_finds_each_blocks_way_of_answering_kept(monkeypatch):
    """Each block's way of answering below an unknown is kept when it is evaluated, so the first
    wire removed in a fresh analysis asks no block for it again (equal to a full analysis)."""
    g = _units(6)
    analysis = Analysis(g)
    asked: list = []
    real = Analysis._flood_kind
    monkeypatch.setattr(
        Analysis, "_flood_kind", lambda self, bid: asked.append(bid) or real(self, bid)
    )
    linears = [b.id for b in g.blocks.values() if b.type == "linear"]
    g.disconnect(g.wires_into(linears[1])[0].id)
    assert len(analysis.refresh()) > 20
    assert asked == []
    _assert_equals_full(g, analysis)
    analysis.close()


class _Spy(dict):
    """A dict that notes each key asked for with ``get``."""

    def __init__(self, items, asked: list) -> None:
        super().__init__(items)
        self.asked = asked

    def get(self, key, default=None):
        self.asked.append(key)
        return super().get(key, default)


def test_the_first_wire_removed_anywhere_takes_the_pieces_below_it_whole():
    """A fresh analysis keeps the graph's pieces between cuts (``studio.compiler.pieces``): the
    first wire removed takes each plain piece below it at once. Removing any one wire first, in
    a fresh analysis each time, equals a full analysis; and the pieces are what let most blocks
    go unknown without the walk (below an upper wire, more than half of them)."""
    g = _units(9)
    wires = sorted(g.edges)
    taken_whole = []
    for eid in wires[::2]:
        analysis = Analysis(g)
        assert analysis._pieces
        pieces = dict(analysis._pieces)  # (as found, before the edit drops any)
        used: list = []
        analysis._pieces = _Spy(analysis._pieces, used)
        pos = g.topology().positions
        edge = g.edges[eid]
        g.disconnect(eid)
        changed = analysis.refresh()
        _assert_equals_full(g, analysis)
        whole = sum(
            len(pieces[k].plain) + len(pieces[k].merges) for k in used if pieces.get(k) is not None
        )
        if pos[edge.dst] * 3 < len(pos) and len(changed) > 20:
            taken_whole.append(whole / len(changed))
        g.insert_edge(edge)
        analysis.refresh()
        _assert_equals_full(g, analysis)
        analysis.close()
    assert taken_whole and min(taken_whole) > 0.5


@pytest.mark.parametrize("seed", range(4))
def test_random_edits_after_the_pieces_are_found_again_equal_a_full_analysis(seed):
    """The pieces are found after each full analysis and dropped piece by piece by edits (a
    wire into or out of a block inside one, its parameters, a block removed); a wire removed
    above them after random edits (each refreshed) equals a full analysis, also when the
    pieces were found again in the middle of the edits."""
    rng = random.Random(100 + seed)
    g = _units(10)
    history = History(g)
    analysis = Analysis(g)
    removed: list = []
    for step in range(30):
        if step % 10 == 5:
            analysis.invalidate()  # found again, with the graph as it is now
            analysis.refresh()
        _apply(history, _random_command(rng, g, removed))
        analysis.refresh()
        pos = g.topology().positions
        upper = [e for e in sorted(g.edges) if pos[g.edges[e].dst] * 3 < len(pos)]
        if not upper:
            continue
        edge = g.edges[rng.choice(upper)]
        g.disconnect(edge.id)
        analysis.refresh()
        _assert_equals_full(g, analysis)
        g.insert_edge(edge)
        analysis.refresh()
        _assert_equals_full(g, analysis)
    analysis.close()


def _each_edit_inside_a_piece(g: Graph):
    """Edits that change what a piece holds, each as a function of the graph: a wire from
    inside it to a new block, a merge given a third input, that input wired from outside, a
    block inside removed."""
    linears = [b.id for b in g.blocks.values() if b.type == "linear"]
    adds = [b.id for b in g.blocks.values() if b.type == "add"]
    mid_linear, mid_add = linears[len(linears) // 2], adds[len(adds) // 2]

    def wire_out_to_a_new_block():
        new = g.add_block("relu")
        g.connect(mid_linear, "out", new.id, "in")
        return new.id

    def a_third_input():
        g.set_params(mid_add, {"inputs": 3})
        return mid_add

    def the_third_input_wired_from_outside():
        g.set_params(mid_add, {"inputs": 3})
        side = g.add_block("parameter", params={"shape": [1, 16], "init": "ones"})
        g.connect(side.id, "out", mid_add, "in3")
        return mid_add

    def a_block_inside_removed():
        g.remove_block(mid_linear)
        return mid_add

    return [
        wire_out_to_a_new_block,
        a_third_input,
        the_third_input_wired_from_outside,
        a_block_inside_removed,
    ]


@pytest.mark.parametrize("case", range(4))
def test_an_edit_inside_a_piece_drops_it(case):
    """After each edit that changes what a piece holds (see ``_each_edit_inside_a_piece``), a
    wire removed above it makes the blocks the edit changed unknown as a full analysis does."""
    g = _units(9)
    analysis = Analysis(g)
    edit = _each_edit_inside_a_piece(g)[case]
    watched = edit()
    analysis.refresh()
    _assert_equals_full(g, analysis)
    first = next(b.id for b in g.blocks.values() if b.type == "linear")
    g.disconnect(g.wires_into(first)[0].id)
    analysis.refresh()
    _assert_equals_full(g, analysis)
    assert analysis.block_info(watched).out_shapes == (None,)
    analysis.close()
