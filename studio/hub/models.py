"""torchvision's classification models, read from torchvision's own registry.

Nothing here is a list written by hand: the models come from
``torchvision.models.list_models(module=torchvision.models)``, their weights from
``get_model_weights``, and each model's head and stages from one build of it on ``meta``
(no memory, no download), so a new torchvision release brings its new models.

Everything is computed on first use and cached; importing this module imports no torch.
"""

from __future__ import annotations

import functools
import inspect
import re
from dataclasses import dataclass
from typing import Any

#: weights choices besides the model's own enum members
DEFAULT = "DEFAULT"  # the model's best weights today (written into the code as the real member)
NONE = "none"  # random initialisation
FILE = "file"  # a local .pth/.pt state_dict


@functools.cache
def classification_models() -> tuple[str, ...]:
    """Names of torchvision's classification models (``resnet18``, ``vit_b_16``...)."""
    import torchvision
    from torchvision.models import list_models

    return tuple(list_models(module=torchvision.models))


def is_model_builder(module: str, name: str) -> bool:
    """``torchvision.models:resnet18`` and the like: a function in torchvision's registry that
    builds a model (what ``studio import torchvision:NAME --opaque`` keeps), which a Custom
    module may call while shapes are inferred. Built without pretrained weights."""
    if module != "torchvision.models":
        return False
    from torchvision.models import list_models

    return name in list_models()


def builder_name(model: str) -> str:
    """The function that builds ``model`` (its import name in generated code)."""
    return _builder(model).__name__


def _builder(model: str):
    from torchvision.models import get_model_builder

    return get_model_builder(model)


def weights_enum(model: str):
    """The model's weights enum class (``ResNet18_Weights``)."""
    from torchvision.models import get_model_weights

    return get_model_weights(model)


@functools.cache
def weights_names(model: str) -> tuple[str, ...]:
    """The model's weights members, in torchvision's order (``IMAGENET1K_V1``, ...)."""
    return tuple(w.name for w in weights_enum(model))


def weights_choices(model: str) -> tuple[str, ...]:
    """What the Backbone block's weights parameter offers for ``model``."""
    return (DEFAULT, *weights_names(model), NONE, FILE)


def resolve_weights(model: str, choice: str):
    """The weights member a choice stands for (``DEFAULT`` resolved), or None."""
    if choice in (NONE, FILE, ""):
        return None
    enum = weights_enum(model)
    return enum.DEFAULT if choice == DEFAULT else enum[choice]


def weights_id(weights) -> str:
    """``ResNet18_Weights.IMAGENET1K_V1``: the name :func:`get_weights` takes back."""
    return f"{type(weights).__name__}.{weights.name}"


def get_weights(name: str):
    """The weights member named ``ResNet18_Weights.IMAGENET1K_V1``."""
    from torchvision.models import get_weight

    try:
        return get_weight(name)
    except (ValueError, KeyError, AttributeError):
        raise ValueError(f"torchvision has no weights called {name!r}") from None


def describe_weights(weights) -> str:
    """``IMAGENET1K_V1: 69.8% top-1, 44.7 MB, 11.7M parameters`` from the weights' metadata."""
    meta = weights.meta
    parts = []
    for dataset, metrics in (meta.get("_metrics") or {}).items():
        if "acc@1" in metrics:
            parts.append(f"{metrics['acc@1']:.1f}% top-1 on {dataset}")
            break
    if "_file_size" in meta:
        parts.append(f"{meta['_file_size']:.1f} MB")
    if "num_params" in meta:
        parts.append(f"{meta['num_params'] / 1e6:.1f}M parameters")
    return f"{weights.name}: " + ", ".join(parts) if parts else weights.name


def weights_text(model: str, choice: str) -> str:
    """What an editor shows for a weights choice."""
    if choice == NONE:
        return "none (random initialisation)"
    if choice == FILE:
        return "a local file (.pth / .pt state_dict)"
    try:
        w = resolve_weights(model, choice)
    except (KeyError, ValueError):
        return choice
    text = describe_weights(w)
    return f"best available ({text})" if choice == DEFAULT else text


# ------------------------------------------------------------------------ structure
@dataclass(frozen=True)
class Stage:
    """A piece of the network that can be frozen or whose output can be taken."""

    name: str  # fx node / state_dict prefix: "layer3", "features.7"
    expr: str  # Python attribute expression: "layer3", "features[7]"
    params: int
    has_batchnorm: bool
    #: the sequence this stage is an item of ("features"), and its position there
    parent: str | None = None
    index: int = 0


@dataclass(frozen=True)
class Structure:
    """What the Backbone block needs to know about a model's layout."""

    model: str
    #: the layer that turns features into class scores (replaced by nn.Identity in
    #: feature-extractor mode): "fc", "classifier.3", "heads.head"
    head: str
    head_expr: str
    #: size of the feature vector the head receives
    features: int
    #: the stages before the head's container, in order
    stages: tuple[Stage, ...]
    #: constructor arguments Studio may set: ``aux_logits`` (always False: a plain tensor
    #: out in training too) and ``image_size`` (inference only, see inference_kwargs)
    init_args: tuple[str, ...]
    params: int

    def stage(self, name: str) -> Stage:
        for s in self.stages:
            if s.name == name:
                return s
        raise KeyError(name)

    @property
    def stage_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.stages)


