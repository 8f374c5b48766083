"""Reading, splitting and standardising the data (runtime).

Readers take a plain spec dict (Studio fills in what the kind's declaration says, train.py holds
it in SETTINGS) and return (dataset, info): in-memory data as a TensorDataset (batched by
slicing), image folders and augmented sets as lazy datasets. Problems raise `DataProblem` with
a message that names the file, row, column or image.

A CSV file whose float32 table would be larger than the memory budget (`memory_budget`: a
quarter of the physical memory unless spec["memory_budget"] or $STUDIO_DATA_BUDGET says
otherwise) streams: it is converted once into float32 files (`stream_table`) and `TableRows`
reads a batch of rows at a time from them; splitting, standardising and BCE targets work on it
as they do on a TensorDataset.
"""

from __future__ import annotations

import os

import numpy as np
import torch
from torch.utils.data import Dataset, Subset, TensorDataset

from studio.training.runtime.augment import (
    ImagePixels,
    augmented_rows,
    augmented_views,
    decode_size,
    pixels_in_memory,
)
from studio.training.runtime.splits import csv_split_flags
from studio.training.runtime.tables import DataProblem
from studio.training.runtime.tabular import (
    cache_folder,
    memory_budget,
    parser_for,
    read_table,
    stream_table,
    table_bytes,
    table_layout,
)


def csv_reading(spec):
    """How `read_csv_data` reads the CSV file spec["path"], by its size: "stream" when its float32
    table is larger than the memory budget (`memory_budget`), else the `read_table` parser
    (`parser_for`: "rows", "numpy" or "arrow"). Studio plans it when a run starts
    (spec["reading"]) and train.py keeps the one its export planned."""
    lay = table_layout(spec["path"], spec.get("delimiter", ","), spec.get("header", "auto"),
                       spec.get("target", -1), spec.get("features"))
    return "stream" if table_bytes(spec["path"], lay) > memory_budget(spec) else parser_for(spec["path"])


def read_csv_data(spec):
    """(dataset, info) of the CSV file spec["path"]: a TensorDataset, or `TableRows` read from
    disk when the table is larger than the memory budget (spec["reading"], else `csv_reading`).

    Blank rows are skipped; a first row without numbers is the header (spec["header"] "auto",
    or true/false); spec["target"] and spec["features"] name columns or give their numbers.
    Features are float32; with spec["classification"] the target labels become 0, 1, ... in
    sorted order (numbers by value) and info holds the class names, otherwise the targets are a
    float column. spec["split"] names a train/validation column (`splits`)."""
    name = str(spec["path"]).replace("\\", "/").rsplit("/", 1)[-1]
    reading = spec.get("reading") or csv_reading(spec)  # as the run was planned, else by size now
    delimiter, header = spec.get("delimiter", ","), spec.get("header", "auto")
    if reading == "stream":
        budget = memory_budget(spec)
        table = stream_table(spec["path"], delimiter=delimiter, header=header, label_column=spec.get("target", -1),
                             feature_columns=spec.get("features"), budget=budget, cache_dir=cache_folder(spec),
                             task="classification" if spec.get("classification", True) else "regression")
        data, labels = TableRows({**table, "budget": budget}), table["classes"]
        columns = table["columns"]
        what = f", read from disk: larger than the {budget / 2**20:.3g} MB memory budget"
    else:
        table = read_table(spec["path"], delimiter=delimiter, header=header, label_column=spec.get("target", -1),
                           feature_columns=spec.get("features"), parser=reading,
                           task="classification" if spec.get("classification", True) else "regression")
        data, labels, what = TensorDataset(table.features, table.targets), table.classes, ""
        columns = table.columns
    if spec.get("split"):  # a train/validation column: no random split (`split`)
        data.held_out = csv_split_flags(spec["path"], spec["split"], delimiter, header)
    info = {"description": f"{name} ({len(data)} rows, {data[0][0].shape[0]} features{what})",
            "feature_names": list(columns)}  # the features' column names, in the file's words
    if labels is not None:
        info.update(num_classes=len(labels), class_names=labels)
    return data, info


