"""The plain spec each runtime data reader takes, built from a dataset's settings (pure Python).

A dataset kind's declaration names its runtime reader (`DatasetKind.reader`, in
`studio.training.runtime`) and one of these builders: it fills in what the declaration knows
(the generator's arguments, torchvision's class and statistics), resolves paths against the
project's folder, and says what the loss needs of the targets. Studio passes the result to the
reader; the script export writes it into train.py's SETTINGS.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def absolute(path: Any, base_dir) -> str:
    p = Path(str(path)).expanduser()
    return str(p if p.is_absolute() else (Path(base_dir or Path.cwd()) / p).absolute())


def generated_spec(kind, values: Mapping[str, Any], target: Any, base_dir=None) -> dict:
    """The generator named like the kind, its arguments, and whether labels become numbers."""
    arguments = {k: values[k] for k in kind.options}
    spec = {"kind": kind.id, "arguments": arguments}
    if "class" in kind.targets:
        spec.update(classes=kind.signature(values).num_classes, numbers=target.numbers)
    return spec


def csv_spec(kind, values: Mapping[str, Any], target: Any, base_dir=None) -> dict:
    path = absolute(values["path"], base_dir)
    features = values.get("features") or None
    split = values.get("split") or None
    if split is not None and features is None:  # every column but the target and the split column
        features = _other_columns(path, values, split)
    spec = {
        "path": path, "target": values["target"], "features": features, "header": values["header"],
        "delimiter": values["delimiter"], "classification": target.task == "classification", "split": split,
    }
    return {**spec, "reading": _reading(spec)}


def _reading(spec: dict) -> str | None:
    """How the runtime reads the file, by its size (`runtime.data.csv_reading`), planned now so
    that train.py holds only that way; None when the file cannot be read here (the reader then
    decides, or says why)."""
    from studio.training.runtime.data import csv_reading
    from studio.training.runtime.tables import DataProblem

    try:
        return csv_reading(spec)
    except (OSError, DataProblem):
        return None


def _other_columns(path: str, values: Mapping[str, Any], split: Any) -> list[int] | None:
    """The numbers of a CSV file's columns other than the target and the split column (None when
    the file cannot be read: the reader then says why)."""
    import csv

    from studio.training.runtime.tables import DataProblem, column_number, header_names

    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = csv.reader(f, delimiter=values["delimiter"])
            first = next((r for r in rows if any(c.strip() for c in r)), None)
        if first is None:
            return None
        names, _ = header_names(first, values["header"])
        skip = {column_number(values["target"], names, ""), column_number(split, names, "")}
    except (OSError, UnicodeDecodeError, csv.Error, DataProblem):
        return None
    return [j for j in range(len(names)) if j not in skip]


def folder_spec(kind, values: Mapping[str, Any], target: Any, base_dir=None) -> dict:
    """The folder and the size its images are resized to: the "size" option, or the images' own
    (`signatures.image_size`), written out so train.py resizes exactly as the run did (None when
    the folder cannot be read here: `runtime.data.read_image_folder` then reads the first image's)."""
    from studio.training.signatures import DataError, declared_size, image_size

    try:
        size = list(image_size(values, base_dir))
    except DataError:  # not readable here (yet): the reader then takes the first image's own size
        size = declared_size(values.get("size"))
    return {
        "path": absolute(values["path"], base_dir), "size": size and list(size),
        "channels": values["channels"],
        "normalize": bool(values["normalize"]),
    }


def download_spec(kind, values: Mapping[str, Any], target: Any, base_dir=None) -> dict:
    """A torchvision set: its class and per-channel statistics come from the declaration."""
    root = values.get("root") or os.environ.get("STUDIO_DATA_DIR") or "~/.studio/data"
    if not str(root).startswith("~"):
        root = absolute(root, base_dir)
    mean, std = kind.stats
    return {
        "torchvision": kind.torchvision, "root": str(root), "split": values["split"],
        "download": values["download"] is not False,
        "mean": list(mean), "std": list(std), "flip": kind.flip, "size": kind.signature(values).sample_shape[-1],
    }
