"""Every classification model in torchvision's registry: shapes, counts and code, on meta."""

import warnings

from studio.compiler import analyze, generate
from studio.hub.models import classification_models, resolve_weights, structure
from tests.helpers import backbone_graph


def test_models_come_from_torchvision_registry():
    import torchvision
    from torchvision.models import list_models

    assert classification_models() == tuple(list_models(module=torchvision.models))
    assert len(classification_models()) > 50


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
