"""The Parquet dataset kind's signature and reader spec (read by `kinds`; no torch).

The signature reads the file's schema and its target column only, cached per file and
modification time; pyarrow is optional, and a missing pyarrow is one line.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from studio.training.readers import absolute
from studio.training.runtime.tables import DataProblem, column_number, is_number
from studio.training.signatures import DataError, DataSignature, resolve

_MAX_DISTINCT = 1000


def parquet_signature(values: Mapping[str, Any], base_dir=None) -> DataSignature:
    path = resolve(values.get("path"), base_dir, "Parquet file")
    target, features = values.get("target", -1), values.get("features")
    key = (
        str(target),
        tuple(features) if isinstance(features, list) else None,
        values.get("split") or "",
    )
    return _cached(str(path), key, path.stat().st_mtime_ns)


@functools.lru_cache(maxsize=32)
def _cached(path_text: str, key: tuple, stamp: int) -> DataSignature:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise DataError(
            "Reading Parquet files needs pyarrow; install it with: pip install pyarrow"
        ) from None
    path = Path(path_text)
    target_text, features, split = key
    target: Any = int(target_text) if target_text.lstrip("-").isdigit() else target_text
    try:
        schema = pq.read_schema(path_text)
        names = list(schema.names)
        t = column_number(target, names, path.name)
        column = pq.read_table(path_text, columns=[names[t]]).column(0)
    except DataProblem as e:
        raise DataError(str(e)) from None
    except Exception as e:  # noqa: BLE001 - pyarrow's own errors for a bad file
        raise DataError(
            f"Could not read {path} as a Parquet file ({str(e).splitlines()[0][:160]})."
        ) from None
    distinct = {str(v) for v in column.unique().to_pylist()[: _MAX_DISTINCT + 1]}
    n_features = len(features) if features else len(names) - 1 - bool(split)
    note = f"{path.name} ({len(column)} rows, {n_features} features)"
    numeric = all(is_number(v) for v in distinct)
    whole = numeric and all(float(v).is_integer() for v in distinct)
    if numeric and not (whole and len(distinct) <= _MAX_DISTINCT):
        return DataSignature((n_features,), "float32", None, "float", 1, note)
    return DataSignature((n_features,), "float32", len(distinct), "class", None, note)


def parquet_spec(kind, values: Mapping[str, Any], target: Any, base_dir=None) -> dict:
    return {
        "path": absolute(values["path"], base_dir),
        "target": values["target"],
        "features": values.get("features") or None,
        "classification": target.task == "classification",
        "split": values.get("split") or None,
    }
