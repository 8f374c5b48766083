"""Datasets for Studio's runs: the runtime readers, with Studio's checks, messages and details.

The data is read by the very functions train.py copies (`studio.training.runtime.data`,
`.generated`): `load_data` builds the plain plan (`plan.data_plan`) and hands each dataset kind's
reader to `runtime.data.load_data`. Around the readers Studio adds what a window needs: the
declaration's checks first, the memory a generated set needs, class names and a description,
and one-line messages (`DatasetError`) that name the file, row, column or folder.
In-memory data are `TensorDataset`s (batched by slicing); image folders and augmented sets stay lazy.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch.utils.data import Dataset

from studio.training.kinds import DatasetKind, get_dataset, get_loss
from studio.training.plan import data_plan
from studio.training.runtime import data as rt
from studio.training.runtime import generated, text
from studio.training.runtime.tables import DataProblem
from studio.training.settings import TrainingSettings
from studio.training.signatures import DataError, resolve

DatasetError = DataError  # a dataset could not be loaded; the message is meant for the user


@dataclass
class Data:
    train: Dataset
    val: Dataset | None
    task: str  # 'classification' | 'regression'
    input_shape: tuple  # one sample, without batch
    num_classes: int | None = None
    class_names: list[str] | None = None
    #: a table's feature columns as its file names them (CSV, Parquet), in the model's input order
    feature_names: list[str] | None = None
    description: str = ""
    normalization: dict = field(default_factory=dict)  # {'mean': [...], 'std': [...]} for tabular data
    #: regression targets learnt standardised: {'mean': [...], 'std': [...]} (`runtime.targets`)
    target_scale: dict | None = None


def load_data(settings: TrainingSettings, base_dir: str | Path | None = None) -> Data:
    """Training and validation data for `settings` (split or separate set), standardised if asked."""
    base = Path(base_dir) if base_dir else Path.cwd()
    loss = get_loss(settings.loss.name)
    specs = [settings.data] + ([settings.val_data] if settings.val_data else [])
    kinds = [_checked_kind(spec, loss) for spec in specs]
    readers = [_studio_reader(kind, spec, base) for kind, spec in zip(kinds, specs, strict=True)]
    try:
        plan = data_plan(settings, base)
        train, val, info = rt.load_data(plan, readers[0], readers[-1] if len(readers) > 1 else None)
    except DataProblem as e:
        raise DatasetError(str(e)) from None
    if len(train) == 0:
        raise DatasetError(f"The training set is empty ({info['description']}).")
    try:
        x0 = train[0][0]
    except DataProblem as e:
        raise DatasetError(str(e)) from None
    return Data(
        train=train,
        val=val,
        task=loss.task,
        input_shape=tuple(x0.shape),
        num_classes=info.get("num_classes"),
        class_names=info.get("class_names"),
        feature_names=info.get("feature_names"),
        description=info["description"],
        normalization=info.get("normalization", {}),
        target_scale=info.get("target_scale"),
    )


def _checked_kind(spec: dict, loss) -> DatasetKind:
    """The spec's declared kind, once its options pass the declaration's checks."""
    try:
        kind = get_dataset(spec.get("kind"))
    except KeyError as e:
        raise DatasetError(e.args[0]) from None
    problems = kind.problems(spec)
    if problems:
        raise DatasetError(problems[0])
    if loss.task == "classification" and "class" not in kind.targets:
        from studio.training.kinds import LOSSES

        names = [k.label for k in LOSSES.values() if k.targets.numbers]
        raise DatasetError(f"The {kind.label} set is for regression; choose {', '.join(names[:-1])} or {names[-1]} loss.")
    return kind


def _studio_reader(kind: DatasetKind, spec: dict, base: Path):
    """The kind's runtime reader wrapped by its Studio loader (checks before, details after)."""
    loader = globals()[kind.loader]
    values = kind.values(spec)
    return lambda plain: loader(plain, kind, values, base)


# -- the Studio side of each reader ---------------------------------------------------------------


def generate(spec: dict) -> tuple[torch.Tensor, torch.Tensor, dict]:
    """Deterministic toy data: same spec, same tensors. DatasetError for sizes out of bounds or
    beyond the memory this machine has free (checked before anything is allocated)."""
    try:
        kind = get_dataset(spec.get("kind"))
    except KeyError as e:
        raise DatasetError(e.args[0]) from None
    if kind.family != "generated":
        raise DatasetError(f"{kind.label} is not a generated dataset.")
    problems = kind.problems(spec)
    if problems:
        raise DatasetError(problems[0])
    ds, info = load_generated(kind.runtime_spec(spec, "class"), kind, kind.values(spec), None)
    return *ds.tensors, info


