"""Pretrained networks: a torchvision Backbone block and a torch.hub block, declared by the hub.

These two declarations need the hub (torchvision's registry, torch.hub repositories), so
they live in the hub layer and register themselves here; the pure registry imports this
module by name when first read (:data:`studio.blocks.registry.CONTRIBUTORS`), so every
consumer still reads one registry whole. Importing it imports no torch: the options are read
on first use, and where torchvision is missing (a project opened by the pure layers alone)
they are :class:`~studio.blocks.params.OptionsUnknown` and a file's values are kept as saved.

The Backbone block offers every classification model in torchvision's own registry (read on
first use, so importing the registry stays free of torch) with its weights, a mode (the whole
network, its feature vector, or the feature map of a stage), freezing, and an optional resize
of its input. Its code reads like a person wrote it::

    self.backbone = resnet18(weights=ResNet18_Weights.IMAGENET1K_V1)
    self.backbone.fc = nn.Identity()
    self.backbone.requires_grad_(False)

While shapes are inferred (``ctx.inference``) it writes ``weights=None`` and skips loading a
file: shapes and parameter counts are the same, and nothing is downloaded or read.
Frozen parts with batch norm go back to eval mode in the model's ``train(mode)`` override
(one line per frozen part), so ``model.train()`` never lets them drift from their pretrained
statistics.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from studio.blocks.catalogue.ops import register_model_builder
from studio.blocks.params import Bool, Choice, Int, OptionsUnknown, Text
from studio.blocks.registry import (
    ASSET_HUB_REPO,
    ASSET_WEIGHTS,
    ASSET_WEIGHTS_FILE,
    IMPORT_NN,
    IMPORT_TORCH,
    Action,
    Asset,
    BlockType,
    Code,
    EmitContext,
    Emitted,
    Emitter,
    call,
    register,
)
from studio.blocks.shapes import fmt_shape
from studio.blocks.text import short_repr, shorten
from studio.hub import models as tv
from studio.hub.repos import (
    HubError,
    cached_repo_dir,
    inference_kwargs,
    list_entrypoints,
    parse_kwargs,
    parse_repo,
)

PRETRAINED = "Pretrained"
DEFAULT_MODEL = "resnet18"

MODES = ("features", "classifier", "feature map")
_MODE_TEXT = {
    "features": "feature vector (classifier removed: attach your own head)",
    "classifier": "whole network (ImageNet's 1000 classes)",
    "feature map": "feature map of a stage (N×C×H×W)",
}


def _model(values: Mapping[str, Any]) -> str:
    return values.get("model", DEFAULT_MODEL)


def _listed(read):
    """``read()``, or :class:`OptionsUnknown` where torchvision cannot be imported (the pure
    layers opening a project): a file's value is then kept as saved and checked later."""
    try:
        return read()
    except ImportError as e:
        raise OptionsUnknown(f"torchvision is not available ({e})") from None


def _models() -> tuple[str, ...]:
    return _listed(tv.classification_models)


def _weights(values: Mapping[str, Any]) -> tuple[str, ...]:
    return _listed(lambda: tv.weights_choices(_model(values)))


def _weights_text(option: str, values: Mapping[str, Any]) -> str:
    return tv.weights_text(_model(values), option)


def _stages(values: Mapping[str, Any]) -> tuple[str, ...]:
    return _listed(lambda: tv.stage_choices(_model(values)))


def _freeze(values: Mapping[str, Any]) -> tuple[str, ...]:
    stages = _listed(lambda: tv.structure(_model(values)).stage_names)
    return ("none", "backbone", *(f"up to {s}" for s in stages))


def _freeze_text(option: str, values: Mapping[str, Any]) -> str:
    if option == "none":
        return "none (train everything)"
    if option == "backbone":
        return "backbone (train only the head)"
    return f"{option} (train what comes after)"


