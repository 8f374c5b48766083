"""The Backbone block's code, a few real forward passes, freezing and frozen batch norm."""

import warnings

import pytest
import torch

from studio.blocks.registry import BATCH, get_block_type
from studio.compiler import analyze, build_model, generate
from studio.compiler.shapes import evaluate_block
from studio.graph.commands import History, SetParams
from studio.hub.models import resolve_weights
from tests.helpers import backbone_graph


def test_code_reads_like_a_person_wrote_it():
    g, b = backbone_graph(model="resnet18", weights="IMAGENET1K_V1", freeze="backbone")
    src = generate(g, "Net").source
    assert "from torchvision.models import ResNet18_Weights, resnet18" in src
    assert "self.backbone = resnet18(weights=ResNet18_Weights.IMAGENET1K_V1)" in src
    assert "self.backbone.fc = nn.Identity()" in src
    assert "self.backbone.requires_grad_(False)" in src
    assert "self.backbone.eval()" in src
    assert "studio" not in src.split('"""', 2)[2]  # nothing from Studio after the docstring


def test_inference_writes_no_weights_and_no_file_access():
    spec = get_block_type("backbone")
    params = spec.coerce_params({"model": "resnet18", "weights": "file", "weights_file": "/nope/w.pth"})
    info = evaluate_block(spec, params, (((BATCH, 3, 32, 32), "float32"),))
    assert info.error is None and info.out_shapes == ((BATCH, 512),)
    from studio.blocks.registry import EmitContext

    ctx = EmitContext("bb", params, ["x"], ["y"], [(BATCH, 3, 32, 32)], ["float32"], inference=True)
    emitted = spec.emitter.emit(ctx)
    assert not any("load" in line for line in emitted.init)
    params = spec.coerce_params({"model": "resnet18"})
    ctx.params = params
    assert "weights=None" in spec.emitter.emit(ctx).init[0]


@pytest.mark.filterwarnings("ignore::FutureWarning")
@pytest.mark.parametrize("model", ["resnet18", "googlenet", "regnet_x_400mf", "vit_b_32"])
def test_classifier_mode_counts_match_torchvision_metadata(model):
    w = resolve_weights(model, "DEFAULT")
    size = max(224, w.meta["min_size"][0])
    g, b = backbone_graph((3, size, size), model=model, mode="classifier")
    info = analyze(g).block_info(b.id)
    assert info.out_shapes == ((BATCH, 1000),)
    assert info.params == w.meta["num_params"]


@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_inception_is_built_without_aux_classifiers():
    # torchvision's metadata counts the auxiliary classifier; the code leaves it out
    # (aux_logits=False), so training gets one tensor, and the count is the built model's
    from torchvision.models import inception_v3

    g, b = backbone_graph((3, 299, 299), model="inception_v3", mode="classifier")
    assert "aux_logits=False" in generate(g, "Net").source
    with torch.device("meta"):
        expected = sum(p.numel() for p in inception_v3(aux_logits=False).parameters())
    assert analyze(g).block_info(b.id).params == expected


def test_feature_map_of_a_stage_and_real_forward():
    g, b = backbone_graph((3, 64, 64), model="resnet18", weights="none", mode="feature map", stage="layer3")
    a = analyze(g)
    assert a.block_info(b.id).out_shapes == ((BATCH, 256, 4, 4),)
    src = generate(g, "Net").source
    assert "create_feature_extractor(" in src and '["layer3"]' in src
    model = build_model(g, "Net")
    assert model(torch.randn(2, 3, 64, 64)).shape == (2, 256, 4, 4)


def test_resize_and_real_forward_of_a_small_model():
    g, b = backbone_graph((3, 20, 20), model="mobilenet_v3_small", weights="none", resize=64)
    assert analyze(g).block_info(b.id).out_shapes == ((BATCH, 1024),)
    src = generate(g, "Net").source
    assert "nn.functional.interpolate(" in src and "size=(64, 64)" in src
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = build_model(g, "Net")(torch.randn(2, 3, 20, 20))
    assert out.shape == (2, 1024)


def test_freeze_up_to_a_stage_keeps_frozen_batch_norm_fixed():
    g, b = backbone_graph((3, 32, 32), model="resnet18", weights="none", freeze="up to layer2")
    a = analyze(g)
    info = a.block_info(b.id)
    frozen = sum(
        p.numel()
        for name, p in __import__("torchvision").models.resnet18().named_parameters()
        if name.split(".")[0] in ("conv1", "bn1", "layer1", "layer2")
    )
    assert info.params - info.trainable == frozen
    model = build_model(g, "Net")
    model.train()
    before = model.backbone.layer1[0].bn1.running_mean.clone()
    model(torch.randn(4, 3, 32, 32) * 3 + 1)
    assert torch.equal(model.backbone.layer1[0].bn1.running_mean, before)  # frozen: eval mode
    assert model.backbone.layer3.training  # trained part: train mode
    assert not model.backbone.layer2[0].conv1.weight.requires_grad
    assert model.backbone.layer3[0].conv1.weight.requires_grad


def test_sequence_stages_freeze_as_one_slice():
    g, b = backbone_graph((3, 32, 32), model="mobilenet_v3_small", weights="none", freeze="up to features.4")
    src = generate(g, "Net").source
    assert "self.backbone.features[:5].requires_grad_(False)" in src
    assert "self.backbone.features[:5].eval()" in src


def test_grayscale_input_gets_a_helpful_message():
    g, b = backbone_graph((1, 28, 28), model="resnet18")
    (err,) = analyze(g).errors
    assert "N×3×H×W" in err.message and "Conv2d with 3 out channels" in err.message


def test_a_new_model_keeps_the_choices_that_fit_in_one_undo_step():
    g, b = backbone_graph(model="resnet50", weights="IMAGENET1K_V2", freeze="up to layer2")
    h = History(g)
    h.push(SetParams(b.id, b.spec.changed_params(b.params, {"model": "vit_b_16"})))
    assert b.params["model"] == "vit_b_16"
    assert b.params["weights"] == "DEFAULT"  # vit_b_16 has no IMAGENET1K_V2
    assert b.params["freeze"] == "none"
    h.undo()
    assert b.params["weights"] == "IMAGENET1K_V2" and b.params["freeze"] == "up to layer2"
