"""Blocks with several outputs: the recurrent layers pass on their states, MultiheadAttention
its weights, each as its own port, and files saved before those ports existed still open."""

import json

import pytest
import torch

from studio.blocks.registry import BATCH
from studio.compiler import analyze, build_model, generate
from studio.graph.errors import GraphError
from studio.graph.model import Graph
from studio.graph.project import FORMAT_VERSION, loads


def _wired(type_id: str, params: dict, ports: list[str], shape=(5, 8)) -> Graph:
    g = Graph()
    x = g.add_block("input", name="x", params={"shape": list(shape)})
    b = g.add_block(type_id, name=type_id, params=params)
    g.connect(x.id, "out", b.id, b.input_ports()[0].name)
    for port in ports:
        g.connect(b.id, port, g.add_block("output", name=f"y_{port}").id, "in")
    return g


@pytest.mark.parametrize(
    ("type_id", "ports"),
    [("lstm", ["out", "h_n", "c_n"]), ("gru", ["out", "h_n"]), ("rnn", ["out", "h_n"])],
)
def test_a_recurrent_layer_gives_its_output_and_states_as_torch_does(type_id, ports):
    g = _wired(type_id, {"hidden_size": 6, "num_layers": 2}, ports)
    assert [p.name for p in g.block_by_name(type_id).output_ports()] == ports
    model = build_model(g).eval()
    layer = getattr(model, type_id)
    x = torch.randn(3, 5, 8)
    with torch.no_grad():
        got = model(x)
        out, state = layer(x)
    want = (out, *state) if type_id == "lstm" else (out, state)
    assert len(got) == len(want)
    for a, b in zip(got, want):
        assert torch.equal(a, b)
    analysis = analyze(g)
    shapes = [analysis.block_info(g.block_by_name(f"y_{p}").id).in_shapes[0] for p in ports]
    assert shapes == [(BATCH, 5, 6)] + [(2, BATCH, 6)] * (len(ports) - 1)


def test_the_code_unpacks_the_states_into_named_variables_and_unused_ones_do_no_harm():
    g = _wired("lstm", {"hidden_size": 6}, ["c_n"])  # only the cell state is used
    source = generate(g, "m").source
    assert "lstm, (lstm_h_n, lstm_c_n) = self.lstm(x)" in source
    assert "return lstm_c_n" in source
    assert build_model(g)(torch.randn(2, 5, 8)).shape == (1, 2, 6)


def test_the_last_hidden_state_choice_still_feeds_the_first_port_with_the_states_beside_it():
    g = _wired("gru", {"hidden_size": 6, "bidirectional": True, "output": "last hidden state"}, ["out", "h_n"])
    last, h_n = build_model(g).eval()(torch.randn(3, 5, 8))
    assert last.shape == (3, 12) and h_n.shape == (2, 3, 6)
    assert torch.equal(last, torch.cat([h_n[-2], h_n[-1]], dim=1))


def test_a_file_saved_before_the_state_ports_opens_and_computes_the_same():
    doc = {
        "format_version": FORMAT_VERSION, "app": "studio", "name": "old",
        "graph": {
            "blocks": [
                {"id": "b1", "type": "input", "version": 1, "name": "x", "params": {"shape": [5, 8]}, "position": [0, 0]},
                {"id": "b2", "type": "lstm", "version": 1, "name": "lstm",
                 "params": {"hidden_size": 6, "output": "last hidden state"}, "position": [0, 0]},
                {"id": "b3", "type": "output", "version": 1, "name": "y", "params": {}, "position": [0, 0]},
            ],
            "edges": [
                {"id": "e1", "from": ["b1", "out"], "to": ["b2", "in"]},
                {"id": "e2", "from": ["b2", "out"], "to": ["b3", "in"]},
            ],
        },
    }
    project = loads(json.dumps(doc))
    model = build_model(project.graph).eval()
    x = torch.randn(3, 5, 8)
    with torch.no_grad():
        _, (h_n, _) = model.lstm(x)
        assert torch.equal(model(x), h_n[-1])


def test_multihead_attention_gives_its_weights_as_a_second_port_when_asked():
    g = _wired("multihead_attention", {"num_heads": 2, "need_weights": True}, ["out", "weights"])
    model = build_model(g).eval()
    x = torch.randn(3, 5, 8)
    out, weights = model(x)
    assert out.shape == (3, 5, 8) and weights.shape == (3, 5, 5)
    assert torch.allclose(weights.sum(-1), torch.ones(3, 5))
    per_head = _wired("multihead_attention", {"num_heads": 2, "need_weights": True, "average_attn_weights": False},
                      ["out", "weights"])
    assert build_model(per_head)(x)[1].shape == (3, 2, 5, 5)
    block = g.block_by_name("multihead_attention")
    with pytest.raises(GraphError, match="Remove the wire on port 'weights'"):
        g.set_params(block.id, {"need_weights": False})


def test_multihead_attention_without_weights_keeps_one_port_and_skips_computing_them():
    g = _wired("multihead_attention", {"num_heads": 2}, ["out"])
    assert [p.name for p in g.block_by_name("multihead_attention").output_ports()] == ["out"]
    assert "need_weights=False" in generate(g, "m").source
