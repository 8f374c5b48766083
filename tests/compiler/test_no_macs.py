"""Blocks that state they run no matrix product (``macs=no_macs``) are not counted: counting
them under FlopCounterMode would find the same 0, at several times the cost of their shapes."""

from dataclasses import replace

import pytest

from studio.blocks.registry import BATCH, all_block_types, no_macs
from studio.compiler import shapes
from studio.compiler.shapes import evaluate_block

#: inputs of each rank a block may take (squares, so a matrix product would run on them; 784 for
#: Unflatten's default 1x28x28)
SHAPES = [(BATCH, 8), (BATCH, 784), (BATCH, 8, 8), (BATCH, 4, 8, 8), (BATCH, 2, 4, 8, 8)]
DECLARED = [spec for spec in all_block_types() if spec.macs is no_macs]


def test_the_common_flop_free_blocks_state_it():
    ids = {spec.id for spec in DECLARED}
    common = {"relu", "gelu", "batchnorm2d", "layernorm", "dropout", "maxpool2d", "add", "flatten"}
    assert common <= ids
    assert "matmul" not in ids and "linear" not in ids  # these run a matrix product


@pytest.mark.parametrize("spec", DECLARED, ids=lambda s: s.id)
def test_counting_a_block_that_states_no_macs_finds_none(spec):
    counted = replace(spec, macs=None)  # the same block, counted under FlopCounterMode
    params = spec.defaults()
    n = len(spec.input_ports(params))
    ran = 0
    for shape in SHAPES:
        in_specs = ((shape, "float32"),) * n
        shapes.clear_cache()  # both share the block's id, so its cache entries
        info = evaluate_block(counted, params, in_specs)
        if info.error is not None or info.macs is None:
            continue  # a rank this block does not take
        ran += 1
        assert info.macs == 0, shape
        shapes.clear_cache()
        assert evaluate_block(spec, params, in_specs).out_shapes == info.out_shapes
    shapes.clear_cache()
    assert ran, "no input shape worked: add one it takes to SHAPES"
