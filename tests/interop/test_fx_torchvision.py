"""Every torchvision classification model imports through torch.fx, faithfully.

A representative ten run by default (one of each family whose import needs something of its
own: n-ary merges, the Function block, tuple outputs, stochastic depth, parameters read with
get_attr); the whole list is marked slow (``-m slow``; about 20 minutes on 2 cores).
"""

from __future__ import annotations

import pytest
import torchvision

from benchmarks.import_all import KWARGS, image_size
from studio.compiler import analyze
from studio.interop.fx_import import import_module
from studio.interop.sources import load_model
from tests.interop.test_fx_import import assert_faithful

#: small ones, each with a different difficulty; vit_b_16 needs its full 224 pixels
REPRESENTATIVE = [
    "resnet18",  # residual Add
    "mobilenet_v3_small",  # squeeze-excitation Multiply, hardswish
    "squeezenet1_0",  # Concatenate
    "shufflenet_v2_x0_5",  # Tensor.chunk with two outputs, channel shuffle views
    "densenet121",  # torch.cat of up to 25 tensors
    "efficientnet_b0",  # torchvision's stochastic depth
    "regnet_x_400mf",
    "mnasnet0_5",
    "convnext_tiny",  # F.layer_norm on parameters read with get_attr
    "vit_b_16",  # class token expanded to the batch, MultiheadAttention's tuple
]
#: a ViT built for 64-pixel images (16 patches) imports like the 224-pixel one, 10 times faster
SMALL = {"vit_b_16": 64}
ALL = torchvision.models.list_models(module=torchvision.models)


def _check(name: str, num_classes: int | None = None, size: int | None = None, hierarchy: bool = True):
    kwargs = dict(KWARGS.get(name, {}))
    if num_classes:
        kwargs["num_classes"] = num_classes
    if size:
        kwargs["image_size"] = size
    loaded = load_model(f"torchvision:{name}", kwargs)
    size = size or image_size(name)
    inputs = [((3, size, size), "float32")]
    result = import_module(
        loaded.module, inputs, name=name, source=loaded.source, kwargs=loaded.kwargs, hierarchy=hierarchy
    )
    assert result.params == result.original_params, result.summary()
    assert result.max_difference is not None and result.max_difference <= 1e-5, result.summary()
    return loaded, result, inputs


@pytest.mark.parametrize("name", REPRESENTATIVE)
def test_representative_torchvision_models_import_with_identical_outputs(name):
    loaded, result, inputs = _check(name, num_classes=10, size=SMALL.get(name))
    assert_faithful(loaded.module, result.project, inputs)  # strict state_dict, atol 1e-5


def test_the_imported_blocks_keep_their_module_paths_and_the_long_tail_is_function_blocks():
    loaded, result, _ = _check("convnext_tiny", num_classes=10, hierarchy=False)  # the flat graph's paths
    graph = result.project.graph
    paths = result.module_paths
    layer_norms = [b for b in graph.blocks.values() if b.type == "function"]
    assert layer_norms and all(b.params["function"] == "F.layer_norm" for b in layer_norms)
    weight = next(b for b in graph.blocks.values() if b.type == "parameter")
    assert paths[weight.id] == "features.0.1.weight"
    conv = next(b for b in graph.blocks.values() if b.type == "conv2d")
    assert paths[conv.id] == "features.0.0"
    depth = [b for b in graph.blocks.values() if b.type == "custom_module"]
    assert depth and {b.params["source"] for b in depth} == {"torchvision.ops:StochasticDepth"}
    assert analyze(graph).ok


@pytest.mark.slow
@pytest.mark.parametrize("name", ALL)
def test_every_torchvision_classification_model_imports_with_identical_outputs(name):
    _check(name)
