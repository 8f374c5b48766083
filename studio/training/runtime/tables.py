"""CSV text as Studio reads it: rows, the header rule, columns by name or number (runtime).

Standard library only, so the torch-free data signatures read files with the same rules as the
loader and train.py.
"""

from __future__ import annotations

import csv
import os


class DataProblem(ValueError):
    """The data cannot be used as it is; the message is one sentence for the user (it names the
    file, row, column or image)."""


def is_number(text):
    try:
        float(text)
        return True
    except ValueError:
        return False


def regular_file(path, limit=None):
    """Check, before opening it, that `path` is a regular file (a FIFO would block the reader,
    /dev/zero never ends) of at most `limit` bytes; DataProblem in one sentence otherwise."""
    try:
        size = os.stat(path).st_size
    except (OSError, ValueError) as e:  # ValueError: a NUL in the name
        raise DataProblem(f"Could not read {path!r}: {getattr(e, 'strerror', None) or e}") from None
    if not os.path.isfile(path):  # a regular file (links followed); stat never blocks
        what = "a folder" if os.path.isdir(path) else "a device, pipe or other special file"
        raise DataProblem(f"{path} is {what}; the data must be a regular file.")
    if limit is not None and size > limit:
        raise DataProblem(
            f"{path} is {size / 1e6:,.0f} MB; a file read whole may be at most {limit / 1e6:,.0f} MB "
            "on this computer (1/16 of its memory)."
        )
    return size


def memory_limit(fraction=16):
    """1/`fraction` of the physical memory (8 GB assumed where the system does not say)."""
    try:
        total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        total = 8 * 10**9
    return total // fraction


def read_rows(path, delimiter=","):
    """[(line number, cells)] of the non-blank rows of a CSV file."""
    name = str(path).replace("\\", "/").rsplit("/", 1)[-1]
    regular_file(path, memory_limit())  # read whole into Python lists: bounded
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = [(i, r) for i, r in enumerate(csv.reader(f, delimiter=delimiter), 1) if any(c.strip() for c in r)]
    except (OSError, UnicodeDecodeError, csv.Error, TypeError) as e:
        raise DataProblem(f"Could not read {path}: {e}") from None
    if not rows:
        raise DataProblem(f"{name} is empty.")
    return rows


def header_names(first_row, header="auto"):
    """(column names, whether the first row is a header): a header row has no numbers in it."""
    if header == "auto":
        header = all(not is_number(c) for c in first_row)
    if header:
        return [c.strip() for c in first_row], True
    return [f"column {j + 1}" for j in range(len(first_row))], False


def column_number(column, names, file):
    """The index of a column given by header name or by number (negative counts from the end)."""
    if isinstance(column, int) and not isinstance(column, bool):
        if -len(names) <= column < len(names):
            return column % len(names)
        raise DataProblem(f"{file} has {len(names)} columns; there is no column {column}.")
    if column in names:
        return names.index(column)
    shown = repr(column) if len(repr(column)) <= 80 else repr(column)[:77] + "..."
    listed = ", ".join(names)
    listed = listed if len(listed) <= 200 else listed[:197] + "..."
    raise DataProblem(f"{file} has no column named {shown} (columns: {listed}).")
