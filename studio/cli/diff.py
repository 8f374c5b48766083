"""`studio diff A B`: what changed from project A to project B: blocks added, removed and changed
(parameter by parameter), renamed, wires, module definitions, training settings, search ranges,
and the generated code's unified diff. A or B may also be a run's folder (or its
``model.studio.json``): the model and settings that run trained with; or an imported module,
named as ``studio import`` names one (``torchvision:resnet18``, ``pkg.module:Class``,
``file.py:Class``; code from a file runs only with ``--trust-code``).

Blocks are matched by structure (`studio.graph.diff`), so renamed and moved blocks line up.
Exit status: 0 the same, 1 different (like diff(1)), 2 a file cannot be read.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from studio.cli import CliError
from studio.training.run_table import IGNORED_SETTINGS


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("a", help="project file, or a run folder (its model.studio.json)")
    parser.add_argument("b", help="project file, or a run folder")
    parser.add_argument("--json", action="store_true", help="the differences as one JSON object")
    parser.add_argument(
        "--no-code", action="store_true", help="leave out the generated code's diff"
    )


def load_side(text: str):
    """A project from a project file, a run folder or a run's model.studio.json."""
    from studio.graph.project import ProjectError, load_project
    from studio.training.runs import MODEL_FILE

    path = Path(text)
    if not path.exists() and ":" in text and not text.endswith(".json"):
        return imported(text)
    if path.is_dir():
        path = path / MODEL_FILE
        if not path.exists():
            raise CliError(f"{text}: a folder without {MODEL_FILE} (is it a run's folder?)", 2)
    try:
        return load_project(path)
    except ProjectError as e:
        raise CliError(str(e), 2) from None


def imported(text: str):
    """A module named as `studio import` names one, imported (not saved) for the comparison."""
    from studio.interop import sources
    from studio.interop.fx_import import ModelImportError, UntraceableError, import_spec
    from studio.trust import policy

    try:
        spec = sources.parse_spec(text)
    except sources.SourceError as e:
        raise CliError(str(e), 2) from None
    user_file = sources.runs_user_file(spec)
    if user_file is not None and not policy().everything:
        raise CliError(f"{text} runs code from {user_file}; add --trust-code to import it", 2)
    try:
        return import_spec(spec, {}, None, verify=False).project
    except (sources.SourceError, UntraceableError, ModelImportError) as e:
        raise CliError(f"{text}: {e}", 2) from None


def generated(project) -> str:
    """The project's generated code, or a comment saying why there is none (an invalid graph)."""
    import studio.compiler as compiler

    try:
        return compiler.generate(project.graph, "Model").source
    except Exception as e:  # an invalid graph: the rest of the diff still helps
        return f"# no code: {str(e).splitlines()[0] if str(e) else type(e).__name__}\n"


def main(args: argparse.Namespace) -> int:
    from studio.graph.diff import diff_projects

    a, b = load_side(args.a), load_side(args.b)
    code_a = code_b = None
    if not args.no_code:
        code_a, code_b = generated(a), generated(b)
    d = diff_projects(a, b, code_a, code_b, ignore=IGNORED_SETTINGS)
    if d.code:
        from studio.graph.diff import code_diff

        d.code = code_diff(code_a, code_b, f"a/{Path(args.a).name}", f"b/{Path(args.b).name}")
    if args.json:
        print(json.dumps(d.to_json(), indent=1, default=repr))
    else:
        print(d.to_text())
    return 0 if d.empty else 1
