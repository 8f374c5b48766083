"""Imports that fx cannot map end in the list of problems, and --opaque keeps torchvision models."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from studio.compiler import analyze, generate
from studio.interop.fx_import import ModelImportError, import_module, import_spec


class Cat65(nn.Module):
    def forward(self, x):
        return torch.cat([x] * 65, dim=1).contiguous() * 2


def halve(x):
    return x / 2


torch.fx.wrap("halve")


class OwnFunctionThenAlias(nn.Module):
    def forward(self, x):
        return halve(x).contiguous() + x


@pytest.mark.parametrize(
    "module, cause",
    [(Cat65(), "torch.cat of 65 tensors (at most 64)"), (OwnFunctionThenAlias(), "halve")],
)
def test_an_alias_of_a_failed_node_is_one_more_problem_not_a_key_error(module, cause):
    with pytest.raises(ModelImportError) as info:
        import_module(module, [((8,), "float32")], name="m")
    message = str(info.value)
    assert message.startswith("m: Studio has no block for ") and "--opaque" in message
    first = message.removeprefix("m: Studio has no block for ").split(";")[0]
    assert cause in first, message  # the cause comes first, what follows from it after


def test_opaque_keeps_a_torchvision_model_whole_and_it_checks_and_builds():
    result = import_spec("torchvision:squeezenet1_0", {"num_classes": 4}, None, opaque=True, verify=False)
    graph = result.project.graph
    custom = next(b for b in graph.blocks.values() if b.type == "custom_module")
    assert custom.params["source"] == "torchvision.models:squeezenet1_0"
    analysis = analyze(graph)
    assert analysis.ok, [d.message for d in analysis.errors]
    assert analysis.block_info(custom.id).out_shapes[0][1:] == (4,)
    source = generate(graph, "m", analysis=analysis).source
    assert "torchvision.models.squeezenet1_0(" in source and "weights=None" in source


def test_a_torchvision_model_in_a_custom_module_never_gets_pretrained_weights():
    from studio.graph.model import Graph

    g = Graph()
    x = g.add_block("input", name="x", params={"shape": (3, 32, 32)})
    c = g.add_block("custom_module", name="net", params={
        "source": "torchvision.models:squeezenet1_0", "kwargs": "{'weights': 'DEFAULT'}"})
    o = g.add_block("output", name="y")
    g.connect(x.id, "out", c.id, "in")
    g.connect(c.id, "out", o.id, "in")
    errors = [d.message for d in analyze(g).errors]
    assert any("Backbone block" in m for m in errors), errors
