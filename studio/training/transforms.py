"""Declared data transforms: the augmentation pipeline's steps, each one small declaration.

A project's `augment` setting is an ordered list of steps, `{"id": "horizontal_flip", "p": 0.5}`:
the id names a declaration here, the other keys are its options (typed `studio.blocks.params`
values with defaults, bounds and messages, as a block type's). The declaration says which
torchvision.transforms.v2 class (or runtime table transform) the step becomes with which
arguments, whether it applies to images or to table rows, and whether it is random: random
steps run on the training set only, and validation runs the deterministic rest (a random crop's
validation stand-in is the centre crop). `pipeline_spec` turns the setting into the plain lists
the runtime builder takes (`studio.training.runtime.augment`), so Studio's run and train.py build
the very same transforms. Pure Python: no torch here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from studio.blocks.params import Float, Int, Ints, Numbers, ParamError
from studio.training.kinds import Kind
from studio.training.options import Number, option_problems


@dataclass(frozen=True)
class Floats(Numbers):
    """A few numbers, one per channel: "0.5, 0.5, 0.5" (a mean or a standard deviation)."""

    min_len: int = 1
    max_len: int = 3

    def text_error(self, name: str, text: str) -> str:
        return f"{name} must be numbers separated by commas, like 0.5, 0.5, 0.5."

    def numbers(self, value: Any, name: str) -> tuple[float, ...]:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = [value]
        if not isinstance(value, (list, tuple)) or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
            for v in value
        ):
            raise ParamError(f"{name} must be a list of numbers (got {value!r:.60}).")
        if not self.min_len <= len(value) <= self.max_len:
            raise ParamError(
                f"{name} needs {self.min_len} to {self.max_len} numbers (got {len(value)})."
            )
        return tuple(float(v) for v in value)

    def describe(self, value: Any) -> str:
        return ", ".join(f"{v:g}" for v in value)


@dataclass(frozen=True)
class TransformKind(Kind):
    #: the class in torchvision.transforms.v2 (images) or the runtime's table transforms
    torch_name: str = ""
    #: torch keyword argument -> option key, or a tuple of keys for a tuple argument
    arguments: dict[str, str | tuple[str, ...]] = field(default_factory=dict)
    #: "image" (uint8 channels x height x width) or "table" (a row of features)
    data: str = "image"
    #: random: runs on the training set only
    random: bool = True
    #: the keyword argument that takes the image size the model reads (crops end at it)
    size_argument: str = ""
    #: the deterministic step validation runs in its place ("" : none)
    validation: str = ""

    def torch_arguments(
        self, values: Mapping[str, Any], size: list[int] | None = None
    ) -> dict[str, Any]:
        def value(key: str):
            v = self.options[key].coerce(values.get(key, self.options[key].default), key)
            return list(v) if isinstance(v, tuple) else v

        out = {
            arg: [value(k) for k in key] if isinstance(key, tuple) else value(key)
            for arg, key in self.arguments.items()
        }
        if self.size_argument and size is not None:
            out[self.size_argument] = list(size)
        return out


def _p(default: float = 0.5) -> Number:
    return Number(default, "Probability", "How often the step is applied.", min=0.0, max=1.0)


def _strength(label: str, default: float, doc: str) -> Float:
    return Float(default, label, doc, min=0.0, max=1.0)


_SCALE = {
    "min_scale": Number(
        0.08,
        "Smallest area",
        "The smallest share of the image a crop keeps.",
        min=0.0,
        max=1.0,
        exclusive_min=True,
    ),
    "max_scale": Number(
        1.0,
        "Largest area",
        "The largest share of the image a crop keeps.",
        min=0.0,
        max=1.0,
        exclusive_min=True,
    ),
}


def _scale_check(v: Mapping[str, Any]) -> list[str]:
    if v["min_scale"] > v["max_scale"]:
        return ["The smallest area must not be larger than the largest area."]
    return []


TRANSFORMS: dict[str, TransformKind] = {
    t.id: t
    for t in (
        TransformKind(
            "resize",
            "Resize",
            "Decode the images at this size (height, width) before any crop.",
            {"size": Ints((32, 32), "Size", min_len=2, max_len=2, min=1, max=4096)},
            torch_name="Resize",
            arguments={"size": "size"},
            random=False,
        ),
        TransformKind(
            "center_crop",
            "Centre crop",
            "The middle of the image, at the size the model reads.",
            torch_name="CenterCrop",
            size_argument="size",
            random=False,
        ),
        TransformKind(
            "random_crop",
            "Random crop",
            "A random window of the padded image (a random shift).",
            {
                "padding": Int(
                    4, "Padding", "Pixels of zeros added on each side first.", min=0, max=1024
                )
            },
            torch_name="RandomCrop",
            arguments={"padding": "padding"},
            size_argument="size",
            validation="center_crop",
        ),
        TransformKind(
            "random_resized_crop",
            "Random resized crop",
            "A random part of the image, of random area and shape, resized to the model's size.",
            _SCALE,
            check=_scale_check,
            torch_name="RandomResizedCrop",
            arguments={"scale": ("min_scale", "max_scale")},
            size_argument="size",
            validation="center_crop",
        ),
        TransformKind(
            "horizontal_flip",
            "Horizontal flip",
            "Mirror left to right.",
            {"p": _p()},
            torch_name="RandomHorizontalFlip",
            arguments={"p": "p"},
        ),
        TransformKind(
            "vertical_flip",
            "Vertical flip",
            "Mirror top to bottom.",
            {"p": _p()},
            torch_name="RandomVerticalFlip",
            arguments={"p": "p"},
        ),
        TransformKind(
            "rotation",
            "Rotation",
            "Turn by a random angle up to the given degrees either way.",
            {"degrees": Float(15.0, "Degrees", min=0.0, max=180.0)},
            torch_name="RandomRotation",
            arguments={"degrees": "degrees"},
        ),
        TransformKind(
            "affine",
            "Shift and turn",
            "A random shift (a share of the size) and a small turn.",
            {
                "degrees": Float(10.0, "Degrees", min=0.0, max=180.0),
                "translate": _strength(
                    "Shift", 0.1, "The largest shift, as a share of the width and height."
                ),
            },
            torch_name="RandomAffine",
            arguments={"degrees": "degrees", "translate": ("translate", "translate")},
        ),
        TransformKind(
            "color_jitter",
            "Colour jitter",
            "Random brightness, contrast, saturation and hue.",
            {
                "brightness": _strength("Brightness", 0.2, ""),
                "contrast": _strength("Contrast", 0.2, ""),
                "saturation": _strength("Saturation", 0.2, ""),
                "hue": Float(0.0, "Hue", min=0.0, max=0.5),
            },
            torch_name="ColorJitter",
            arguments={k: k for k in ("brightness", "contrast", "saturation", "hue")},
        ),
        TransformKind(
            "rand_augment",
            "RandAugment",
            "A few operations chosen at random per image (Cubuk et al.).",
            {
                "num_ops": Int(2, "Operations", min=1, max=10),
                "magnitude": Int(9, "Magnitude", min=0, max=30),
            },
            torch_name="RandAugment",
            arguments={"num_ops": "num_ops", "magnitude": "magnitude"},
        ),
        TransformKind(
            "trivial_augment",
            "TrivialAugment",
            "One operation of random strength per image.",
            torch_name="TrivialAugmentWide",
        ),
        TransformKind(
            "random_erasing",
            "Random erasing",
            "Blank out a random rectangle (Cutout).",
            {
                "p": _p(),
                "min_scale": Number(0.02, "Smallest area", min=0.0, max=1.0, exclusive_min=True),
                "max_scale": Number(0.33, "Largest area", min=0.0, max=1.0, exclusive_min=True),
            },
            check=_scale_check,
            torch_name="RandomErasing",
            arguments={"p": "p", "scale": ("min_scale", "max_scale")},
        ),
        TransformKind(
            "normalize",
            "Normalise",
            "Subtract a mean and divide by a standard deviation per "
            "channel (replaces the dataset's own scaling to -1..1; last).",
            {"mean": Floats((0.5, 0.5, 0.5), "Mean"), "std": Floats((0.5, 0.5, 0.5), "Std")},
            torch_name="Normalize",
            arguments={"mean": "mean", "std": "std"},
            random=False,
        ),
        TransformKind(
            "feature_noise",
            "Feature noise",
            "Add Gaussian noise to every (standardised) feature.",
            {"std": Float(0.1, "Std", min=0.0, max=100.0)},
            torch_name="FeatureNoise",
            arguments={"std": "std"},
            data="table",
        ),
        TransformKind(
            "feature_dropout",
            "Feature dropout",
            "Set each feature to 0 with a probability.",
            {"p": _p(0.1)},
            torch_name="FeatureDropout",
            arguments={"p": "p"},
            data="table",
        ),
    )
}


def get_transform(kind_id: Any) -> TransformKind:
    kind = TRANSFORMS.get(kind_id) if isinstance(kind_id, str) else None
    if kind is None:
        raise KeyError(
            f"Unknown transform {str(kind_id)[:40]!r}; choose one of {', '.join(TRANSFORMS)}."
        )
    return kind


def step(kind_id: str, **values: Any) -> dict:
    """A pipeline step with the declaration's defaults: {"id": ..., option: value...}."""
    kind = get_transform(kind_id)
    return {
        "id": kind_id,
        **{k: kind.options[k].to_json(v) for k, v in {**kind.defaults(), **values}.items()},
    }


