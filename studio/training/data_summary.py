"""What the project's dataset holds, read lazily: classes per split, shapes, statistics, bad cells.

`summarize(settings, base_dir)` never raises: a dataset that cannot be read gives a summary whose
`problem` says why in one line. It reads no more than a first view needs, so a 1M-row CSV or a
50k-image folder answers in well under two seconds (`benchmarks/data_summary.py`):

- an image folder is listed (every file, in ImageFolder's order, so the counts per class and
  split are exact) and a few dozen images, spread over the classes, are decoded for the
  per-channel statistics and the sample grid;
- a CSV file's first rows are parsed for the preview, the per-feature statistics and the
  missing or non-numeric cells (with their line and column); the rows are counted by scanning
  the bytes; when the file is larger than that head, the classes are counted from rows read at
  offsets spread over the whole file and scaled to it (`estimated` says so);
- a text file is read and cut into the windows training uses (the first ones are shown with
  their next tokens);
- anything else (generated sets, downloaded sets) is loaded as training loads it.

The validation split is the one training makes (`runtime.data.split`'s seeded permutation), so
"train" and "val" count the very samples each side gets. No Qt.
"""

from __future__ import annotations

import csv
import io
import os
import random
from dataclasses import asdict, dataclass, field
from pathlib import Path

from studio.training.kinds import get_dataset
from studio.training.runtime.tables import DataProblem, column_number, header_names, is_number
from studio.training.settings import TrainingSettings
from studio.training.signatures import IMAGE_SUFFIXES, DataError, image_size, resolve

HEAD_ROWS = 20_000  # CSV rows parsed from the top for the preview, statistics and bad cells
SPREAD_ROWS = 20_000  # CSV rows read across a larger file to estimate the classes
PREVIEW_ROWS = 200
STAT_IMAGES = 48  # images decoded for the per-channel statistics
SAMPLE_IMAGES = 32  # sample grid
MAX_CELLS = 50  # bad cells listed (all are counted)


@dataclass
class Cell:
    """A cell that is not a number: its line in the file (1 = the first line), its column."""

    line: int
    column: str
    value: str


