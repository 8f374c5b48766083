"""The transformer parts as a model uses them: causal options hide the future, dropout acts
only while training, positions are added and accept shorter sequences, the class token is
prepended; and bad inputs get a one-line reason."""

import math
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F

from studio.compiler import analyze, build_model, generate
from studio.graph.model import Graph


def _graph(type_id: str, params: dict, shape=(6, 8), memory: bool = False) -> Graph:
    """x (and memory) -> block -> y"""
    g = Graph()
    x = g.add_block("input", name="x", params={"shape": list(shape)})
    b = g.add_block(type_id, name="block", params=params)
    g.connect(x.id, "out", b.id, b.input_ports()[0].name)
    if memory:
        m = g.add_block("input", name="memory", params={"shape": list(shape)})
        g.connect(m.id, "out", b.id, "memory")
    g.connect(b.id, "out", g.add_block("output", name="y").id, "in")
    return g


def _with_mask_block() -> Graph:
    g = Graph()
    x = g.add_block("input", name="x", params={"shape": [6, 8]})
    mask = g.add_block("causal_mask", name="mask")
    att = g.add_block("scaled_dot_product_attention", name="att")
    g.connect(x.id, "out", mask.id, "in")
    g.connect(x.id, "out", att.id, "query")
    g.connect(mask.id, "out", att.id, "mask")
    g.connect(att.id, "out", g.add_block("output").id, "in")
    return g


CAUSAL = [
    ("scaled_dot_product_attention", {"is_causal": True}),
    ("transformer_encoder_layer", {"nhead": 2, "causal": True, "dropout": 0.0}),
    ("transformer_encoder", {"nhead": 2, "causal": True, "num_layers": 2, "norm_first": True, "final_norm": True}),
    ("transformer_decoder_layer", {"nhead": 2, "causal": True}),
    ("transformer_decoder", {"nhead": 2, "causal": True, "num_layers": 2}),
]


def _future_leaks(g: Graph) -> bool:
    """Whether changing the last position changes the outputs at earlier positions."""
    torch.manual_seed(0)
    model = build_model(g).eval()
    inputs = [torch.randn(2, 6, 8) for b in g if b.type == "input"]
    changed = [t.clone() for t in inputs]
    changed[0][:, -1] = torch.randn(2, 8)  # not a uniform shift: LayerNorm would undo that
    with torch.no_grad():
        a, b = model(*inputs), model(*changed)
    assert torch.allclose(a[:, -1], b[:, -1]) is False  # the last position itself does change
    return not torch.allclose(a[:, :-1], b[:, :-1], atol=1e-6)


@pytest.mark.parametrize(("type_id", "params"), CAUSAL, ids=[t for t, _ in CAUSAL])
def test_the_causal_option_hides_later_positions(type_id, params):
    memory = "decoder" in type_id
    assert not _future_leaks(_graph(type_id, params, memory=memory))
    assert _future_leaks(_graph(type_id, {**params, ("is_causal" if "scaled" in type_id else "causal"): False}, memory=memory))


def test_a_causal_mask_block_wired_into_attention_hides_later_positions():
    assert not _future_leaks(_with_mask_block())
    g = _with_mask_block()
    att = g.block_by_name("att")
    g.set_params(att.id, {"is_causal": True})
    assert "either the causal option or a mask" in analyze(g).errors[0].message


def test_attention_dropout_acts_while_training_only():
    g = _graph("scaled_dot_product_attention", {"dropout_p": 0.5})
    model = build_model(g)
    x = torch.randn(2, 6, 8)
    model.eval()
    assert torch.allclose(model(x), F.scaled_dot_product_attention(x, x, x), atol=1e-6)
    model.train()
    torch.manual_seed(1)
    assert not torch.allclose(model(x), F.scaled_dot_product_attention(x, x, x), atol=1e-3)


def test_sinusoidal_positions_add_the_fixed_table_and_are_not_saved_with_the_weights():
    g = _graph("sinusoidal_positions", {"max_len": 10})
    model = build_model(g)
    assert model.state_dict() == {} and sum(p.numel() for p in model.parameters()) == 0
    x = torch.zeros(2, 4, 8)  # shorter than the 6 of the Input: a prompt
    table = model(x)[0]
    assert table.shape == (4, 8)
    pos, i = 3, 1
    assert table[pos, 2 * i].item() == pytest.approx(math.sin(pos / 10000 ** (2 * i / 8)), abs=1e-6)
    assert table[pos, 2 * i + 1].item() == pytest.approx(math.cos(pos / 10000 ** (2 * i / 8)), abs=1e-6)


