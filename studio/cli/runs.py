"""`studio runs PROJECT`: the project's runs as a table, with the settings and parameters that
differ between them, their final and best metrics, time and sweep (the window's Runs tab).

``--json`` prints a list, one object per run, with its settings, parameters and metrics;
``--csv`` the table as CSV (what the Runs tab's Export writes).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from studio.cli import CliError, load


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("project", help="project file (its runs are in <stem>.runs/ beside it)")
    fmt = parser.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="one JSON object per run")
    fmt.add_argument("--csv", action="store_true", help="the table as CSV")
    parser.add_argument("--sweep", metavar="NAME", help="only the trials of this sweep")


def main(args: argparse.Namespace) -> int:
    from studio.training.run_table import RunTable
    from studio.training.runs import RunStore, runs_root

    project = load(args.project)
    root = runs_root(Path(args.project), project.name)
    records = RunStore(root).runs()
    if args.sweep:
        records = [r for r in records if r.status.get("sweep") == args.sweep]
        if not records:
            raise CliError(f"no run belongs to a sweep called {args.sweep!r}")
    table = RunTable.build(records)
    if args.json:
        print(json.dumps(table.to_json(), indent=1, default=str))
    elif args.csv:
        print(table.to_csv(), end="")
    elif not records:
        print(f"No runs yet (they are kept in {root}).")
    else:
        print(table.to_text())
    return 0
