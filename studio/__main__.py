"""The ``studio`` command (pyproject's script) and ``python -m studio``: the top of the layer
order, the one place that knows both the CLI and the window. A subcommand goes to
:func:`studio.cli.main`; ``studio [PROJECT]`` opens the editor.

A training process (multiprocessing's spawn) imports this module too, as ``__mp_main__``:
importing it does nothing and loads neither the CLI nor the UI."""

from __future__ import annotations


def open_editor(project: str | None) -> int:
    from studio.ui.app import run_gui

    return run_gui(project)


def main(argv: list[str] | None = None) -> int:
    from studio.cli import main as cli_main

    return cli_main(argv, open_editor=open_editor)


if __name__ == "__main__":
    raise SystemExit(main())