@dataclass
class DataSummary:
    kind: str = ""
    label: str = ""  # the kind's label, e.g. "Image folder"
    description: str = ""
    problem: str = ""  # one line when the data cannot be read
    family: str = ""  # "image" | "table" | "text" | "other"
    sample_shape: list[int] = field(default_factory=list)
    total: int = 0  # samples (rows, images, windows)
    classes: list[str] = field(default_factory=list)
    train_counts: list[int] = field(default_factory=list)
    val_counts: list[int] = field(default_factory=list)
    estimated: str = ""  # how the counts were estimated, when they were
    stat_names: list[str] = field(default_factory=list)  # channels or features
    mean: list[float] = field(default_factory=list)
    std: list[float] = field(default_factory=list)
    stats_from: str = ""  # e.g. "48 images", "the first 20000 rows"
    cells: list[Cell] = field(default_factory=list)
    bad_cells: int = 0
    columns: list[str] = field(
        default_factory=list
    )  # tables: every column, the target marked by `target`
    target: str = ""
    rows: list[list[str]] = field(default_factory=list)  # tables: the first rows as read
    row_lines: list[int] = field(default_factory=list)
    #: images: {"path", "label", "split"}, or "pixels" (height x width x 3 uint8) for tensors
    samples: list[dict] = field(default_factory=list)
    windows: list[dict] = field(default_factory=list)  # text: {"context", "next"}

    @property
    def ok(self) -> bool:
        return not self.problem

    def imbalance(self) -> float:
        """The largest class's count over the smallest's (training split); 1 when balanced."""
        counts = [c for c in self.train_counts if c > 0]
        if len(counts) < 2:
            return 1.0
        return max(counts) / min(counts) if min(self.train_counts) > 0 else float("inf")

    def to_json(self) -> dict:
        out = asdict(self)
        out["samples"] = [{k: v for k, v in x.items() if k != "pixels"} for x in out["samples"]]
        return out

    def lines(self) -> list[str]:
        """The summary as text lines (what `studio data` prints)."""
        if self.problem:
            return [f"{self.label or self.kind}: cannot read the data: {self.problem}"]
        out = [f"{self.label}: {self.description}"]
        if self.sample_shape:
            out.append(
                f"sample shape: {' x '.join(map(str, self.sample_shape))}  ({self.total:,} samples)"
            )
        if self.classes:
            note = f"  ({self.estimated})" if self.estimated else ""
            out.append(f"classes: {len(self.classes)}{note}")
            width = max(5, *(len(c) for c in self.classes[:50]))
            tt, tv = sum(self.train_counts) or 1, sum(self.val_counts) or 1
            out.append(f"  {'class':<{width}}  {'train':>9} {'share':>6}  {'val':>8} {'share':>6}")
            for name, a, b in list(
                zip(self.classes, self.train_counts, self.val_counts, strict=False)
            )[:50]:
                out.append(f"  {name:<{width}}  {a:>9,} {a / tt:>6.1%}  {b:>8,} {b / tv:>6.1%}")
            if len(self.classes) > 50:
                out.append(f"  ... and {len(self.classes) - 50} more classes")
            ratio = self.imbalance()
            if ratio > 5:
                out.append(
                    f"unbalanced: the largest class has {ratio:.1f}x the samples of the smallest; "
                    "consider balanced sampling or class weights (cross-entropy)"
                )
        if self.mean:
            out.append(
                f"mean / std per {'channel' if self.family == 'image' else 'feature'} ({self.stats_from}):"
            )
            for name, m, s in list(zip(self.stat_names, self.mean, self.std, strict=True))[:40]:
                out.append(f"  {name}: {m:.4g} / {s:.4g}")
        if self.bad_cells:
            out.append(f"{self.bad_cells} missing or non-numeric cells ({self.stats_from}):")
            out += [f"  line {c.line}, column {c.column}: {c.value!r}" for c in self.cells[:10]]
            if self.bad_cells > 10:
                out.append(f"  ... and {self.bad_cells - 10} more")
        if self.windows:
            out.append(f"windows: {self.stats_from}")
        for w in self.windows[:3]:
            out.append(f"window: {w['context'][-60:]!r} -> next {w['next'][-1:]!r}")
        return out


def summarize(settings: TrainingSettings | dict, base_dir: str | Path | None = None) -> DataSummary:
    """The summary of the settings' dataset (see the module docstring); never raises."""
    if isinstance(settings, dict):
        settings = TrainingSettings.from_dict(settings)
    spec = settings.data if isinstance(settings.data, dict) else {}
    out = DataSummary(kind=str(spec.get("kind", "")))
    try:
        kind = get_dataset(spec.get("kind"))
        out.label = kind.label
        problems = kind.problems(spec)
        if problems:
            raise DataError(problems[0])
        values = kind.values(spec)
        reader = _READERS.get(kind.id, _loaded)
        reader(out, settings, values, Path(base_dir) if base_dir else Path.cwd())
    except KeyError as e:
        out.problem = str(e.args[0])
    except DataProblem as e:
        out.problem = str(e).splitlines()[0] if str(e) else type(e).__name__
    except (OSError, ValueError, RuntimeError, MemoryError) as e:
        out.problem = (str(e).splitlines() or [type(e).__name__])[0][:300]
    return out


# -- splits ---------------------------------------------------------------------------------------


def val_mask(n: int, settings: TrainingSettings) -> list[bool] | None:
    """Which of n samples the seeded split holds out (`runtime.data.split`), or None for no split."""
    import torch

    fraction = float(settings.val_split)
    if settings.val_data or fraction <= 0:
        return None
    n_val = round(n * fraction)
    if n_val == 0 or n_val == n:
        raise DataProblem(
            f"A validation split of {fraction:g} leaves nothing to train or validate on ({n} samples)."
        )
    order = torch.randperm(n, generator=torch.Generator().manual_seed(int(settings.seed)))
    mask = torch.zeros(n, dtype=torch.bool)
    mask[order[:n_val]] = True
    return mask.tolist()


def _count(labels: list[int], mask: list[bool] | None, k: int) -> tuple[list[int], list[int]]:
    train, val = [0] * k, [0] * k
    for i, c in enumerate(labels):
        (val if mask is not None and mask[i] else train)[c] += 1
    return train, val


