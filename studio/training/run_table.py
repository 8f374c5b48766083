"""The runs table: one row per run, a column for every setting and block parameter that differs
between the runs shown, the final and best metrics, the time and the sweep. No Qt, no torch: the
Runs tab, `studio runs` and its CSV all read `RunTable`.

Settings are flattened to dotted names (``optimizer.lr``, ``batch_size``); block parameters are
read from the model each run kept (``model.studio.json``) as ``BLOCK.PARAM`` with the block's
name, per-use parameters of module blocks included (they are the block's parameters).
"""

from __future__ import annotations

import csv
import io
import json
import math
import time
from dataclasses import dataclass, field
from typing import Any

from studio.training.runs import RunRecord

#: fixed columns, before the differing ones
FIXED = ("run", "started", "status", "sweep", "trial", "epochs", "seconds")
#: settings that never explain a difference in results (where runs report, which device is not)
IGNORED_SETTINGS = ("report_every", "report_seconds", "version", "workers")


@dataclass
class RunTable:
    records: list[RunRecord]
    columns: list[str] = field(default_factory=list)
    varying: list[str] = field(default_factory=list)  # differing settings/parameters
    metrics: list[str] = field(default_factory=list)  # final_<metric> and best
    rows: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def build(cls, records: list[RunRecord]) -> RunTable:
        table = cls(list(records))
        values = [_varying_candidates(r) for r in table.records]
        keys = list(dict.fromkeys(k for v in values for k in v))
        if len(values) > 1:
            table.varying = [k for k in keys if len({_hashable(v.get(k)) for v in values}) > 1]
        else:
            table.varying = (
                [k for k in keys if k in _swept(table.records[0])] if table.records else []
            )
        finals = [_final_metrics(r) for r in table.records]
        table.metrics = list(dict.fromkeys(k for f in finals for k in f))
        if any(r.status.get("best_value") is not None for r in table.records):
            table.metrics.append("best")
        table.columns = [*FIXED, *table.varying, *table.metrics]
        for rec, v, final in zip(table.records, values, finals):
            row = _fixed(rec)
            row.update({k: v.get(k) for k in table.varying})
            row.update(final)
            if "best" in table.metrics:
                row["best"] = rec.status.get("best_value")
            table.rows.append(row)
        return table

    def numeric(self, column: str) -> bool:
        """True when every value in the column is a number (or empty): plottable, sorted as numbers."""
        vals = [row.get(column) for row in self.rows]
        return any(_is_num(v) for v in vals) and all(v is None or _is_num(v) for v in vals)

    def to_json(self) -> list[dict[str, Any]]:
        """One object per run: its settings, parameters (block and per-use) and metrics."""
        out = []
        for rec, row in zip(self.records, self.rows):
            out.append(
                {
                    **{k: row[k] for k in FIXED},
                    "folder": str(rec.folder),
                    "settings": rec.settings,
                    "parameters": _block_params(rec),
                    "sweep_parameters": rec.status.get("params") or {},
                    "metrics": {k: row.get(k) for k in self.metrics if k != "best"},
                    "best": {
                        "monitor": rec.status.get("monitor"),
                        "value": rec.status.get("best_value"),
                        "epoch": rec.status.get("best_epoch"),
                    },
                }
            )
        return out

    def to_csv(self) -> str:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(self.columns)
        for row in self.rows:
            w.writerow([format_value(row.get(c), csv=True) for c in self.columns])
        return buf.getvalue()

    def to_text(self, max_width: int = 18) -> str:
        """A plain-text table for the terminal."""
        cells = [[c for c in self.columns]] + [
            [format_value(row.get(c))[: None if c == "run" else max_width] for c in self.columns]
            for row in self.rows
        ]
        widths = [max(len(r[i]) for r in cells) for i in range(len(self.columns))]
        lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in cells]
        lines.insert(1, "  ".join("-" * w for w in widths))
        return "\n".join(lines)


def format_value(v: Any, csv: bool = False) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        if not math.isfinite(v):
            return "" if csv else "-"
        return repr(v) if csv else f"{v:.4g}"
    if isinstance(v, (list, tuple, dict)):
        return json.dumps(v)
    return str(v)


def _fixed(rec: RunRecord) -> dict[str, Any]:
    s = rec.status
    started, ended = s.get("started"), s.get("ended")
    seconds = round(ended - started, 1) if _is_num(started) and _is_num(ended) else None
    return {
        "run": rec.id,
        "started": time.strftime("%Y-%m-%d %H:%M", time.localtime(started))
        if _is_num(started)
        else "",
        "status": rec.state,
        "sweep": s.get("sweep") or "",
        "trial": s.get("trial"),
        "epochs": s.get("epochs_done"),
        "seconds": seconds,
    }


def _varying_candidates(rec: RunRecord) -> dict[str, Any]:
    out = {
        k: v for k, v in _flatten(rec.settings).items() if k.split(".")[0] not in IGNORED_SETTINGS
    }
    out.update(_block_params(rec))
    return out


def _swept(rec: RunRecord) -> set[str]:
    """With one run shown: the columns its sweep varied (nothing else differs from anything)."""
    from studio.training.search_targets import SETTINGS

    params = rec.status.get("params") or {}
    return {".".join(SETTINGS[k].path) if k in SETTINGS else k for k in params}


def _flatten(d: Any, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    if not isinstance(d, dict):
        return out
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def _block_params(rec: RunRecord) -> dict[str, Any]:
    path = rec.model_file
    if path is None:
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        blocks = data["graph"]["blocks"]
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    out = {}
    for b in blocks if isinstance(blocks, list) else []:
        if isinstance(b, dict) and isinstance(b.get("params"), dict):
            for k, v in b["params"].items():
                out[f"{b.get('name')}.{k}"] = v
    return out


def _final_metrics(rec: RunRecord) -> dict[str, Any]:
    history = rec.history()
    if not history:
        return {}
    last = history[-1]
    skip = ("epoch", "lr", "samples_per_s", "seconds")
    return {f"final_{k}": v for k, v in last.items() if k not in skip and isinstance(v, float)}


def _hashable(v: Any) -> Any:
    return json.dumps(v, sort_keys=True, default=str)


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
