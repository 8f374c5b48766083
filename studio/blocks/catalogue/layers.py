"""Layers: the torch.nn modules that hold weights or reshape tensors.

Sizes that follow from the input (``in_features``, ``in_channels``, ``num_features``...) are
not parameters: the compiler reads them from the inferred input shape and writes the number
into the code, so the generated ``nn.Linear(64, 10)`` is what a person would write.
"""

from __future__ import annotations

from studio.blocks.params import Bool, Choice, Float, Int, Ints
from studio.blocks.registry import (
    IMPORT_NN,
    IMPORT_TORCH,
    OMIT,
    BlockType,
    EmitContext,
    Module,
    Op,
    Port,
    opt,
    register,
)
from studio.blocks.shapes import fmt_shape, numel

LAYERS = "Layers"
CONV = "Convolution & pooling"
NORM = "Normalisation & regularisation"
SHAPE = "Shape"
SEQ = "Sequence & attention"


def needs_rank(*ranks: int, layout: str, hint: str = "") -> callable:
    """A check: the first input must have one of ``ranks`` dimensions (batch included)."""

    def check(c: EmitContext) -> str | None:
        shape = c.in_shapes[0]
        if shape is None or len(shape) in ranks:
            return None
        want = " or ".join(f"{r}-D" for r in ranks)
        return (
            f"{{label}} needs a {want} input ({layout}) but gets {fmt_shape(shape)}."
            + (f" {hint}" if hint else "")
        )

    return check