# -- image folders --------------------------------------------------------------------------------


def folder_samples(root: Path) -> tuple[list[str], list[tuple[str, int]]]:
    """(classes, [(path, class index)]) in torchvision ImageFolder's order: class folders sorted,
    each walked in sorted order (links followed), files with an image suffix."""
    try:
        classes = sorted(e.name for e in os.scandir(root) if e.is_dir())
    except OSError as e:
        raise DataError(f"Could not read the image folder {root}: {e.strerror or e}") from None
    samples: list[tuple[str, int]] = []
    for index, name in enumerate(classes):
        for folder, _, files in sorted(os.walk(os.path.join(root, name), followlinks=True)):
            samples += [
                (os.path.join(folder, f), index)
                for f in sorted(files)
                if f.lower().endswith(IMAGE_SUFFIXES)
            ]
    if not samples:
        raise DataError(f"{root} must contain one sub-folder per class with images inside.")
    return classes, samples


def _image_folder(out: DataSummary, settings: TrainingSettings, values: dict, base: Path) -> None:
    import numpy as np

    from studio.training.runtime.data import read_pixels

    root = resolve(values.get("path"), base, "image folder")
    classes, samples = folder_samples(root)
    counts = [0] * len(classes)
    for _, t in samples:
        counts[t] += 1
    missing = [c for c, n in zip(classes, counts, strict=True) if n == 0]
    if missing:
        raise DataError(
            f"The class folder {missing[0]!r} in {root} has no images; remove it or add images."
        )
    size = list(image_size(values, base))
    channels = int(values["channels"])
    mask = val_mask(len(samples), settings)
    out.family, out.total, out.classes = "image", len(samples), classes
    out.train_counts, out.val_counts = _count([t for _, t in samples], mask, len(classes))
    if settings.val_data:
        out.val_counts = _other_counts(settings, base, classes)
    out.sample_shape = [channels, *size[:2]]
    out.description = f"{root.name} ({len(samples):,} images, {len(classes)} classes)"
    picks = _spread(samples, len(classes), max(STAT_IMAGES, SAMPLE_IMAGES), settings.seed)
    pixels = np.stack([read_pixels(samples[i][0], size[:2], channels) for i in picks[:STAT_IMAGES]])
    x = pixels.astype(np.float32) / 255.0
    out.stat_names = ["grey"] if channels == 1 else ["red", "green", "blue"]
    out.mean = [float(v) for v in x.mean(axis=(0, 2, 3))]
    out.std = [float(v) for v in x.std(axis=(0, 2, 3))]
    out.stats_from = f"{min(len(picks), STAT_IMAGES)} images"
    out.samples = [
        {
            "path": samples[i][0],
            "label": classes[samples[i][1]],
            "split": "val" if mask is not None and mask[i] else "train",
        }
        for i in picks[:SAMPLE_IMAGES]
    ]


def _spread(samples: list[tuple[str, int]], k: int, n: int, seed: int) -> list[int]:
    """n sample indices drawn (seeded) round-robin over the classes, so small classes show too."""
    by_class: list[list[int]] = [[] for _ in range(k)]
    for i, (_, t) in enumerate(samples):
        by_class[t].append(i)
    rng = random.Random(seed)
    pools = [rng.sample(ix, min(len(ix), n)) for ix in by_class]
    picks: list[int] = []
    while len(picks) < n and any(pools):
        for pool in pools:
            if pool and len(picks) < n:
                picks.append(pool.pop())
    return picks


def _other_counts(settings: TrainingSettings, base: Path, classes: list[str]) -> list[int]:
    """Samples per class of the separate validation set (an image folder or a table)."""
    other = summarize(
        TrainingSettings.from_dict(
            {**settings.to_dict(), "data": settings.val_data, "val_data": None, "val_split": 0.0}
        ),
        base,
    )
    if other.problem:
        raise DataError(f"The separate validation dataset: {other.problem}")
    by_name = dict(zip(other.classes, other.train_counts, strict=True))
    return [by_name.get(c, 0) for c in classes]


# -- tables ---------------------------------------------------------------------------------------


