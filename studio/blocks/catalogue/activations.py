"""Activations: element-wise non-linearities (and softmax over one dimension)."""

from __future__ import annotations

from studio.blocks.params import Choice, Float, Int
from studio.blocks.registry import BlockType, Module, opt, register

CATEGORY = "Activations"


def activation(
    id: str, label: str, description: str, params: dict | None = None, kwargs=None, args=None,
    keywords: tuple[str, ...] = (),
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
            name_base=id,
            keywords=("activation", "nonlinearity", *keywords),
        )
    )


activation("relu", "ReLU", "max(0, x): the default non-linearity between layers.", keywords=("rectifier",))
activation("sigmoid", "Sigmoid", "Squashes values into (0, 1); for probabilities and gates.", keywords=("logistic",))
activation("tanh", "Tanh", "Squashes values into (-1, 1).")
activation(
    "gelu", "GELU", "Smooth ReLU used in transformers (x·Φ(x)).",
    params={"approximate": Choice("none", options=("none", "tanh"))},
    kwargs=lambda c: {"approximate": opt(c.p.approximate, "none")},
)
activation("silu", "SiLU", "x·sigmoid(x), also called Swish.", keywords=("swish",))
activation(
    "leaky_relu", "LeakyReLU", "Like ReLU but lets a small slope through for negative values.",
    params={"negative_slope": Float(0.01, "negative slope", key=True, min=0.0, max=1.0)},
    kwargs=lambda c: {"negative_slope": opt(c.p.negative_slope, 0.01)},
)
activation(
    "elu", "ELU", "Exponential linear unit: smooth for negative values.",
    params={"alpha": Float(1.0, min=0.0, max=100.0, exclusive_min=True)},
    kwargs=lambda c: {"alpha": opt(c.p.alpha, 1.0)},
)
activation(
    "prelu", "PReLU", "LeakyReLU whose negative slope is learned (one, or one per channel).",
    params={"per_channel": Choice("one slope", "slopes", options=("one slope", "per channel"), key=True)},
    kwargs=lambda c: {"num_parameters": opt(c.dim(1) if c.p.per_channel == "per channel" else 1, 1)},
)
activation(
    "softmax", "Softmax", "Turns scores into probabilities that sum to 1 along a dimension. "
    "Do not use it before CrossEntropyLoss, which applies it itself.",
    params={"dim": Int(-1, key=True, min=-8, max=8)},
    kwargs=lambda c: {"dim": c.p.dim},
    keywords=("probabilities",),
)
activation(
    "log_softmax", "LogSoftmax", "log(softmax(x)) along a dimension, computed stably; pair it with NLLLoss.",
    params={"dim": Int(-1, key=True, min=-8, max=8)},
    kwargs=lambda c: {"dim": c.p.dim},
)
activation("mish", "Mish", "x·tanh(softplus(x)): a smooth, self-gated activation.")
activation("hardswish", "Hardswish", "A cheap piecewise approximation of Swish (MobileNetV3).")
