"""The augmentation pipeline: declarations, the version-4 migration, the runtime builder, and
train.py building the very transforms training used."""

from __future__ import annotations

import json
import random
import runpy
from pathlib import Path

import pytest
import torch

from studio.graph.project import load_project
from studio.interop.script import script_source
from studio.training.datasets import load_data
from studio.training.plan import data_plan
from studio.training.runtime.augment import image_pipeline, table_pipeline
from studio.training.settings import SETTINGS_VERSION, TrainingSettings
from studio.training.transforms import TRANSFORMS, pipeline_spec, step, transforms_for
from tests.training.training_helpers import script_data

EXAMPLES = Path(__file__).resolve().parents[2] / "resources" / "examples"


def _folder(root: Path, counts=(("cat", 12), ("dog", 4)), size=(20, 16)) -> Path:
    from PIL import Image

    rng = random.Random(0)
    for label, n in counts:
        (root / label).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            image = Image.new("RGB", size, tuple(rng.randrange(256) for _ in range(3)))
            for _ in range(40):
                image.putpixel(
                    (rng.randrange(size[0]), rng.randrange(size[1])),
                    tuple(rng.randrange(256) for _ in range(3)),
                )
            image.save(root / label / f"{i}.png")
    return root


@pytest.mark.parametrize("kind_id", [t.id for t in transforms_for("image")])
def test_every_image_transform_builds_from_its_declaration_and_keeps_the_shape(kind_id):
    steps = pipeline_spec(
        [step(kind_id)] + ([step("center_crop")] if kind_id == "resize" else []), size=[12, 12]
    )
    image = torch.randint(0, 256, (3, 12, 12), dtype=torch.uint8)
    for part in ("train", "val"):
        out = image_pipeline(steps[part], ([0.5] * 3, [0.5] * 3))(image)
        assert out.dtype == torch.float32 and out.shape == (3, 12, 12)
    assert (TRANSFORMS[kind_id].random) == (steps["val"] != steps["train"])


def test_resize_needs_a_crop_to_the_image_size():
    settings = {"data": {"kind": "image_folder", "path": "x"}, "augment": [step("resize")]}
    assert any(
        "Add a crop after Resize" in p
        for p in TrainingSettings.from_dict(settings).validate(data=False)
    )


@pytest.mark.parametrize("kind_id", [t.id for t in transforms_for("table")])
def test_table_transforms_change_training_rows_only(kind_id):
    steps = pipeline_spec([step(kind_id)])
    rows = torch.ones(200, 5)
    changed = table_pipeline(steps["train"])(rows)
    assert changed.shape == rows.shape and not torch.equal(changed, rows)
    assert steps["val"] == []


def test_the_old_checkbox_becomes_the_pipeline_that_did_the_same():
    s = TrainingSettings.from_dict(
        {"version": 2, "data": {"kind": "image_folder", "path": "x", "augment": True}}
    )
    assert [x["id"] for x in s.augment] == ["horizontal_flip", "affine"] and "augment" not in s.data
    assert s.version == SETTINGS_VERSION == 4
    cifar = TrainingSettings.from_dict({"version": 3, "data": {"kind": "cifar10", "augment": True}})
    assert [x["id"] for x in cifar.augment] == ["random_crop", "horizontal_flip"]
    mnist = TrainingSettings.from_dict({"version": 2, "data": {"kind": "mnist", "augment": True}})
    assert [x["id"] for x in mnist.augment] == ["random_crop"]  # digits are not flipped
    off = TrainingSettings.from_dict({"version": 2, "data": {"kind": "mnist", "augment": False}})
    assert off.augment == [] and "augment" not in off.data
    kept = TrainingSettings.from_dict({"version": 4, "augment": [step("rotation", degrees=5.0)]})
    assert kept.augment == [{"id": "rotation", "degrees": 5.0}]