def _count_lines(path: Path) -> int:
    """Lines of a file (a last line without a newline counts), by scanning its bytes."""
    n, last = 0, b"\n"
    with open(path, "rb") as f:
        while chunk := f.read(1 << 22):
            n += chunk.count(b"\n")
            last = chunk[-1:]
    return n + (last != b"\n")


def _csv(out: DataSummary, settings: TrainingSettings, values: dict, base: Path) -> None:
    path = resolve(values.get("path"), base, "CSV file")
    delimiter = values.get("delimiter", ",")
    head: list[tuple[int, list[str]]] = []
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            for line, row in enumerate(csv.reader(f, delimiter=delimiter), 1):
                if any(c.strip() for c in row):
                    head.append((line, row))
                if len(head) > HEAD_ROWS:
                    break
        complete = len(head) <= HEAD_ROWS
        lines = None if complete else _count_lines(path)
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise DataError(f"Could not read {path}: {e}") from None
    if not head:
        raise DataError(f"{path.name} is empty.")
    names, has_header = header_names(head[0][1], values.get("header", "auto"))
    body = head[1:] if has_header else head
    if not complete:
        body = body[:HEAD_ROWS]
    target = column_number(values.get("target", -1), names, path.name)
    split = column_number(values["split"], names, path.name) if values.get("split") else None
    features = [j for j in range(len(names)) if j not in (target, split)]
    task = "regression" if settings.task == "regression" else "classification"
    out.family, out.columns, out.target = "table", names, names[target]
    out.rows = [r for _, r in body[:PREVIEW_ROWS]]
    out.row_lines = [n for n, _ in body[:PREVIEW_ROWS]]
    total = len(body) if complete else lines - (1 if has_header else 0)
    out.total, out.sample_shape = total, [len(features)]
    out.description = (
        f"{path.name} ({total:,} rows, {len(features)} features, target {names[target]!r})"
    )
    _table_cells(
        out, body, names, features, "all rows" if complete else f"the first {len(body):,} rows"
    )
    if task != "classification":
        return
    labels = [r[target].strip() if target < len(r) else "" for _, r in body]
    held = None
    if split is not None:  # a train/validation column
        from studio.training.runtime.splits import split_flags

        cells = [r[split] if split < len(r) else "" for _, r in body]
        held = split_flags(cells, path.name, names[split], body[0][0] if body else 1).tolist()
    if not complete:
        labels = _spread_labels(path, delimiter, target, has_header)
        out.estimated = f"estimated from {len(labels):,} rows read across the file"
    _classes(out, settings, labels, total, exact=complete, held=held)


def _table_cells(out: DataSummary, body, names, features, where: str) -> None:
    import numpy as np

    x = np.full((len(body), len(features)), np.nan, dtype=np.float64)
    for i, (line, row) in enumerate(body):
        for k, j in enumerate(features):
            cell = row[j].strip() if j < len(row) else ""
            if cell and is_number(cell):
                x[i, k] = float(cell)
            else:
                out.bad_cells += 1
                if len(out.cells) < MAX_CELLS:
                    out.cells.append(Cell(line, names[j], cell))
    with np.errstate(all="ignore"):
        out.mean = [float(v) for v in np.nanmean(x, axis=0)] if len(body) else []
        out.std = [float(v) for v in np.nanstd(x, axis=0, ddof=1)] if len(body) > 1 else []
    out.stat_names, out.stats_from = [names[j] for j in features], where


