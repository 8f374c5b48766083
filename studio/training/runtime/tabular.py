"""``read_table``: a numeric CSV file as a float32 feature tensor and a target tensor.

Why numpy's C reader (``numpy.loadtxt``, numpy >= 1.23) and not pandas or pyarrow: measured on
a 1,000,000-row x 20-column file with a text label (``benchmarks/data_loading.py``), it loads
in 0.8-1.2x the time of pandas with the pyarrow engine on this 2-core machine, peaks at 1.3x
the float32 data (pandas+pyarrow held several hundred MB more in the same test), and numpy is
already a dependency of Studio and of the exported ``train.py``, whereas pandas and pyarrow
would add about 250 MB (pyarrow 170 MB, pandas 84 MB, measured with du) to every install.

When pyarrow is installed (optional: ``pip install pyarrow``), a file of 8 MiB or more is parsed by
its CSV reader instead (:func:`_parse_arrow`: C++ on several threads, batch by batch into one
preallocated float32 block, each batch's columns viewed in place, never through pandas): measured
on the same 1,000,000-row file it takes about 0.6x the time of pandas+pyarrow (median of 5
interleaved pairs) and 0.3x numpy's CPU time, with the same float32 bits (numbers go through
float64 as in numpy); whatever pyarrow refuses goes to numpy, so the messages do not change.

A file under 1 MiB (:func:`rows_max_bytes`) is read by the csv module, cell by cell (the plain
path a train.py of a small table holds alone: measured on a 13-column table it costs 0.04 s for
478 KiB, 3x numpy's time, and names a bad cell by its row and column without a second pass).
`parser_for` chooses by the file's size; Studio plans the choice when a run starts and train.py
keeps the one its export planned.

The numpy fast path reads every cell in C; the label column goes through a converter that maps each
distinct text to a number on the fly, so no cell is ever held as a Python string. When numpy
refuses the file (a word in a number column, a short row, an odd quote), the slow path reads
it with the csv module to name the exact row and column for the user, and still loads files
that are only unusual (whitespace-only lines, ``" 2"``) rather than wrong.

A table larger than the memory budget (:func:`memory_budget`) is converted once, in chunks of
lines, into float32 files in a cache folder keyed on the file's path, size, modification time and
the reading options (:func:`stream_table`); the dataset then reads rows from them with
``numpy.memmap``, so the table is never held in memory whole. The chunks go through the same
parser and, when numpy refuses one, the same cell-by-cell check with the same messages.

Part of the runtime: it imports only the standard library, numpy and torch, and the
training-script export copies these functions into ``train.py`` verbatim.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import warnings
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from studio.training.runtime.tables import DataProblem, column_number, header_names, is_number


class Table(NamedTuple):
    features: torch.Tensor  # float32, rows x features (a strided view of the parsed block, no copy)
    targets: torch.Tensor  # int64 class indices (classification) or float32 rows x 1
    columns: list[str]  # the feature columns' names, in tensor order
    target: str  # the target column's name
    classes: list[str] | None  # class names, index order (classification only)


class Layout(NamedTuple):
    """Where a table's data is: its column names, width, target and feature columns, and the
    number of records before the first data row."""

    names: list[str]
    width: int
    target: int
    features: list[int]
    start: int


def memory_budget(spec=None):
    """Bytes of data a reader may hold in memory before it streams from disk instead:
    spec["memory_budget"], else the environment variable STUDIO_DATA_BUDGET (bytes), else a
    quarter of the physical memory (os.sysconf, Linux and macOS), else 2 GiB."""
    for value in ((spec or {}).get("memory_budget"), os.environ.get("STUDIO_DATA_BUDGET")):
        if value not in (None, ""):
            try:
                return max(1, int(value))
            except (TypeError, ValueError):
                raise DataProblem(f"The memory budget must be a number of bytes (got {value!r}).") from None
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 4
    except (ValueError, OSError, AttributeError):
        return 2 << 30


def table_layout(path, delimiter=",", header="auto", label_column=-1, feature_columns=None):
    """The `Layout` of the file: the header and column rules (tables.py) applied to its first
    non-blank row."""
    path = Path(path)
    first = None
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            for i, row in enumerate(csv.reader(f, delimiter=delimiter), 1):
                if any(c.strip() for c in row):  # the first row that is not blank
                    first, skipped = row, i
                    break
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise DataProblem(f"Could not read {path}: {e}") from e
    if first is None:
        raise DataProblem(f"{path.name} is empty.")
    names, header = header_names(first, header)
    width = len(first)
    t = column_number(label_column, names, path.name)
    if feature_columns:
        fcols = [column_number(c, names, path.name) for c in feature_columns]
    else:  # every other column
        fcols = [j for j in range(width) if j != t]
    if t in fcols:
        raise DataProblem(f"Column '{names[t]}' cannot be both a feature and the target.")
    return Layout(names, width, t, fcols, skipped if header else skipped - 1)


def rows_max_bytes():
    """Files under this size are read by the csv module, cell by cell (`parser_for`)."""
    return 1 << 20


def parser_for(path):
    """How `read_table` parses the file `path`, by its size: "rows" (the csv module, cell by
    cell: short files), "numpy" (numpy's C reader) or, from `arrow_min_bytes`, "arrow" (pyarrow's
    reader when it is installed, else numpy's)."""
    size = os.stat(path).st_size
    return "rows" if size < rows_max_bytes() else "arrow" if size >= arrow_min_bytes() else "numpy"


def read_table(path, delimiter=",", header="auto", label_column=-1, feature_columns=None,
               task="classification", parser=None) -> Table:
    """Read ``path``. ``header``: True, False or "auto" (a first row without numbers is a header);
    ``label_column`` and ``feature_columns`` are names or 0-based indices (default: every other
    column); ``task``: "classification" (labels become class indices) or "regression";
    ``parser``: "rows", "numpy" or "arrow" (None: `parser_for` the file's size). Every parser
    gives the same tensors; a cell numpy or pyarrow refuses is named by the csv module's pass."""
    path = Path(path)
    lay = table_layout(path, delimiter, header, label_column, feature_columns)
    classify = task == "classification"
    labels: dict[str, int] = {}
    how = parser or parser_for(path)
    if how == "rows":
        rows = _csv_rows(path, delimiter, lay.start)  # the csv module (a large file too: slower)
        x, y = _parse_rows(rows, path, lay, classify, labels)
    else:
        parsed = _parse_arrow(path, delimiter, lay, classify, labels) if how == "arrow" else None
        try:
            if parsed is None:
                with open(path, encoding="utf-8-sig", newline="") as f:
                    parsed = _parse_block(f, delimiter, lay, classify, labels, lay.start)
        except ValueError:  # numpy names a position in its own terms: find the cell the csv way
            labels.clear()
            parsed = _parse_rows(_csv_rows(path, delimiter, lay.start), path, lay, classify, labels)
        x, y = parsed
    if len(x) == 0:
        raise DataProblem(f"{path.name} has a header but no data rows.")
    classes, order = _class_order(labels) if classify else (None, None)
    if classify:
        targets = torch.from_numpy(_to_classes(y, order))
    else:
        targets = torch.from_numpy(np.ascontiguousarray(y, dtype=np.float32)).unsqueeze(1)
    columns = [lay.names[j] for j in lay.features]
    return Table(torch.from_numpy(x), targets, columns, lay.names[lay.target], classes)


def _to_classes(ids, order):
    """Label ids (first seen first) as class indices, int64, in place when they are already int64
    and in slices otherwise, so the peak holds one more slice, not two more copies of the column."""
    out = ids if ids.dtype == np.int64 else np.empty(len(ids), np.int64)
    step = 1 << 16
    for i in range(0, len(ids), step):
        out[i:i + step] = order[ids[i:i + step].astype(np.int64)]
    return out


def _class_order(labels):
    """Class names, number-like labels in numeric order, then words alphabetically, and the
    class index of each label in the order it was first seen."""
    classes = sorted(labels, key=lambda v: (0, float(v), v) if is_number(v) else (1, 0.0, v))
    rank = {v: i for i, v in enumerate(classes)}
    return classes, np.array([rank[v] for v in labels], dtype=np.int64)


def _parse_block(source, delimiter, lay, classify, labels, skip=0):
    """(features, label ids or targets) of `source` (a file or a list of lines), every cell parsed
    by numpy in C; `labels` maps each label text to an id in the order first seen and is shared
    by the chunks of a file. Reads all columns (so a row of the wrong length is refused) unless
    some are unused, which may then hold anything. ValueError when numpy refuses a cell."""
    fcols, t = lay.features, lay.target

    def label(text: str) -> int:
        return labels.setdefault(text.strip(), len(labels))

    used = sorted({*fcols, t})
    usecols = None if len(used) == lay.width else used
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "input contained no data": said better by the callers
        a = np.loadtxt(source, delimiter=delimiter, dtype=np.float32, comments=None, quotechar='"', skiprows=skip,
                       usecols=usecols, ndmin=2, converters={t: label} if classify else None)
    if len(a) == 0:
        return np.empty((0, len(fcols)), np.float32), np.empty(0, np.float32)
    pos = {j: i for i, j in enumerate(used if usecols else range(lay.width))}
    cols = [pos[j] for j in fcols]
    if cols and cols == list(range(cols[0], cols[0] + len(cols))):  # a block (the usual case): a view, no copy
        x = a[:, cols[0]:cols[0] + len(cols)]
    else:  # np.take, unlike a[:, cols], gives C order without a second copy
        x = np.take(a, cols, axis=1)
    return x, a[:, pos[t]]


def arrow_min_bytes():
    """Files from this size up are parsed by pyarrow when it is installed (below it, its import
    costs more than it saves)."""
    return 8 << 20


def _parse_arrow(path, delimiter, lay, classify, labels):
    """(features, label ids or targets) of a large file parsed by pyarrow's CSV reader (C++, on
    several threads), batch by batch into one preallocated float32 block; None when pyarrow is
    not installed or refuses anything (numpy then reads the file and
    names the cell). Numbers are parsed as float64 and rounded to float32 as numpy does, so both
    readers give the same bits."""
    try:
        import pyarrow as pa
        import pyarrow.csv as pacsv
    except ImportError:
        return None
    used = sorted({*lay.features, lay.target})
    names = [f"c{j}" for j in range(lay.width)]
    types = {names[j]: pa.float64() for j in lay.features}
    types[names[lay.target]] = pa.dictionary(pa.int32(), pa.string()) if classify else pa.float64()
    estimate = max(1024, int(table_bytes(path, lay) / (len(lay.features) * 4 + 8) * 1.25))
    x = np.empty((estimate, len(lay.features)), np.float32)  # pages never written take no memory
    y = np.empty(estimate, np.int64 if classify else np.float32)
    ids: dict[str, int] = {}  # label text -> id, first seen first (`labels` gets them on success)
    rows = 0
    try:
        with open(path, "rb") as f:
            for _ in range(lay.start):
                f.readline()
            offset = f.tell() or (3 if f.read(3) == b"\xef\xbb\xbf" else 0)
        source = pa.OSFile(str(path))  # read, not mapped: a mapped file would count in the memory held
        source.seek(offset)
        reader = pacsv.open_csv(
            source,
            memory_pool=pa.system_memory_pool(),  # mimalloc, the default, kept ~6 MB more of freed batches
            read_options=pacsv.ReadOptions(column_names=names, block_size=256 << 10),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, quote_char='"', double_quote=True,
                                             newlines_in_values=False, ignore_empty_lines=True),
            convert_options=pacsv.ConvertOptions(
                column_types=types, include_columns=[names[j] for j in used], null_values=[],
                strings_can_be_null=False, quoted_strings_can_be_null=False),
        )
        for batch in reader:
            n = batch.num_rows
            if rows + n > len(x):  # the estimate was short: grow (rare)
                x = np.concatenate([x[:rows], np.empty((max(n, rows), x.shape[1]), np.float32)])
                y = np.concatenate([y[:rows], np.empty(max(n, rows), y.dtype)])
            for c, j in enumerate(lay.features):
                x[rows:rows + n, c] = _arrow_values(batch.column(names[j]), np.float64)
            target = batch.column(names[lay.target])
            if classify:
                known = [ids.setdefault(text.strip(), len(ids)) for text in target.dictionary.to_pylist()]
                codes = _arrow_values(target.indices, np.int32)
                y[rows:rows + n] = np.asarray(known, np.int64)[codes]
            else:
                y[rows:rows + n] = _arrow_values(target, np.float64)
            rows += n
    except (pa.ArrowException, OSError, ValueError):
        return None
    if rows == 0:
        return None
    labels.update(ids)
    return x[:rows], y[:rows]


