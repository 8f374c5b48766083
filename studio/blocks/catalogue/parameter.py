"""The Parameter block: a learnable tensor, emitted as ``nn.Parameter``."""

from __future__ import annotations

from studio.blocks.params import Choice, Float, Ints
from studio.blocks.registry import (
    IMPORT_NN,
    IMPORT_TORCH,
    BlockType,
    EmitContext,
    Emitted,
    Emitter,
    register,
)

INITS = ("zeros", "ones", "normal", "uniform")


class ParameterEmitter(Emitter):
    def emit(self, c: EmitContext) -> Emitted:
        shape = ", ".join(str(s) for s in c.p.shape)
        init = c.p.init
        if init == "zeros":
            value = f"torch.zeros({shape})"
        elif init == "ones":
            value = f"torch.ones({shape})"
        elif init == "normal":
            value = f"torch.randn({shape})" + (f" * {c.p.scale!r}" if c.p.scale != 1.0 else "")
        else:
            value = f"torch.rand({shape})" + (f" * {c.p.scale!r}" if c.p.scale != 1.0 else "")
        return Emitted(
            init=[f"{c.self_attr} = nn.Parameter({value})"],
            imports={IMPORT_NN, IMPORT_TORCH},
            output_exprs=[c.self_attr],
        )


register(
    BlockType(
        id="parameter",
        label="Parameter",
        category="Merge & ops",
        description=(
            "A learnable tensor (nn.Parameter) of a fixed shape: a scale, a bias or a token. "
            "Wire it into Add or Multiply; shapes broadcast (1, 64 scales every sample's 64 features)."
        ),
        torch_name="nn.Parameter",
        params={
            "shape": Ints((1, 64), key=True, min_len=1, max_len=6),
            "init": Choice("zeros", "initial values", key=True, options=INITS),
            "scale": Float(1.0, doc="Multiplies normal/uniform initial values.", min=0.0, max=1e6),
        },
        inputs=(),
        emitter=ParameterEmitter(),
        name_base="param",
        keywords=("weight", "learnable", "token", "bias", "scale"),
    )
)
