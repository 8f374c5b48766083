"""Names in the generated forward say what they hold, as torchvision and nanoGPT write them: a
residual branch is ``out``, its shortcut ``identity``, an attention's result is not ``query``."""

from __future__ import annotations

from pathlib import Path

from studio.compiler import generate
from studio.graph.project import load_project

EXAMPLES = Path(__file__).resolve().parents[2] / "resources" / "examples"


def _forward(source: str, cls: str) -> list[str]:
    """The statements of `cls`'s forward."""
    body = source[source.index(f"class {cls}(") :]
    body = body[body.index("    def forward(") :]
    lines = []
    for line in body.splitlines()[1:]:
        if not line.startswith("        "):
            break
        lines.append(line.strip())
    return lines


def test_a_residual_branch_is_out_and_its_shortcut_identity():
    project = load_project(EXAMPLES / "shapes_resnet.studio.json")
    source = generate(project.graph, project.name).source
    plain = _forward(source, "ResidualUnit") if "class ResidualUnit(" in source else None
    down = _forward(source, "DownsampleUnit")
    assert down[0] == "out = self.conv1(x)" and "out = self.bn2(out)" in down
    assert "identity = self.downsample(x)" in down and "out = out + identity" in down
    assert down[-1] == "return out"
    if plain is not None:
        assert plain[0] == "out = self.conv1(x)" and "x = out + x" in plain
    assert not any(line.strip().startswith("conv1 = ") for line in source.splitlines())  # no branch
    # named after its first layer


def test_an_attention_output_is_not_called_query_and_a_block_adds_out_to_x():
    project = load_project(EXAMPLES / "tiny_gpt.studio.json")
    source = generate(project.graph, project.name).source
    attention = _forward(source, "CausalSelfAttention")
    call = next(line for line in attention if "scaled_dot_product_attention" in line)
    assert call.startswith("attention = F.scaled_dot_product_attention(query, key, value")
    assert not any(line.startswith("query = ") for line in attention[attention.index(call) :])
    block = _forward(source, "Block")
    assert block == ["out = self.ln_1(x)", "out = self.attn(out)", "x = out + x",
                     "out = self.ln_2(x)", "out = self.mlp(out)", "x = out + x", "return x"]


def test_a_chain_without_merges_keeps_the_argument_name():
    project = load_project(EXAMPLES / "mlp_classifier.studio.json")
    lines = _forward(generate(project.graph, project.name).source, "SpiralClassifier")
    assert lines[0] == "points = self.fc1(points)" and lines[-1] == "return points"


def test_renaming_a_branch_renames_a_tuple_target_but_never_a_keyword_or_an_attribute():
    """shufflenet's `chunk, chunk_out2 = x.chunk(2, dim=1)` then `self.branch2(chunk_out2)`:
    the second target is renamed with its readers (it was left out as if it were a keyword)."""
    from studio.compiler.forward import rename_names

    renames = {"chunk_out2": "out"}
    assert rename_names("chunk, chunk_out2 = x.chunk(2, dim=1)", renames) == "chunk, out = x.chunk(2, dim=1)"
    assert rename_names("y = f(chunk_out2=chunk_out2)", renames) == "y = f(chunk_out2=out)"
    assert rename_names("y = self.chunk_out2(chunk_out2)", renames) == "y = self.chunk_out2(out)"


def test_a_reshape_and_a_transpose_join_the_statement_that_made_their_input():
    """As nanoGPT and transformers write attention: ``self.query(x).reshape(...).transpose(1, 2)``
    (the batch read from ``x``, whose first size is the batch too); a value another block also
    reads keeps its own statement, and the joined class computes what separate steps compute."""
    import torch

    from studio.compiler import build_model
    from studio.graph.model import Graph

    project = load_project(EXAMPLES / "tiny_gpt.studio.json")
    attention = _forward(generate(project.graph, project.name).source, "CausalSelfAttention")
    assert attention[:3] == [f"{v} = self.{v}(x).reshape(x.shape[0], -1, 4, 16).transpose(1, 2)"
                             for v in ("query", "key", "value")]
    assert "attention = attention.transpose(1, 2).reshape(attention.shape[0], -1, 64)" in attention
    g = Graph()
    x = g.add_block("input", name="x", params={"shape": [6, 8]})
    fc = g.add_block("linear", name="fc", params={"out_features": 8})
    heads = g.add_block("reshape", name="heads", params={"shape": [-1, 2, 4]})
    swap = g.add_block("transpose", name="swap", params={"dim0": 1, "dim1": 2})
    side = g.add_block("relu", name="side")
    out, out2 = g.add_block("output", name="y"), g.add_block("output", name="z")
    for a, b in ((x, fc), (fc, heads), (heads, swap), (swap, out), (heads, side), (side, out2)):
        g.connect(a.id, "out", b.id, b.input_ports()[0].name)
    lines = _forward(generate(g, "Net").source, "Net")
    assert lines[0] == "x = self.fc(x).reshape(x.shape[0], -1, 2, 4)"  # the old x on the right
    assert lines[1] == "swap = x.transpose(1, 2)"  # its input is read twice: a statement of its own
    y, z = build_model(g)(torch.randn(3, 6, 8))
    assert y.shape == (3, 2, 6, 4) and z.shape == (3, 6, 2, 4)


def test_an_embeddings_vectors_are_x_not_the_token_ids_name():
    """nanoGPT's ``x = tok_emb + pos_emb``: the Embedding's value is ``x`` (it holds vectors,
    not the ids the argument holds), and the learned positions fit on one line; where ``x`` is
    taken (an input called x) the value keeps its input's name."""
    import torch

    from studio.compiler import build_model
    from studio.graph.model import Graph

    project = load_project(EXAMPLES / "tiny_gpt.studio.json")
    lines = _forward(generate(project.graph, project.name).source, "TinyGPT")
    assert lines[:2] == ["x = self.token_embedding(tokens)",
                         "x = x + self.position_embedding(torch.arange(x.size(1), device=x.device))"]
    assert lines[-1] == "return x" and not any(line.startswith("tokens = ") for line in lines)
    g = Graph()
    ids = g.add_block("input", name="x", params={"shape": [5], "dtype": "int64"})
    embed = g.add_block("embedding", name="embed", params={"num_embeddings": 9, "embedding_dim": 4})
    out = g.add_block("output", name="y")
    for a, b in ((ids, embed), (embed, out)):
        g.connect(a.id, "out", b.id, b.input_ports()[0].name)
    assert _forward(generate(g, "Net").source, "Net") == ["x = self.embed(x)", "return x"]
    assert build_model(g)(torch.zeros(2, 5, dtype=torch.long)).shape == (2, 5, 4)
