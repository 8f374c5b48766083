"""Resampling and padding: Upsample, PixelShuffle/PixelUnshuffle and the padding layers.

The padding layers are one table (kind x 1-D/2-D/3-D), declared by :func:`_pad`, as the
convolutions and poolings are in :mod:`studio.blocks.catalogue.layers`.
"""

from __future__ import annotations

from studio.blocks.catalogue.layers import CONV, LAYOUTS, needs_rank
from studio.blocks.params import Choice, Float, Int, Ints
from studio.blocks.registry import BlockType, EmitContext, Module, no_macs, opt, register
from studio.blocks.shapes import fmt_shape

#: interpolation mode -> the input ranks (batch included) it works on
UPSAMPLE_MODES = {"nearest": (3, 4, 5), "linear": (3,), "bilinear": (4,), "bicubic": (4,), "trilinear": (5,)}


def _upsample_check(c: EmitContext) -> str | None:
    shape = c.in_shapes[0]
    ranks = UPSAMPLE_MODES[c.p.mode]
    if shape is None or len(shape) in ranks:
        return None
    fits = [m for m, r in UPSAMPLE_MODES.items() if len(shape) in r]
    hint = f" Use mode {' or '.join(repr(m) for m in fits)} for it." if fits else ""
    want = " or ".join(f"{r}-D" for r in ranks)
    return f"Upsample with mode {c.p.mode!r} needs a {want} input but gets {fmt_shape(shape)}.{hint}"


register(
    BlockType(
        id="upsample",
        label="Upsample",
        category=CONV,
        description="Enlarges sequences, images or volumes by a scale factor, interpolating the new values.",
        torch_name="nn.Upsample",
        params={
            "scale_factor": Float(2.0, "scale factor", key=True, min=0.0, max=64.0, exclusive_min=True),
            "mode": Choice("nearest", key=True, options=tuple(UPSAMPLE_MODES)),
        },
        emitter=Module(
            "nn.Upsample",
            kwargs=lambda c: {
                "scale_factor": c.p.scale_factor,
                "mode": opt(c.p.mode, "nearest"),
            },
        ),
        check=_upsample_check,
        macs=no_macs,
        name_base="upsample",
        keywords=("interpolate", "resize", "enlarge", "decoder"),
    )
)


def _shuffle_check(c: EmitContext, up: bool) -> str | None:
    msg = needs_rank(4, layout=LAYOUTS[2])(c)
    if msg or c.in_shapes[0] is None:
        return msg
    r = c.p.upscale_factor if up else c.p.downscale_factor
    _, ch, h, w = c.shape()
    if up and ch % (r * r):
        return f"PixelShuffle by {r} needs channels divisible by {r * r}; it gets {ch}."
    if not up and (h % r or w % r):
        return f"PixelUnshuffle by {r} needs height and width divisible by {r}; it gets {h}×{w}."
    return None


register(
    BlockType(
        id="pixel_shuffle",
        label="PixelShuffle",
        category=CONV,
        description="Rearranges N×C·r²×H×W into N×C×rH×rW: sharp upsampling after a convolution (super-resolution).",
        torch_name="nn.PixelShuffle",
        params={"upscale_factor": Int(2, "upscale factor", key=True, min=1, max=16)},
        emitter=Module("nn.PixelShuffle", args=lambda c: [c.p.upscale_factor]),
        check=lambda c: _shuffle_check(c, up=True),
        macs=no_macs,
        name_base="shuffle",
        keywords=("sub-pixel", "super resolution", "depth to space", "upsample"),
    )
)

register(
    BlockType(
        id="pixel_unshuffle",
        label="PixelUnshuffle",
        category=CONV,
        description="Rearranges N×C×rH×rW into N×C·r²×H×W: the inverse of PixelShuffle.",
        torch_name="nn.PixelUnshuffle",
        params={"downscale_factor": Int(2, "downscale factor", key=True, min=1, max=16)},
        emitter=Module("nn.PixelUnshuffle", args=lambda c: [c.p.downscale_factor]),
        check=lambda c: _shuffle_check(c, up=False),
        macs=no_macs,
        name_base="unshuffle",
        keywords=("space to depth", "downsample"),
    )
)

#: padding kind -> (what it fills with, keywords)
PADDINGS = {
    "Zero": ("zeros", ("zero padding",)),
    "Constant": ("a constant value", ("constant padding",)),
    "Reflection": ("the input mirrored at its edge", ("reflect", "mirror")),
    "Replication": ("copies of the edge value", ("replicate", "edge")),
    "Circular": ("the input wrapped around", ("wrap", "periodic")),
}


def _pad_check(dims: int):
    rank = needs_rank(dims + 1, dims + 2, layout=LAYOUTS[dims])

    def check(c: EmitContext) -> str | None:
        n = len(c.p.padding)
        if n not in (1, 2 * dims):
            sides = "left, right" if dims == 1 else "left, right, top, bottom" + (", front, back" if dims == 3 else "")
            return f"padding needs 1 number (every side) or {2 * dims} ({sides}); it has {n}."
        return rank(c)

    return check


def _pad(kind: str, dims: int) -> None:
    label = f"{kind}Pad{dims}d"
    fill, keywords = PADDINGS[kind]
    params = {"padding": Ints((1,), key=True, min_len=1, max_len=2 * dims, min=0, max=1024,
                              doc=f"One number for every side, or {2 * dims}: left, right first.")}
    if kind == "Constant":
        params["value"] = Float(0.0, key=True, min=-1e9, max=1e9)

    def args(c: EmitContext) -> list:
        pad = c.p.padding[0] if len(c.p.padding) == 1 else c.p.padding
        return [pad, c.p.value] if kind == "Constant" else [pad]

    register(
        BlockType(
            id=label.lower(),
            label=label,
            category=CONV,
            description=f"Pads the last {dims} dimension{'s' if dims > 1 else ''} with {fill}.",
            torch_name=f"nn.{label}",
            params=params,
            emitter=Module(f"nn.{label}", args=args),
            check=_pad_check(dims),
            macs=no_macs,
            name_base="pad",
            keywords=("padding", "border", *keywords),
        )
    )


for _kind in PADDINGS:
    for _dims in (1, 2, 3):
        _pad(_kind, _dims)
