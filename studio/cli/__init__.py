"""The ``studio`` command's subcommands, all headless. ``studio [PROJECT]`` (no subcommand)
opens the editor: the entry point, :mod:`studio.__main__`, passes that in as ``open_editor``,
so this package never imports the UI above it.

Every subcommand lives in this package, one module each with ``configure(parser)`` and
``main(args)``; they are imported only when used, so ``studio --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable

from studio import __version__

SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "check": ("studio.cli.check", "validate a project and print its blocks, shapes and sizes"),
    "export": ("studio.cli.export", "write the generated code (or other formats) of a project"),
    "train": ("studio.cli.train", "train a project headless as one of its runs (<stem>.runs/)"),
    "import": ("studio.cli.import_model", "turn a PyTorch module into an editable project"),
    "data": ("studio.cli.data", "summarize a project's dataset: classes per split, shapes, statistics"),
    "weights": ("studio.cli.weights", "download the pretrained weights a project needs, with progress"),
    "profile": ("studio.cli.profile", "time each block of a few real training steps on a device"),
    "sweep": ("studio.cli.sweep", "search hyper-parameters with Optuna; each trial is a kept run"),
    "runs": ("studio.cli.runs", "list a project's runs as a table (or JSON) with what differs"),
    "diff": ("studio.cli.diff", "show what changed between two projects (or a project and a run)"),
}


class CliError(Exception):
    """A one-line error for the terminal (exit status 1 or 2)."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


def add_trust_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--trust-code",
        action="store_true",
        help="allow Custom modules from .py files and torch.hub repositories named in the "
        "project to run (off by default: a project file cannot make Studio run code)",
    )


def print_table(rows: list[tuple[str, ...]]) -> None:
    """Rows as aligned columns: the first row is the header (underlined), the first column is
    left-aligned and the others right-aligned (names, then numbers)."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for i, row in enumerate(rows):
        cells = (c.ljust(w) if j == 0 else c.rjust(w) for j, (c, w) in enumerate(zip(row, widths)))
        print("  ".join(cells).rstrip())
        if i == 0:
            print("  ".join("-" * w for w in widths))


def load(path: str):
    """Load a project or raise a one-line :class:`CliError`."""
    from studio.graph.project import ProjectError, load_project

    try:
        project = load_project(path)
    except ProjectError as e:
        raise CliError(str(e)) from None
    from studio import gctune

    gctune.project_opened(len(project.graph))  # a large graph out of the collector's full passes
    return project


def build_parser(sub: str | None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="studio",
        description="Build PyTorch models visually. Without a subcommand, opens the editor.",
        epilog="Subcommands:\n"
        + "\n".join(f"  {name:<8} {help}" for name, (_, help) in SUBCOMMANDS.items())
        + "\n\nRun 'studio SUBCOMMAND --help' for its options.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"studio {__version__}")
    if sub is None:
        parser.add_argument("project", nargs="?", help="project file to open in the editor")
        return parser
    module_name, help_text = SUBCOMMANDS[sub]
    subparser = argparse.ArgumentParser(prog=f"studio {sub}", description=help_text[0].upper() + help_text[1:] + ".")
    importlib.import_module(module_name).configure(subparser)
    return subparser


def _silence_stdout() -> None:
    """Point stdout at /dev/null so that Python's flush at exit does not raise again."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


def _printable_output() -> None:
    """Never die printing: a terminal that cannot show a character (``×`` on an ASCII
    terminal, a lone surrogate read from a project name) gets an escape such as ``\\xd7``."""
    for stream, real in ((sys.stdout, sys.__stdout__), (sys.stderr, sys.__stderr__)):
        if stream is real and stream is not None:
            try:
                stream.reconfigure(errors="backslashreplace")
            except (AttributeError, ValueError, OSError):
                pass


def main(argv: list[str] | None = None, open_editor: Callable[[str | None], int] | None = None) -> int:
    """Run ``studio ARGV``. Without a subcommand it parses ``[PROJECT]`` (so ``--help`` and
    ``--version`` work) and calls ``open_editor(project)``; with none given it is an error."""
    import multiprocessing

    multiprocessing.freeze_support()  # a frozen (bundled) app's training process starts here
    _printable_output()
    argv = list(sys.argv[1:] if argv is None else argv)
    sub = argv[0] if argv and argv[0] in SUBCOMMANDS else None
    parser = build_parser(sub)
    args = parser.parse_args(argv[1:] if sub else argv)
    if sub is None:
        if open_editor is None:
            parser.error("a subcommand is needed here; run 'studio' or 'python -m studio' to open the editor")
        return open_editor(args.project)
    module = importlib.import_module(SUBCOMMANDS[sub][0])
    if getattr(args, "trust_code", False):
        from studio.trust import trust_everything

        trust_everything()
    try:
        status = int(module.main(args) or 0)
        sys.stdout.flush()  # a pipe closed early fails here, inside the handler, not at exit
        return status
    except BrokenPipeError:  # `studio check P | head`: the reader left; say nothing more
        _silence_stdout()
        return 141  # 128 + SIGPIPE, as a shell reports a command killed by the pipe
    except CliError as e:
        print(f"studio {sub}: error: {e}", file=sys.stderr)
        return e.status
    except KeyboardInterrupt:
        print(f"studio {sub}: interrupted", file=sys.stderr)
        return 130