class TableRows(Dataset):
    """The rows of a table converted by `stream_table` (all of them, or those of `index`, e.g. a
    split's), read from its files (numpy.memmap) a batch at a time (`__getitems__`, which
    DataLoader and Subset call): memory holds one batch, not the table. The features are
    standardised with `mean` and `std` as they are read; with `float_classes` (the number of
    classes) class indices become BCE targets."""

    def __init__(self, table, mean=None, std=None, float_classes=0, index=None):
        self.table, self.mean, self.std, self.float_classes = table, mean, std, float_classes
        self.index = index  # int64 row numbers, or None: every row
        self._files = None

    def __len__(self):
        return self.table["rows"] if self.index is None else len(self.index)

    def __getstate__(self):  # worker processes map the files themselves
        return {**self.__dict__, "_files": None}

    def arrays(self):
        """(features, targets) as read-only memory maps of the files."""
        if self._files is None:
            t = self.table
            self._files = (np.memmap(t["x"], dtype=np.float32, mode="r", shape=(t["rows"], t["features"])),
                           np.memmap(t["y"], dtype=t["y_dtype"], mode="r", shape=(t["rows"],)))
        return self._files

    def rows(self, index):
        """(features, targets) tensors of this set's rows `index` (numbers), copied out of the files."""
        xs, ys = self.arrays()
        index = np.asarray(index, dtype=np.int64)
        index = index if self.index is None else self.index[index]
        x, y = torch.from_numpy(np.asarray(xs[index])), torch.from_numpy(np.asarray(ys[index]))
        if self.mean is not None:
            x = (x - self.mean) / self.std
        if self.table["y_dtype"] == "float32":
            y = y.unsqueeze(-1)
        elif self.float_classes:
            k = self.float_classes
            y = y.float().unsqueeze(-1) if k <= 2 else torch.nn.functional.one_hot(y, k).float()
        return x, y

    def __getitem__(self, i):
        x, y = self.rows([i])
        return x[0], y[0]

    def __getitems__(self, indices):
        x, y = self.rows(indices)
        return list(zip(x.unbind(0), y.unbind(0), strict=True))

    def changed(self, **changes):
        return TableRows(self.table, **{"mean": self.mean, "std": self.std, "float_classes": self.float_classes,
                                        "index": self.index, **changes})

    def part(self, rows):
        """The set of this set's `rows` (numbers), read the same way."""
        rows = np.asarray(rows, dtype=np.int64)
        return self.changed(index=rows if self.index is None else self.index[rows])

    def sorted_index(self):
        """The table's row numbers of this set, ascending (the files are read in order)."""
        return np.arange(self.table["rows"]) if self.index is None else np.sort(self.index)

    def statistics(self):
        """(mean, std) tensors of the features over this set's rows, two passes in chunks of the
        budget; a feature that does not vary gets std 1, like `standardize`."""
        xs, _ = self.arrays()
        index = self.sorted_index()
        step = max(1, self.table["budget"] // (16 * max(1, xs.shape[1])))
        total = np.zeros(xs.shape[1])
        for i in range(0, len(index), step):
            total += xs[index[i:i + step]].sum(0, dtype=np.float64)
        mean = total / len(index)
        square = np.zeros(xs.shape[1])
        for i in range(0, len(index), step):
            square += ((xs[index[i:i + step]] - mean) ** 2).sum(0)
        std = np.sqrt(square / (len(index) - 1)) if len(index) > 1 else np.ones(xs.shape[1])
        std = np.where(std > 0, std, 1.0)
        return torch.tensor(mean, dtype=torch.float32), torch.tensor(std, dtype=torch.float32)


class TwoViews(Dataset):
    """The same files seen two ways: `train` (augmented) and `val` (plain), for splitting."""

    def __init__(self, train, val):
        self.train, self.val = train, val

    def __len__(self):
        return len(self.train)

    def __getitem__(self, i):
        return self.train[i]


def split(data, fraction, seed):
    """Hold out `fraction` of the samples for validation, chosen by a seeded permutation (the
    same every run); both parts keep the original order. Augmented images validate plain; data
    with a `split_tail` (text windows) holds out its end instead, so the parts do not overlap."""
    if hasattr(data, "split_tail"):
        return data.split_tail(fraction)
    held_out = getattr(data, "held_out", None)  # a train/validation column chose the rows
    if held_out is not None:
        rows = torch.nonzero(~held_out).flatten(), torch.nonzero(held_out).flatten()
        if len(rows[0]) == 0 or len(rows[1]) == 0:
            raise DataProblem(f"The split column leaves nothing to {'train' if len(rows[0]) == 0 else 'validate'} on.")
    else:
        n_val = round(len(data) * fraction)
        if n_val == 0 or n_val == len(data):
            raise DataProblem(
                f"A validation split of {fraction:g} leaves nothing to train or validate on ({len(data)} samples).")
        order = torch.randperm(len(data), generator=torch.Generator().manual_seed(seed))
        rows = order[n_val:].sort().values, order[:n_val].sort().values  # training's, validation's
    if isinstance(data, TensorDataset):
        parts = tuple(TensorDataset(*data[r]) for r in rows)  # each tensor's rows r
        if hasattr(data, "codec"):  # a CSV with text: the parts decode as the whole did
            for part in parts:
                part.codec = data.codec
        return parts
    if hasattr(data, "part"):  # a streamed table (`TableRows`): parts read from its files
        return data.part(rows[0].numpy()), data.part(rows[1].numpy())
    if isinstance(data, TwoViews):
        return Subset(data.train, rows[0].tolist()), Subset(data.val, rows[1].tolist())
    return Subset(data, rows[0].tolist()), Subset(data, rows[1].tolist())


def as_float_targets(data, classes):
    """Class labels as BCE targets: one 0/1 column for two classes, one-hot rows for more."""
    if hasattr(data, "changed"):  # a streamed table (`TableRows`): converted as rows are read
        return data if data.table["y_dtype"] != "int64" else data.changed(float_classes=classes or 2)
    if not isinstance(data, TensorDataset) or data.tensors[1].dtype.is_floating_point or data.tensors[1].dim() != 1:
        return data
    y = data.tensors[1]
    k = classes or int(y.max()) + 1
    y = y.float().unsqueeze(1) if k <= 2 else torch.nn.functional.one_hot(y, k).float()
    return TensorDataset(data.tensors[0], y)


def standardize(train, val):
    """Each feature scaled to mean 0 and standard deviation 1 with the training set's statistics:
    (train, val, mean, std); data that is not a table is returned as it is. Either
    set may be in memory or streamed (`TableRows`, standardised as its rows are read)."""
    if isinstance(train, TableRows):  # streamed: the statistics read from its files in chunks
        mean, std = train.statistics()
    else:
        if not isinstance(train, TensorDataset):
            return train, val, None, None
        x = train.tensors[0]
        mean, std = x.mean(0), x.std(0) if len(x) > 1 else torch.ones(x.shape[1])
        std = torch.where(std > 0, std, torch.ones_like(std))

    def apply(ds):
        if isinstance(ds, TableRows):
            return ds.changed(mean=mean, std=std)
        if not isinstance(ds, TensorDataset):
            return ds
        return TensorDataset((ds.tensors[0] - mean) / std, *ds.tensors[1:])

    return apply(train), apply(val), mean, std


def target_scale(train):
    """{"mean": [...], "std": [...]} of a regression training set's float targets, one of each per
    output (a target that does not vary gets std 1); None for class labels or lazy data."""
    if isinstance(train, TableRows):
        if train.table["y_dtype"] != "float32":
            return None
        y = torch.from_numpy(np.asarray(train.arrays()[1][train.sorted_index()]))
    elif isinstance(train, TensorDataset) and train.tensors[-1].dtype.is_floating_point:
        y = train.tensors[-1]
    else:
        return None
    y = y.double().reshape(len(y), -1)
    std = y.std(0) if len(y) > 1 else torch.ones(y.shape[1], dtype=y.dtype)
    std = torch.where(std > 0, std, torch.ones_like(std))
    return {"mean": y.mean(0).tolist(), "std": std.tolist()}


def read_image(path, size=None):
    """The image at `path` in RGB, decoded now (PIL decodes lazily) so a damaged file is named.
    With `size` (height, width) a JPEG is decoded at the smallest of 1/2, 1/4 or 1/8 scale that
    is still at least that size (PIL's draft mode: libjpeg skips the detail, several times faster
    for photos much larger than the images the model takes)."""
    from PIL import Image

    try:
        with open(path, "rb") as f:
            image = Image.open(f)
            if size is not None:
                image.draft("RGB", (size[1], size[0]))
            return image.convert("RGB")
    except Exception as e:  # noqa: BLE001 - PIL raises many types for a damaged file
        reason = (str(e).splitlines() or [type(e).__name__])[0][:120]
        raise DataProblem(f"The image {path} cannot be read ({reason}); remove or replace it.") from None


class ImageFile:
    """ImageFolder's loader: `read_image` at the scale the images are resized to."""

    def __init__(self, size):
        self.size = size

    def __call__(self, path):
        return read_image(path, self.size)


def read_pixels(path, size, channels):
    """The image at `path` as uint8 pixels, channels x height x width, made as the plain view's
    transforms make them (grey: PIL's "L"; torchvision's Resize on a PIL image: bilinear,
    antialiased), so the decoded set and the lazy one hold the same numbers."""
    from PIL import Image

    image = read_image(path, size)
    if channels == 1:
        image = image.convert("L")
    pixels = np.asarray(image.resize((size[1], size[0]), Image.BILINEAR))
    return pixels.reshape(size[0], size[1], channels).transpose(2, 0, 1)


class ImageFiles(Dataset):
    """The images of an ImageFolder, each read from its file when a batch needs it (`read_pixels`),
    as floats in [0, 1], or in [-1, 1] with `normalize`: the numbers torchvision's ToTensor and
    Normalize(0.5, 0.5) give, in four tensor operations instead of their dozen per image."""

    def __init__(self, folder, size, channels, normalize):
        self.samples, self.classes = folder.samples, folder.classes
        self.size, self.channels, self.normalize = size, channels, normalize

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, i):
        path, target = self.samples[i]
        x = torch.from_numpy(np.array(read_pixels(path, self.size, self.channels))).float().div_(255)
        return (x.sub_(0.5).div_(0.5) if self.normalize else x), target


