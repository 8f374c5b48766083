"""The Tie weights block: one tensor under two names (GPT-2's lm_head.weight is
transformer.wte.weight), both keys kept, counted and trained once."""

import torch

from studio.compiler import analyze, build_model, generate
from studio.graph.model import Graph


def _tied(attribute: str = "head.weight", to: str = "embed.weight") -> Graph:
    g = Graph()
    x = g.add_block("input", name="tokens", params={"shape": [5], "dtype": "int64"})
    emb = g.add_block("embedding", name="embed", params={"num_embeddings": 11, "embedding_dim": 8})
    head = g.add_block("linear", name="head", params={"out_features": 11, "bias": False})
    out = g.add_block("output", name="logits")
    for a, b in ((x, emb), (emb, head), (head, out)):
        g.connect(a.id, "out", b.id, "in")
    g.add_block("tie", params={"attribute": attribute, "to": to})
    return g


def test_a_tied_weight_is_the_other_layer_s_tensor():
    g = _tied()
    assert analyze(g).ok
    assert "        self.head.weight = self.embed.weight\n" in generate(g).source
    model = build_model(g)
    assert model.head.weight is model.embed.weight
    assert sum(p.numel() for p in model.parameters()) == 11 * 8
    assert set(model.state_dict()) == {"embed.weight", "head.weight"}
    model(torch.randint(0, 11, (2, 5))).sum().backward()
    assert model.embed.weight.grad is not None  # trained from both ends


def test_a_list_position_in_a_path_is_an_index_and_anything_else_is_refused():
    from studio.blocks.catalogue.shared import attribute_path

    assert attribute_path("h.0.attn.weight") == "self.h[0].attn.weight"
    assert attribute_path("x; import os") is None and attribute_path("0.weight") is None
    errors = analyze(_tied(attribute="head.weight; import os")).errors
    assert errors and "is not an attribute's path" in errors[0].message


def test_a_tie_is_no_problem_and_its_weight_is_counted_once_as_torch_counts_it():
    """The tie block is declared without ports: it leads to no Output by design, so neither
    the one-off nor the kept-up-to-date checks warn about it; the totals are the built model's
    ``parameters()`` sum, also after the tie is added to and removed from a live analysis."""
    from studio.compiler.analysis import Analysis
    from studio.graph.validation import Validation, validate

    g = _tied()
    assert validate(g) == [] and analyze(g).diagnostics == []
    assert analyze(g).totals().params == sum(p.numel() for p in build_model(g).parameters())
    tie = next(b for b in g.blocks.values() if b.type == "tie")
    g.remove_block(tie.id)
    live, checks = Analysis(g), Validation(g)
    assert live.totals().params == 11 * 8 * 2  # untied: two matrices
    tie = g.add_block("tie", params={"attribute": "head.weight", "to": "embed.weight"})
    live.refresh()
    assert live.totals().params == live.totals().trainable == 11 * 8
    assert live.diagnostics == [] and checks.diagnostics() == []
    g.set_params(tie.id, {"attribute": "head"})  # the whole layer: the same count here
    live.refresh()
    assert live.totals().params == 11 * 8
    g.remove_block(tie.id)
    live.refresh()
    assert live.totals().params == 11 * 8 * 2
