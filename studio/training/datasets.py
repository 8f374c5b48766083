"""Datasets from a spec dict: generated toy sets, CSV files, image folders and torchvision sets.

Every loader returns in-memory `TensorDataset`s when it can (the trainer batches those by slicing,
which is much faster than a DataLoader); image folders and augmented sets stay lazy.
Problems surface as `DatasetError` with a message that names the file, row, column or folder.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch.utils.data import Dataset, Subset, TensorDataset

from studio.training.settings import TrainingSettings
from studio.training.tabular import CsvError, read_csv

GENERATED = ("spirals", "moons", "blobs", "sine", "shapes")
TORCHVISION = {"mnist": "MNIST", "fashion_mnist": "FashionMNIST", "cifar10": "CIFAR10"}
_STATS = {  # per-channel mean/std used to normalise torchvision sets
    "mnist": ((0.1307,), (0.3081,)),
    "fashion_mnist": ((0.2860,), (0.3530,)),
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
}
SHAPE_NAMES = ["circle", "square", "triangle"]


class DatasetError(Exception):
    """A dataset could not be loaded; the message is meant for the user."""


@dataclass
class Data:
    train: Dataset
    val: Dataset | None
    task: str  # 'classification' | 'regression'
    input_shape: tuple  # one sample, without batch
    num_classes: int | None = None
    class_names: list[str] | None = None
    description: str = ""
    normalization: dict = field(default_factory=dict)  # {'mean': [...], 'std': [...]} for tabular data


def default_data_dir() -> Path:
    return Path(os.environ.get("STUDIO_DATA_DIR", Path.home() / ".studio" / "data"))


def load_data(settings: TrainingSettings, base_dir: str | Path | None = None) -> Data:
    """Training and validation data for `settings` (split or separate set), standardised if asked."""
    base = Path(base_dir) if base_dir else Path.cwd()
    task = settings.task
    train, info = load_dataset(settings.data, task, base)
    val = None
    if settings.val_data:
        val, _ = load_dataset(settings.val_data, task, base)
    elif settings.val_split > 0:
        train, val = split(train, settings.val_split, settings.seed)
    if settings.loss.name == "bce_with_logits":
        train, val = _float_targets(train, info), _float_targets(val, info)
    norm = {}
    if settings.data.get("standardize", settings.data.get("kind") == "csv"):
        train, val, norm = _standardize(train, val)
    if len(train) == 0:
        raise DatasetError(f"The training set is empty ({info['description']}).")
    x0 = train[0][0]
    return Data(
        train=train,
        val=val,
        task=task,
        input_shape=tuple(x0.shape),
        num_classes=info.get("num_classes"),
        class_names=info.get("class_names"),
        description=info["description"],
        normalization=norm,
    )


def load_dataset(spec: dict, task: str, base_dir: Path) -> tuple[Dataset, dict]:
    kind = spec.get("kind")
    if kind in GENERATED:
        try:
            x, y, info = generate(spec)
        except (TypeError, ValueError) as e:
            raise DatasetError(f"The {kind} dataset settings are invalid ({e}).") from e
        if task == "classification" and kind == "sine":
            raise DatasetError("The noisy sine set is for regression; choose MSE, L1 or Huber loss.")
        if task == "regression" and kind != "sine":
            y = y.float().unsqueeze(1)
        return TensorDataset(x, y), info
    if kind == "csv":
        return load_csv(spec, task, base_dir)
    if kind == "image_folder":
        return load_image_folder(spec, base_dir)
    if kind in TORCHVISION:
        return load_torchvision(spec, base_dir)
    raise DatasetError(f"Unknown dataset kind {kind!r}.")


def split(ds: Dataset, fraction: float, seed: int) -> tuple[Dataset, Dataset]:
    """Hold out `fraction` of `ds`, chosen by a seeded permutation (same seed, same split)."""
    n = len(ds)
    n_val = int(round(n * fraction))
    if n_val == 0 or n_val == n:
        raise DatasetError(f"A validation split of {fraction:g} leaves nothing to train or validate on ({n} samples).")
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    tr, va = perm[n_val:].sort().values, perm[:n_val].sort().values
    if isinstance(ds, TensorDataset):
        return TensorDataset(*(t[tr] for t in ds.tensors)), TensorDataset(*(t[va] for t in ds.tensors))
    if isinstance(ds, _Pair):  # same files, different transforms for train and val
        return Subset(ds.train, tr.tolist()), Subset(ds.val, va.tolist())
    return Subset(ds, tr.tolist()), Subset(ds, va.tolist())


def _float_targets(ds, info):
    """Class labels as BCE targets: one 0/1 column for two classes, one-hot for more."""
    if not isinstance(ds, TensorDataset) or ds.tensors[1].dtype.is_floating_point or ds.tensors[1].dim() != 1:
        return ds
    y = ds.tensors[1]
    k = info.get("num_classes") or int(y.max()) + 1
    y = y.float().unsqueeze(1) if k <= 2 else torch.nn.functional.one_hot(y, k).float()
    return TensorDataset(ds.tensors[0], y)


def _standardize(train, val):
    if not isinstance(train, TensorDataset) or train.tensors[0].dim() != 2:
        return train, val, {}
    x = train.tensors[0]
    mean, std = x.mean(0), x.std(0) if len(x) > 1 else torch.ones(x.shape[1])
    std = torch.where(std > 0, std, torch.ones_like(std))

    def apply(ds):
        if ds is None or not isinstance(ds, TensorDataset):
            return ds
        return TensorDataset((ds.tensors[0] - mean) / std, *ds.tensors[1:])

    return apply(train), apply(val), {"mean": mean.tolist(), "std": std.tolist()}


# -- generated sets --------------------------------------------------------------------------------


def generated_arguments(spec: dict) -> dict:
    """The keyword arguments of the generator function for a generated-set spec (defaults filled)."""
    kind = spec["kind"]
    args: dict = {"n": int(spec.get("n", 1000 if kind != "shapes" else 600))}
    if kind in ("spirals", "moons", "sine", "shapes"):
        args["noise"] = float(spec.get("noise", {"spirals": 0.2, "moons": 0.1, "sine": 0.1, "shapes": 0.1}[kind]))
    if kind in ("spirals", "blobs"):
        args["classes"] = int(spec.get("classes", 2 if kind == "spirals" else 3))
    if kind == "blobs":
        args["std"] = float(spec.get("std", 1.0))
    args["seed"] = int(spec.get("seed", 0))
    return args


def generate(spec: dict) -> tuple[torch.Tensor, torch.Tensor, dict]:
    """Deterministic toy data: same spec, same tensors."""
    kind = spec["kind"]
    if kind not in GENERATED:
        raise DatasetError(f"Unknown generated dataset {kind!r}.")
    args = generated_arguments(spec)
    n = args["n"]
    if n < 2:
        raise DatasetError(f"The {kind} set needs at least 2 samples (got n={n}).")
    x, y = generator_functions(kind)[-1](**args)
    if kind == "sine":
        return x, y, {"description": f"noisy sine ({n} points)"}
    k = args.get("classes", 2 if kind == "moons" else 3)
    names = {
        "spirals": [f"arm {i}" for i in range(k)],
        "moons": ["upper", "lower"],
        "blobs": [f"blob {i}" for i in range(k)],
        "shapes": list(SHAPE_NAMES),
    }[kind]
    return x.float(), y, {"num_classes": k, "class_names": names, "description": f"{kind} ({n} samples)"}


def generator_functions(kind: str) -> list:
    """The functions that make a generated set, helpers first, the generator itself last.

    Each uses only ``torch`` and ``math``, so the training-script export copies their source.
    """
    return {
        "spirals": [class_labels, spirals],
        "moons": [class_labels, moons],
        "blobs": [class_labels, blobs],
        "sine": [sine],
        "shapes": [class_labels, draw_shapes, shapes],
    }[kind]


def class_labels(n: int, classes: int, generator: torch.Generator) -> torch.Tensor:
    """n labels 0..classes-1, as evenly spread as possible, in random order."""
    return (torch.arange(n) % classes)[torch.randperm(n, generator=generator)]


def spirals(n: int = 1000, noise: float = 0.2, classes: int = 2, seed: int = 0):
    """Points on interleaved spiral arms, one arm per class: x is n x 2, y the arm."""
    g = torch.Generator().manual_seed(seed)
    y = class_labels(n, classes, g)
    t = torch.sqrt(torch.rand(n, generator=g)) * 3 * math.pi
    angle = t + y * (2 * math.pi / classes)
    x = torch.stack([t * torch.cos(angle), t * torch.sin(angle)], 1) / math.pi
    x += noise * torch.randn(n, 2, generator=g) / math.pi
    return x, y


def moons(n: int = 1000, noise: float = 0.1, seed: int = 0):
    """Two interleaving half circles: x is n x 2, y 0 (upper) or 1 (lower)."""
    g = torch.Generator().manual_seed(seed)
    y = class_labels(n, 2, g)
    t = torch.rand(n, generator=g) * math.pi
    x = torch.where(
        (y == 0).unsqueeze(1),
        torch.stack([torch.cos(t), torch.sin(t)], 1),
        torch.stack([1 - torch.cos(t), 0.5 - torch.sin(t)], 1),
    )
    x += noise * torch.randn(n, 2, generator=g)
    return x, y


def blobs(n: int = 1000, classes: int = 3, std: float = 1.0, seed: int = 0):
    """Gaussian blobs around centres on a circle of radius 3: x is n x 2, y the blob."""
    g = torch.Generator().manual_seed(seed)
    y = class_labels(n, classes, g)
    a = torch.arange(classes) * (2 * math.pi / classes)
    centers = 3.0 * torch.stack([torch.cos(a), torch.sin(a)], 1)
    x = centers[y] + std * torch.randn(n, 2, generator=g)
    return x, y


def sine(n: int = 1000, noise: float = 0.1, seed: int = 0):
    """Regression: x uniform in [-pi, pi] (n x 1), y = sin(x) + noise (n x 1)."""
    g = torch.Generator().manual_seed(seed)
    x = (torch.rand(n, 1, generator=g) * 2 - 1) * math.pi
    y = torch.sin(x) + noise * torch.randn(n, 1, generator=g)
    return x, y


def shapes(n: int = 600, noise: float = 0.1, seed: int = 0):
    """28x28 grey images of a circle (0), square (1) or triangle (2): x is n x 1 x 28 x 28."""
    g = torch.Generator().manual_seed(seed)
    y = class_labels(n, 3, g)
    return draw_shapes(y, noise, g), y


def draw_shapes(y: torch.Tensor, noise: float, g: torch.Generator, size: int = 28) -> torch.Tensor:
    """One image per label, at a random place and size, with Gaussian noise, clamped to [0, 1]."""
    n = len(y)
    cx = (9 + 10 * torch.rand(n, 1, 1, generator=g))
    cy = (9 + 10 * torch.rand(n, 1, 1, generator=g))
    r = 5 + 3 * torch.rand(n, 1, 1, generator=g)
    yy, xx = torch.meshgrid(torch.arange(size, dtype=torch.float32), torch.arange(size, dtype=torch.float32), indexing="ij")
    dx, dy = xx - cx, yy - cy
    circle = dx**2 + dy**2 <= r**2
    square = torch.maximum(dx.abs(), dy.abs()) <= 0.8 * r
    triangle = (dy >= -r) & (dy <= r * 0.8) & (dx.abs() <= (dy + r) * 0.55)
    lab = y.view(n, 1, 1)
    img = torch.where(lab == 0, circle, torch.where(lab == 1, square, triangle)).float()
    img = img + noise * torch.randn(n, size, size, generator=g)
    return img.clamp_(0, 1).unsqueeze(1)


# -- CSV ---------------------------------------------------------------------------------------------


def load_csv(spec: dict, task: str, base_dir: Path) -> tuple[TensorDataset, dict]:
    path = _resolve(spec.get("path"), base_dir, "CSV file")
    try:
        table = read_csv(
            path, delimiter=spec.get("delimiter", ","), header=spec.get("header", "auto"),
            label_column=spec.get("target", -1), feature_columns=spec.get("features"), task=task,
        )
    except CsvError as e:
        raise DatasetError(str(e)) from e
    x, y = table.features, table.targets
    info = {"description": f"{path.name} ({len(x)} rows, {x.shape[1]} features)"}
    if table.classes is not None:
        info.update(num_classes=len(table.classes), class_names=table.classes)
    return TensorDataset(x, y), info


def _resolve(p, base_dir: Path, what: str) -> Path:
    if not p:
        raise DatasetError(f"Choose a {what} (the data settings have no 'path').")
    path = Path(p).expanduser()
    if not path.is_absolute():
        path = base_dir / path
    if not path.exists():
        raise DatasetError(f"{what} not found: {path}")
    return path


# -- image folders ----------------------------------------------------------------------------------


class _Pair(Dataset):
    """Two views of the same files: `train` (maybe augmented) and `val` (plain)."""

    def __init__(self, train: Dataset, val: Dataset):
        self.train, self.val = train, val

    def __len__(self):
        return len(self.train)

    def __getitem__(self, i):
        return self.train[i]


def load_image_folder(spec: dict, base_dir: Path) -> tuple[Dataset, dict]:
    from torchvision import datasets, transforms

    root = _resolve(spec.get("path"), base_dir, "image folder")
    size = spec.get("size", [28, 28])
    size = (int(size), int(size)) if isinstance(size, (int, float)) else tuple(int(s) for s in size)
    channels = int(spec.get("channels", 3))
    base = [transforms.Grayscale(channels)] if channels == 1 else [transforms.Lambda(lambda im: im.convert("RGB"))]
    base.append(transforms.Resize(size))
    tail = [transforms.ToTensor()]
    if spec.get("normalize", True):
        tail.append(transforms.Normalize([0.5] * channels, [0.5] * channels))
    aug = [transforms.RandomHorizontalFlip(), transforms.RandomAffine(10, translate=(0.1, 0.1))] if spec.get("augment") else []
    try:
        plain = datasets.ImageFolder(str(root), transform=transforms.Compose(base + tail))
        train = datasets.ImageFolder(str(root), transform=transforms.Compose(base + aug + tail)) if aug else plain
    except (FileNotFoundError, OSError) as e:
        raise DatasetError(
            f"{root} must contain one sub-folder per class with images inside ({e})."
        ) from e
    info = {
        "num_classes": len(plain.classes),
        "class_names": list(plain.classes),
        "description": f"{root.name} ({len(plain)} images, {len(plain.classes)} classes)",
    }
    return (_Pair(train, plain) if aug else plain), info


# -- torchvision sets ---------------------------------------------------------------------------------


def torchvision_files(kind: str, root: Path) -> tuple[Path, list[str]]:
    """The folder and file names torchvision expects for `kind` under `root`."""
    from torchvision import datasets

    cls = getattr(datasets, TORCHVISION[kind])
    if kind == "cifar10":
        names = [f for f, _ in cls.train_list + cls.test_list] + [cls.meta["filename"]]
        return root / cls.base_folder, names
    return root / cls.__name__ / "raw", [os.path.splitext(os.path.basename(u))[0] for u, _ in cls.resources]


def load_torchvision(spec: dict, base_dir: Path) -> tuple[Dataset, dict]:
    from torchvision import datasets, transforms

    kind = spec["kind"]
    root = Path(spec.get("root") or default_data_dir()).expanduser()
    if not root.is_absolute():
        root = base_dir / root
    cls = getattr(datasets, TORCHVISION[kind])
    train_split = spec.get("split", "train") != "test"
    folder, files = torchvision_files(kind, root)
    offline = os.environ.get("STUDIO_NO_NETWORK") == "1" or spec.get("download") is False
    mean, std = _STATS[kind]
    augment = bool(spec.get("augment"))
    tf = None
    if augment:
        size = 32 if kind == "cifar10" else 28
        tf = transforms.Compose([
            transforms.RandomCrop(size, padding=size // 8),
            *([transforms.RandomHorizontalFlip()] if kind == "cifar10" else []),
            transforms.ToTensor(),
            transforms.Normalize(mean, std),
        ])
    try:
        ds = cls(str(root), train=train_split, download=False, transform=tf)
    except RuntimeError as first:
        if offline:
            raise DatasetError(_missing_message(kind, folder, files, "downloads are off")) from first
        try:
            ds = cls(str(root), train=train_split, download=True, transform=tf)
        except (Exception, KeyboardInterrupt) as e:  # network errors come in many types
            raise DatasetError(_missing_message(kind, folder, files, f"the download failed: {e}")) from e
    except Exception as e:
        raise DatasetError(
            f"The {cls.__name__} files in {folder} are incomplete or corrupt ({e}). Delete them and download again."
        ) from e
    names = list(getattr(ds, "classes", [])) or None
    info = {
        "num_classes": 10,
        "class_names": names,
        "description": f"{cls.__name__} {'train' if train_split else 'test'} ({len(ds)} images)",
    }
    if augment:
        return ds, info
    data = torch.as_tensor(ds.data)
    if data.dim() == 3:  # MNIST: N x H x W
        data = data.unsqueeze(1)
    else:  # CIFAR: N x H x W x C
        data = data.permute(0, 3, 1, 2)
    x = data.float().div_(255)
    x = (x - torch.tensor(mean).view(1, -1, 1, 1)) / torch.tensor(std).view(1, -1, 1, 1)
    y = torch.as_tensor(ds.targets, dtype=torch.long)
    return TensorDataset(x, y), info


def _missing_message(kind: str, folder: Path, files: list[str], why: str) -> str:
    return (
        f"{TORCHVISION[kind]} is not available ({why}). Studio needs {', '.join(files)} in {folder}. "
        "Connect to the internet and try again, or copy those files there."
    )
