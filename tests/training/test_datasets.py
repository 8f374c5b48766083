import os
import pickle
import struct

import numpy as np
import pytest
import torch

from studio.training.datasets import DatasetError, generate, load_data
from tests.training.training_helpers import make_settings


@pytest.mark.parametrize("kind, shape, classes", [
    ("spirals", (2,), 2), ("moons", (2,), 2), ("blobs", (2,), 3), ("shapes", (1, 28, 28), 3),
])
def test_generated_sets_are_deterministic_and_balanced(kind, shape, classes):
    x1, y1, info = generate({"kind": kind, "n": 90})
    x2, y2, _ = generate({"kind": kind, "n": 90})
    assert torch.equal(x1, x2) and torch.equal(y1, y2)
    assert x1.shape == (90, *shape) and info["num_classes"] == classes
    assert torch.bincount(y1).tolist() == [90 // classes] * classes
    x3, _, _ = generate({"kind": kind, "n": 90, "seed": 1})
    assert not torch.equal(x1, x3)


def test_shapes_are_drawn_images():
    x, y, info = generate({"kind": "shapes", "n": 30, "noise": 0})
    assert info["class_names"] == ["circle", "square", "triangle"]
    assert x.min() >= 0 and x.max() <= 1
    ink = x.sum(dim=(1, 2, 3))
    assert (ink > 20).all()  # every image has a shape on it


def test_sine_is_regression():
    d = load_data(make_settings(data={"kind": "sine", "n": 100}, loss={"name": "mse"}))
    assert d.task == "regression" and d.train.tensors[1].shape == (75, 1) and len(d.val) == 25
    with pytest.raises(DatasetError, match="for regression"):
        load_data(make_settings(data={"kind": "sine"}))


def test_split_is_seeded_and_separate_validation_set():
    a = load_data(make_settings(seed=0))
    b = load_data(make_settings(seed=0))
    c = load_data(make_settings(split_seed=1))
    assert torch.equal(a.val.tensors[0], b.val.tensors[0]) and not torch.equal(a.val.tensors[0], c.val.tensors[0])
    assert torch.equal(a.val.tensors[0], load_data(make_settings(seed=1)).val.tensors[0])  # --seed keeps the rows
    d = load_data(make_settings(val_data={"kind": "spirals", "n": 50, "seed": 9}))
    assert len(d.train) == 240 and len(d.val) == 50


def _csv(tmp_path, text, name="data.csv"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_csv_classification_with_header_and_standardisation(tmp_path):
    p = _csv(tmp_path, "height,weight,kind\n1,10,cat\n2,20,dog\n3,30,cat\n4,40,bird\n")
    s = make_settings(data={"kind": "csv", "path": str(p), "target": "kind"}, val_split=0)
    d = load_data(s)
    assert d.class_names == ["bird", "cat", "dog"] and d.num_classes == 3
    assert d.train.tensors[1].tolist() == [1, 2, 1, 0]
    x = d.train.tensors[0]
    assert torch.allclose(x.mean(0), torch.zeros(2), atol=1e-6) and d.normalization["mean"] == [2.5, 25.0]


def test_csv_regression_without_header_relative_path(tmp_path):
    _csv(tmp_path, "0.5,1,2.5\n1.5,2,3.5\n")
    s = make_settings(data={"kind": "csv", "path": "data.csv", "standardize": False}, val_split=0, loss={"name": "mse"})
    d = load_data(s, base_dir=tmp_path)
    assert d.train.tensors[0].tolist() == [[0.5, 1.0], [1.5, 2.0]] and d.train.tensors[1].tolist() == [[2.5], [3.5]]


def test_csv_errors_name_row_and_column(tmp_path):
    p = _csv(tmp_path, "a,b,y\n1,2,0\n3,oops,1\n")
    with pytest.raises(DatasetError, match=r"data.csv, row 3, column 'b': 'oops' is not a number"):
        load_data(make_settings(data={"kind": "csv", "path": str(p)}, val_split=0))
    p = _csv(tmp_path, "a,b,y\n1,2,0\n3,4\n", "short.csv")
    with pytest.raises(DatasetError, match=r"short.csv, row 3: 2 values, expected 3"):
        load_data(make_settings(data={"kind": "csv", "path": str(p)}, val_split=0))
    with pytest.raises(DatasetError, match="no column named 'label'"):
        load_data(make_settings(data={"kind": "csv", "path": str(p), "target": "label"}))
    with pytest.raises(DatasetError, match="CSV file not found"):
        load_data(make_settings(data={"kind": "csv", "path": str(tmp_path / "gone.csv")}))


def test_image_folder_with_resize_and_augmentation(tmp_path):
    from PIL import Image

    for c, colour in (("cats", (255, 0, 0)), ("dogs", (0, 0, 255))):
        (tmp_path / c).mkdir()
        for i in range(5):
            Image.new("RGB", (12, 10), colour).save(tmp_path / c / f"{i}.png")
    d = load_data(make_settings(data={"kind": "image_folder", "path": str(tmp_path), "size": [8, 8], "augment": True}, val_split=0.2))
    assert d.class_names == ["cats", "dogs"] and d.input_shape == (3, 8, 8)
    assert len(d.train) == 8 and len(d.val) == 2
    x, y = d.val[0]
    assert x.min() >= -1 and x.max() <= 1  # normalised to [-1, 1]
    with pytest.raises(DatasetError, match="one sub-folder per class"):
        load_data(make_settings(data={"kind": "image_folder", "path": str(tmp_path / "cats")}))


def _idx(path, arr: np.ndarray):
    code = 0x08
    header = struct.pack(">HBB", 0, code, arr.ndim) + struct.pack(">" + "I" * arr.ndim, *arr.shape)
    path.write_bytes(header + arr.astype(np.uint8).tobytes())


@pytest.mark.parametrize("kind, folder", [("mnist", "MNIST"), ("fashion_mnist", "FashionMNIST")])
def test_mnist_from_idx_files(tmp_path, kind, folder):
    raw = tmp_path / folder / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for split, n in (("train", 12), ("t10k", 4)):
        _idx(raw / f"{split}-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28)))
        _idx(raw / f"{split}-labels-idx1-ubyte", np.arange(n) % 10)
    s = make_settings(data={"kind": kind, "root": str(tmp_path)}, val_data={"kind": kind, "root": str(tmp_path), "split": "test"})
    d = load_data(s)
    assert len(d.train) == 12 and len(d.val) == 4 and d.input_shape == (1, 28, 28) and d.num_classes == 10
    assert d.train.tensors[1].tolist() == [i % 10 for i in range(12)]


def test_cifar10_from_pickled_batches(tmp_path, monkeypatch):
    import torchvision.datasets.cifar as cifar

    monkeypatch.setattr(cifar, "check_integrity", lambda path, md5=None: os.path.exists(path))  # tiny files, no md5
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        with open(folder / name, "wb") as f:
            pickle.dump({"data": rng.integers(0, 256, (3, 3072), dtype=np.uint8), "labels": [0, 1, 2]}, f)
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({"label_names": [f"c{i}" for i in range(10)]}, f)
    d = load_data(make_settings(data={"kind": "cifar10", "root": str(tmp_path)}, val_split=0))
    assert len(d.train) == 15 and d.input_shape == (3, 32, 32) and d.class_names[:2] == ["c0", "c1"]


def test_offline_message_names_files_and_folder(tmp_path):
    with pytest.raises(DatasetError) as e:
        load_data(make_settings(data={"kind": "mnist", "root": str(tmp_path)}))
    msg = str(e.value)
    assert "downloads are off" in msg and "train-images-idx3-ubyte" in msg and str(tmp_path / "MNIST" / "raw") in msg


def test_corrupt_mnist_file_is_reported(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        (raw / name).write_bytes(b"\x00\x00\x08")
    with pytest.raises(DatasetError, match="incomplete or corrupt"):
        load_data(make_settings(data={"kind": "mnist", "root": str(tmp_path)}))