def test_learned_positions_default_to_the_input_length_and_accept_shorter_sequences():
    g = _graph("learned_positions", {})
    model = build_model(g)
    assert sum(p.numel() for p in model.parameters()) == 6 * 8
    x = torch.randn(2, 3, 8)
    assert torch.equal(model(x), x + model.block.weight[:3])
    short = _graph("learned_positions", {"max_len": 4})
    assert "longer than the 4 positions" in analyze(short).errors[0].message


def test_the_class_token_is_prepended_to_every_sample():
    g = _graph("class_token", {"num_tokens": 2})
    model = build_model(g)
    x = torch.randn(3, 6, 8)
    y = model(x)
    assert y.shape == (3, 8, 8)
    assert torch.equal(y[:, 2:], x)
    assert torch.equal(y[0, :2], y[2, :2])
    assert model.state_dict()["block"].shape == (1, 2, 8)


BAD = [
    ("conv3d", {}, (4, 8, 8), "Conv3d needs a 5-D input (N×C×D×H×W) but gets N×4×8×8"),
    ("pixel_shuffle", {"upscale_factor": 2}, (3, 8, 8), "needs channels divisible by 4; it gets 3"),
    ("zeropad2d", {"padding": (1, 2, 3)}, (3, 8, 8), "padding needs 1 number (every side) or 4"),
    ("hardtanh", {"min_val": 2.0, "max_val": 1.0}, (8,), "min (2) must be below its max (1)"),
    ("upsample", {"mode": "bilinear"}, (3, 8), "Use mode 'nearest' or 'linear' for it"),
    ("instancenorm2d", {}, (3, 8), "InstanceNorm2d needs a 4-D input"),
    ("sinusoidal_positions", {}, (6, 7), "need an even embedding size"),
    ("transformer_decoder", {"nhead": 3}, (6, 8), "must divide evenly into 3 heads"),
    ("glu", {}, (7,), "its size is 7 (odd)"),
]


@pytest.mark.parametrize(("type_id", "params", "shape", "message"), BAD, ids=[b[0] for b in BAD])
def test_a_bad_input_gets_a_one_line_reason(type_id, params, shape, message):
    g = _graph(type_id, params, shape=shape, memory="decoder" in type_id)
    errors = analyze(g).errors
    assert errors and message in errors[0].message and "\n" not in errors[0].message


def _chain(g: Graph, *blocks) -> None:
    for a, b in zip(blocks, blocks[1:]):
        g.connect(a.id, "out", b.id, b.input_ports()[0].name)


def test_a_tiny_gpt_of_blocks_exports_ruff_clean_code_that_learns_and_takes_a_shorter_prompt(tmp_path):
    """tokens -> embedding + positions -> causal self-attention from Linear/reshape/SDPA parts
    -> causal encoder stack -> head: what the GPT example is built from."""
    g = Graph()
    add = g.add_block
    tokens = add("input", name="tokens", params={"shape": [8], "dtype": "int64"})
    embed = add("embedding", name="embed", params={"num_embeddings": 20, "embedding_dim": 16})
    pos = add("learned_positions", name="pos")
    qkv = add("linear", name="qkv", params={"out_features": 16})
    heads = add("reshape", name="heads", params={"shape": (-1, 2, 8)})
    split = add("transpose", name="split", params={"dim0": 1, "dim1": 2})
    att = add("scaled_dot_product_attention", name="att", params={"is_causal": True, "dropout_p": 0.1})
    merge = add("transpose", name="merge", params={"dim0": 1, "dim1": 2})
    flat = add("reshape", name="flat", params={"shape": (-1, 16)})
    blocks = add("transformer_encoder", name="blocks", params={
        "nhead": 2, "num_layers": 2, "causal": True, "norm_first": True, "final_norm": True, "dropout": 0.0})
    head = add("linear", name="head", params={"out_features": 20})
    _chain(g, tokens, embed, pos, qkv, heads, split, att, merge, flat, blocks, head, add("output", name="logits"))
    analysis = analyze(g)
    assert analysis.errors == []
    source = generate(g, "tiny gpt", analysis).source
    path = tmp_path / "gpt.py"
    path.write_text(source)
    ruff = subprocess.run([sys.executable, "-m", "ruff", "check", "--isolated", "--select", "E,F,W,I,B,UP",
                           "--target-version", "py310", str(path)], capture_output=True, text=True)
    assert ruff.returncode == 0, ruff.stdout
    torch.manual_seed(0)
    model = build_model(g)
    data = torch.randint(0, 20, (16, 9))
    x, y = data[:, :-1], data[:, 1:]
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(30):
        loss = F.cross_entropy(model(x).flatten(0, 1), y.flatten())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] * 0.8
    model.eval()
    with torch.no_grad():
        assert model(x[:, :3]).shape == (16, 3, 20)  # a prompt shorter than the window
