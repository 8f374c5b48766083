"""Where the editor keeps its settings, recent files and recovery files. No Qt.

The folder is, in order: the one given to the window, ``$STUDIO_CONFIG_DIR``, or
``~/.config/studio`` (``%APPDATA%/studio`` on Windows). Settings are one small JSON file.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from studio.graph.files import write_target
from studio.places import config_dir

MAX_RECENT = 10
SETTINGS_VERSION = 1


def write_atomic(path: Path, text: str) -> None:
    """Temporary file, then rename; a symbolic link's target is written, a device refused
    (:class:`~studio.graph.files.UnsafeFile`, an OSError)."""
    path = write_target(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


class Settings:
    """``settings.json`` in the config folder: recent files, last project, first-run flag."""

    def __init__(self, folder: str | os.PathLike[str] | None = None) -> None:
        self.folder = config_dir(folder)
        self.path = self.folder / "settings.json"
        self.data: dict[str, Any] = {"version": SETTINGS_VERSION, "recent": []}
        try:
            loaded = json.loads(self.path.read_text(encoding="utf-8"))
            if isinstance(loaded, dict):
                self.data.update(self.migrate(loaded))
        except (OSError, ValueError):
            pass

    @staticmethod
    def migrate(data: dict[str, Any]) -> dict[str, Any]:
        data.setdefault("version", SETTINGS_VERSION)
        if not isinstance(data.get("recent"), list):
            data["recent"] = []
        return data

    @property
    def first_run(self) -> bool:
        return not self.path.exists()

    def save(self) -> None:
        try:
            write_atomic(self.path, json.dumps(self.data, indent=2))
        except OSError:
            pass  # settings are a convenience; never fail an edit because of them

    def recent_files(self) -> list[str]:
        return [p for p in self.data["recent"] if isinstance(p, str)]

    def add_recent(self, path: str | os.PathLike[str]) -> None:
        p = str(Path(path).resolve())
        recent = [r for r in self.recent_files() if r != p]
        self.data["recent"] = [p, *recent][:MAX_RECENT]
        self.data["last_project"] = p
        self.save()

    @property
    def last_project(self) -> str | None:
        last = self.data.get("last_project")
        return last if isinstance(last, str) else None

    def forget_last_project(self) -> None:
        self.data.pop("last_project", None)
        self.save()
