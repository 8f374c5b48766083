"""MACs and trainable/frozen counts, checked against figures Studio did not compute."""

import pytest

from studio.compiler import analyze
from studio.graph.model import Graph
from tests.helpers import chain, mlp


def backbone_graph(model: str, freeze: str = "none", frozen: bool = False):
    g = Graph()
    x = g.add_block("input", params={"shape": [3, 224, 224]})
    b = g.add_block("backbone", params={"model": model, "freeze": freeze}, frozen=frozen)
    o = g.add_block("output")
    chain(g, x, b, o)
    return g, b


@pytest.mark.parametrize("model", ["resnet18", "mobilenet_v3_small", "vit_b_16"])
def test_backbone_macs_match_torchvision_published_figure(model):
    """torchvision publishes each model's operations per 224×224 image (``meta['_ops']``,
    in G multiply-accumulates); Studio counts the same forward on meta."""
    from studio.hub.models import resolve_weights

    published = resolve_weights(model, "DEFAULT").meta["_ops"] * 1e9
    g, b = backbone_graph(model)
    g.set_params(b.id, {"mode": "classifier"})
    macs = analyze(g).block_info(b.id).macs
    assert macs == pytest.approx(published, rel=0.01)


def test_macs_are_per_sample_and_declared_ones_are_kept():
    t = analyze(mlp(in_features=2, hidden=16, classes=3)).totals()
    assert t.macs == 2 * 16 + 16 * 3  # Linear's declared formula; ReLU counts 0


def test_freezing_a_backbone_in_each_way_counts_frozen_parameters():
    import torch
    from torchvision.models import resnet18

    with torch.device("meta"):
        net = resnet18()
    total = sum(p.numel() for p in net.parameters())
    head = sum(p.numel() for p in net.fc.parameters())
    up_to_layer2 = sum(p.numel() for m in (net.conv1, net.bn1, net.layer1, net.layer2) for p in m.parameters())

    for freeze, frozen_flag, trainable in [
        ("none", False, total),
        ("backbone", False, 0),
        ("up to layer2", False, total - up_to_layer2),
        ("none", True, 0),
    ]:
        g, b = backbone_graph("resnet18", freeze, frozen_flag)
        g.set_params(b.id, {"mode": "classifier"} if freeze != "backbone" else {"mode": "features"})
        info = analyze(g).block_info(b.id)
        expected_total = total if freeze != "backbone" else total - head
        assert (info.params, info.trainable) == (expected_total, trainable), (freeze, frozen_flag)