def decoded_images(files):
    """`ImageFiles` decoded once into a float32 TensorDataset (batched by slicing like MNIST):
    threads decode the files (PIL lets go of the GIL while it decodes and resizes), the pixels go
    straight into one uint8 array, and the conversion to floats is one operation on the whole set."""
    from concurrent.futures import ThreadPoolExecutor

    pixels = np.empty((len(files), files.channels, *files.size), dtype=np.uint8)

    def decode(i):
        pixels[i] = read_pixels(files.samples[i][0], files.size, files.channels)

    with ThreadPoolExecutor(min(8, os.cpu_count() or 1)) as pool:
        list(pool.map(decode, range(len(pixels))))
    x = torch.from_numpy(pixels).float().div_(255)
    if files.normalize:
        x = x.sub_(0.5).div_(0.5)
    return TensorDataset(x, torch.as_tensor([t for _, t in files.samples], dtype=torch.long))


def read_image_folder(spec):
    """(dataset, info) of a folder with one sub-folder of images per class, resized to
    spec["size"] (none: the first image's size), spec["channels"] 1 (grey) or 3, normalised to [-1, 1] unless spec["normalize"]
    is false. With an augmentation pipeline (spec["augment"]: training and validation steps)
    the images are kept as uint8 and each view runs its steps as samples are read (`augment`).
    A set whose pixels fit the memory budget (`memory_budget`) is decoded once into memory
    (`decoded_images`, `pixels_in_memory`); otherwise each image is read from its file when a
    batch needs it, so a folder of any size streams from disk."""
    from torchvision import datasets

    folder = datasets.ImageFolder(str(spec["path"]))
    size = spec.get("size") or read_image(folder.samples[0][0]).size[::-1]  # none: the first image's own
    size = (int(size), int(size)) if isinstance(size, (int, float)) else tuple(int(s) for s in size) * (3 - len(size))
    size, channels, normalize = size[:2], int(spec.get("channels", 3)), spec.get("normalize", True)
    folder.loader = ImageFile(size)
    plain = ImageFiles(folder, size, channels, normalize)
    info = {
        "num_classes": len(plain.classes), "class_names": list(plain.classes),
        # what an image goes through before the model: resized, scaled to [0, 1], then to [-1, 1]
        "image": {"size": list(size), "channels": channels, "normalize": bool(normalize)},
        "description": f"{os.path.basename(str(spec['path']).rstrip('/'))} ({len(plain)} images, {len(plain.classes)} classes)",
    }
    pipeline = spec.get("augment")
    if not pipeline:
        if len(plain) * channels * size[0] * size[1] * 4 <= memory_budget(spec):
            return decoded_images(plain), info
        return plain, info
    pixels = ImagePixels(plain.samples, decode_size(pipeline["train"], size), channels, read_pixels)
    if len(pixels) * channels * pixels.size[0] * pixels.size[1] <= memory_budget(spec):
        pixels = pixels_in_memory(pixels)
    scale = ([0.5] * channels, [0.5] * channels) if normalize else None
    return TwoViews(*augmented_views(pixels, pipeline, scale)), info


