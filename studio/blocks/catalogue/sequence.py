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
    no_macs,
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
        macs=no_macs,
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
        macs=no_macs,
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
        macs=no_macs,
        name_base="reshape",
        keywords=("view", "flatten"),
        chains=True,
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
        value_name="x",
    )
)


def _rnn_ports(kind: str):
    """output (as the ``output`` choice says), then the final hidden state, and LSTM's cell state.
    The first port keeps the name ``out`` that files saved before these ports existed use."""
    state = (Port("h_n", "h_n"), Port("c_n", "c_n")) if kind == "LSTM" else (Port("h_n", "h_n"),)
    return (Port("out", "output"), *state)


def _rnn(kind: str) -> None:
    ctor = f"nn.{kind}"

    def forward(c: EmitContext) -> list[str]:
        out, states = c.outputs[0], c.outputs[1:]
        state = f"({', '.join(states)})" if kind == "LSTM" else states[0]
        if c.p.output == "sequence":
            return [f"{out}, {state} = {c.self_attr}({c.x})"]
        h = states[0]
        last = f"torch.cat([{h}[-2], {h}[-1]], dim=1)" if c.p.bidirectional else f"{h}[-1]"
        return [f"_, {state} = {c.self_attr}({c.x})", f"{out} = {last}"]

    def macs(c: EmitContext, outs: list[tuple[int, ...]]) -> int:
        gates = {"LSTM": 4, "GRU": 3, "RNN": 1}[kind]
        dirs = 2 if c.p.bidirectional else 1
        steps, inp, hid = c.dim(1), c.dim(-1), c.p.hidden_size
        first = gates * hid * (inp + hid)
        rest = gates * hid * (hid * dirs + hid) * (c.p.num_layers - 1)
        return steps * dirs * (first + rest)

    extra = (
        {"nonlinearity": Choice("tanh", options=("tanh", "relu"), doc="The activation of each step.")}
        if kind == "RNN"
        else {}
    )
    states = "h_n and c_n" if kind == "LSTM" else "h_n"
    register(
        BlockType(
            id=kind.lower(),
            label=kind,
            category=SEQ,
            description=(
                f"A {kind} recurrent layer over sequences shaped N×L×features (batch first). "
                f"Its output is the whole sequence or the last hidden state; {states} "
                "(layers·directions×N×hidden) are outputs too."
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
                **extra,
            },
            outputs=_rnn_ports(kind),
            emitter=Module(
                ctor,
                args=lambda c: [c.dim(-1), c.p.hidden_size],
                kwargs=lambda c: {
                    "num_layers": opt(c.p.num_layers, 1),
                    **({"nonlinearity": opt(c.p.nonlinearity, "tanh")} if kind == "RNN" else {}),
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
_rnn("RNN")


def _mha_forward(c: EmitContext) -> list[str]:
    q = c.inputs[0] or "None"
    k = c.inputs[1] or q
    v = c.inputs[2] or k
    if not c.p.need_weights:
        return [f"{c.out}, _ = {c.self_attr}({q}, {k}, {v}, need_weights=False)"]
    avg = "" if c.p.average_attn_weights else ", average_attn_weights=False"
    return [f"{c.out}, {c.outputs[1]} = {c.self_attr}({q}, {k}, {v}{avg})"]


def _mha_outputs(params) -> tuple[Port, ...]:
    out = Port("out", "output")
    return (out, Port("weights")) if params.get("need_weights") else (out,)


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
        description=(
            "Attention of queries over keys/values (N×L×E, batch first). Leave key and value unwired "
            "for self-attention. With 'attention weights' on, the weights (N×L×S) are an output too."
        ),
        torch_name="nn.MultiheadAttention",
        params={
            "num_heads": Int(4, "heads", key=True, min=1, max=256),
            "dropout": Float(0.0, min=0.0, max=1.0),
            "bias": Bool(True),
            "need_weights": Bool(False, "attention weights", doc="Also output the attention weights."),
            "average_attn_weights": Bool(
                True, "average weights over heads", doc="Off: one map per head (N×heads×L×S)."
            ),
        },
        inputs=(Port("query"), Port("key", optional=True), Port("value", optional=True)),
        outputs=_mha_outputs,
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
        id="identity",
        label="Identity",
        category=SHAPE,
        description="Passes its input through unchanged: a placeholder or a named tap point.",
        torch_name="nn.Identity",
        emitter=Module("nn.Identity"),
        macs=no_macs,
        name_base="identity",
        keywords=("pass", "noop", "placeholder"),
    )
)