def transforms_for(data: str) -> list[TransformKind]:
    """The transforms a dataset of `data` ("image" or "table") can use, in declaration order."""
    return [t for t in TRANSFORMS.values() if t.data == data]


def data_of(spec: Any) -> str:
    """What the pipeline of a data spec works on: "image", "table" or "" (nothing: text)."""
    from studio.training.kinds import get_dataset

    try:
        kind = get_dataset(spec.get("kind") if isinstance(spec, dict) else None)
    except KeyError:
        return ""
    if kind.family in ("folder", "download"):
        return "image"
    if kind.id in ("csv", "parquet") or kind.family == "generated" and kind.id != "shapes":
        return "table"
    return ""


def pipeline_problems(steps: Any, data: str) -> list[str]:
    """Sentences naming what is wrong with an `augment` list for data of kind `data`."""
    if not isinstance(steps, list):
        return ["The augmentation must be a list of transforms."]
    out: list[str] = []
    for n, s in enumerate(steps, 1):
        if not isinstance(s, dict):
            out.append(f"Augmentation step {n} must be a transform with its options.")
            continue
        try:
            kind = get_transform(s.get("id"))
        except KeyError as e:
            out.append(f"Augmentation step {n}: {e.args[0]}")
            continue
        unknown = sorted(set(s) - {"id"} - set(kind.options))
        if unknown:
            out.append(f"Augmentation step {n} ({kind.label}) has no option {unknown[0]!r}.")
        problems = kind.problems({k: v for k, v in s.items() if k in kind.options})
        out += [f"Augmentation step {n} ({kind.label}): {p}" for p in problems]
        if data and kind.data != data:
            out.append(
                f"{kind.label} works on {kind.data}s, but this dataset is not one; remove step {n}."
            )
        if not data:
            out.append(f"This dataset cannot be augmented; remove {kind.label}.")
    ids = [s.get("id") for s in steps if isinstance(s, dict)]
    if "normalize" in ids and ids.index("normalize") != len(ids) - 1:
        out.append("Normalise must be the last transform.")
    if "resize" in ids[1:]:
        out.append("Resize must be the first transform (the images are decoded at its size).")
    crops = [
        i for i in ids if isinstance(i, str) and i in TRANSFORMS and TRANSFORMS[i].size_argument
    ]
    if ids[:1] == ["resize"] and not crops:
        out.append(
            "Add a crop after Resize (Centre crop, Random crop or Random resized crop): the model "
            "reads the dataset's image size."
        )
    return out


