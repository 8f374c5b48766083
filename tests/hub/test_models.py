"""Every classification model in torchvision's registry: shapes, counts and code, on meta."""

import warnings

import pytest

from studio.compiler import analyze, generate
from studio.hub.models import classification_models, resolve_weights, structure
from tests.helpers import backbone_graph


def test_the_backbone_offers_torchvisions_classifiers_and_nothing_else():
    from studio.blocks.registry import get_block_type

    offered = get_block_type("backbone").params["model"].options_for({})
    assert offered == classification_models() and len(offered) > 50
    assert {"resnet18", "mobilenet_v3_small", "vit_b_16", "efficientnet_b0"} <= set(offered)
    assert not {"fasterrcnn_resnet50_fpn", "deeplabv3_resnet50", "raft_large"} & set(offered)


@pytest.mark.slow  # over the 10-minute budget of the default run; `pytest -m slow` runs it
def test_every_model_infers_shapes_counts_and_exports():
    problems = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for model in classification_models():
            w = resolve_weights(model, "DEFAULT")
            size = max(224, w.meta["min_size"][0])
            g, b = backbone_graph((3, size, size), model=model, freeze="backbone")
            a = analyze(g)
            info = a.block_info(b.id)
            if a.errors:
                problems.append(f"{model}: {a.errors[0].message}")
                continue
            s = structure(model)
            if info.out_shapes[0][1:] != (s.features,):
                problems.append(f"{model}: {info.out_shapes[0]} but {s.features} features")
            if not info.params or info.trainable:
                problems.append(f"{model}: params {info.params}, trainable {info.trainable}")
            if info.fallback:
                problems.append(f"{model}: needed a real CPU build")
            source = generate(g, "M", analysis=a).source
            if f"weights={type(w).__name__}.{w.name}" not in source:
                problems.append(f"{model}: weights not in the code")
    assert not problems, "\n".join(problems)
