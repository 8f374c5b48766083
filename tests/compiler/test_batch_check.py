"""A call that mixes the samples of a batch (torch.kron, flatten over dim 0) is an error on its
block, found by the check at two batch sizes; calls that keep, move or fold-and-unfold the
batch, and real sizes that happen to be multiples of the inference batch, are not."""

import pytest
import torch

from studio.blocks.registry import BATCH
from studio.blocks.shapes import fmt_shape
from studio.compiler import analyze, build_model
from studio.graph.model import Graph
from tests.helpers import chain
from tests.modules_helpers import chain as module_chain


def _call(function, arguments):
    n = 2 if "in2" in arguments else 1
    return {"function": function, "arguments": arguments, "inputs": n, "outputs": 1}


def _chain(*calls, shape=(4, 6)):
    """Input -> one Function block per ``(function, arguments)`` -> Output; ``in2`` is the Input."""
    g = Graph()
    x = g.add_block("input", name="x", params={"shape": list(shape)})
    blocks = [g.add_block("function", name=f"fn{i}", params=_call(*c)) for i, c in enumerate(calls)]
    chain(g, x, *blocks, g.add_block("output", name="y"))
    for b in blocks:
        if b.params["inputs"] == 2:
            g.connect(x.id, "out", b.id, "in2")
    return g, blocks


@pytest.mark.parametrize(
    "function, arguments, shown",
    [
        ("torch.kron", "in1, in1", "N²×16×36"),
        ("torch.kron", "in1, in2", "N²×16×36"),
        ("torch.flatten", "in1", "24N"),
        ("Tensor.reshape", "in1, -1, 3", "8N×3"),
        ("Tensor.repeat", "in1, 2, 1, 1", "2N×4×6"),
    ],
)
def test_a_call_that_mixes_the_batch_is_an_error_on_its_block(function, arguments, shown):
    g, (fn,) = _chain((function, arguments))
    a = analyze(g)
    errors = a.errors
    assert len(errors) == 1 and errors[0].block_id == fn.id, [d.message for d in errors]
    message = errors[0].describe(g)
    assert message.startswith("fn0: This block mixes the samples of a batch")
    assert f"for a batch of N it gives {shown}," in message and "\n" not in message


@pytest.mark.parametrize(
    "calls",
    [
        [("torch.roll", "in1, 1, 1")],
        [("Tensor.transpose", "in1, 0, 1")],  # the batch moves but stays the batch
        [
            ("Tensor.reshape", "in1, -1, 3"),
            ("Tensor.reshape", "in1, in2.shape[0], -1"),
        ],  # fold, unfold
        [("torch.kron", "in1, in1"), ("Tensor.narrow", "in1, 0, 0, in2.shape[0]")],
    ],
)
def test_calls_that_keep_move_or_restore_the_batch_pass(calls):
    g, _ = _chain(*calls)
    a = analyze(g)
    assert a.ok, [d.message for d in a.errors]
    x = torch.randn(3, 4, 6)
    assert 3 in build_model(g, "m")(x).shape


def test_a_real_size_that_is_a_multiple_of_the_inference_batch_is_not_blamed():
    g = Graph()
    x = g.add_block("input", name="x", params={"shape": [4]})
    fc = g.add_block("linear", name="fc", params={"out_features": 2 * BATCH, "bias": True})
    t = g.add_block("function", name="t", params=_call("Tensor.transpose", "in1, 0, 1"))
    chain(g, x, fc, t, g.add_block("output", name="y"))
    a = analyze(g)
    assert a.ok, [d.message for d in a.errors]
    assert fmt_shape(a.block_info(fc.id).out_shapes[0]) == f"N×{2 * BATCH}"


@pytest.mark.parametrize("mixes", [True, False])
def test_a_module_use_is_judged_by_its_inside_at_two_batch_sizes(mixes):
    g = Graph()
    inner = g.library.new("Unit").graph
    step = (
        ("function", dict(name="mix", params=_call("torch.kron", "in1, in1")))
        if mixes
        else ("linear", dict(name="wide", params={"out_features": 2 * BATCH}))
    )
    module_chain(
        inner, ("input", dict(name="x", params={"shape": [4]})), step, ("output", dict(name="y"))
    )
    x, use, _ = module_chain(
        g,
        ("input", dict(name="x", params={"shape": [4]})),
        ("module:Unit", dict(name="unit")),
        ("output", dict(name="y")),
    )
    errors = analyze(g).errors
    if mixes:
        assert [(d.block_id, d.message[:43]) for d in errors] == [
            (use.id, "This block mixes the samples of a batch: fo")
        ]
    else:
        assert errors == []
