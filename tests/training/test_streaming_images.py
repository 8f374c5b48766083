"""Image folders: decoded once into memory when they fit the budget, read per file when not."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import TensorDataset

from studio.training.runtime.data import read_image_folder
from studio.training.runtime.tables import DataProblem


def write_folder(root, count=24, size=(40, 30)):
    """JPEGs in RGB and grey and PNGs with transparency, of two classes."""
    from PIL import Image

    rng = np.random.default_rng(0)
    for i in range(count):
        folder = root / ("cats" if i % 2 else "dogs")
        folder.mkdir(parents=True, exist_ok=True)
        pixels = rng.integers(0, 256, (*size[::-1], 3), dtype=np.uint8)
        image = Image.fromarray(pixels)
        if i % 3 == 0:
            image.convert("L").save(folder / f"{i}.jpg", quality=90)
        elif i % 3 == 1:
            image.save(folder / f"{i}.jpg", quality=90)
        else:
            image.convert("RGBA").save(folder / f"{i}.png")
    return root


@pytest.mark.parametrize(("channels", "normalize", "size"), [(3, True, [16, 12]), (1, False, [8, 8]), (3, True, [40, 40])])
def test_a_folder_that_fits_the_budget_is_decoded_once_with_the_same_numbers(tmp_path, channels, normalize, size):
    root = write_folder(tmp_path / "images")
    spec = {"path": str(root), "size": size, "channels": channels, "normalize": normalize}
    decoded, info = read_image_folder(spec)
    lazy, lazy_info = read_image_folder({**spec, "memory_budget": 1})  # over the budget: per file
    assert isinstance(decoded, TensorDataset) and not isinstance(lazy, TensorDataset)
    assert info == lazy_info and info["class_names"] == ["cats", "dogs"]
    x, y = decoded.tensors
    assert x.shape == (24, channels, *size) and x.dtype == torch.float32 and x.is_contiguous()
    # torchvision's own transforms on the same files give the same numbers
    from torchvision import datasets, transforms

    from studio.training.runtime.data import ImageFile

    tf = ([transforms.Grayscale(1)] if channels == 1 else []) + [transforms.Resize(size), transforms.ToTensor()]
    tf += [transforms.Normalize([0.5] * channels, [0.5] * channels)] if normalize else []
    reference = datasets.ImageFolder(str(root), transform=transforms.Compose(tf), loader=ImageFile(size))
    for i in range(len(lazy)):
        xi, yi = lazy[i]
        xr, yr = reference[i]
        assert torch.equal(x[i], xi) and torch.equal(xi, xr) and y[i] == yi == yr, i
    low = -1 if normalize else 0
    assert x.min() >= low and x.max() <= 1


def test_a_large_jpeg_is_decoded_at_a_reduced_scale_but_still_resized_exactly(tmp_path):
    from PIL import Image

    from studio.training.runtime.data import read_image

    path = tmp_path / "big.jpg"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (480, 640, 3), dtype=np.uint8)).save(path)
    assert read_image(path, (28, 28)).size == (80, 60)  # 1/8 scale, still at least 28 x 28
    assert read_image(path, (100, 100)).size == (160, 120)  # 1/4: 1/8 would be 60 high
    assert read_image(path).size == (640, 480)
    (tmp_path / "a").mkdir()
    path.rename(tmp_path / "a" / "big.jpg")
    ds, _ = read_image_folder({"path": str(tmp_path), "size": [28, 28]})
    assert ds.tensors[0].shape == (1, 3, 28, 28)


def test_a_damaged_image_is_named_when_the_folder_is_decoded(tmp_path):
    root = write_folder(tmp_path / "images", count=6)
    (root / "cats" / "3.jpg").write_bytes(b"\xff\xd8\xff broken")
    with pytest.raises(DataProblem, match=r"^The image .*cats/3.jpg cannot be read \(.*\); remove or replace it.$"):
        read_image_folder({"path": str(root), "size": [8, 8]})


def test_the_studio_run_trains_on_the_decoded_set(tmp_path):
    from studio.training import Trainer, load_data
    from tests.training.training_helpers import make_settings

    root = write_folder(tmp_path / "images", count=20)
    s = make_settings(data={"kind": "image_folder", "path": str(root), "size": [8, 8]}, val_split=0.2, epochs=2)
    data = load_data(s)
    assert isinstance(data.train, TensorDataset) and len(data.train) == 16 and data.input_shape == (3, 8, 8)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(192, 2))
    r = Trainer(model, data, s).fit()
    assert r.status == "completed" and len(r.history) == 2
