"""Activations: element-wise non-linearities (and softmax over one dimension)."""

from __future__ import annotations

from studio.blocks.params import Choice, Float, Int
from studio.blocks.registry import BlockType, Module, no_macs, opt, register

CATEGORY = "Activations"


def activation(
    id: str,
    label: str,
    description: str,
    params: dict | None = None,
    kwargs=None,
    args=None,
    keywords: tuple[str, ...] = (),
    check=None,
    squashes: str = "",
) -> None:
    register(
        BlockType(
            id=id,
            label=label,
            category=CATEGORY,
            description=description,
            torch_name=f"nn.{label}",
            params=params or {},
            emitter=Module(
                f"nn.{label}",
                args=args or (lambda c: []),
                kwargs=kwargs or (lambda c: {}),
            ),
            check=check,
            macs=no_macs,
            name_base=id,
            keywords=("activation", "nonlinearity", *keywords),
            squashes=squashes,
        )
    )


activation(
    "relu", "ReLU", "max(0, x): the default non-linearity between layers.", keywords=("rectifier",)
)
activation(
    "sigmoid",
    "Sigmoid",
    "Squashes values into (0, 1); for probabilities and gates.",
    keywords=("logistic",),
    squashes="sigmoid",
)
activation("tanh", "Tanh", "Squashes values into (-1, 1).")
activation(
    "gelu",
    "GELU",
    "Smooth ReLU used in transformers (x·Φ(x)).",
    params={"approximate": Choice("none", options=("none", "tanh"))},
    kwargs=lambda c: {"approximate": opt(c.p.approximate, "none")},
)
activation("silu", "SiLU", "x·sigmoid(x), also called Swish.", keywords=("swish",))
activation(
    "leaky_relu",
    "LeakyReLU",
    "Like ReLU but lets a small slope through for negative values.",
    params={"negative_slope": Float(0.01, "negative slope", key=True, min=0.0, max=1.0)},
    kwargs=lambda c: {"negative_slope": opt(c.p.negative_slope, 0.01)},
)
activation(
    "elu",
    "ELU",
    "Exponential linear unit: smooth for negative values.",
    params={"alpha": Float(1.0, min=0.0, max=100.0, exclusive_min=True)},
    kwargs=lambda c: {"alpha": opt(c.p.alpha, 1.0)},
)
activation(
    "prelu",
    "PReLU",
    "LeakyReLU whose negative slope is learned (one, or one per channel).",
    params={
        "per_channel": Choice("one slope", "slopes", options=("one slope", "per channel"), key=True)
    },
    kwargs=lambda c: {
        "num_parameters": opt(c.dim(1) if c.p.per_channel == "per channel" else 1, 1)
    },
)
activation(
    "softmax",
    "Softmax",
    "Turns scores into probabilities that sum to 1 along a dimension. "
    "Do not use it before CrossEntropyLoss, which applies it itself.",
    params={"dim": Int(-1, key=True, min=-8, max=8)},
    kwargs=lambda c: {"dim": c.p.dim},
    keywords=("probabilities",),
    squashes="softmax",
)
activation(
    "log_softmax",
    "LogSoftmax",
    "log(softmax(x)) along a dimension, computed stably; pair it with NLLLoss.",
    params={"dim": Int(-1, key=True, min=-8, max=8)},
    kwargs=lambda c: {"dim": c.p.dim},
)
activation("mish", "Mish", "x·tanh(softplus(x)): a smooth, self-gated activation.")
activation("hardswish", "Hardswish", "A cheap piecewise approximation of Swish (MobileNetV3).")
activation(
    "relu6",
    "ReLU6",
    "min(max(0, x), 6): ReLU capped at 6 (MobileNet).",
    keywords=("rectifier", "clamp"),
)
activation(
    "hardtanh",
    "Hardtanh",
    "Clamps values into [min, max] (-1 to 1 by default).",
    params={
        "min_val": Float(-1.0, "min", key=True, min=-1e6, max=1e6),
        "max_val": Float(1.0, "max", key=True, min=-1e6, max=1e6),
    },
    kwargs=lambda c: {"min_val": opt(c.p.min_val, -1.0), "max_val": opt(c.p.max_val, 1.0)},
    check=lambda c: (
        None
        if c.p.min_val < c.p.max_val
        else (f"Hardtanh's min ({c.p.min_val:g}) must be below its max ({c.p.max_val:g}).")
    ),
    keywords=("clamp", "clip"),
)
activation(
    "hardsigmoid",
    "Hardsigmoid",
    "A cheap piecewise-linear sigmoid (MobileNetV3).",
    keywords=("sigmoid",),
)
activation(
    "softplus",
    "Softplus",
    "log(1 + exp(β·x)) / β: a smooth ReLU whose output is always positive.",
    params={
        "beta": Float(1.0, "β", min=0.0, max=1e3, exclusive_min=True),
        "threshold": Float(
            20.0, doc="Above β·x = threshold it is linear, for stability.", min=0.0, max=1e3
        ),
    },
    kwargs=lambda c: {"beta": opt(c.p.beta, 1.0), "threshold": opt(c.p.threshold, 20.0)},
    keywords=("smooth relu", "positive"),
)
activation("selu", "SELU", "Scaled ELU: keeps activations self-normalising in deep MLPs.")
activation(
    "celu",
    "CELU",
    "Continuously differentiable ELU.",
    params={"alpha": Float(1.0, min=0.0, max=100.0, exclusive_min=True)},
    kwargs=lambda c: {"alpha": opt(c.p.alpha, 1.0)},
)
activation(
    "glu",
    "GLU",
    "Gated linear unit: splits a dimension in two halves a, b and returns a·sigmoid(b).",
    params={"dim": Int(-1, key=True, min=-8, max=8)},
    kwargs=lambda c: {"dim": opt(c.p.dim, -1)},
    check=lambda c: _halves(c),
    keywords=("gate", "gating"),
)
activation("logsigmoid", "LogSigmoid", "log(sigmoid(x)), computed stably.")
activation("softsign", "Softsign", "x / (1 + |x|): squashes into (-1, 1) more gently than tanh.")
activation("tanhshrink", "Tanhshrink", "x - tanh(x).")
activation(
    "softshrink",
    "Softshrink",
    "Moves values towards 0 by λ and zeroes those within λ of it.",
    params={"lambd": Float(0.5, "λ", key=True, min=0.0, max=1e6)},
    kwargs=lambda c: {"lambd": opt(c.p.lambd, 0.5)},
)
activation(
    "hardshrink",
    "Hardshrink",
    "Zeroes the values within λ of 0, keeps the others.",
    params={"lambd": Float(0.5, "λ", key=True, min=0.0, max=1e6)},
    kwargs=lambda c: {"lambd": opt(c.p.lambd, 0.5)},
)
activation(
    "softmin",
    "Softmin",
    "softmax(-x) along a dimension: probabilities that favour small values.",
    params={"dim": Int(-1, key=True, min=-8, max=8)},
    kwargs=lambda c: {"dim": c.p.dim},
)


def _halves(c) -> str | None:
    shape = c.in_shapes[0]
    if shape is None or not -len(shape) <= c.p.dim < len(shape):
        return None
    size = shape[c.p.dim]
    return (
        None
        if size % 2 == 0
        else f"GLU splits dim {c.p.dim} in two halves, but its size is {size} (odd)."
    )