class BackboneEmitter(Emitter):
    def emit(self, c: EmitContext) -> Emitted:
        p = c.p
        s = tv.structure(p.model)
        builder = tv.builder_name(p.model)
        names = {builder}
        weights = tv.resolve_weights(p.model, p.weights)
        kwargs: dict[str, Any] = {}
        if weights is not None:
            if c.inference:
                kwargs["weights"] = None
                kwargs.update(tv.inference_kwargs(p.model, weights))
            else:
                enum = type(weights).__name__
                names.add(enum)
                kwargs["weights"] = Code(f"{enum}.{weights.name}")
        if "aux_logits" in s.init_args:
            kwargs["aux_logits"] = False  # one tensor out, in training too
        me = c.self_attr
        init = [f"{me} = {call(builder, **kwargs)}"]
        if p.weights == tv.FILE and not c.inference:
            init.append(
                f"{me}.load_state_dict(torch.load({p.weights_file!r}, map_location='cpu', weights_only=True))"
            )
        if p.mode == "features":
            init.append(f"{me}.{s.head_expr} = nn.Identity()  # keep the {s.features} features")

        frozen, eval_parts = self._freezing(c, s)
        init += frozen
        imports = {
            IMPORT_TORCH,
            IMPORT_NN,
            f"from torchvision.models import {', '.join(sorted(names))}",
        }
        out, x = c.out, c.x
        train = [f"{me}.{part}.eval()" if part else f"{me}.eval()" for part in eval_parts]
        if train:
            train[0] += "  # frozen: batch norm keeps its pretrained statistics"
        forward: list[str] = []
        if p.resize:
            r = p.resize
            forward.append(
                f"{out} = nn.functional.interpolate({x}, size=({r}, {r}), mode='bilinear', align_corners=False)"
            )
            x = out
        if p.mode == "feature map":
            node = s.stage_names[-1] if p.stage == "last" else p.stage
            imports.add(
                "from torchvision.models.feature_extraction import create_feature_extractor"
            )
            init.append(f"{me} = create_feature_extractor({me}, return_nodes=[{node!r}])")
            forward.append(f"{out} = {me}({x})[{node!r}]")
        else:
            forward.append(f"{out} = {me}({x})")
        return Emitted(init=init, forward=forward, imports=imports, train=train)

    @staticmethod
    def _freezing(c: EmitContext, s) -> tuple[list[str], list[str]]:
        """``requires_grad_(False)`` lines, and the parts ``train(mode)`` puts back in eval mode."""
        me = c.self_attr
        has_bn = any(st.has_batchnorm for st in s.stages)
        if c.p.freeze == "none":
            return [], ([""] if c.frozen and has_bn else [])
        if c.p.freeze == "backbone":
            lines = [f"{me}.requires_grad_(False)"]
            if c.p.mode == "classifier":
                lines.append(f"{me}.{s.head_expr}.requires_grad_(True)  # train the head")
            return lines, ([""] if has_bn else [])
        last = c.p.freeze.removeprefix("up to ")
        upto = s.stage_names.index(last) + 1
        groups: list[tuple[str, bool]] = []  # (expression, has batch norm)
        seen_parent: dict[str, int] = {}
        for st in s.stages[:upto]:
            if st.parent is None:
                groups.append((st.expr, st.has_batchnorm))
                continue
            # items of one sequence (features[0], features[1]...) freeze as one slice
            expr = f"{st.parent}[:{st.index + 1}]"
            if st.parent in seen_parent:
                i = seen_parent[st.parent]
                groups[i] = (expr, groups[i][1] or st.has_batchnorm)
            else:
                seen_parent[st.parent] = len(groups)
                groups.append((expr, st.has_batchnorm))
        lines = [f"{me}.{expr}.requires_grad_(False)" for expr, _ in groups]
        if c.frozen:
            return lines, ([""] if has_bn else [])
        if c.p.mode == "feature map":
            # the feature extractor keeps module names but not sequences: name the parts
            parts = [f"get_submodule({st.name!r})" for st in s.stages[:upto] if st.has_batchnorm]
        else:
            parts = [expr for expr, bn in groups if bn]
        return lines, parts


def _backbone_check(c: EmitContext) -> str | None:
    shape = c.in_shapes[0]
    if shape is not None and (len(shape) != 4 or shape[1] != 3):
        return (
            f"{{label}} needs colour images N×3×H×W but gets {fmt_shape(shape)}. For grayscale "
            "images put a Conv2d with 3 out channels (kernel size 1) before it."
        )
    if c.p.weights == "file":
        path = c.p.weights_file.strip()
        if not path:
            return "Choose the weights file (.pth or .pt) or other weights."
        if not path.lower().endswith((".pth", ".pt")):
            return f"The weights file must be a .pth or .pt state_dict (got {short_repr(path)})."
    return None


def _backbone_assets(values: Mapping[str, Any]) -> tuple[Asset, ...]:
    """The torchvision weights (by id) or the local weights file a Backbone loads."""
    if values["weights"] == tv.FILE:
        return (Asset(ASSET_WEIGHTS_FILE, values["weights_file"], model=values["model"]),)
    w = tv.resolve_weights(values["model"], values["weights"])
    return (Asset(ASSET_WEIGHTS, tv.weights_id(w)),) if w is not None else ()


def _backbone_features(values: Mapping[str, Any]) -> dict[str, Any]:
    """The whole network ends in ImageNet's classifier: a new head replaces it."""
    return {"mode": "features"} if values.get("mode") == "classifier" else {}


