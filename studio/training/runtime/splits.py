"""A train/validation column: the rows a table holds out for validation, named in the file (runtime).

A CSV or Parquet table may say per row which set it belongs to (`spec["split"]` names the
column): "train" / "training" rows train, "val" / "valid" / "validation" / "test" / "dev" rows
validate (any case), and no random split is made. Another word is named with its row.
"""

from __future__ import annotations

import csv

import torch

from studio.training.runtime.tables import DataProblem, column_number, header_names


def split_flags(cells, file, column, first_line=1):
    """A bool tensor, True for the validation rows of the texts `cells` (one per row)."""
    validation, training = ("val", "valid", "validation", "test", "dev"), ("train", "training")
    flags = []
    for i, cell in enumerate(cells):
        word = str(cell).strip().lower()
        if word not in validation + training:
            raise DataProblem(
                f"{file}, row {first_line + i}, column '{column}': {str(cell)[:40]!r} is neither train nor "
                "val; the split column says train or val (or validation, test) for every row."
            )
        flags.append(word in validation)
    return torch.tensor(flags, dtype=torch.bool)


def csv_split_flags(path, column, delimiter=",", header="auto"):
    """`split_flags` of the column `column` (name or number) of a CSV file's non-blank rows."""
    file = str(path).replace("\\", "/").rsplit("/", 1)[-1]
    with open(path, newline="", encoding="utf-8-sig") as f:
        rows = [
            (n, r)
            for n, r in enumerate(csv.reader(f, delimiter=delimiter), 1)
            if any(c.strip() for c in r)
        ]
    if not rows:
        raise DataProblem(f"{file} is empty.")
    names, has_header = header_names(rows[0][1], header)
    j = column_number(column, names, file)
    body = rows[1:] if has_header else rows
    cells = [r[j] if j < len(r) else "" for _, r in body]
    return split_flags(cells, file, names[j], body[0][0] if body else 1)