def _conv_macs(c: EmitContext, outs: list[tuple[int, ...]]) -> int:
    k = c.p.kernel_size ** (len(outs[0]) - 2)
    in_ch = c.dim(1)
    return numel(outs[0]) * (in_ch // c.p.groups) * k


def _conv_kwargs(c: EmitContext) -> dict:
    return {
        "stride": opt(c.p.stride, 1),
        "padding": opt(c.p.padding, 0),
        "dilation": opt(c.p.dilation, 1),
        "groups": opt(c.p.groups, 1),
        "bias": opt(c.p.bias, True),
    }


def _conv_check(rank: int, layout: str):
    base = needs_rank(rank, layout=layout, hint="Put an Unflatten or Reshape before it.")

    def check(c: EmitContext) -> str | None:
        msg = base(c)
        if msg:
            return msg
        in_ch = c.dim(1)
        if in_ch % c.p.groups or c.p.out_channels % c.p.groups:
            return (
                f"groups={c.p.groups} must divide both the input channels ({in_ch}) "
                f"and out channels ({c.p.out_channels})."
            )
        return None

    return check


def _conv_params() -> dict:
    return {
        "out_channels": Int(16, "out channels", "Number of filters (output channels).", key=True, min=1),
        "kernel_size": Int(3, "kernel size", key=True, min=1, max=64),
        "stride": Int(1, min=1, max=64),
        "padding": Int(1, min=0, max=64),
        "dilation": Int(1, min=1, max=64),
        "groups": Int(1, min=1, max=4096),
        "bias": Bool(True),
    }


register(
    BlockType(
        id="linear",
        label="Linear",
        category=LAYERS,
        description="Fully connected layer: y = x·Wᵀ + b on the last dimension. The input size is read from the wire.",
        torch_name="nn.Linear",
        params={
            "out_features": Int(64, "out features", "Size of each output sample.", key=True, min=1),
            "bias": Bool(True, doc="Learn an additive bias."),
        },
        emitter=Module(
            "nn.Linear",
            args=lambda c: [c.dim(-1), c.p.out_features],
            kwargs=lambda c: {"bias": opt(c.p.bias, True)},
        ),
        check=needs_rank(2, 3, 4, 5, layout="N×…×features"),
        macs=lambda c, outs: numel(outs[0]) * c.dim(-1),
        name_base="fc",
        keywords=("dense", "fully connected", "mlp", "affine"),
    )
)

def _conv(dims: int, layout: str, description: str, keywords: tuple[str, ...]) -> None:
    label = f"Conv{dims}d"
    register(
        BlockType(
            id=label.lower(),
            label=label,
            category=CONV,
            description=description,
            torch_name=f"nn.{label}",
            params=_conv_params(),
            emitter=Module(
                f"nn.{label}",
                args=lambda c: [c.dim(1), c.p.out_channels, c.p.kernel_size],
                kwargs=_conv_kwargs,
            ),
            check=_conv_check(dims + 2, layout),
            macs=_conv_macs,
            name_base="conv",
            keywords=("convolution", *keywords),
        )
    )


_conv(1, "N×C×L", "1-D convolution over sequences or signals shaped N×C×L.", ("temporal", "signal"))
_conv(2, "N×C×H×W", "2-D convolution over images shaped N×C×H×W: learns local filters.", ("cnn", "image", "filter"))

register(
    BlockType(
        id="conv_transpose2d",
        label="ConvTranspose2d",
        category=CONV,
        description="Transposed 2-D convolution: upsamples feature maps (decoders, GAN generators).",
        torch_name="nn.ConvTranspose2d",
        params={
            "out_channels": Int(16, "out channels", key=True, min=1),
            "kernel_size": Int(2, "kernel size", key=True, min=1, max=64),
            "stride": Int(2, min=1, max=64, key=True),
            "padding": Int(0, min=0, max=64),
            "output_padding": Int(0, "output padding", min=0, max=63),
            "bias": Bool(True),
        },
        emitter=Module(
            "nn.ConvTranspose2d",
            args=lambda c: [c.dim(1), c.p.out_channels, c.p.kernel_size],
            kwargs=lambda c: {
                "stride": opt(c.p.stride, 1),
                "padding": opt(c.p.padding, 0),
                "output_padding": opt(c.p.output_padding, 0),
                "bias": opt(c.p.bias, True),
            },
        ),
        check=needs_rank(4, layout="N×C×H×W"),
        macs=lambda c, outs: numel(c.shape()) * c.p.out_channels * c.p.kernel_size**2,
        name_base="upconv",
        keywords=("deconvolution", "upsample", "decoder"),
    )
)


def _pool(id: str, label: str, ctor: str, rank: int, layout: str, description: str) -> None:
    register(
        BlockType(
            id=id,
            label=label,
            category=CONV,
            description=description,
            torch_name=f"nn.{label}",
            params={
                "kernel_size": Int(2, "kernel size", key=True, min=1, max=64),
                "stride": Int(0, doc="0 means the same as the kernel size.", min=0, max=64),
                "padding": Int(0, min=0, max=32),
            },
            emitter=Module(
                ctor,
                args=lambda c: [c.p.kernel_size],
                kwargs=lambda c: {
                    "stride": OMIT if c.p.stride in (0, c.p.kernel_size) else c.p.stride,
                    "padding": opt(c.p.padding, 0),
                },
            ),
            check=needs_rank(rank, layout=layout),
            name_base="pool",
            keywords=("pooling", "downsample", "subsample"),
        )
    )


_pool("maxpool1d", "MaxPool1d", "nn.MaxPool1d", 3, "N×C×L", "Keeps the maximum of each window of a sequence.")
_pool("maxpool2d", "MaxPool2d", "nn.MaxPool2d", 4, "N×C×H×W", "Keeps the maximum of each window: halves H and W with kernel 2.")
_pool("avgpool2d", "AvgPool2d", "nn.AvgPool2d", 4, "N×C×H×W", "Averages each window of the feature map.")

register(
    BlockType(
        id="adaptive_avgpool2d",
        label="AdaptiveAvgPool2d",
        category=CONV,
        description="Averages the feature map down to a fixed size (1×1 gives one value per channel).",
        torch_name="nn.AdaptiveAvgPool2d",
        params={"output_size": Ints((1, 1), "output size", key=True, min_len=1, max_len=2)},
        emitter=Module(
            "nn.AdaptiveAvgPool2d",
            args=lambda c: [c.p.output_size[0] if len(set(c.p.output_size)) == 1 else c.p.output_size],
        ),
        check=needs_rank(3, 4, layout="N×C×H×W"),
        name_base="gap",
        keywords=("global average pooling", "gap"),
    )
)

def _batchnorm(dims: int, ranks: tuple[int, ...], layout: str, description: str) -> None:
    label = f"BatchNorm{dims}d"
    register(
        BlockType(
            id=label.lower(),
            label=label,
            category=NORM,
            description=description,
            torch_name=f"nn.{label}",
            params={
                "eps": Float(1e-5, exclusive_min=True, min=0.0, max=1.0),
                "momentum": Float(0.1, min=0.0, max=1.0),
                "affine": Bool(True),
            },
            emitter=Module(
                f"nn.{label}",
                args=lambda c: [c.dim(1)],
                kwargs=lambda c: {
                    "eps": opt(c.p.eps, 1e-5),
                    "momentum": opt(c.p.momentum, 0.1),
                    "affine": opt(c.p.affine, True),
                },
            ),
            check=needs_rank(*ranks, layout=layout),
            name_base="bn",
            keywords=("batch normalization", "normalisation"),
        )
    )


_batchnorm(1, (2, 3), "N×C or N×C×L", "Normalises each feature over the batch (N×C or N×C×L), then scales and shifts.")
_batchnorm(2, (4,), "N×C×H×W", "Normalises each channel of an image batch (N×C×H×W), then scales and shifts.")

register(
    BlockType(
        id="layernorm",
        label="LayerNorm",
        category=NORM,
        description="Normalises over the last dimension(s) of each sample (transformers use this).",
        torch_name="nn.LayerNorm",
        params={
            "dims": Int(1, "normalised dims", "How many trailing dimensions to normalise over.", min=1, max=4),
            "eps": Float(1e-5, exclusive_min=True, min=0.0, max=1.0),
            "elementwise_affine": Bool(True, "learn scale and shift"),
        },
        emitter=Module(
            "nn.LayerNorm",
            args=lambda c: [
                c.dim(-1) if c.p.dims == 1 else tuple(c.shape()[-c.p.dims :])
            ],
            kwargs=lambda c: {
                "eps": opt(c.p.eps, 1e-5),
                "elementwise_affine": opt(c.p.elementwise_affine, True),
            },
        ),
        check=lambda c: (
            None
            if c.in_shapes[0] is None or len(c.in_shapes[0]) > c.p.dims
            else f"LayerNorm over {c.p.dims} dims needs more than {c.p.dims} dimensions; it gets {fmt_shape(c.in_shapes[0])}."
        ),
        name_base="norm",
        keywords=("layer normalization", "normalisation"),
    )
)

register(
    BlockType(
        id="groupnorm",
        label="GroupNorm",
        category=NORM,
        description="Normalises groups of channels per sample; works with small batches.",
        torch_name="nn.GroupNorm",
        params={
            "num_groups": Int(8, "groups", key=True, min=1, max=4096),
            "eps": Float(1e-5, exclusive_min=True, min=0.0, max=1.0),
            "affine": Bool(True),
        },
        emitter=Module(
            "nn.GroupNorm",
            args=lambda c: [c.p.num_groups, c.dim(1)],
            kwargs=lambda c: {"eps": opt(c.p.eps, 1e-5), "affine": opt(c.p.affine, True)},
        ),
        check=lambda c: (
            None
            if c.in_shapes[0] is None
            or (len(c.in_shapes[0]) >= 2 and c.dim(1) % c.p.num_groups == 0)
            else f"GroupNorm needs the channels ({fmt_shape(c.in_shapes[0][1:2])}) to divide into {c.p.num_groups} groups."
        ),
        name_base="gn",
        keywords=("group normalization",),
    )
)

register(
    BlockType(
        id="dropout",
        label="Dropout",
        category=NORM,
        description="While training, zeroes each value with probability p (and rescales the rest); does nothing in eval mode.",
        torch_name="nn.Dropout",
        params={"p": Float(0.5, "probability", key=True, min=0.0, max=1.0)},
        emitter=Module("nn.Dropout", kwargs=lambda c: {"p": opt(c.p.p, 0.5)}),
        name_base="dropout",
        keywords=("regularization", "regularisation"),
    )
)

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
