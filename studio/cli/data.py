"""``studio data PROJECT [--json]``: what the project's dataset holds, as the Data tab shows it.

Counts per class in the training and validation split, the sample shape, the per-channel or
per-feature mean and standard deviation, missing or non-numeric cells with their line and
column (`studio.training.data_summary`). Exit status 1 when the data cannot be read (the
reason in one line).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from studio.cli import load


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("project", metavar="PROJECT", help="project file (.studio.json)")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON, for tools")


def main(args: argparse.Namespace) -> int:
    from studio.training.data_summary import summarize

    project = load(args.project)
    base = project.path.parent if project.path else Path.cwd()
    summary = summarize(project.training or {}, base)
    if args.json:
        print(json.dumps(summary.to_json(), indent=1, default=str))
    else:
        print("\n".join(summary.lines()))
    return 0 if summary.ok else 1
