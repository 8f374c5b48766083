"""What a dataset looks like, read cheaply: sample shape, classes, target, without loading it.

The check before Train asks this for every edit of the settings, so a CSV file is read once
(streamed, keeping only its header and the target column's distinct values) and an image folder
is only listed; results are cached per spec and file modification time. Pure Python.
"""

from __future__ import annotations

import csv
import functools
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from studio.training.runtime.tables import DataProblem, column_number, header_names, is_number

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")
_MAX_DISTINCT = 1000  # more distinct numeric targets than this: a regression target


class DataError(DataProblem):
    """The data cannot be read or does not fit its settings; the message is one line for the user.
    (A runtime `DataProblem`, so one `except DataProblem` catches what the runtime raises too.)"""


@dataclass(frozen=True)
class DataTarget:
    """What the targets of a data set hold, declared once: the checks read these fields, never
    the name (a `DataSignature`'s ``target`` is one of `DATA_TARGETS`' keys)."""

    name: str
    #: one integer class label per sample (what cross-entropy compares scores with)
    labels: bool
    #: the next token at each position of a text window (next-token cross-entropy)
    windows: bool
    #: how the check's summary says it, e.g. "3 classes"
    phrase: Any
    #: the outputs a loss comparing one value per label or target needs (None: unknown)
    width: Any


def _label_count(sig) -> int | None:
    """Class labels as binary cross-entropy reads them: one 0/1 column for two classes."""
    return None if sig.num_classes is None else 1 if sig.num_classes <= 2 else sig.num_classes


DATA_TARGETS = {t.name: t for t in (
    DataTarget("class", labels=True, windows=False, width=_label_count,
               phrase=lambda s: f"{s.num_classes} classes" if s.num_classes is not None else "class labels"),
    DataTarget("float", labels=False, windows=False, width=lambda s: s.target_width,
               phrase=lambda s: f"{s.target_width or 1} target value{'s' * ((s.target_width or 1) != 1)}"),
    DataTarget("tokens", labels=False, windows=True, width=_label_count,
               phrase=lambda s: f"the next token of {s.vocab_size} at each position"),
)}
VALUES = "float"  # the name of the target that is numbers (a regression loss's)


@dataclass(frozen=True)
class DataSignature:
    sample_shape: tuple[int, ...] | None  # one sample, without the batch dimension
    dtype: str  # of the inputs, e.g. "float32"
    num_classes: int | None  # distinct labels (class targets), else None
    target: str  # "class" (an integer label per sample) | "float" (a value vector) | "tokens" (the next token per position)
    target_width: int | None  # length of a float target vector; None for class labels
    note: str = ""
    vocab_size: int | None = None  # token ids the samples use (text), else None
    #: class labels that are all numbers: a regression loss reads them as one value each
    numeric: bool = False
    #: images at their own size (the Image size option is empty): another size is one setting away
    own_size: bool = False

    @property
    def held(self) -> DataTarget:
        """The declaration of what the targets hold."""
        return DATA_TARGETS[self.target]


def resolve(p: Any, base_dir, what: str) -> Path:
    """The path of a data file or folder, relative to `base_dir` (the project's folder)."""
    if not p or not isinstance(p, str):
        raise DataError(f"Choose {'an' if what[:1] in 'aeiou' else 'a'} {what}: give its path in the training settings (Browse… in the window).")
    if "\0" in p:
        raise DataError(f"The {what}'s name holds a NUL character; no file can have that name.")
    path = Path(p).expanduser()
    if not path.is_absolute():
        path = Path(base_dir or Path.cwd()) / path
    if not path.exists():
        raise DataError(f"{what} not found: {path}")
    if not path.is_dir() and not path.is_file():  # a FIFO blocks, /dev/zero never ends
        raise DataError(f"{path} is a device, pipe or other special file; choose a regular {what}.")
    return path


def fixed_signature(shape: tuple[int, ...], classes: int, label: str):
    """The signature of a set whose shape is known without reading it (torchvision sets)."""

    def signature(values: Mapping[str, Any], base_dir=None) -> DataSignature:
        return DataSignature(shape, "float32", classes, "class", None, label)

    return signature


def _stamp(path: Path) -> float:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return 0


def csv_signature(values: Mapping[str, Any], base_dir=None) -> DataSignature:
    path = resolve(values.get("path"), base_dir, "CSV file")
    key = json.dumps(dict(values), sort_keys=True, default=str)
    return _csv_cached(str(path), key, _stamp(path))