def test_pipeline_problems_are_sentences():
    base = {"data": {"kind": "image_folder", "path": "x"}}
    problems = TrainingSettings.from_dict({**base, "augment": [step("feature_noise")]}).validate(
        data=False
    )
    assert any("Feature noise works on tables" in p for p in problems)
    problems = TrainingSettings.from_dict({**base, "augment": [{"id": "warp"}]}).validate(
        data=False
    )
    assert any("Unknown transform 'warp'" in p for p in problems)
    problems = TrainingSettings.from_dict(
        {**base, "augment": [step("rotation", degrees=500)]}
    ).validate(data=False)
    assert any("Degrees must be at most 180" in p for p in problems)
    problems = TrainingSettings.from_dict(
        {**base, "augment": [step("normalize"), step("horizontal_flip")]}
    ).validate(data=False)
    assert "Normalise must be the last transform." in problems
    text = {"data": {"kind": "text", "path": "x"}, "augment": [step("horizontal_flip")]}
    assert any(
        "cannot be augmented" in p for p in TrainingSettings.from_dict(text).validate(data=False)
    )


def test_training_view_is_random_and_validation_is_the_deterministic_part(tmp_path):
    _folder(tmp_path / "images")
    settings = TrainingSettings.from_dict(
        {
            "data": {"kind": "image_folder", "path": str(tmp_path / "images"), "size": [12, 12]},
            "augment": [
                step("resize", size=[16, 16]),
                step("random_resized_crop"),
                step("horizontal_flip"),
                step("color_jitter"),
                step("normalize", mean=[0.4, 0.4, 0.4], std=[0.2, 0.2, 0.2]),
            ],
            "val_split": 0.25,
        }
    )
    data = load_data(settings)
    assert data.input_shape == (3, 12, 12) and len(data.train) == 12 and len(data.val) == 4
    torch.manual_seed(0)
    draws = [data.train[0][0] for _ in range(3)]
    assert not torch.equal(draws[0], draws[1])
    assert torch.equal(data.val[0][0], data.val[0][0])
    plan = data_plan(settings, None)["data"]["augment"]
    assert [s["name"] for s in plan["val"]] == ["Resize", "CenterCrop", "Normalize"]


def test_train_py_builds_the_augmentation_training_used(tmp_path):
    """Same seed, same tensors: train.py's reader and Studio's loader give equal augmented samples."""
    _folder(tmp_path / "images")
    data = json.loads((EXAMPLES / "shapes_cnn.studio.json").read_text())
    data["training"].update(
        data={"kind": "image_folder", "path": "images", "channels": 1, "size": [28, 28]},
        augment=[
            step("random_resized_crop", min_scale=0.5),
            step("horizontal_flip"),
            step("rotation"),
            step("rand_augment"),
            step("random_erasing"),
        ],
    )
    path = tmp_path / "aug.studio.json"
    path.write_text(json.dumps(data))
    project = load_project(path)
    source, _ = script_source(project)
    assert "RandAugment" in source and "def image_pipeline(" in source
    script_path = tmp_path / "train.py"
    script_path.write_text(source)
    script = runpy.run_path(str(script_path), run_name="not_main")
    settings = TrainingSettings.from_dict(project.training)
    studio = load_data(settings, tmp_path)
    train, val, _ = script_data(script, tmp_path)
    assert len(train) == len(studio.train) and len(val) == len(studio.val)
    for seed in (0, 1):
        torch.manual_seed(seed)
        mine = [studio.train[i] for i in range(len(studio.train))]
        torch.manual_seed(seed)
        theirs = [train[i] for i in range(len(train))]
        for (a, ya), (b, yb) in zip(mine, theirs, strict=True):
            assert ya == yb and torch.equal(a, b)
    assert all(torch.equal(studio.val[i][0], val[i][0]) for i in range(len(val)))
    torch.manual_seed(0)
    first = studio.train[0][0]
    assert not torch.equal(first, studio.train[0][0])  # it is augmented at all


def test_a_csv_with_feature_noise_trains_on_noisy_rows_and_validates_on_plain_ones(tmp_path):
    rows = "\n".join(f"{i % 7},{(i * 3) % 5},{i % 2}" for i in range(60))
    (tmp_path / "t.csv").write_text("a,b,label\n" + rows + "\n")
    plain = load_data(
        TrainingSettings.from_dict({"data": {"kind": "csv", "path": str(tmp_path / "t.csv")}})
    )
    noisy = load_data(
        TrainingSettings.from_dict(
            {
                "data": {"kind": "csv", "path": str(tmp_path / "t.csv")},
                "augment": [step("feature_noise", std=0.5)],
            }
        )
    )
    assert not torch.equal(noisy.train[0][0], plain.train[0][0])
    assert torch.equal(noisy.val[0][0], plain.val[0][0])
