"""Layers: dense, convolution and pooling (a table per family: one call per 1-D, 2-D, 3-D).

Normalisation and dropout are in :mod:`studio.blocks.catalogue.norm`; upsampling and padding
in :mod:`studio.blocks.catalogue.resample`; shape and sequence/attention blocks in
:mod:`studio.blocks.catalogue.sequence` and :mod:`studio.blocks.catalogue.attention`.

Sizes that follow from the input (``in_features``, ``in_channels``, ``num_features``...) are
not parameters: the compiler reads them from the inferred input shape and writes the number
into the code, so the generated ``nn.Linear(64, 10)`` is what a person would write.
"""

from __future__ import annotations

from studio.blocks.params import Bool, Int, Ints
from studio.blocks.registry import (
    OMIT,
    BlockType,
    EmitContext,
    Module,
    no_macs,
    opt,
    register,
)
from studio.blocks.shapes import fmt_shape, numel

LAYERS = "Layers"
CONV = "Convolution & pooling"


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


LAYOUTS = {1: "N×C×L", 2: "N×C×H×W", 3: "N×C×D×H×W"}

_conv(1, LAYOUTS[1], "1-D convolution over sequences or signals shaped N×C×L.", ("temporal", "signal"))
_conv(2, LAYOUTS[2], "2-D convolution over images shaped N×C×H×W: learns local filters.", ("cnn", "image", "filter"))
_conv(3, LAYOUTS[3], "3-D convolution over volumes or video shaped N×C×D×H×W.", ("volume", "video", "voxel"))


def _conv_transpose(dims: int, description: str) -> None:
    label = f"ConvTranspose{dims}d"
    register(
        BlockType(
            id=f"conv_transpose{dims}d",
            label=label,
            category=CONV,
            description=description,
            torch_name=f"nn.{label}",
            params={
                "out_channels": Int(16, "out channels", key=True, min=1),
                "kernel_size": Int(2, "kernel size", key=True, min=1, max=64),
                "stride": Int(2, min=1, max=64, key=True),
                "padding": Int(0, min=0, max=64),
                "output_padding": Int(0, "output padding", min=0, max=63),
                "bias": Bool(True),
            },
            emitter=Module(
                f"nn.{label}",
                args=lambda c: [c.dim(1), c.p.out_channels, c.p.kernel_size],
                kwargs=lambda c: {
                    "stride": opt(c.p.stride, 1),
                    "padding": opt(c.p.padding, 0),
                    "output_padding": opt(c.p.output_padding, 0),
                    "bias": opt(c.p.bias, True),
                },
            ),
            check=needs_rank(dims + 2, layout=LAYOUTS[dims]),
            macs=lambda c, outs: numel(c.shape()) * c.p.out_channels * c.p.kernel_size**dims,
            name_base="upconv",
            keywords=("deconvolution", "upsample", "decoder"),
        )
    )


_conv_transpose(1, "Transposed 1-D convolution: lengthens sequences (decoders, vocoders).")
_conv_transpose(2, "Transposed 2-D convolution: upsamples feature maps (decoders, GAN generators).")
_conv_transpose(3, "Transposed 3-D convolution: upsamples volumes (3-D U-Nets).")


def _pool(kind: str, dims: int, description: str) -> None:
    label = f"{kind}Pool{dims}d"
    register(
        BlockType(
            id=label.lower(),
            label=label,
            category=CONV,
            description=description,
            torch_name=f"nn.{label}",
            params={
                "kernel_size": Int(2, "kernel size", key=True, min=1, max=64),
                "stride": Int(0, doc="0 means the same as the kernel size.", min=0, max=64, special="kernel size"),
                "padding": Int(0, min=0, max=32),
            },
            emitter=Module(
                f"nn.{label}",
                args=lambda c: [c.p.kernel_size],
                kwargs=lambda c: {
                    "stride": OMIT if c.p.stride in (0, c.p.kernel_size) else c.p.stride,
                    "padding": opt(c.p.padding, 0),
                },
            ),
            check=needs_rank(dims + 2, layout=LAYOUTS[dims]),
            macs=no_macs,
            name_base="pool",
            keywords=("pooling", "downsample", "subsample"),
        )
    )


_pool("Max", 1, "Keeps the maximum of each window of a sequence.")
_pool("Max", 2, "Keeps the maximum of each window: halves H and W with kernel 2.")
_pool("Max", 3, "Keeps the maximum of each window of a volume.")
_pool("Avg", 1, "Averages each window of a sequence.")
_pool("Avg", 2, "Averages each window of the feature map.")
_pool("Avg", 3, "Averages each window of a volume.")


def _adaptive(kind: str, dims: int, description: str, keywords: tuple[str, ...]) -> None:
    label = f"Adaptive{kind}Pool{dims}d"
    register(
        BlockType(
            id=f"adaptive_{kind.lower()}pool{dims}d",
            label=label,
            category=CONV,
            description=description,
            torch_name=f"nn.{label}",
            params={"output_size": Ints((1,) * dims, "output size", key=True, min_len=1, max_len=dims)},
            emitter=Module(
                f"nn.{label}",
                args=lambda c: [c.p.output_size[0] if len(set(c.p.output_size)) == 1 else c.p.output_size],
            ),
            check=needs_rank(dims + 1, dims + 2, layout=LAYOUTS[dims]),
            macs=no_macs,
            name_base="gap" if kind == "Avg" else "pool",
            keywords=("adaptive pooling", *keywords),
        )
    )


_adaptive("Avg", 1, "Averages each sequence down to a fixed length (1 gives one value per channel).", ("gap",))
_adaptive(
    "Avg", 2, "Averages the feature map down to a fixed size (1×1 gives one value per channel).",
    ("global average pooling", "gap"),
)
_adaptive("Avg", 3, "Averages each volume down to a fixed size (1×1×1 gives one value per channel).", ("gap",))
_adaptive("Max", 1, "Keeps the maximum of each of a fixed number of sequence windows.", ("global max pooling",))
_adaptive("Max", 2, "Keeps the maximum over the feature map down to a fixed size.", ("global max pooling",))
_adaptive("Max", 3, "Keeps the maximum over each volume down to a fixed size.", ("global max pooling",))