def _spread_labels(path: Path, delimiter: str, target: int, has_header: bool) -> list[str]:
    """Target cells of SPREAD_ROWS rows read at evenly spaced byte offsets across the file."""
    size = path.stat().st_size
    out: list[str] = []
    with open(path, "rb") as f:
        blocks = 200
        for b in range(blocks):
            f.seek(size * b // blocks)
            if b:
                f.readline()  # the rest of a cut line
            elif has_header:
                f.readline()
            text = b"".join(f.readline() for _ in range(SPREAD_ROWS // blocks)).decode(
                "utf-8", "replace"
            )
            for row in csv.reader(io.StringIO(text), delimiter=delimiter):
                if target < len(row) and row[target].strip():
                    out.append(row[target].strip())
    return out


def _classes(
    out: DataSummary,
    settings: TrainingSettings,
    labels: list[str],
    total: int,
    exact: bool,
    held: list[bool] | None = None,
) -> None:
    classes = sorted(set(labels), key=lambda v: (0, float(v), v) if is_number(v) else (1, 0.0, v))
    if len(classes) > 1000:
        return
    index = {c: i for i, c in enumerate(classes)}
    out.classes = classes
    if exact:
        mask = held if held is not None else val_mask(len(labels), settings)
        out.train_counts, out.val_counts = _count([index[v] for v in labels], mask, len(classes))
        return
    seen = [0] * len(classes)
    for v in labels:
        seen[index[v]] += 1
    fraction = 0.0 if settings.val_data else float(settings.val_split)
    if held is not None:  # the share of validation rows in the file's head
        fraction = sum(held) / max(1, len(held))
    scale = total / max(1, len(labels))
    out.val_counts = [round(c * scale * fraction) for c in seen]
    out.train_counts = [round(c * scale) - v for c, v in zip(seen, out.val_counts, strict=True)]


def _parquet(out: DataSummary, settings: TrainingSettings, values: dict, base: Path) -> None:
    """A Parquet file: the first rows for the preview, statistics and bad cells; the classes of
    every row (one column read by pyarrow is fast)."""
    from studio.training.runtime.parquet import open_parquet

    path = resolve(values.get("path"), base, "Parquet file")
    table = open_parquet(path)
    names = list(table.column_names)
    if not names or table.num_rows == 0:
        raise DataError(f"{path.name} is empty.")
    target = column_number(values.get("target", -1), names, path.name)
    split = column_number(values["split"], names, path.name) if values.get("split") else None
    features = [j for j in range(len(names)) if j not in (target, split)]
    head = table.slice(0, HEAD_ROWS).to_pydict()
    n = min(HEAD_ROWS, table.num_rows)
    body = [
        (i + 1, ["" if head[c][i] is None else str(head[c][i]) for c in names]) for i in range(n)
    ]
    out.family, out.columns, out.target = "table", names, names[target]
    out.rows, out.row_lines = (
        [r for _, r in body[:PREVIEW_ROWS]],
        [k for k, _ in body[:PREVIEW_ROWS]],
    )
    out.total, out.sample_shape = table.num_rows, [len(features)]
    out.description = (
        f"{path.name} ({table.num_rows:,} rows, {len(features)} features, target {names[target]!r})"
    )
    where = "all rows" if n == table.num_rows else f"the first {n:,} rows"
    _table_cells(out, body, names, features, where)
    if settings.task == "classification":
        labels = ["" if v is None else str(v) for v in table.column(target).to_pylist()]
        held = None
        if split is not None:
            from studio.training.runtime.splits import split_flags

            held = split_flags(table.column(split).to_pylist(), path.name, names[split]).tolist()
        _classes(out, settings, labels, table.num_rows, exact=True, held=held)


# -- text -----------------------------------------------------------------------------------------


def _text(out: DataSummary, settings: TrainingSettings, values: dict, base: Path) -> None:
    from studio.training.runtime.text import read_text_windows, windows_description
    from studio.training.runtime.tokens import decode_tokens
    from studio.training.text_data import text_signature, text_spec

    resolve(values.get("path"), base, "text file")
    text_signature(values, base)  # at least one window, said in one line
    spec = text_spec(None, values, "tokens", base)
    data, _ = read_text_windows(spec)
    train, val = (
        (data, None) if settings.val_split <= 0 else data.split_tail(float(settings.val_split))
    )
    out.family, out.total = "text", len(data)
    out.sample_shape = [data.block_size]
    out.description = windows_description(data, spec["path"])
    out.train_counts, out.val_counts = [], []
    out.stats_from = (
        f"{len(train)} training windows, {len(val) if val is not None else 0} validation windows"
    )
    for i in range(min(12, len(train))):
        x, y = train[i]
        out.windows.append(
            {
                "context": decode_tokens(x.tolist(), data.codec),
                "next": decode_tokens(y.tolist(), data.codec),
            }
        )


# -- anything else: loaded as training loads it ------------------------------------------------


def _loaded(out: DataSummary, settings: TrainingSettings, values: dict, base: Path) -> None:
    import torch

    from studio.training.datasets import load_data

    data = load_data(settings, base)
    out.description, out.sample_shape = data.description, list(data.input_shape)
    out.total = len(data.train) + (len(data.val) if data.val is not None else 0)
    out.family = (
        "image"
        if len(data.input_shape) == 3
        else "table"
        if len(data.input_shape) == 1
        else "other"
    )
    sets = [data.train] + ([data.val] if data.val is not None else [])
    tensors = [getattr(s, "tensors", None) for s in sets]
    if data.num_classes and all(t is not None for t in tensors):
        k = data.num_classes
        counts = [torch.bincount(t[1].long().flatten(), minlength=k)[:k].tolist() for t in tensors]
        out.classes = list(data.class_names or [str(i) for i in range(k)])
        out.train_counts, out.val_counts = counts[0], counts[1] if len(counts) > 1 else [0] * k
    if tensors[0] is not None and tensors[0][0].is_floating_point():
        x = tensors[0][0]
        dims = [0, 2, 3] if x.dim() == 4 else [0]
        if x.dim() in (2, 4):
            out.mean = x.mean(dims).tolist()
            out.std = x.std(dims).tolist()
            out.stat_names = (
                [f"channel {i}" for i in range(len(out.mean))]
                if x.dim() == 4
                else [f"feature {i}" for i in range(len(out.mean))]
            )
            out.stats_from = f"all {len(x):,} training samples"
    if out.family == "image" and all(t is not None for t in tensors):
        out.samples = _tensor_samples(sets, out.classes, settings.seed)
    if out.family == "table" and tensors[0] is not None:  # generated rows: the first, as read
        x, y = tensors[0][0], tensors[0][1]
        width = x.shape[1]
        out.columns, out.target = [*(f"feature {i}" for i in range(width)), "target"], "target"
        names = out.classes
        for i in range(min(PREVIEW_ROWS, len(x))):
            t = y[i].flatten().tolist()
            label = (
                names[int(t[0])]
                if names and len(t) == 1 and int(t[0]) < len(names)
                else ", ".join(f"{v:g}" for v in t)
            )
            out.rows.append([*(f"{v:.4g}" for v in x[i].tolist()), label])
            out.row_lines.append(i + 1)


def _tensor_samples(sets, classes: list[str], seed: int) -> list[dict]:
    """The sample grid of images held as tensors (generated shapes, a torchvision set in
    memory): spread over the classes, every fourth from validation, each as height x width x 3
    uint8 pixels stretched to its own range (the tensors may be normalised)."""
    import numpy as np

    picked: dict[str, list[dict]] = {"train": [], "val": []}
    quota = (
        [SAMPLE_IMAGES - SAMPLE_IMAGES // 4, SAMPLE_IMAGES // 4]
        if len(sets) > 1
        else [SAMPLE_IMAGES]
    )
    for split, data, n in zip(("train", "val"), sets, quota):
        x, y = data.tensors[0], data.tensors[1].long().flatten()
        if x.dim() != 4 or len(y) != len(x):
            continue
        k = max(len(classes), int(y.max()) + 1 if len(y) else 0)
        for i in _spread([(None, int(t)) for t in y.tolist()], k, n, seed):
            image = x[i].float()
            low, high = image.min(), image.max()
            image = (image - low) / (high - low) if high > low else image.clamp(0, 1)
            pixels = (image * 255).round().byte().permute(1, 2, 0).numpy()
            if pixels.shape[2] == 1:
                pixels = np.repeat(pixels, 3, axis=2)
            label = classes[int(y[i])] if int(y[i]) < len(classes) else str(int(y[i]))
            picked[split].append(
                {"pixels": np.ascontiguousarray(pixels), "label": label, "split": split}
            )
    val = picked["val"]
    mixed = []  # three training samples, then one for validation, as the grid shows them
    for n, sample in enumerate(picked["train"]):
        mixed.append(sample)
        if n % 3 == 2 and val:
            mixed.append(val.pop(0))
    return mixed + val


_READERS = {"image_folder": _image_folder, "csv": _csv, "parquet": _parquet, "text": _text}
