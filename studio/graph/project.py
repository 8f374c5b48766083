"""Project files: versioned, human-readable JSON. Loading one executes no code.

Format (see ``docs/project-format.md``)::

    {"format_version": 1, "app": "studio", "name": "...", "graph": {"blocks": [...],
     "edges": [...]}, "training": {...}, "metadata": {...}}

Saving is atomic: the JSON goes to a temporary file beside the target, which is then renamed
over it, so a crash never leaves half a file.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studio.graph.model import Graph
from studio.graph.serialize import FormatError

FORMAT_VERSION = 1
SUFFIX = ".studio.json"
MAX_FILE_BYTES = 64 * 1024 * 1024

#: MIGRATIONS[n] turns a version-n document into a version-(n+1) document.
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {}


class ProjectError(Exception):
    """A project file that cannot be read or written; ``str()`` is one line for the user."""


@dataclass
class Project:
    name: str = "Untitled"
    graph: Graph = field(default_factory=Graph)
    training: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None

    def to_dict(self) -> dict[str, Any]:
        from studio import __version__

        return {
            "format_version": FORMAT_VERSION,
            "app": "studio",
            "saved_by": f"studio {__version__}",
            "name": self.name,
            "graph": self.graph.to_dict(),
            "training": self.training,
            "metadata": self.metadata,
        }

    @classmethod
    def from_dict(cls, data: Any) -> Project:
        if not isinstance(data, dict):
            raise FormatError("the file is not a Studio project (expected a JSON object)")
        version = data.get("format_version")
        if not isinstance(version, int) or isinstance(version, bool):
            raise FormatError("the file has no 'format_version'; it is not a Studio project")
        if version > FORMAT_VERSION:
            raise FormatError(
                f"format version {version} is newer than this Studio understands "
                f"({FORMAT_VERSION}); update Studio to open it"
            )
        if version < 1:
            raise FormatError(f"format version {version} is not valid")
        while version < FORMAT_VERSION:
            data = MIGRATIONS[version](data)
            version += 1
        name = data.get("name", "Untitled")
        if not isinstance(name, str):
            raise FormatError("'name' must be text")
        training = data.get("training", {})
        if not isinstance(training, dict):
            raise FormatError("'training' must be an object")
        metadata = data.get("metadata", {})
        if not isinstance(metadata, dict):
            raise FormatError("'metadata' must be an object")
        graph = Graph.from_dict(data.get("graph", {}))
        return cls(name=name, graph=graph, training=training, metadata=metadata)


def dumps(project: Project) -> str:
    return json.dumps(project.to_dict(), indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def loads(text: str | bytes, source: str = "project") -> Project:
    try:
        data = json.loads(text)
    except UnicodeDecodeError:
        raise ProjectError(f"{source}: not a text file (is it really a Studio project?)") from None
    except json.JSONDecodeError as e:
        raise ProjectError(f"{source}: not valid JSON ({e.msg} at line {e.lineno}, column {e.colno})") from None
    except RecursionError:
        raise ProjectError(f"{source}: the JSON is nested too deeply") from None
    try:
        return Project.from_dict(data)
    except FormatError as e:
        raise ProjectError(f"{source}: {e}") from None
    except RecursionError:
        raise ProjectError(f"{source}: the JSON is nested too deeply") from None
    except (TypeError, ValueError, KeyError, AttributeError) as e:
        # a shape of data our checks did not foresee: still one clean line, never a traceback
        raise ProjectError(f"{source}: inconsistent project data ({type(e).__name__}: {e})") from None


def load_project(path: str | os.PathLike[str]) -> Project:
    path = Path(path)
    name = str(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ProjectError(f"{name}: the file is too large ({size // 1_000_000} MB) for a project")
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ProjectError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise ProjectError(f"{name}: is a folder, not a project file") from None
    except OSError as e:
        raise ProjectError(f"{name}: cannot read the file ({e.strerror or e})") from None
    if not raw.strip():
        raise ProjectError(f"{name}: the file is empty")
    project = loads(raw, name)
    project.path = path
    return project


def save_project(project: Project, path: str | os.PathLike[str] | None = None) -> Path:
    """Write atomically (temporary file + rename). Returns the path written."""
    target = Path(path) if path is not None else project.path
    if target is None:
        raise ProjectError("the project has no file name yet; choose one with Save As")
    text = dumps(project)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except OSError as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise ProjectError(f"{target}: cannot save ({e.strerror or e})") from None
    if path is not None or project.path is None:
        project.path = target
    return target
