"""fx import of layers whose call is more than one tensor in and out: recurrent layers and
attention returning tuples, decoders with a memory, causal masks given as keywords, and the
position blocks' own code; each imports onto its block with the original's outputs."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from studio.compiler import build_model, generate
from studio.graph.model import Graph
from studio.interop.fx_import import ModelImportError, import_module, remap_state_dict
from studio.interop.sources import load_model

SEQ = [((5, 8), "float32")]


def _faithful(module, inputs, **kw):
    """Imported with the original's outputs (checked by the import, then again here)."""
    module.eval()
    result = import_module(module, inputs, name=type(module).__name__, **kw)
    assert result.matches, result.summary()
    model = build_model(result.project.graph, result.project.name).eval()
    model.load_state_dict(remap_state_dict(module.state_dict(), result.project))  # strict
    gen = torch.Generator().manual_seed(3)
    x = [torch.randn((3, *shape), generator=gen) for shape, _ in inputs]
    with torch.no_grad():
        want, got = module(*x), model(*x)
    want = [want] if isinstance(want, torch.Tensor) else list(want)
    got = [got] if isinstance(got, torch.Tensor) else list(got)
    assert len(want) == len(got)
    for a, b in zip(want, got):
        assert a.shape == b.shape and torch.allclose(a, b, atol=1e-5)
    return result.project.graph


def _wired_ports(graph, block_type):
    (block,) = [b for b in graph.blocks.values() if b.type == block_type]
    outs = sorted({e.src_port for e in graph.edges.values() if e.src == block.id})
    ins = sorted(e.dst_port for e in graph.edges.values() if e.dst == block.id)
    return block, outs, ins


class LSTMAll(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(8, 6, num_layers=2, batch_first=True, bidirectional=True)

    def forward(self, x):
        out, (h, c) = self.lstm(x)
        return out, h, c


class Recurrent(nn.Module):
    """The final state only (``_, h = ...``), then a head on it."""

    def __init__(self, kind):
        super().__init__()
        kwargs = {"nonlinearity": "relu"} if kind is nn.RNN else {}
        self.rnn = kind(8, 6, batch_first=True, **kwargs)
        self.head = nn.Linear(6, 2)

    def forward(self, x):
        _, h = self.rnn(x)
        return self.head(h[-1])


def test_lstm_sequence_and_both_states_are_its_three_ports():
    g = _faithful(LSTMAll(), SEQ)
    lstm, outs, _ = _wired_ports(g, "lstm")
    assert outs == ["c_n", "h_n", "out"]
    assert lstm.params["bidirectional"] is True and lstm.params["num_layers"] == 2
    assert not [b for b in g.blocks.values() if b.type in ("custom_module", "function")]


@pytest.mark.parametrize("kind", [nn.GRU, nn.RNN], ids=["GRU", "RNN"])
def test_gru_and_rnn_final_state_read_as_h_n_last_is_the_last_hidden_state_output(kind):
    g = _faithful(Recurrent(kind), SEQ)
    block, outs, _ = _wired_ports(g, kind.__name__.lower())
    assert outs == ["out"] and block.params["output"] == "last hidden state"
    assert "index" not in {b.type for b in g.blocks.values()}
    if kind is nn.RNN:
        assert block.params["nonlinearity"] == "relu"


class Attention(nn.Module):
    def __init__(self, cross=False, weights=True):
        super().__init__()
        self.cross, self.weights = cross, weights
        self.q = nn.Linear(8, 8) if cross else None
        self.attn = nn.MultiheadAttention(8, 2, batch_first=True)

    def forward(self, x):
        q = self.q(x) if self.cross else x
        if not self.weights:
            out, _ = self.attn(q, x, x, need_weights=False)
            return out
        out, w = self.attn(q, x, x)
        return out, w


@pytest.mark.parametrize("cross", [False, True], ids=["self", "cross"])
def test_multihead_attention_with_its_weights(cross):
    g = _faithful(Attention(cross=cross), SEQ)
    attn, outs, ins = _wired_ports(g, "multihead_attention")
    assert attn.params["need_weights"] is True and outs == ["out", "weights"]
    # the key defaults to the query and the value to the key: wired only where they differ
    assert ins == (["key", "query"] if cross else ["query"])


def test_multihead_attention_without_weights():
    g = _faithful(Attention(weights=False), SEQ)
    attn, outs, _ = _wired_ports(g, "multihead_attention")
    assert attn.params["need_weights"] is False and outs == ["out"]


class Seq2Seq(nn.Module):
    """An encoder over the source, a causal decoder over the target (nn.Transformer's way)."""

    def __init__(self, stack):
        super().__init__()
        enc = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True)
        dec = nn.TransformerDecoderLayer(8, 2, 16, dropout=0.0, batch_first=True, activation="gelu")
        self.stack = stack
        self.encoder = nn.TransformerEncoder(enc, 2, enable_nested_tensor=False) if stack else enc
        self.decoder = nn.TransformerDecoder(dec, 2) if stack else dec

    def forward(self, src, tgt):
        mask = nn.Transformer.generate_square_subsequent_mask(src.size(1), device=src.device)
        if self.stack:
            memory = self.encoder(src, mask=mask, is_causal=True)
        else:
            memory = self.encoder(src, src_mask=mask)
        causal = nn.Transformer.generate_square_subsequent_mask(tgt.size(1), device=tgt.device)
        return self.decoder(tgt, memory, tgt_mask=causal, tgt_is_causal=True)