def image_tensors(dataset, mean, std):
    """A torchvision image set as normalised tensors in memory (the fast path): N x C x H x W."""
    data = torch.as_tensor(dataset.data)
    data = data.unsqueeze(1) if data.dim() == 3 else data.permute(0, 3, 1, 2)
    x = data.float().div_(255)
    x = (x - torch.tensor(mean).view(1, -1, 1, 1)) / torch.tensor(std).view(1, -1, 1, 1)
    return TensorDataset(x, torch.as_tensor(dataset.targets, dtype=torch.long))


def read_torchvision(spec):
    """(dataset, info) of the torchvision set spec["torchvision"] (MNIST, CIFAR10...) in
    spec["root"], downloaded when missing unless spec["download"] is false; normalised with the
    set's spec["mean"] and spec["std"]: tensors in memory, or with an augmentation pipeline
    (spec["augment"]) uint8 images whose views run its steps as samples are read."""
    from torchvision import datasets

    cls = getattr(datasets, spec["torchvision"])
    root, train = os.path.expanduser(str(spec["root"])), spec.get("split", "train") != "test"
    try:
        data = cls(root, train=train, download=False)
    except RuntimeError:
        if spec.get("download") is False:
            raise
        data = cls(root, train=train, download=True)
    info = {"num_classes": 10, "class_names": list(getattr(data, "classes", [])) or None,
            "description": f"{cls.__name__} {'train' if train else 'test'} ({len(data)} images)"}
    if not spec.get("augment"):
        return image_tensors(data, spec["mean"], spec["std"]), info
    pixels = torch.as_tensor(data.data)
    pixels = pixels.unsqueeze(1) if pixels.dim() == 3 else pixels.permute(0, 3, 1, 2).contiguous()
    base = TensorDataset(pixels, torch.as_tensor(data.targets, dtype=torch.long))
    return TwoViews(*augmented_views(base, spec["augment"], (spec["mean"], spec["std"]))), info


