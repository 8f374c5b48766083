"""The import's check generates its code from the shapes the import recorded
(:mod:`studio.interop.fx_seeds`) instead of inferring each block's on meta: that code must be
the code Export writes from inferred shapes, or the check proves something else."""

import pytest
import torch
import torchvision
from torch import nn

from studio import compiler
from studio.compiler import build_class as build
from studio.compiler import generate, shapes
from studio.interop import fx_import
from studio.interop.fx_import import import_module


def _small_vit() -> nn.Module:
    from torchvision.models.vision_transformer import VisionTransformer

    return VisionTransformer(
        image_size=32, patch_size=8, num_layers=2, num_heads=2, hidden_dim=16, mlp_dim=32
    )


MODELS = {
    "resnet18": (lambda: torchvision.models.resnet18(), (3, 64, 64)),
    "mobilenet_v3_small": (lambda: torchvision.models.mobilenet_v3_small(), (3, 64, 64)),
    "squeezenet1_1": (lambda: torchvision.models.squeezenet1_1(), (3, 64, 64)),
    "vit": (_small_vit, (3, 32, 32)),
    "mlp": (
        lambda: nn.Sequential(nn.Flatten(), nn.Linear(48, 8), nn.GELU(), nn.LayerNorm(8)),
        (3, 4, 4),
    ),
}


@pytest.fixture
def checked(monkeypatch):
    """The seeds each check used and the source it generated from them."""
    seen = []
    original = fx_import._generated

    def spy(project, seeds):
        analysis, code = original(project, seeds)
        if seeds:
            seen.append((seeds, code.source))
        return analysis, code

    monkeypatch.setattr(fx_import, "_generated", spy)
    return seen


@pytest.mark.parametrize("name", MODELS)
def test_the_code_the_check_proves_is_the_code_export_writes(name, checked):
    make, shape = MODELS[name]
    shapes.clear_cache()  # inferred shapes cached by earlier tests are used before the seeds
    torch.manual_seed(0)
    result = import_module(make().eval(), [(shape, "float32")], name=name)
    assert result.matches and result.checked_by == "graph"
    (seeds, source), *_ = checked
    layers = [b for b in result.project.graph.blocks.values() if b.spec.role == "layer"]
    assert len(seeds) >= len({(b.type, str(b.params)) for b in layers}) // 2  # most were given
    assert source == generate(result.project.graph, result.project.name).source


def test_wrong_recorded_shapes_are_not_what_the_check_passes_on(monkeypatch):
    """Seeds that disagree with inference (every convolution "returns" one channel more) make
    the code generated from them fail (a residual Add of 129 and 128 channels): the check then
    generates the code from inferred shapes, as Export does, and proves that."""
    from studio.interop import fx_seeds

    real = fx_seeds.recorded_specs

    def wrong(*args):
        answers = real(*args)
        for key, outs in answers.items():
            if key[0] == "conv2d":  # every convolution "returns" one channel more
                (shape, dtype), *rest = outs
                answers[key] = ((shape[:1] + (shape[1] + 1,) + shape[2:], dtype), *rest)
        return answers

    monkeypatch.setattr(fx_import, "recorded_specs", wrong)
    built = []  # the source of each class the check built
    monkeypatch.setattr(
        compiler, "build_class", lambda code: built.append(code.source) or build(code)
    )
    shapes.clear_cache()
    torch.manual_seed(0)
    result = import_module(
        torchvision.models.resnet18().eval(), [((3, 64, 64), "float32")], name="r18"
    )
    assert result.checked_by == "graph" and result.matches
    assert built == [generate(result.project.graph, result.project.name).source]
