"""``studio export PROJECT -o PATH``: write the generated model module (more formats later)."""

from __future__ import annotations

import argparse
from pathlib import Path

from studio.cli import CliError
from studio.commands import load

FORMATS = ("python",)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("project", help="project file (.studio.json)")
    parser.add_argument("-o", "--output", required=True, help="file to write")
    parser.add_argument("--format", choices=FORMATS, default="python", help="what to export (default: python)")


def main(args: argparse.Namespace) -> int:
    from studio.compiler import CompileError, generate

    project = load(args.project)
    try:
        code = generate(project.graph, project.name)
    except CompileError as e:
        raise CliError(f"{args.project}: the model has problems: {e}") from None
    out = Path(args.output)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(code.source, encoding="utf-8")
    except OSError as e:
        raise CliError(f"{out}: cannot write ({e.strerror or e})") from None
    print(f"Wrote {out} ({code.class_name})")
    return 0
