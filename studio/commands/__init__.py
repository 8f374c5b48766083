"""Headless subcommands of the ``studio`` command (see :mod:`studio.cli`)."""

from __future__ import annotations

from studio.cli import CliError


def load(path: str):
    """Load a project or raise a one-line :class:`CliError`."""
    from studio.graph.project import ProjectError, load_project

    try:
        return load_project(path)
    except ProjectError as e:
        raise CliError(str(e)) from None
