"""Where Studio keeps things outside a project: its config folder and the bundled examples.

The standard library only, so that the window (settings, the welcome view) and the command
line (where a run of a bundled example goes) find the same folders.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

#: the example projects shipped with Studio (shared, read-only: their runs go to the config folder)
EXAMPLES_DIR = Path(__file__).resolve().parents[1] / "resources" / "examples"


def config_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The folder given, else ``$STUDIO_CONFIG_DIR``, else ``~/.config/studio``
    (``%APPDATA%/studio`` on Windows)."""
    if explicit is not None:
        return Path(explicit)
    env = os.environ.get("STUDIO_CONFIG_DIR")
    if env:
        return Path(env)
    if sys.platform == "win32":
        return Path(os.environ.get("APPDATA", Path.home())) / "studio"
    return Path(os.environ.get("XDG_CONFIG_HOME", Path.home() / ".config")) / "studio"


def is_example(path: str | os.PathLike[str] | None) -> bool:
    """Whether ``path`` is one of the bundled example projects."""
    return path is not None and Path(path).resolve().parent == EXAMPLES_DIR
