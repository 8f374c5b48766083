"""``studio import SPEC -o PROJECT``: turn a PyTorch module into an editable project.

SPEC is ``torchvision:NAME``, ``package.module:Callable`` or ``path/to/file.py[:ClassName]``.
The work is done by :mod:`studio.interop` (the GUI's File > Import calls the same functions);
this module parses arguments, asks before running a file's code, and prints the result.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from studio.cli import CliError


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "spec",
        help="torchvision:NAME, package.module:Callable or path/to/file.py[:ClassName] (the class can be left out where the file has one model)",
    )
    parser.add_argument("-o", "--output", required=True, help="project file to write (.studio.json)")
    parser.add_argument(
        "--kwargs", default="", metavar="ARGS",
        help='keyword arguments for the class or function, e.g. "num_classes=10" (literals only)',
    )
    parser.add_argument(
        "--input-shape", action="append", default=[], metavar="SHAPE",
        help="shape of one forward() input without the batch, e.g. 3,224,224 or 16:int64; "
        "repeat for several inputs (default for torchvision: 3,224,224)",
    )
    parser.add_argument("--name", help="project name (default: the model's)")
    parser.add_argument(
        "--opaque", action="store_true",
        help="keep the whole model as one Custom module block (for models torch.fx cannot trace)",
    )
    parser.add_argument(
        "--flat", action="store_true",
        help="one flat graph instead of module definitions for the model's submodules",
    )
    parser.add_argument("--no-verify", action="store_true", help="skip comparing outputs with the original")
    parser.add_argument("--force", action="store_true", help="replace PROJECT if it exists")
    parser.add_argument("-y", "--yes", action="store_true", help="do not ask before running a file's code")
    parser.add_argument("--trust-code", action="store_true", help="the same as --yes")


def _confirm(path: Path, yes: bool) -> None:
    print(
        f"studio import: warning: importing {path} runs its Python code; import only files you trust.",
        file=sys.stderr,
    )
    if yes:
        return
    if not sys.stdin.isatty():
        raise CliError(f"not run: give --yes (or --trust-code) to let {path} run; nothing was imported")
    try:
        answer = input("Run it? [y/N] ")
    except EOFError:
        answer = ""
    if answer.strip().lower() not in ("y", "yes"):
        raise CliError("cancelled; nothing was imported")


def main(args: argparse.Namespace) -> int:
    from studio.graph.files import UnsafeFile, write_target
    from studio.graph.project import MAX_NAME, ProjectError, save_project
    from studio.interop import sources
    from studio.interop.fx_import import ModelImportError, UntraceableError, import_spec

    try:  # '' or a device: one line, before the model is imported
        write_target(args.output)
    except UnsafeFile as e:
        raise CliError(f"-o: {e}", status=2) from None
    if args.name is not None and not 0 < len(args.name.strip()) <= MAX_NAME:
        raise CliError(f"--name must be 1 to {MAX_NAME} characters (got {len(args.name):,})", status=2)
    out = Path(args.output)
    if out.exists() and not args.force:
        raise CliError(f"{out} already exists; use --force to replace it")
    try:
        spec = sources.parse_spec(args.spec)
        kwargs = sources.parse_kwargs(args.kwargs)
        inputs = [sources.parse_input_shape(s) for s in args.input_shape] or None
    except sources.SourceError as e:
        raise CliError(str(e), status=2) from None
    user_file = sources.runs_user_file(spec)
    if user_file is not None:
        _confirm(user_file, args.yes or args.trust_code)
    try:
        result = import_spec(
            spec, kwargs, inputs, name=args.name, opaque=args.opaque, verify=not args.no_verify,
            hierarchy=not args.flat,
        )
    except sources.SourceError as e:
        raise CliError(str(e)) from None
    except UntraceableError as e:
        raise CliError(
            f"torch.fx cannot trace {e.name}: {e.reason}. Import it whole as one Custom module "
            f"block instead: studio import {args.spec} --opaque -o {args.output}"
        ) from None
    except ModelImportError as e:
        raise CliError(str(e)) from None
    try:
        path = save_project(result.project, out)
    except ProjectError as e:
        raise CliError(str(e)) from None
    print(f"Imported {spec} into {path}: {result.summary()}")
    library = result.project.graph.library
    if len(library):
        names = ", ".join(d.name for d in library)
        print(f"  module definitions: {len(library)} ({names}); --flat imports one flat graph")
    for note in result.notes:
        print(f"  note: {note}")
    if not args.no_verify and not result.matches:  # other outputs, or another parameter count
        why = "does not reproduce the original"
        if result.outputs_match:
            why = (
                f"has {result.params:,} parameters where the original has {result.original_params:,} "
                "(weights the original ties together are separate here)"
            )
        print(f"studio import: warning: the imported model {why}; please report this with the model", file=sys.stderr)
        return 1
    return 0
