"""Layers: the torch.nn modules that hold weights (dense, convolution, pooling, normalisation).

Shape and sequence/attention blocks are in :mod:`studio.blocks.catalogue.sequence`.

Sizes that follow from the input (``in_features``, ``in_channels``, ``num_features``...) are
not parameters: the compiler reads them from the inferred input shape and writes the number
into the code, so the generated ``nn.Linear(64, 10)`` is what a person would write.
"""

from __future__ import annotations

from studio.blocks.params import Bool, Float, Int, Ints
from studio.blocks.registry import (
    OMIT,
    BlockType,
    EmitContext,
    Module,
    opt,
    register,
)
from studio.blocks.shapes import fmt_shape, numel

LAYERS = "Layers"
CONV = "Convolution & pooling"
NORM = "Normalisation & regularisation"


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