def load_generated(plain: dict, kind: DatasetKind, values: dict, base_dir) -> tuple[Dataset, dict]:
    n = plain["arguments"]["n"]
    _check_memory(kind, n)
    ds, info = generated.read_generated(plain)
    if "class" not in kind.targets:
        return ds, {"description": f"{kind.label} ({n} points)"}
    k = plain["classes"]
    return ds, {"num_classes": k, "class_names": kind.names_of_classes(k), "description": f"{kind.id} ({n} samples)"}


def available_memory() -> int | None:
    """Bytes of memory free for a new allocation (Linux: MemAvailable), or None when unknown."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _check_memory(kind: DatasetKind, n: int) -> None:
    need, free = n * kind.bytes_per_sample, available_memory()
    if free is not None and need > free * 0.8:
        raise DatasetError(
            f"{n} {kind.label} samples need about {need / 2**30:.1f} GB of memory but only "
            f"{free / 2**30:.1f} GB are free; use fewer samples."
        )


def load_csv(plain: dict, kind: DatasetKind, values: dict, base_dir) -> tuple[Dataset, dict]:
    resolve(values.get("path"), base_dir, "CSV file")  # "CSV file not found: ..." before reading
    return rt.read_csv_data(plain)


def load_parquet(plain: dict, kind: DatasetKind, values: dict, base_dir) -> tuple[Dataset, dict]:
    from studio.training.runtime.parquet import read_parquet_data

    resolve(values.get("path"), base_dir, "Parquet file")  # "Parquet file not found: ..." first
    return read_parquet_data(plain)


def load_text(plain: dict, kind: DatasetKind, values: dict, base_dir) -> tuple[Dataset, dict]:
    """A text file or a CSV with a text column (`runtime.text`), found and checked first: its
    signature says in one line what the reader would not get past (too few tokens for one window,
    too many texts for the memory)."""
    resolve(values.get("path"), base_dir, "file")
    kind.signature(values, base_dir)
    data, info = getattr(text, kind.reader)(plain)
    if "description" not in info:  # a text file's windows: described here, not in train.py
        info["description"] = text.windows_description(data, plain["path"])
    return data, info


def load_image_folder(plain: dict, kind: DatasetKind, values: dict, base_dir) -> tuple[Dataset, dict]:
    root = resolve(values.get("path"), base_dir, "image folder")
    try:
        return rt.read_image_folder(plain)
    except (FileNotFoundError, OSError) as e:
        raise DatasetError(f"{root} must contain one sub-folder per class with images inside ({e}).") from e


def torchvision_files(kind: DatasetKind, root: Path) -> tuple[Path, list[str]]:
    """The folder and file names torchvision expects for `kind` under `root`."""
    from torchvision import datasets

    cls = getattr(datasets, kind.torchvision)
    if hasattr(cls, "train_list"):  # CIFAR: pickled batches in one folder
        names = [f for f, _ in cls.train_list + cls.test_list] + [cls.meta["filename"]]
        return root / cls.base_folder, names
    return root / cls.__name__ / "raw", [os.path.splitext(os.path.basename(u))[0] for u, _ in cls.resources]


def load_torchvision(plain: dict, kind: DatasetKind, values: dict, base_dir) -> tuple[Dataset, dict]:
    """Read offline first; download only when files are missing and downloads are on."""
    offline = os.environ.get("STUDIO_NO_NETWORK") == "1" or not plain["download"]
    folder, files = torchvision_files(kind, Path(plain["root"]).expanduser())
    try:
        return rt.read_torchvision({**plain, "download": False})
    except RuntimeError as first:
        if offline:
            raise DatasetError(_missing_message(kind, folder, files, "downloads are off")) from first
        try:
            return rt.read_torchvision(plain)
        except (Exception, KeyboardInterrupt) as e:  # network errors come in many types
            raise DatasetError(_missing_message(kind, folder, files, f"the download failed: {e}")) from e
    except Exception as e:
        raise DatasetError(
            f"The {kind.torchvision} files in {folder} are incomplete or corrupt ({e}). Delete them and download again."
        ) from e


def _missing_message(kind: DatasetKind, folder: Path, files: list[str], why: str) -> str:
    return (
        f"{kind.torchvision} is not available ({why}). Studio needs {', '.join(files)} in {folder}. "
        "Connect to the internet and try again, or copy those files there."
    )
