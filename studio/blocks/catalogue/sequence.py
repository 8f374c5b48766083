"""Shape and sequence layers: flatten/reshape, embeddings, recurrent layers and attention.

Registered after :mod:`studio.blocks.catalogue.layers` (see ``MODULES``), so the palette keeps
the categories Shape, then Sequence & attention, after Normalisation & regularisation.
"""

from __future__ import annotations

from studio.blocks.catalogue.layers import needs_rank
from studio.blocks.params import Bool, Choice, Float, Int, Ints
from studio.blocks.registry import (
    IMPORT_NN,
    IMPORT_TORCH,
    BlockType,
    EmitContext,
    Module,
    Op,
    Port,
    opt,
    register,
)

SHAPE = "Shape"
SEQ = "Sequence & attention"


register(
    BlockType(
        id="flatten",
        label="Flatten",
        category=SHAPE,
        description="Joins dimensions into one, e.g. N×16×7×7 → N×784, before a Linear layer.",
        torch_name="nn.Flatten",
        params={
            "start_dim": Int(1, "start dim", min=-8, max=8),
            "end_dim": Int(-1, "end dim", min=-8, max=8),
        },
        emitter=Module(
            "nn.Flatten",
            kwargs=lambda c: {"start_dim": opt(c.p.start_dim, 1), "end_dim": opt(c.p.end_dim, -1)},
        ),
        name_base="flatten",
        keywords=("reshape", "view"),
    )
)

register(
    BlockType(
        id="unflatten",
        label="Unflatten",
        category=SHAPE,
        description="Splits one dimension into several, e.g. N×784 → N×1×28×28.",
        torch_name="nn.Unflatten",
        params={
            "dim": Int(1, min=-8, max=8),
            "sizes": Ints((1, 28, 28), key=True, min_len=1, max_len=6, allow_infer=True),
        },
        emitter=Module("nn.Unflatten", args=lambda c: [c.p.dim, c.p.sizes]),
        name_base="unflatten",
        keywords=("reshape", "view"),
    )
)

register(
    BlockType(
        id="reshape",
        label="Reshape",
        category=SHAPE,
        description="Gives each sample a new shape with the same number of values (-1 infers one size).",
        torch_name="Tensor.reshape",
        params={"shape": Ints((-1,), key=True, min_len=1, max_len=6, allow_infer=True)},
        emitter=Op(lambda c: f"{c.x}.reshape({c.x}.shape[0], {', '.join(str(s) for s in c.p.shape)})"),
        name_base="reshape",
        keywords=("view", "flatten"),
    )
)

register(
    BlockType(
        id="embedding",
        label="Embedding",
        category=SEQ,
        description="Looks up a learned vector for each integer token id (input dtype int64).",
        torch_name="nn.Embedding",
        params={
            "num_embeddings": Int(1000, "vocabulary size", key=True, min=1, max=1 << 24),
            "embedding_dim": Int(64, "embedding dim", key=True, min=1),
        },
        emitter=Module("nn.Embedding", args=lambda c: [c.p.num_embeddings, c.p.embedding_dim]),
        check=lambda c: (
            None
            if c.in_dtypes[0] in (None, "int64", "int32")
            else f"Embedding needs integer token ids (int64) but gets {c.in_dtypes[0]} values; set the Input's dtype to int64."
        ),
        name_base="embed",
        keywords=("tokens", "lookup", "nlp", "word vectors"),
    )
)


def _rnn(kind: str) -> None:
    ctor = f"nn.{kind}"

    def forward(c: EmitContext) -> list[str]:
        if c.p.output == "sequence":
            return [f"{c.out}, _ = {c.self_attr}({c.x})"]
        h = c.temp("h_n")
        state = f"({h}, _)" if kind == "LSTM" else h
        last = f"torch.cat([{h}[-2], {h}[-1]], dim=1)" if c.p.bidirectional else f"{h}[-1]"
        return [f"_, {state} = {c.self_attr}({c.x})", f"{c.out} = {last}"]

    def macs(c: EmitContext, outs: list[tuple[int, ...]]) -> int:
        gates = 4 if kind == "LSTM" else 3
        dirs = 2 if c.p.bidirectional else 1
        steps, inp, hid = c.dim(1), c.dim(-1), c.p.hidden_size
        first = gates * hid * (inp + hid)
        rest = gates * hid * (hid * dirs + hid) * (c.p.num_layers - 1)
        return steps * dirs * (first + rest)

    register(
        BlockType(
            id=kind.lower(),
            label=kind,
            category=SEQ,
            description=(
                f"A {kind} recurrent layer over sequences shaped N×L×features (batch first). "
                "Pass on the whole output sequence or the last hidden state."
            ),
            torch_name=ctor,
            params={
                "hidden_size": Int(64, "hidden size", key=True, min=1),
                "num_layers": Int(1, "layers", min=1, max=16),
                "bidirectional": Bool(False),
                "dropout": Float(0.0, min=0.0, max=1.0, doc="Between stacked layers."),
                "output": Choice(
                    "sequence", key=True, options=("sequence", "last hidden state"),
                    doc="sequence: N×L×H for every step; last hidden state: N×H, for classifying.",
                ),
            },
            emitter=Module(
                ctor,
                args=lambda c: [c.dim(-1), c.p.hidden_size],
                kwargs=lambda c: {
                    "num_layers": opt(c.p.num_layers, 1),
                    "batch_first": True,
                    "dropout": opt(c.p.dropout, 0.0),
                    "bidirectional": opt(c.p.bidirectional, False),
                },
                forward=forward,
                imports=(IMPORT_NN, IMPORT_TORCH),
            ),
            check=needs_rank(3, layout="N×L×features", hint="Add an Embedding or Unflatten first."),
            macs=macs,
            name_base=kind.lower(),
            keywords=("rnn", "recurrent", "sequence", "time series"),
        )
    )