def _arrow_values(array, dtype):
    """The values of a pyarrow array without nulls: a numpy view of its data buffer. Not
    ``to_numpy()``: its first call imports pandas (about 370 modules, 0.4-0.9 s measured on
    this machine, inside the read of the 1,000,000-row benchmark file)."""
    size = np.dtype(dtype).itemsize
    return np.frombuffer(array.buffers()[1], dtype, len(array), array.offset * size)


def _csv_rows(path, delimiter, start):
    """[(line number, cells)] of the records after the first `start`, read by the csv module:
    a short file's parser, and the one that names the cell in files numpy refused (an error
    here: e.g. a byte that is not UTF-8 further down)."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            numbered = enumerate(csv.reader(f, delimiter=delimiter), 1)
            return [(i, r) for i, r in numbered if i > start]
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise DataProblem(f"Could not read {path}: {e}") from e


def _parse_rows(rows, path, lay, classify, labels):
    """(features, label ids or targets) of (line number, cells) records, blank ones skipped.
    Raises :class:`DataProblem` at the first bad cell."""
    rows = [(line, row) for line, row in rows if any(c.strip() for c in row)]
    x = np.empty((len(rows), len(lay.features)), dtype=np.float32)
    y = np.empty(len(rows), dtype=np.float32)
    names, t = lay.names, lay.target
    hint = " (regression needs numeric targets; use a classification loss for labels)"
    for r, (line, row) in enumerate(rows):
        if len(row) != lay.width:
            raise DataProblem(f"{path.name}, row {line}: {len(row)} values, expected {lay.width} like the first row.")
        for c, j in enumerate(lay.features):
            x[r, c] = _number(row[j], path, line, names[j], "")
        cell = row[t].strip()
        if classify:  # the label's id, first seen first
            y[r] = labels.setdefault(cell, len(labels))
        else:
            y[r] = _number(cell, path, line, names[t], hint)
    return x, y


def _number(cell: str, path: Path, line: int, column: str, hint: str) -> float:
    cell = cell.strip()
    try:
        return float(cell)
    except ValueError:
        raise DataProblem(f"{path.name}, row {line}, column '{column}': {cell!r} is not a number{hint}.") from None


# -- tables larger than the memory budget: converted once into float32 files, read by memmap ----


def table_bytes(path, lay):
    """About how many bytes the float32 features and int64 targets of ``path`` take in memory,
    from the length of its first lines (the file is not read further)."""
    size = Path(path).stat().st_size
    with open(path, "rb") as f:
        lengths = [len(f.readline()) for _ in range(lay.start + 200)][lay.start:]
    lengths = [n for n in lengths if n]
    if not lengths:
        return 0
    rows = size / max(1.0, sum(lengths) / len(lengths))
    return int(rows * (len(lay.features) * 4 + 8))


def cache_folder(spec=None):
    """Where converted tables go: spec["cache_dir"], else $STUDIO_CACHE_DIR, else
    $XDG_CACHE_HOME/studio/tables (~/.cache/studio/tables)."""
    folder = (spec or {}).get("cache_dir") or os.environ.get("STUDIO_CACHE_DIR")
    if not folder:
        folder = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "studio" / "tables"
    return Path(folder).expanduser()


def stream_table(path, *, delimiter=",", header="auto", label_column=-1, feature_columns=None,
                 task="classification", budget=None, cache_dir=None):
    """The table of ``path`` (options as :func:`read_table`) as files in ``cache_dir``: a dict with
    "x" and "y" (file names), "rows", "features", "y_dtype" ("int64" class indices or "float32"
    rows x 1), "columns", "target" and "classes". Converted once, in chunks of about budget / 8
    bytes of text; a file that is unchanged (path, size, modification time) and read with the same
    options is found again (the key's first item is the cache format's version)."""
    path = Path(path).absolute()
    lay = table_layout(path, delimiter, header, label_column, feature_columns)
    stat = path.stat()
    key = json.dumps([1, str(path), stat.st_size, stat.st_mtime_ns, delimiter, header,
                      label_column, feature_columns, task])
    folder = Path(cache_dir or cache_folder())
    name = "".join(c if c.isalnum() or c in "-_" else "_" for c in path.stem[:40])
    stem = folder / f"{name}-{hashlib.sha256(key.encode()).hexdigest()[:16]}"
    meta_file = stem.with_suffix(".json")
    try:
        return _located(json.loads(meta_file.read_text(encoding="utf-8")), folder)
    except (OSError, ValueError, KeyError, TypeError):
        pass  # not converted yet (or an unreadable cache): convert
    try:
        folder.mkdir(parents=True, exist_ok=True)
        free = shutil.disk_usage(folder).free
    except OSError as e:
        raise DataProblem(f"{path.name} is larger than the memory budget, and its cache folder {folder} "
                       f"cannot be written ({e}); set STUDIO_CACHE_DIR to a writable folder.") from None
    need = table_bytes(path, lay)
    if need > free:
        raise DataProblem(f"{path.name} needs about {need / 2**30:.1f} GB of disk space in {folder} to stream "
                       f"from, but only {free / 2**30:.1f} GB are free; set STUDIO_CACHE_DIR to a larger disk.")
    try:
        meta = _convert(path, delimiter, lay, task == "classification", max(1, (budget or memory_budget()) // 8), stem)
    except BaseException:  # a bad cell, a full disk, Ctrl+C: no half-written files stay behind
        for suffix in (".x.f32", ".y.tmp", ".y.i64", ".y.f32"):
            stem.with_suffix(suffix).unlink(missing_ok=True)
        raise
    tmp = meta_file.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(meta), encoding="utf-8")
    os.replace(tmp, meta_file)  # written last: a conversion cut short is not found again
    return _located(meta, folder)


def _located(meta, folder):
    """`meta` with its file names as paths in `folder`, once both files are there."""
    x, y = folder / meta["x"], folder / meta["y"]
    if not (x.is_file() and y.is_file()):
        raise OSError(f"{x} or {y} is missing")
    return {**meta, "x": str(x), "y": str(y)}


def _convert(path, delimiter, lay, classify, chunk_bytes, stem):
    """Parse ``path`` chunk by chunk into ``stem``.x.f32 (rows x features) and the targets."""
    labels: dict[str, int] = {}
    x_file, raw_file = stem.with_suffix(".x.f32"), stem.with_suffix(".y.tmp")
    rows, line = 0, lay.start  # the number of the last line read
    try:
        with open(path, encoding="utf-8-sig", newline="") as f, open(x_file, "wb") as fx, open(raw_file, "wb") as fy:
            for _ in range(lay.start):
                f.readline()
            while lines := f.readlines(chunk_bytes):
                try:
                    x, y = _parse_block(lines, delimiter, lay, classify, labels)
                except ValueError:
                    numbered = enumerate(csv.reader(lines, delimiter=delimiter), line + 1)
                    x, y = _parse_rows(numbered, path, lay, classify, labels)
                fx.write(np.ascontiguousarray(x).tobytes())
                fy.write(np.ascontiguousarray(y, dtype=np.float32).tobytes())
                rows, line = rows + len(x), line + len(lines)
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise DataProblem(f"Could not read {path}: {e}") from e
    if rows == 0:
        raise DataProblem(f"{path.name} has a header but no data rows.")
    classes, y_name = None, stem.with_suffix(".y.f32")
    raw = np.memmap(raw_file, dtype=np.float32, mode="r", shape=(rows,))
    if classify:  # label ids in the order first seen -> class indices, chunk by chunk
        classes, order = _class_order(labels)
        y_name = stem.with_suffix(".y.i64")
        out = np.memmap(y_name, dtype=np.int64, mode="w+", shape=(rows,))
        step = max(1, chunk_bytes // 8)
        for i in range(0, rows, step):
            out[i:i + step] = order[raw[i:i + step].astype(np.int64)]
        out.flush()
        del out, raw
        os.remove(raw_file)
    else:
        del raw
        os.replace(raw_file, y_name)
    return {"x": x_file.name, "y": y_name.name, "rows": rows, "features": len(lay.features),
            "y_dtype": "int64" if classify else "float32", "columns": [lay.names[j] for j in lay.features],
            "target": lay.names[lay.target], "classes": classes}
