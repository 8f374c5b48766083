"""Normalisation and regularisation: batch, instance, layer, group and RMS norms, dropout.

As in :mod:`studio.blocks.catalogue.layers`, the feature counts (``num_features``, the
normalised shape) come from the input shape, not from parameters.
"""

from __future__ import annotations

from studio.blocks.catalogue.layers import LAYOUTS, needs_rank
from studio.blocks.params import Bool, Float, Int
from studio.blocks.registry import BlockType, EmitContext, Module, no_macs, opt, register
from studio.blocks.shapes import fmt_shape

NORM = "Normalisation & regularisation"


def _channel_norm(kind: str, dims: int, ranks: tuple[int, ...], layout: str, description: str) -> None:
    """BatchNorm and InstanceNorm: one mean and variance per channel (dim 1)."""
    label = f"{kind}Norm{dims}d"
    batch = kind == "Batch"
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
                "affine": Bool(batch, doc="Learn a scale and shift per channel."),
                **(
                    {}
                    if batch
                    else {
                        "track_running_stats": Bool(
                            False, "track running stats",
                            doc="Keep running averages for eval mode instead of each sample's own statistics.",
                        )
                    }
                ),
            },
            emitter=Module(
                f"nn.{label}",
                args=lambda c: [c.dim(1)],
                kwargs=lambda c: {
                    "eps": opt(c.p.eps, 1e-5),
                    "momentum": opt(c.p.momentum, 0.1),
                    "affine": opt(c.p.affine, batch),
                    **({} if batch else {"track_running_stats": opt(c.p.track_running_stats, False)}),
                },
            ),
            check=needs_rank(*ranks, layout=layout),
            macs=no_macs,
            name_base="bn" if batch else "norm",
            keywords=("batch normalization", "normalisation")
            if batch
            else ("instance normalization", "style transfer", "normalisation"),
        )
    )


_channel_norm("Batch", 1, (2, 3), "N×C or N×C×L", "Normalises each feature over the batch (N×C or N×C×L), then scales and shifts.")
_channel_norm("Batch", 2, (4,), LAYOUTS[2], "Normalises each channel of an image batch (N×C×H×W), then scales and shifts.")
_channel_norm("Batch", 3, (5,), LAYOUTS[3], "Normalises each channel of a batch of volumes (N×C×D×H×W), then scales and shifts.")
for _dims, _what in ((1, "sequence"), (2, "image"), (3, "volume")):
    _channel_norm(
        "Instance", _dims, (_dims + 2,), LAYOUTS[_dims],
        f"Normalises each channel of each {_what} on its own (no batch statistics): style transfer, GANs.",
    )

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
        macs=no_macs,
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
        macs=no_macs,
        name_base="gn",
        keywords=("group normalization",),
    )
)

register(
    BlockType(
        id="rmsnorm",
        label="RMSNorm",
        category=NORM,
        description="Scales the last dimension(s) by their root mean square (no mean subtracted): the norm of Llama-style transformers.",
        torch_name="nn.RMSNorm",
        params={
            "dims": Int(1, "normalised dims", "How many trailing dimensions to normalise over.", min=1, max=4),
            "eps": Float(0.0, min=0.0, max=1.0, doc="0 uses torch's default: the smallest step of the input's dtype."),
            "elementwise_affine": Bool(True, "learn a scale"),
        },
        emitter=Module(
            "nn.RMSNorm",
            args=lambda c: [c.dim(-1) if c.p.dims == 1 else tuple(c.shape()[-c.p.dims :])],
            kwargs=lambda c: {
                "eps": opt(c.p.eps, 0.0),
                "elementwise_affine": opt(c.p.elementwise_affine, True),
            },
        ),
        check=lambda c: _more_dims_than(c, "RMSNorm"),
        macs=no_macs,
        name_base="norm",
        keywords=("root mean square", "llama", "transformer", "normalisation"),
    )
)


def _more_dims_than(c: EmitContext, label: str) -> str | None:
    shape = c.in_shapes[0]
    if shape is None or len(shape) > c.p.dims:
        return None
    return f"{label} over {c.p.dims} dims needs more than {c.p.dims} dimensions; it gets {fmt_shape(shape)}."


register(
    BlockType(
        id="dropout",
        label="Dropout",
        category=NORM,
        description="While training, zeroes each value with probability p (and rescales the rest); does nothing in eval mode.",
        torch_name="nn.Dropout",
        params={"p": Float(0.5, "probability", key=True, min=0.0, max=1.0)},
        emitter=Module("nn.Dropout", kwargs=lambda c: {"p": opt(c.p.p, 0.5)}),
        macs=no_macs,
        name_base="dropout",
        keywords=("regularization", "regularisation"),
    )
)


def _channel_dropout(dims: int, what: str) -> None:
    label = f"Dropout{dims}d"
    register(
        BlockType(
            id=label.lower(),
            label=label,
            category=NORM,
            description=(
                f"While training, zeroes whole channels ({what}) with probability p; "
                "does nothing in eval mode. For convolutional features, where neighbours are alike."
            ),
            torch_name=f"nn.{label}",
            params={"p": Float(0.5, "probability", key=True, min=0.0, max=1.0)},
            emitter=Module(f"nn.{label}", kwargs=lambda c: {"p": opt(c.p.p, 0.5)}),
            check=needs_rank(dims + 2, layout=LAYOUTS[dims]),
            macs=no_macs,
            name_base="dropout",
            keywords=("spatial dropout", "regularization", "regularisation"),
        )
    )


_channel_dropout(1, "sequences")
_channel_dropout(2, "feature maps")
_channel_dropout(3, "volumes")