@functools.lru_cache(maxsize=64)
def _csv_cached(path_text: str, key: str, stamp: float) -> DataSignature:
    values, path = json.loads(key), Path(path_text)
    header_rule, target = values.get("header", "auto"), values.get("target", -1)
    names: list[str] | None = None
    width = rows = 0
    distinct: set[str] = set()
    t = None
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            for row in csv.reader(f, delimiter=values.get("delimiter", ",")):
                if not any(c.strip() for c in row):
                    continue
                if names is None:
                    width = len(row)
                    names, header = header_names(row, header_rule)
                    t = column_index(target, names, path)
                    if header:
                        continue
                rows += 1
                if len(distinct) <= _MAX_DISTINCT and t < len(row):
                    distinct.add(row[t].strip())
    except (OSError, UnicodeDecodeError, csv.Error, TypeError) as e:
        raise DataError(f"Could not read {path}: {e}") from None
    except DataProblem as e:
        raise DataError(str(e)) from None
    if names is None:
        raise DataError(f"{path.name} is empty.")
    feats = values.get("features")
    n_features = len(feats) if isinstance(feats, list) and feats else width - 1 - bool(values.get("split"))
    numeric = all(is_float(v) for v in distinct)
    whole = numeric and all(float(v).is_integer() for v in distinct)
    note = f"{path.name} ({rows} rows, {n_features} features)"
    if numeric and not (whole and len(distinct) <= _MAX_DISTINCT):
        return DataSignature((n_features,), "float32", None, "float", 1, note)
    return DataSignature((n_features,), "float32", len(distinct), "class", None, note, numeric=numeric)


def folder_signature(values: Mapping[str, Any], base_dir=None) -> DataSignature:
    root = resolve(values.get("path"), base_dir, "image folder")
    return _folder_cached(str(root), int(values.get("channels", 3)), declared_size(values.get("size")), _stamp(root))


def declared_size(size: Any) -> tuple[int, int] | None:
    """An image folder's "size" option as (height, width): one number is a square; empty (the
    default) is None, the images' own size (`folder_signature`)."""
    if isinstance(size, (int, float)) and not isinstance(size, bool):
        return (int(size),) * 2
    if not size:
        return None
    size = tuple(int(s) for s in size) * (3 - len(size))
    return size[:2]


def image_size(values: Mapping[str, Any], base_dir=None) -> tuple[int, int]:
    """The (height, width) an image folder's images are resized to: its "size" option, or when
    that is empty the images' own size (the first image's, in the order they are read)."""
    return folder_signature(values, base_dir).sample_shape[1:]


def _own_size(root: Path, classes: list[str]) -> tuple[int, int]:
    """(height, width) of the first image in ImageFolder's order, read from its header only."""
    from PIL import Image

    for name in classes:
        for folder, _, files in sorted(os.walk(root / name, followlinks=True)):
            for f in sorted(files):
                if f.lower().endswith(IMAGE_SUFFIXES):
                    path = Path(folder) / f
                    try:
                        with Image.open(path) as image:
                            width, height = image.size
                    except Exception as e:  # noqa: BLE001 - PIL raises many types for a damaged file
                        reason = (str(e).splitlines() or [type(e).__name__])[0][:120]
                        raise DataError(
                            f"The image {path} cannot be read ({reason}); remove or replace it, or set the "
                            "Image size."
                        ) from None
                    return height, width
    raise DataError(f"{root} must contain one sub-folder per class with images inside.")


@functools.lru_cache(maxsize=64)
def _folder_cached(
    root_text: str, channels: int, size: tuple[int, int] | None, stamp: float
) -> DataSignature:
    root = Path(root_text)
    try:
        classes = sorted(
            e.name for e in os.scandir(root)
            if e.is_dir() and any(f.name.lower().endswith(IMAGE_SUFFIXES) for f in os.scandir(e.path))
        )
    except OSError as e:
        raise DataError(f"Could not read the image folder {root}: {e.strerror or e}") from None
    if not classes:
        raise DataError(f"{root} must contain one sub-folder per class with images inside.")
    own = size is None
    if own:
        size = _own_size(root, classes)
        note = f"{root.name} ({len(classes)} classes, {size[0]}×{size[1]} images)"
    else:
        note = f"{root.name} ({len(classes)} classes)"
    return DataSignature((channels, *size), "float32", len(classes), "class", None, note, own_size=own)


is_float = is_number


def column_index(col: Any, names: list[str], path: Path) -> int:
    """The index of a CSV column given by number (negative from the end) or header name."""
    try:
        return column_number(col, names, path.name)
    except DataProblem as e:
        raise DataError(str(e)) from None
