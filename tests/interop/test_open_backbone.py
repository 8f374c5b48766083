"""Opening a Backbone into module definitions keeps its outputs (pretrained weights included)."""

import json

import pytest
import torch

from studio.compiler import build_model, generate
from studio.graph.commands import History
from studio.graph.model import Graph
from studio.graph.project import Project, dumps, load_project, loads
from studio.interop.open_backbone import OpenError, open_backbone


def _transfer():
    return load_project("resources/examples/transfer_learning.studio.json")


def test_the_opened_model_computes_what_the_backbone_did_and_undo_restores_it(tmp_path):
    project = _transfer()
    g = project.graph
    before_text = json.dumps(g.to_dict(), sort_keys=True)
    torch.manual_seed(0)
    before = build_model(g).eval()
    backbone = next(b for b in g if b.type == "backbone")
    opened = open_backbone(g, backbone.id, tmp_path)
    history = History(g)
    history.push(opened.command)
    source = generate(g, "Transfer").source
    assert "class MobileNetV3(nn.Module):" in source
    assert "weights_only=True" in source and "F.interpolate" in source
    after = build_model(g).eval()
    for name in ("to_rgb", "head"):
        getattr(after, name).load_state_dict(getattr(before, name).state_dict())
    x = torch.randn(3, 1, 28, 28)
    with torch.no_grad():
        assert torch.equal(after(x), before(x))
    # the project saves and opens again with its modules
    again = loads(dumps(Project(name="t", graph=g)))
    assert generate(again.graph, "Transfer").source == source
    history.undo()
    assert json.dumps(g.to_dict(), sort_keys=True) == before_text
    history.redo()
    assert generate(g, "Transfer").source == source


def test_one_layer_inside_can_be_unfrozen(tmp_path):
    g = _transfer().graph
    backbone = next(b for b in g if b.type == "backbone")
    History(g).push(open_backbone(g, backbone.id, tmp_path).command)
    g.set_frozen(backbone.id, False)
    model = build_model(g)
    assert all(p.requires_grad for p in model.backbone.parameters())


def test_an_unwired_or_plain_block_is_refused_with_one_line(tmp_path):
    g = Graph()
    b = g.add_block("backbone", params={"model": "resnet18", "weights": "none"})
    with pytest.raises(OpenError, match="Wire backbone"):
        open_backbone(g, b.id, tmp_path)
    lin = g.add_block("linear")
    with pytest.raises(OpenError, match="not a Backbone"):
        open_backbone(g, lin.id, tmp_path)