_rnn("LSTM")
_rnn("GRU")


def _mha_forward(c: EmitContext) -> list[str]:
    q = c.inputs[0] or "None"
    k = c.inputs[1] or q
    v = c.inputs[2] or k
    return [f"{c.out}, _ = {c.self_attr}({q}, {k}, {v}, need_weights=False)"]


def _mha_check(c: EmitContext) -> str | None:
    msg = needs_rank(3, layout="N×L×embed")(c)
    if msg:
        return msg
    if c.dim(-1) % c.p.num_heads:
        return f"The embedding size {c.dim(-1)} must divide evenly into {c.p.num_heads} heads."
    return None


register(
    BlockType(
        id="multihead_attention",
        label="MultiheadAttention",
        category=SEQ,
        description="Attention of queries over keys/values (N×L×E, batch first). Leave key and value unwired for self-attention.",
        torch_name="nn.MultiheadAttention",
        params={
            "num_heads": Int(4, "heads", key=True, min=1, max=256),
            "dropout": Float(0.0, min=0.0, max=1.0),
            "bias": Bool(True),
        },
        inputs=(Port("query"), Port("key", optional=True), Port("value", optional=True)),
        emitter=Module(
            "nn.MultiheadAttention",
            args=lambda c: [c.dim(-1), c.p.num_heads],
            kwargs=lambda c: {
                "dropout": opt(c.p.dropout, 0.0),
                "bias": opt(c.p.bias, True),
                "batch_first": True,
            },
            forward=_mha_forward,
        ),
        check=_mha_check,
        macs=lambda c, outs: 4 * c.dim(1) * c.dim(-1) ** 2 + 2 * c.dim(1) ** 2 * c.dim(-1),
        name_base="attention",
        keywords=("attention", "transformer", "self-attention"),
    )
)

register(
    BlockType(
        id="transformer_encoder_layer",
        label="TransformerEncoderLayer",
        category=SEQ,
        description="One transformer encoder block: self-attention and a feed-forward network, each with a residual and LayerNorm.",
        torch_name="nn.TransformerEncoderLayer",
        params={
            "nhead": Int(4, "heads", key=True, min=1, max=256),
            "dim_feedforward": Int(256, "feed-forward size", min=1),
            "dropout": Float(0.1, min=0.0, max=1.0),
            "activation": Choice("relu", options=("relu", "gelu")),
            "norm_first": Bool(False, "norm first"),
        },
        emitter=Module(
            "nn.TransformerEncoderLayer",
            args=lambda c: [c.dim(-1), c.p.nhead],
            kwargs=lambda c: {
                "dim_feedforward": opt(c.p.dim_feedforward, 2048),
                "dropout": opt(c.p.dropout, 0.1),
                "activation": opt(c.p.activation, "relu"),
                "batch_first": True,
                "norm_first": opt(c.p.norm_first, False),
            },
        ),
        check=lambda c: _mha_check_heads(c, c.p.nhead),
        macs=lambda c, outs: c.dim(1)
        * (4 * c.dim(-1) ** 2 + 2 * c.dim(1) * c.dim(-1) + 2 * c.dim(-1) * c.p.dim_feedforward),
        name_base="encoder",
        keywords=("transformer", "attention", "bert"),
    )
)


def _mha_check_heads(c: EmitContext, heads: int) -> str | None:
    msg = needs_rank(3, layout="N×L×d_model")(c)
    if msg:
        return msg
    if c.dim(-1) % heads:
        return f"The model size {c.dim(-1)} must divide evenly into {heads} heads."
    return None


register(
    BlockType(
        id="identity",
        label="Identity",
        category=SHAPE,
        description="Passes its input through unchanged: a placeholder or a named tap point.",
        torch_name="nn.Identity",
        emitter=Module("nn.Identity"),
        name_base="identity",
        keywords=("pass", "noop", "placeholder"),
    )
)
