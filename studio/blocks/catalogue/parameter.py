"""The Parameter block (a learnable tensor, emitted as ``nn.Parameter``) and the Buffer block
(a tensor saved with the model but not trained, emitted with ``register_buffer``: a running
mean, an index table).

Both start as the original's constructor starts them when imported: zeros, ones, a constant
(timm's layer scales start at 1e-6) or, for a buffer, the values themselves (an index table
computed in ``__init__`` and not saved).
"""

from __future__ import annotations

from studio import pyast
from studio.blocks.params import Bool, Choice, Float, Ints, Text
from studio.blocks.registry import (
    IMPORT_NN,
    IMPORT_TORCH,
    BlockType,
    EmitContext,
    Emitted,
    Emitter,
    register,
)

INITS = ("zeros", "ones", "constant", "normal", "uniform")
BUFFER_INITS = ("zeros", "ones", "constant", "values")
BUFFER_DTYPES = ("float32", "float64", "int64", "int32", "bool")


class ParameterEmitter(Emitter):
    def emit(self, c: EmitContext) -> Emitted:
        shape = ", ".join(str(s) for s in c.p.shape)
        init = c.p.init
        if init in ("zeros", "ones", "constant"):
            value = _filled(init, shape, c.p.value)
        elif init == "normal":
            value = f"torch.randn({shape})" + (f" * {c.p.scale!r}" if c.p.scale != 1.0 else "")
        else:
            value = f"torch.rand({shape})" + (f" * {c.p.scale!r}" if c.p.scale != 1.0 else "")
        return Emitted(
            init=[f"{c.self_attr} = nn.Parameter({value})"],
            imports={IMPORT_NN, IMPORT_TORCH},
            output_exprs=[c.self_attr],
        )


def _filled(init: str, shape: str, value: float, dtype: str = "") -> str:
    dt = f", dtype=torch.{dtype}" if dtype else ""
    if init == "constant":
        return f"torch.full(({shape}{',' if shape.count(',') == 0 and shape else ''}), {value!r}{dt})"
    return f"torch.{init}({shape or '()'}{dt})"


class BufferEmitter(Emitter):
    def emit(self, c: EmitContext) -> Emitted:
        shape = ", ".join(str(s) for s in c.p.shape)
        dtype = "" if c.p.dtype == "float32" else c.p.dtype
        if c.p.init == "values":
            dt = f", dtype=torch.{c.p.dtype}"
            value = f"torch.tensor({_values(c.p.values)}{dt}).reshape({shape}{',' if len(c.p.shape) == 1 else ''})"
            if not c.p.shape:
                value = f"torch.tensor({_values(c.p.values)}{dt})"
        else:
            value = _filled(c.p.init, shape, c.p.value, dtype)
        extra = "" if c.p.persistent else ", persistent=False"
        return Emitted(
            init=[f"self.register_buffer({c.attr!r}, {value}{extra})"],
            imports={IMPORT_TORCH},
            output_exprs=[c.self_attr],
        )


def _values(text: str) -> str:
    """A nested list of numbers, written back with repr (never code)."""

    try:
        value = pyast.literal_eval(text)
    except (ValueError, SyntaxError):
        raise ValueError("values must be a list of numbers, like [0, 1, 2]") from None
    if not isinstance(value, (list, int, float, bool)):
        raise ValueError("values must be a list of numbers, like [0, 1, 2]")
    return repr(value)


register(
    BlockType(
        id="buffer",
        label="Buffer",
        category="Merge & ops",
        description=(
            "A tensor the model keeps and saves but does not train (register_buffer): a running "
            "mean, a mask, an index table. Wire it where a tensor is needed."
        ),
        torch_name="register_buffer",
        params={
            "shape": Ints((64,), key=True, min_len=0, max_len=6),
            "dtype": Choice("float32", "type", options=BUFFER_DTYPES),
            "init": Choice("zeros", "initial values", key=True, options=BUFFER_INITS),
            "value": Float(0.0, doc="The value every element starts at (constant)."),
            "values": Text("[]", doc="Every element, as a nested list (values).", max_len=500_000),
            "persistent": Bool(True, doc="Saved in the state_dict."),
        },
        inputs=(),
        emitter=BufferEmitter(),
        name_base="buffer",
        keywords=("register_buffer", "running mean", "mask", "index", "constant"),
    )
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
            "value": Float(0.0, doc="The value every element starts at (constant)."),
        },
        inputs=(),
        emitter=ParameterEmitter(),
        name_base="param",
        keywords=("weight", "learnable", "token", "bias", "scale"),
    )
)