register(
    BlockType(
        id="backbone",
        label="Backbone",
        category=PRETRAINED,
        description=(
            "A torchvision image model, optionally pretrained on ImageNet: use it whole, or as a "
            "feature extractor (its classifier removed) with your own head after it. Freeze it to "
            "train only what follows."
        ),
        torch_name="torchvision.models",
        params={
            "model": Choice(
                DEFAULT_MODEL,
                "model",
                "A torchvision classification model.",
                key=True,
                options=_models,
            ),
            "weights": Choice(
                "DEFAULT",
                "weights",
                "Pretrained weights (downloaded once into torch's cache), none, or a local file.",
                key=True,
                options=_weights,
                depends_on=("model",),
                option_text=_weights_text,
            ),
            "weights_file": Text(
                "", "weights file", "A .pth/.pt state_dict, when weights is 'file'."
            ),
            "mode": Choice(
                "features",
                "output",
                "What the block returns.",
                key=True,
                options=MODES,
                option_text=lambda o, v: _MODE_TEXT[o],
            ),
            "stage": Choice(
                "last",
                "stage",
                "The stage whose feature map is returned (mode 'feature map').",
                options=_stages,
                depends_on=("model",),
            ),
            "freeze": Choice(
                "none",
                "freeze",
                "Which pretrained layers keep their weights. Frozen batch norm stays in eval mode.",
                key=True,
                options=_freeze,
                depends_on=("model",),
                option_text=_freeze_text,
            ),
            "resize": Int(
                0,
                "resize to",
                "Resize images to this size first (0: no resizing).",
                min=0,
                max=2048,
                special="no resizing",
            ),
        },
        freezing_param="freeze",
        emitter=BackboneEmitter(),
        check=_backbone_check,
        assets=_backbone_assets,
        feature_params=_backbone_features,
        actions=(
            Action("new_head", "New head…"),
            Action("download_weights", "Download pretrained weights"),
            Action("open_layers", "Open as layers (keeps the pretrained weights)"),
        ),
        name_base="backbone",
        keywords=(
            "pretrained",
            "transfer",
            "resnet",
            "mobilenet",
            "vit",
            "efficientnet",
            "imagenet",
            "torchvision",
        ),
    )
)


# ---------------------------------------------------------------------------------- hub
class HubEmitter(Emitter):
    def emit(self, c: EmitContext) -> Emitted:
        repo = parse_repo(c.p.repo)
        entry = c.p.entry.strip()
        kwargs = parse_kwargs(c.p.kwargs)
        if c.inference:
            from studio.trust import TrustPolicy, untrusted_message

            trust = c.trust if c.trust is not None else TrustPolicy()
            folder = cached_repo_dir(repo)
            if not (c.p.trusted or repo.is_local) or not trust.trusts(repo.text):
                raise HubError(untrusted_message(repo.text))
            if folder is None:
                raise HubError(f"{repo.text} is not downloaded yet")
            line = call(
                "torch.hub.load", str(folder), entry, source="local", **inference_kwargs(kwargs)
            )
        elif repo.is_local:
            line = call("torch.hub.load", repo.text, entry, source="local", **kwargs)
        else:
            trust = {"trust_repo": True} if c.p.trusted else {}
            line = call("torch.hub.load", repo.text, entry, **trust, **kwargs)
        return Emitted(
            init=[f"{c.self_attr} = {line}"],
            forward=[f"{c.out} = {c.self_attr}({c.x})"],
            imports={IMPORT_TORCH},
        )


def _hub_check(c: EmitContext) -> str | None:
    try:
        parse_repo(c.p.repo)
        parse_kwargs(c.p.kwargs)
    except HubError as e:
        return str(e)
    entry = c.p.entry.strip()
    try:
        entries = list_entrypoints(c.p.repo)
    except HubError:
        entries = None
    if not entry:
        return "Choose an entry point" + (f": one of {', '.join(entries)}." if entries else ".")
    if entries is not None and entry not in entries:
        return f"{shorten(c.p.repo)} has no entry point {short_repr(entry)}; it has {', '.join(entries) or 'none'}."
    return None


register(
    BlockType(
        id="hub_model",
        label="Hub model",
        category=PRETRAINED,
        description=(
            "A model from a torch.hub repository (owner/repo[:ref] on GitHub, or a local folder "
            "with a hubconf.py). Loading a GitHub repository runs its code: Studio asks first."
        ),
        torch_name="torch.hub.load",
        params={
            "repo": Text(
                "", "repository", "owner/repo[:ref], or a local folder with a hubconf.py.", key=True
            ),
            "entry": Text(
                "", "entry point", "A function listed in the repository's hubconf.py.", key=True
            ),
            "kwargs": Text("{}", "keyword arguments", "A Python dict, e.g. {'num_classes': 10}."),
            "trusted": Bool(False, "trusted", "You confirmed that this repository's code may run."),
        },
        emitter=HubEmitter(),
        check=_hub_check,
        outside_code=lambda params: [str(params.get("repo", ""))],
        assets=lambda v: (Asset(ASSET_HUB_REPO, v["repo"], trusted=v["trusted"]),),
        actions=(Action("trust_repo", "Trust this repository's code…"),),
        name_base="hub_model",
        keywords=("torch.hub", "hubconf", "pretrained", "github"),
    )
)


# the Custom module may call torchvision's model builders (``torchvision.models:resnet18``)
register_model_builder(tv.is_model_builder)
