"""Input and Output: the graph's forward() arguments and return values."""

from studio.blocks.params import Choice, Ints
from studio.blocks.registry import IN, OUT, ROLE_INPUT, ROLE_OUTPUT, BlockType, register

DTYPES = ("float32", "float64", "float16", "bfloat16", "int64")

register(
    BlockType(
        id="input",
        label="Input",
        category="Input / Output",
        description=(
            "Where data enters the model: one argument of forward(). The shape leaves out the "
            "batch dimension N (e.g. 2 for points, 1, 28, 28 for grey images)."
        ),
        torch_name="forward() argument",
        emitter=None,
        role=ROLE_INPUT,
        inputs=(),
        outputs=OUT,
        params={
            "shape": Ints((2,), "shape", "Size of one sample, without the batch dimension.", key=True),
            "dtype": Choice("float32", "dtype", "Element type; int64 for token ids.", options=DTYPES),
        },
        name_base="x",
        keywords=("data", "placeholder", "argument"),
    )
)

register(
    BlockType(
        id="output",
        label="Output",
        category="Input / Output",
        description="What the model returns. Several Outputs return a tuple, in creation order.",
        torch_name="forward() return",
        emitter=None,
        role=ROLE_OUTPUT,
        inputs=IN,
        outputs=(),
        name_base="output",
        keywords=("return", "result", "logits", "head"),
    )
)