@pytest.mark.parametrize("stack", [False, True], ids=["layers", "stacks"])
def test_encoder_with_a_mask_keyword_and_causal_decoder(stack):
    g = _faithful(Seq2Seq(stack), [((5, 8), "float32"), ((4, 8), "float32")])
    suffix = "" if stack else "_layer"
    enc = next(b for b in g.blocks.values() if b.type == f"transformer_encoder{suffix}")
    dec, _, ins = _wired_ports(g, f"transformer_decoder{suffix}")
    assert enc.params["causal"] and dec.params["causal"] and ins == ["in", "memory"]
    assert dec.params["activation"] == "gelu" and (not stack or dec.params["num_layers"] == 2)


class Projected(nn.Module):
    def __init__(self, both):
        super().__init__()
        self.both = both
        self.lstm = nn.LSTM(8, 6, batch_first=True, proj_size=3)

    def forward(self, x):
        out, (h, c) = self.lstm(x)
        return (out, h) if self.both else out


def test_a_layer_its_block_cannot_express_is_kept_whole_or_refused_in_one_line():
    module = Projected(both=False).eval()
    result = import_module(module, SEQ, name="m")
    assert result.matches
    assert any("LSTM has no Studio block for proj_size=3" in n for n in result.notes)
    with pytest.raises(ModelImportError) as e:
        import_module(Projected(both=True).eval(), SEQ, name="m")
    assert "proj_size=3" in str(e.value) and "\n" not in str(e.value)


# --------------------------------------------------------------------------- nanoGPT
class CausalSelfAttention(nn.Module):
    """As in nanoGPT's model.py (no dropout)."""

    def __init__(self, n_embd, n_head):
        super().__init__()
        self.c_attn = nn.Linear(n_embd, 3 * n_embd)
        self.c_proj = nn.Linear(n_embd, n_embd)
        self.n_head, self.n_embd = n_head, n_embd

    def forward(self, x):
        B, T, C = x.size()
        q, k, v = self.c_attn(x).split(self.n_embd, dim=2)
        k = k.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        q = q.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        v = v.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=None, dropout_p=0.0, is_causal=True)
        y = y.transpose(1, 2).contiguous().view(B, T, C)
        return self.c_proj(y)


class Block(nn.Module):
    def __init__(self, n_embd, n_head):
        super().__init__()
        self.ln_1 = nn.LayerNorm(n_embd)
        self.attn = CausalSelfAttention(n_embd, n_head)
        self.ln_2 = nn.LayerNorm(n_embd)
        self.mlp = nn.Sequential(nn.Linear(n_embd, 4 * n_embd), nn.GELU(), nn.Linear(4 * n_embd, n_embd))

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    def __init__(self, vocab=50, block_size=12, n_embd=16, n_head=4, n_layer=2):
        super().__init__()
        self.wte = nn.Embedding(vocab, n_embd)
        self.wpe = nn.Embedding(block_size, n_embd)
        self.h = nn.ModuleList([Block(n_embd, n_head) for _ in range(n_layer)])
        self.ln_f = nn.LayerNorm(n_embd)
        self.lm_head = nn.Linear(n_embd, vocab, bias=False)

    def forward(self, idx):
        device = idx.device
        b, t = idx.size()
        pos = torch.arange(0, t, dtype=torch.long, device=device)
        x = self.wte(idx) + self.wpe(pos)
        for block in self.h:
            x = block(x)
        return self.lm_head(self.ln_f(x))


