"""Merges and tensor ops: combine branches (skip connections) and rearrange dimensions."""

from __future__ import annotations

import functools

from studio.blocks.params import Bool, Int, Ints
from studio.blocks.registry import IMPORT_TORCH, BlockType, EmitContext, Op, Port, no_macs, register
from studio.blocks.shapes import fmt_shape

CATEGORY = "Merge & ops"


def _n_inputs(params) -> tuple[Port, ...]:
    n = params.get("inputs", 2)
    return _ports(n) if isinstance(n, int) else tuple(Port(f"in{i + 1}") for i in range(n))


@functools.lru_cache(maxsize=64)
def _ports(n: int) -> tuple[Port, ...]:
    """One tuple per count: asked for every merge a shape walk passes (10 us to make anew)."""
    return tuple(Port(f"in{i + 1}") for i in range(n))


def _operands(c: EmitContext) -> list[str]:
    return [x for x in c.inputs if x is not None]


def _same_shapes(verb: str):
    def check(c: EmitContext) -> str | None:
        shapes = [s for s in c.in_shapes if s is not None]
        if len(shapes) < 2 or len(set(shapes)) == 1:
            return None
        import itertools

        for a, b in itertools.combinations(shapes, 2):
            for x, y in zip(reversed(a), reversed(b)):
                if x != y and 1 not in (x, y):
                    listed = " and ".join(fmt_shape(s) for s in (a, b))
                    return f"{{label}} cannot {verb} {listed}: the shapes must match (or be 1 where they differ)."
        return None

    return check


#: densenet's blocks concatenate up to 49 feature maps; the canvas draws one port per input
MAX_INPUTS = 64
INPUTS = Int(2, "inputs", "How many tensors to combine.", min=2, max=MAX_INPUTS)

register(
    BlockType(
        id="add",
        label="Add",
        category=CATEGORY,
        description="Adds its inputs element-wise: the skip connection of a residual network.",
        torch_name="operator +",
        params={"inputs": INPUTS},
        inputs=_n_inputs,
        emitter=Op(lambda c: " + ".join(_operands(c))),
        check=_same_shapes("add"),
        macs=no_macs,
        name_base="add",
        keywords=("sum", "residual", "skip connection", "merge"),
    )
)

register(
    BlockType(
        id="multiply",
        label="Multiply",
        category=CATEGORY,
        description="Multiplies its inputs element-wise (gating, learnable scales).",
        torch_name="operator *",
        params={"inputs": INPUTS},
        inputs=_n_inputs,
        emitter=Op(lambda c: " * ".join(_operands(c))),
        check=_same_shapes("multiply"),
        macs=no_macs,
        name_base="mul",
        keywords=("product", "gate", "scale", "merge"),
    )
)


def _cat_check(c: EmitContext) -> str | None:
    shapes = [s for s in c.in_shapes if s is not None]
    if len(shapes) < 2:
        return None
    rank = len(shapes[0])
    if any(len(s) != rank for s in shapes):
        return "Concatenate needs inputs with the same number of dimensions: got " + ", ".join(
            fmt_shape(s) for s in shapes
        ) + "."
    d = c.p.dim if c.p.dim >= 0 else rank + c.p.dim
    if not 0 <= d < rank:
        return f"dim {c.p.dim} does not exist for {rank}-D inputs."
    for s in shapes[1:]:
        if [x for i, x in enumerate(s) if i != d] != [x for i, x in enumerate(shapes[0]) if i != d]:
            return (
                f"Concatenate along dim {c.p.dim} needs all other sizes equal: "
                f"{fmt_shape(shapes[0])} and {fmt_shape(s)} differ."
            )
    return None


register(
    BlockType(
        id="concatenate",
        label="Concatenate",
        category=CATEGORY,
        description="Joins its inputs along one dimension (dim 1: channels or features).",
        torch_name="torch.cat",
        params={"inputs": INPUTS, "dim": Int(1, key=True, min=-8, max=8)},
        inputs=_n_inputs,
        emitter=Op(lambda c: f"torch.cat([{', '.join(_operands(c))}], dim={c.p.dim})", imports=(IMPORT_TORCH,)),
        check=_cat_check,
        macs=no_macs,
        name_base="cat",
        keywords=("cat", "concat", "join", "stack", "merge", "dense"),
    )
)


def reduce_expr(method: str):
    """``x.<method>(dim=..., keepdim=True)`` for reduction blocks (Mean, Sum)."""

    def expr(c: EmitContext) -> str:
        dims = c.p.dims[0] if len(c.p.dims) == 1 else c.p.dims
        keep = ", keepdim=True" if c.p.keepdim else ""
        return f"{c.x}.{method}(dim={dims!r}{keep})"

    return expr


def dims_check(c: EmitContext) -> str | None:
    s = c.in_shapes[0]
    if s is None:
        return None
    bad = [d for d in c.p.dims if not -len(s) <= d < len(s)]
    if bad:
        return f"dim {bad[0]} does not exist for an input shaped {fmt_shape(s)}."
    return None


register(
    BlockType(
        id="mean",
        label="Mean",
        category=CATEGORY,
        description="Averages over the given dimensions (e.g. 2, 3 for global average pooling).",
        torch_name="torch.mean",
        params={
            "dims": Ints((1,), key=True, min_len=1, max_len=6, min=-8, max=8),
            "keepdim": Bool(False),
        },
        emitter=Op(reduce_expr("mean")),
        check=dims_check,
        macs=no_macs,
        name_base="mean",
        keywords=("average", "reduce", "pool"),
    )
)


def _permute_check(c: EmitContext) -> str | None:
    s = c.in_shapes[0]
    if s is None:
        return None
    if sorted(c.p.dims) != list(range(len(s))):
        return (
            f"Permute needs an order of all {len(s)} dimensions of {fmt_shape(s)} "
            f"(0 is the batch), like {', '.join(str(i) for i in range(len(s)))}; got "
            f"{', '.join(str(d) for d in c.p.dims)}."
        )
    return None


register(
    BlockType(
        id="permute",
        label="Permute",
        category=CATEGORY,
        description="Reorders dimensions, e.g. 0, 2, 1 swaps the last two (N×L×C ↔ N×C×L).",
        torch_name="Tensor.permute",
        params={"dims": Ints((0, 2, 1), key=True, min_len=1, max_len=8, min=0, max=7)},
        emitter=Op(lambda c: f"{c.x}.permute({', '.join(str(d) for d in c.p.dims)})"),
        check=_permute_check,
        macs=no_macs,
        name_base="permute",
        keywords=("transpose", "swap", "reorder"),
    )
)

