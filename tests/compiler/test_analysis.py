from studio.compiler import Analysis, analyze
from studio.graph.commands import History, SetParams
from tests.helpers import mlp


def test_an_edit_reevaluates_only_what_it_can_change():
    g = mlp(hidden=16)
    analysis = Analysis(g)
    ids = {b.name: b.id for b in g}
    # a width change reaches the next layer, whose output shape stays: inference stops there
    g.set_params(ids["fc1"], {"out_features": 32})
    assert analysis.refresh() == {ids["fc1"], ids["act"], ids["fc2"]}
    # a change that alters no shape touches just that block
    g.set_params(ids["fc2"], {"bias": False})
    assert analysis.refresh() == {ids["fc2"]}
    # and the incremental result equals a fresh full analysis
    fresh = analyze(g)
    assert {b: analysis.info[b] for b in g.blocks} == {b: fresh.info[b] for b in g.blocks}


def test_shapes_and_counts_follow_undo():
    g = mlp(hidden=16)
    analysis = Analysis(g)
    h = History(g)
    fc1 = g.block_by_name("fc1").id
    before = analysis.totals()
    h.push(SetParams(fc1, {"out_features": 100}))
    analysis.refresh()
    assert analysis.block_info(fc1).out_text == "N×100"
    assert analysis.totals().params == (2 * 100 + 100) + (100 * 3 + 3)
    h.undo()
    analysis.refresh()
    assert analysis.block_info(fc1).out_text == "N×16"
    assert analysis.totals() == before


def test_frozen_blocks_count_as_frozen_parameters():
    g = mlp(hidden=16)
    g.set_frozen(g.block_by_name("fc1").id, True)
    t = analyze(g).totals()
    assert t.frozen == 2 * 16 + 16 and t.trainable == t.params - t.frozen
    assert t.size_mb > 0 and t.macs == 2 * 16 + 16 * 3