def pipeline_spec(steps: list[dict], size: list[int] | None = None) -> dict:
    """{"train": [...], "val": [...]}: the runtime's steps ({"name", "arguments"}) for training
    (all) and validation (the deterministic steps, random crops replaced by their stand-ins)."""
    train, val = [], []
    for s in steps:
        kind = get_transform(s["id"])
        made = {"name": kind.torch_name, "arguments": kind.torch_arguments(s, size)}
        train.append(made)
        if not kind.random:
            val.append(made)
        elif kind.validation:
            other = get_transform(kind.validation)
            val.append({"name": other.torch_name, "arguments": other.torch_arguments({}, size)})
    return {"train": train, "val": val}


def old_checkbox(kind_id: str, flip: bool = True) -> list[dict]:
    """The pipeline that did what the "Augment" checkbox did (settings before version 4): random
    flips and shifts of image folders, random crops (and flips where they make sense) of the
    downloaded sets."""
    if kind_id == "image_folder":
        return [step("horizontal_flip"), step("affine")]
    return [step("random_crop", padding=4)] + ([step("horizontal_flip")] if flip else [])


def describe(steps: list[dict]) -> str:
    """One line: "Horizontal flip (p 0.5) -> Shift and turn (degrees 10, shift 0.1)"."""
    parts = []
    for s in steps:
        try:
            kind = get_transform(s.get("id"))
        except KeyError:
            continue
        shown = ", ".join(
            f"{(kind.options[k].label or k).lower()} {kind.options[k].describe(s[k])}"
            for k in kind.options
            if k in s
        )
        parts.append(f"{kind.label} ({shown})" if shown else kind.label)
    return " -> ".join(parts) or "none"


__all__ = [
    "TRANSFORMS",
    "Floats",
    "TransformKind",
    "data_of",
    "describe",
    "get_transform",
    "old_checkbox",
    "option_problems",
    "pipeline_problems",
    "pipeline_spec",
    "step",
    "transforms_for",
]
