"""Small graph builders shared by tests."""

from __future__ import annotations

import pytest

from studio.graph.model import Graph


def chain(graph: Graph, *blocks) -> None:
    for a, b in zip(blocks, blocks[1:]):
        graph.connect(a.id, "out", b.id, b.input_ports()[0].name)


def mlp(in_features: int = 2, hidden: int = 16, classes: int = 3) -> Graph:
    g = Graph()
    x = g.add_block("input", name="x", params={"shape": [in_features]})
    fc1 = g.add_block("linear", name="fc1", params={"out_features": hidden})
    act = g.add_block("relu", name="act")
    fc2 = g.add_block("linear", name="fc2", params={"out_features": classes})
    out = g.add_block("output", name="logits")
    chain(g, x, fc1, act, fc2, out)
    return g


def backbone_graph(shape=(3, 64, 64), **params) -> tuple[Graph, object]:
    """image -> Backbone(**params) -> out; returns the graph and the backbone block."""
    g = Graph()
    x = g.add_block("input", name="image", params={"shape": list(shape)})
    b = g.add_block("backbone", name="backbone", params=params)
    o = g.add_block("output", name="out")
    g.connect(x.id, "out", b.id, "in")
    g.connect(b.id, "out", o.id, "in")
    return g, b


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Tiny tensors: threads only add noise (used as an autouse fixture by the torch test folders)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
