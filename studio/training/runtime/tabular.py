"""``read_csv``: a numeric CSV file as a float32 feature tensor and a target tensor.

Why numpy's C reader (``numpy.loadtxt``, numpy >= 1.23) and not pandas or pyarrow: measured on
a 1,000,000-row x 20-column file with a text label (``benchmarks/data_loading.py``), it loads
in 0.8-1.2x the time of pandas with the pyarrow engine on this 2-core machine, peaks at 1.3x
the float32 data (pandas+pyarrow held several hundred MB more in the same test), and numpy is
already a dependency of Studio and of the exported ``train.py``, whereas pandas and pyarrow
would add about 250 MB (pyarrow 170 MB, pandas 84 MB, measured with du) to every install.

The fast path reads every cell in C; the label column goes through a converter that maps each
distinct text to a number on the fly, so no cell is ever held as a Python string. When numpy
refuses the file (a word in a number column, a short row, an odd quote), the slow path reads
it with the csv module to name the exact row and column for the user, and still loads files
that are only unusual (whitespace-only lines, ``" 2"``) rather than wrong.

Part of the runtime: it imports only the standard library, numpy and torch, and the
training-script export copies these functions into ``train.py`` verbatim.
"""

from __future__ import annotations

import csv
import warnings
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from studio.training.runtime.tables import DataProblem, column_number, header_names, is_number


class CsvError(DataProblem):
    """The file cannot be used; the message names the file, row and column for the user."""


class Table(NamedTuple):
    features: torch.Tensor  # float32, rows x features (a strided view of the parsed block, no copy)
    targets: torch.Tensor  # int64 class indices (classification) or float32 rows x 1
    columns: list[str]  # the feature columns' names, in tensor order
    target: str  # the target column's name
    classes: list[str] | None  # class names, index order (classification only)


def read_table(path, *, delimiter=",", header="auto", label_column=-1, feature_columns=None,
             task="classification") -> Table:
    """Read ``path``. ``header``: True, False or "auto" (a first row without numbers is a header);
    ``label_column`` and ``feature_columns`` are names or 0-based indices (default: every other
    column); ``task``: "classification" (labels become class indices) or "regression"."""
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            first, skipped = next(((r, i) for i, r in enumerate(csv.reader(f, delimiter=delimiter), 1)
                                   if any(c.strip() for c in r)), (None, 0))
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise CsvError(f"Could not read {path}: {e}") from e
    if first is None:
        raise CsvError(f"{path.name} is empty.")
    names, header = header_names(first, header)  # the header and column rules of tables.py
    width = len(first)
    t = column_number(label_column, names, path.name)
    fcols = ([column_number(c, names, path.name) for c in feature_columns] if feature_columns
             else [j for j in range(width) if j != t])
    if t in fcols:
        raise CsvError(f"Column '{names[t]}' cannot be both a feature and the target.")
    classify = task == "classification"
    start = skipped if header else skipped - 1  # records before the first data row
    try:
        x, y, labels = _read_fast(path, delimiter, start, width, fcols, t, classify)
    except ValueError:  # numpy names a position in its own terms: find the cell the csv way
        x, y, labels = _read_slow(path, delimiter, start, width, names, fcols, t, classify)
    if len(x) == 0:
        raise CsvError(f"{path.name} has a header but no data rows.")
    classes = None
    if classify:  # number-like labels in numeric order, then words alphabetically
        classes = sorted(labels, key=lambda v: (0, float(v), v) if is_number(v) else (1, 0.0, v))
        rank = {v: i for i, v in enumerate(classes)}
        order = np.array([rank[v] for v in labels], dtype=np.int64)
        targets = torch.from_numpy(order[y.astype(np.int64)])
    else:
        targets = torch.from_numpy(np.ascontiguousarray(y, dtype=np.float32)).unsqueeze(1)
    return Table(torch.from_numpy(x), targets, [names[j] for j in fcols], names[t], classes)


def _read_fast(path, delimiter, start, width, fcols, t, classify):
    """Every cell parsed by numpy in C. Reads all columns (so a row of the wrong length is
    refused) unless some are unused, which may then hold anything."""
    labels: dict[str, int] = {}

    def label(text: str) -> int:
        key = text.strip()
        return labels.setdefault(key, len(labels))

    used = sorted({*fcols, t})
    usecols = None if len(used) == width else used
    with open(path, encoding="utf-8-sig", newline="") as f, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "input contained no data": said better below
        a = np.loadtxt(f, delimiter=delimiter, dtype=np.float32, comments=None, quotechar='"', skiprows=start,
                       usecols=usecols, ndmin=2, converters={t: label} if classify else None)
    if len(a) == 0:
        return np.empty((0, len(fcols)), np.float32), np.empty(0, np.float32), []
    pos = {j: i for i, j in enumerate(used if usecols else range(width))}
    cols = [pos[j] for j in fcols]
    if cols and cols == list(range(cols[0], cols[0] + len(cols))):  # a block (the usual case): a view, no copy
        x = a[:, cols[0]:cols[0] + len(cols)]
    else:  # np.take, unlike a[:, cols], gives C order without a second copy
        x = np.take(a, cols, axis=1)
    return x, a[:, pos[t]], list(labels)


def _read_slow(path, delimiter, start, width, names, fcols, t, classify):
    """The csv module, cell by cell: for files numpy refused. Raises :class:`CsvError` at the
    first bad cell, else returns what the fast path would have."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = [(i, r) for i, r in enumerate(csv.reader(f, delimiter=delimiter), 1)
                    if i > start and any(c.strip() for c in r)]
    except (OSError, UnicodeDecodeError, csv.Error) as e:  # e.g. a byte that is not UTF-8 further down
        raise CsvError(f"Could not read {path}: {e}") from e
    x = np.empty((len(rows), len(fcols)), dtype=np.float32)
    y = np.empty(len(rows), dtype=np.float32)
    labels: dict[str, int] = {}
    for r, (line, row) in enumerate(rows):
        if len(row) != width:
            raise CsvError(f"{path.name}, row {line}: {len(row)} values, expected {width} like the first row.")
        for c, j in enumerate(fcols):
            x[r, c] = _number(row[j], path, line, names[j], "")
        cell = row[t].strip()
        y[r] = labels.setdefault(cell, len(labels)) if classify else _number(
            cell, path, line, names[t],
            " (regression needs numeric targets; use a classification loss for labels)")
    return x, y, list(labels)


def _number(cell: str, path: Path, line: int, column: str, hint: str) -> float:
    cell = cell.strip()
    try:
        return float(cell)
    except ValueError:
        raise CsvError(f"{path.name}, row {line}, column '{column}': {cell!r} is not a number{hint}.") from None