def load_data(settings, read, read_val=None):
    """(train, val or None, info) as `settings` say: `read(settings["data"])` (and `read_val` for
    settings["val_data"], else a split of settings["val_split"] seeded by settings["split_seed"], not
    by the run's seed, so runs with different seeds are scored on the same rows), BCE targets as floats
    (settings["float_targets"]), standardised when settings["standardize"]."""
    train, info = read(settings["data"])
    val = None
    if settings.get("val_data"):
        val, _ = (read_val or read)(settings["val_data"])
    elif settings["val_split"] > 0 or getattr(train, "held_out", None) is not None:
        train, val = split(train, settings["val_split"], settings["split_seed"])
    if settings["float_targets"]:
        classes = info.get("num_classes")
        train, val = as_float_targets(train, classes), as_float_targets(val, classes)
    if settings.get("standardize_target"):  # regression: the targets' statistics (`targets`)
        info = {**info, "target_scale": target_scale(train)}
    if settings.get("standardize"):
        train, val, mean, std = standardize(train, val)
        if mean is not None:
            info = {**info, "normalization": {"mean": mean.tolist(), "std": std.tolist()}}
    if settings.get("augment_rows"):  # a table's training-only transforms (`augment`)
        rows = settings["augment_rows"]
        train, val = augmented_rows(train, rows["train"]), augmented_rows(val, rows["val"])
    return train, val, info
