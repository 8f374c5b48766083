"""Parquet files (runtime): the same column choices and messages as a CSV file's.

Read with pyarrow (an optional library: `pip install pyarrow`; without it the reader says so in
one line). The target column and the feature columns are given by name or number as for CSV;
the features become one float32 tensor, class labels 0, 1, ... in `_class_order` (numbers by
value, then words alphabetically), a regression target a float column. An empty cell or a
column that does not hold numbers is named by its row and column.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import TensorDataset

from studio.training.runtime.splits import split_flags
from studio.training.runtime.tables import DataProblem, column_number
from studio.training.runtime.tabular import _class_order


def open_parquet(path):
    """The pyarrow Table of the Parquet file `path`; a DataProblem (one line) when it cannot be read."""
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise DataProblem(
            "Reading Parquet files needs pyarrow; install it with: pip install pyarrow"
        ) from None
    try:
        return pq.read_table(str(path))
    except Exception as e:  # noqa: BLE001 - pyarrow raises OSError and its own ArrowInvalid
        reason = (str(e).splitlines() or [type(e).__name__])[0][:160]
        raise DataProblem(f"Could not read {path} as a Parquet file ({reason}).") from None


def parquet_column(table, j, name, file, numeric=True):
    """Column j as a numpy array, numbers (float32) or texts; DataProblem naming a gap or a text."""
    import pyarrow as pa

    column = table.column(j)
    if column.null_count:
        row = int(np.flatnonzero(column.is_null().to_numpy(zero_copy_only=False))[0]) + 1
        raise DataProblem(
            f"{file}, row {row}, column '{name}': the cell is empty; fill it in or remove the row."
        )
    kind = column.type
    if not numeric:
        return np.array([str(v) for v in column.to_pylist()])
    if not (pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind)):
        first = column[0].as_py() if len(column) else ""
        raise DataProblem(
            f"{file}, row 1, column '{name}': {str(first)[:40]!r} is not a number (the column holds {kind}); "
            "choose other feature columns or make it the target."
        )
    return column.to_numpy(zero_copy_only=False).astype(np.float32)


def read_parquet_data(spec):
    """(TensorDataset, info) of the Parquet file spec["path"]: spec["target"] and spec["features"]
    (names or numbers; features: every other column when not given), spec["classification"];
    spec["split"] names a train/validation column (`splits`), which is then no feature."""
    path = str(spec["path"])
    file = path.replace("\\", "/").rsplit("/", 1)[-1]
    table = open_parquet(path)
    names = list(table.column_names)
    if not names or table.num_rows == 0:
        raise DataProblem(f"{file} is empty.")
    t = column_number(spec.get("target", -1), names, file)
    s = column_number(spec["split"], names, file) if spec.get("split") else None
    given = spec.get("features")
    if given:
        features = [column_number(f, names, file) for f in given]
    else:
        features = [j for j in range(len(names)) if j not in (t, s)]
    x = np.stack([parquet_column(table, j, names[j], file) for j in features], axis=1)
    info = {
        "description": f"{file} ({table.num_rows} rows, {len(features)} features)",
        "feature_names": [names[j] for j in features],
    }
    if spec.get("classification", True):
        labels = parquet_column(table, t, names[t], file, numeric=False).tolist()
        classes, _ = _class_order(list(dict.fromkeys(labels)))
        index = {c: i for i, c in enumerate(classes)}
        info.update(num_classes=len(classes), class_names=classes)
        y = torch.tensor([index[v] for v in labels], dtype=torch.long)
    else:
        y = regression_targets(table, t, names[t], file)
    data = TensorDataset(torch.from_numpy(x), y)
    if s is not None:  # a train/validation column: no random split
        cells = parquet_column(table, s, names[s], file, numeric=False).tolist()
        data.held_out = split_flags(cells, file, names[s])
    return data, info


def regression_targets(table, t, name, file):
    """The float target column (N x 1) of a regression."""
    hint = " (regression needs numeric targets; use a classification loss for labels)"
    try:
        y = parquet_column(table, t, name, file)
    except DataProblem as e:
        raise DataProblem(str(e).split(";")[0] + hint + ".") from None
    return torch.from_numpy(y).unsqueeze(1)
