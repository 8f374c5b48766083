"""The tied head reuses the Embedding's weight: one matrix, trained from both ends."""

import torch

from studio.compiler import analyze, build_model, generate
from studio.graph.model import Graph


def _gpt_ends(head_params):
    g = Graph()
    x = g.add_block("input", name="tokens", params={"shape": [6], "dtype": "int64"})
    emb = g.add_block("embedding", name="token_embedding", params={"num_embeddings": 11, "embedding_dim": 8})
    ln = g.add_block("layernorm", name="ln_f")
    head = g.add_block("tied_head", name="lm_head", params=head_params)
    out = g.add_block("output", name="logits")
    for a, b in ((x, emb), (emb, ln), (ln, head), (head, out)):
        g.connect(a.id, "out", b.id, "in")
    return g, head


def test_the_tied_head_shares_the_embedding_matrix():
    g, head = _gpt_ends({"embedding": "token_embedding", "vocab": 11})
    a = analyze(g)
    assert a.ok, a.errors
    assert a.block_info(head.id).out_shapes[0][1:] == (6, 11) and a.block_info(head.id).params == 0
    assert "self.token_embedding.weight)" in generate(g).source  # no matrix of its own
    model = build_model(g)
    assert sum(p.numel() for p in model.parameters()) == 11 * 8 + 2 * 8
    tokens = torch.randint(0, 11, (2, 6))
    model(tokens).sum().backward()
    assert model.token_embedding.weight.grad is not None
    manual = torch.nn.functional.linear(model.ln_f(model.token_embedding(tokens)), model.token_embedding.weight)
    assert torch.allclose(model(tokens), manual)


def test_a_bad_embedding_name_is_one_line():
    g, head = _gpt_ends({"embedding": "not a name", "vocab": 11})
    assert "not a block name" in analyze(g).errors[0].message
