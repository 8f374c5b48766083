from studio.graph.layout import layered_layout
from tests.helpers import mlp


def test_layout_goes_left_to_right_in_data_order():
    g = mlp()
    pos = layered_layout(g)
    xs = [pos[b.id][0] for b in g]  # mlp() creates blocks in data order
    assert xs == sorted(xs) and len(set(xs)) == len(xs)


def test_branches_share_a_column_and_do_not_overlap():
    g = mlp()
    x = g.block_by_name("x")
    side = g.add_block("linear")
    g.connect(x.id, "out", side.id, "in")
    pos = layered_layout(g)
    fc1 = g.block_by_name("fc1")
    assert pos[side.id][0] == pos[fc1.id][0]
    assert pos[side.id][1] != pos[fc1.id][1]