def test_nanogpt_style_model_imports_with_identical_outputs():
    torch.manual_seed(0)
    gpt = GPT().eval()
    inputs = [((8,), "int64")]  # shorter than block_size: the positions keep max_len 12
    result = import_module(gpt, inputs, name="GPT", hierarchy=False)
    assert result.matches, result.summary()
    g = result.project.graph
    model = build_model(g, "GPT").eval()
    model.load_state_dict(remap_state_dict(gpt.state_dict(), result.project))
    idx = torch.randint(0, 50, (3, 8), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert torch.allclose(gpt(idx), model(idx), atol=1e-5)
    types = [b.type for b in g.blocks.values()]
    (pos,) = [b for b in g.blocks.values() if b.type == "learned_positions"]
    assert pos.params["max_len"] == 12
    assert types.count("scaled_dot_product_attention") == 2
    assert all(b.params["is_causal"] for b in g.blocks.values() if b.type == "scaled_dot_product_attention")
    assert "custom_module" not in types
    assert math.isclose(sum(p.numel() for p in model.parameters()), sum(p.numel() for p in gpt.parameters()))


# --------------------------------------------------------------------------- position blocks
def _studio_project(*kinds, max_len=0):
    g = Graph()
    x = g.add_block("input", name="x", params={"shape": (6, 8), "dtype": "float32"})
    prev = x
    for kind in kinds:
        params = {"max_len": max_len} if kind.endswith("positions") else {}
        b = g.add_block(kind, params=params)
        g.connect(prev.id, "out", b.id, "in")
        prev = b
    out = g.add_block("output", name="out")
    g.connect(prev.id, "out", out.id, "in")
    return g


@pytest.mark.parametrize("max_len", [0, 10])
@pytest.mark.parametrize("kind", ["learned_positions", "sinusoidal_positions"])
def test_studio_position_and_token_code_imports_back_onto_its_blocks(tmp_path, kind, max_len):
    g = _studio_project("class_token", kind, "linear", max_len=max_len)
    code = generate(g, "Pos")
    path = tmp_path / "pos.py"
    path.write_text(code.source)
    loaded = load_model(f"{path}:{code.class_name}")
    with torch.no_grad():  # a trained-looking token and table, so the check can fail
        for p in loaded.module.parameters():
            p.normal_()
    back = _faithful(loaded.module, loaded.default_inputs)
    params = {b.type: b.params for b in back.blocks.values()}
    assert params[kind] == {"max_len": max_len} and params["class_token"] == {"num_tokens": 1}


class HandWrittenPE(nn.Module):
    """The tutorials' positional encoding: a 1×L×E buffer, cut to the sequence's length."""

    def __init__(self, wrong=False):
        super().__init__()
        position = torch.arange(20).unsqueeze(1)
        div = torch.exp(torch.arange(0, 8, 2) * (-math.log(10000.0) / 8))
        pe = torch.zeros(1, 20, 8)
        pe[0, :, 0::2] = torch.sin(position * div)
        pe[0, :, 1::2] = torch.cos(position * div) + (1.0 if wrong else 0.0)
        self.register_buffer("pe", pe, persistent=False)
        self.fc = nn.Linear(8, 3)

    def forward(self, x):
        return self.fc(x + self.pe.narrow(1, 0, x.size(1)))


def test_hand_written_sinusoidal_encoding_is_the_block_and_another_table_is_not():
    g = _faithful(HandWrittenPE(), SEQ)
    (pe,) = [b for b in g.blocks.values() if b.type == "sinusoidal_positions"]
    assert pe.params == {"max_len": 20}
    # a table that is not the sinusoidal one: a Buffer block holding its values, not saved
    g = _faithful(HandWrittenPE(wrong=True), SEQ)
    assert not [b for b in g.blocks.values() if b.type == "sinusoidal_positions"]
    (buffer,) = [b for b in g.blocks.values() if b.type == "buffer"]
    assert buffer.params["init"] == "values" and buffer.params["persistent"] is False


# --------------------------------------------------------------------------- Studio's own code
ROUND_TRIPS = [
    ("lstm", {"num_layers": 2, "bidirectional": True}),
    ("gru", {}),
    ("rnn", {"nonlinearity": "relu"}),
    ("lstm", {"output": "last hidden state"}),
    ("gru", {"output": "last hidden state", "bidirectional": True, "num_layers": 2}),
    ("multihead_attention", {"num_heads": 2, "need_weights": True, "average_attn_weights": False}),
    ("multihead_attention", {"num_heads": 2}),
    ("transformer_encoder_layer", {"nhead": 2, "dim_feedforward": 16, "causal": True}),
    ("transformer_encoder", {"nhead": 2, "dim_feedforward": 16, "causal": True, "final_norm": True}),
    ("transformer_decoder_layer", {"nhead": 2, "dim_feedforward": 16, "causal": True, "norm_first": True}),
    ("transformer_decoder", {"nhead": 2, "dim_feedforward": 16, "num_layers": 3}),
    ("scaled_dot_product_attention", {"is_causal": True}),
]


@pytest.mark.parametrize(("kind", "params"), ROUND_TRIPS, ids=[f"{k}-{i}" for i, (k, _) in enumerate(ROUND_TRIPS)])
def test_studio_code_for_each_layer_imports_back_onto_the_same_block(tmp_path, kind, params):
    g = Graph()
    x = g.add_block("input", name="x", params={"shape": (6, 8), "dtype": "float32"})
    block = g.add_block(kind, params=params)
    g.connect(x.id, "out", block.id, block.input_ports()[0].name)
    if kind.startswith("transformer_decoder"):
        memory = g.add_block("input", name="memory", params={"shape": (4, 8), "dtype": "float32"})
        g.connect(memory.id, "out", block.id, "memory")
    for port in block.output_ports():
        out = g.add_block("output", name=f"out_{port.name}")
        g.connect(block.id, port.name, out.id, "in")
    code = generate(g, "Layer")
    path = tmp_path / "layer.py"
    path.write_text(code.source)
    loaded = load_model(f"{path}:{code.class_name}")
    back = _faithful(loaded.module, loaded.default_inputs)
    (again,) = [b for b in back.blocks.values() if b.type == kind]
    assert again.params == block.params
    assert len([b for b in back.blocks.values() if b.type == "output"]) == len(block.output_ports())
    assert generate(back, "Layer").source == code.source



def test_studio_code_with_a_one_line_docstring_imports_back_with_its_shapes(tmp_path):
    """A short model's docstring is one line (``Maps x (N×8, float32) to scores (N×4); N is
    the batch size.``); import reads its input shapes, types and output names from it as from
    the long form's Inputs: and Returns: sections."""
    g = Graph()
    x = g.add_block("input", name="x", params={"shape": (8,), "dtype": "float32"})
    fc = g.add_block("linear", params={"out_features": 4})
    g.connect(x.id, "out", fc.id, fc.input_ports()[0].name)
    out = g.add_block("output", name="scores")
    g.connect(fc.id, "out", out.id, "in")
    code = generate(g, "Small")
    assert '    """Maps x (N×8, float32) to scores (N×4); N is the batch size."""' in code.source
    path = tmp_path / "small.py"
    path.write_text(code.source)
    loaded = load_model(f"{path}:{code.class_name}")
    assert loaded.default_inputs == [((8,), "float32")]
    back = _faithful(loaded.module, loaded.default_inputs)
    assert [b.name for b in back.blocks.values() if b.type == "output"] == ["scores"]
    assert generate(back, "Small").source == code.source


def test_a_one_line_docstring_with_several_inputs_and_outputs_is_read_whole():
    from studio.interop.sources import studio_input_specs, studio_output_names

    class Two(torch.nn.Module):
        """Maps a (N×3, float32), ids (N×5, int64) to y (N×4), h_n (1×N×64); N is the batch size."""

    assert studio_input_specs(Two) == [((3,), "float32"), ((5,), "int64")]
    assert studio_output_names(Two) == ["y", "h_n"]