def attr_expr(path: str) -> str:
    """``classifier.3`` -> ``classifier[3]``; ``heads.head`` stays."""
    out = ""
    for part in path.split("."):
        if part.isdigit():
            out += f"[{part}]"
        elif part.isidentifier():
            out += f".{part}" if out else part
        else:
            out += f"[{part!r}]"
    return out


def meta_model(model: str, **kwargs: Any):
    """``model`` built without weights on ``meta``: no memory, no compute, no download."""
    import torch

    builder = _builder(model)
    try:
        with torch.device("meta"):
            return builder(weights=None, **kwargs)
    except Exception:
        # constructors that compute with tensors (RegNet) run on the CPU, weights on meta
        from studio.compiler.shapes import parameters_on_meta

        with parameters_on_meta():
            return builder(weights=None, **kwargs)


@functools.cache
def structure(model: str) -> Structure:
    """The layout of ``model``, from one build on ``meta`` (cached)."""
    import warnings

    from torch import nn
    from torch.nn.modules.batchnorm import _BatchNorm

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = meta_model(model)
    init_args = tuple(
        a
        for a in ("aux_logits", "image_size")
        if a in inspect.signature(type(net).__init__).parameters
    )
    modules = dict(net.named_modules())
    linears = [n for n, m in modules.items() if isinstance(m, nn.Linear)]
    convs = [n for n, m in modules.items() if isinstance(m, nn.Conv2d)]
    head = linears[-1] if linears else convs[-1]
    layer = modules[head]
    features = layer.in_features if isinstance(layer, nn.Linear) else layer.in_channels

    children = list(net.named_children())
    head_top = head.split(".")[0]
    top = [(n, m) for n, m in children]
    cut = [n for n, _ in top].index(head_top)
    trunk = top[:cut]

    def count(m) -> int:
        return sum(p.numel() for p in m.parameters())

    def is_sequence(m) -> bool:
        return isinstance(m, (nn.Sequential, nn.ModuleList))

    position: dict[str, tuple[str, int]] = {}  # stage path -> (parent path, index)

    def spine(path: str, m, depth: int) -> list[tuple[str, Any]]:
        """The main sequence of blocks (torchvision's ``features``, ``layers``, ViT's
        ``encoder.layers``...) is offered block by block; everything else as it is."""
        kids = list(m.named_children())
        if is_sequence(m):
            if len(m) < 4:
                return [(path, m)]
            for i, (k, _) in enumerate(kids):
                position[f"{path}.{k}"] = (path, i)
            return [(f"{path}.{k}", c) for k, c in kids]
        total = count(m)
        big = [i for i, (_, c) in enumerate(kids) if total and count(c) > total / 2]
        if depth == 0 or not big:
            return [(path, m)]
        i = big[0]
        inner = spine(f"{path}.{kids[i][0]}", kids[i][1], depth - 1)
        if len(inner) == 1:
            return [(path, m)]
        before = [(f"{path}.{k}", c) for k, c in kids[:i]]
        after = [(f"{path}.{k}", c) for k, c in kids[i + 1 :]]
        return before + inner + after

    trunk_total = sum(count(m) for _, m in trunk)
    pieces: list[tuple[str, Any]] = []
    for name, child in trunk:
        if trunk_total and count(child) > trunk_total / 2:
            pieces += spine(name, child, depth=1)
        else:
            pieces.append((name, child))
    stages = [
        Stage(
            name=path,
            expr=attr_expr(path),
            params=count(m),
            has_batchnorm=any(isinstance(x, _BatchNorm) for x in m.modules()),
            parent=attr_expr(position[path][0]) if path in position else None,
            index=position[path][1] if path in position else 0,
        )
        for path, m in pieces
        if count(m)  # layers without weights (ReLU, pooling) are not worth a choice
    ]
    return Structure(
        model=model,
        head=head,
        head_expr=attr_expr(head),
        features=features,
        stages=tuple(stages),
        init_args=init_args,
        params=count(net),
    )


def stage_choices(model: str) -> tuple[str, ...]:
    return ("last", *structure(model).stage_names)


def inference_kwargs(model: str, weights) -> dict[str, Any]:
    """Keyword arguments that make a ``weights=None`` build match the weights' architecture.

    torchvision's builders overwrite some constructor arguments from the weights' metadata;
    the one that changes shapes is a ViT's ``image_size`` (SWAG weights use 384 or 518).
    """
    if weights is None or "image_size" not in structure(model).init_args:
        return {}
    return {"image_size": weights.meta["min_size"][0]}


def filename_of(url: str) -> str:
    """The file name torch.hub stores a download under (the URL's last part)."""
    from urllib.parse import urlparse

    return re.sub(r"[?#].*$", "", urlparse(url).path.rsplit("/", 1)[-1])
