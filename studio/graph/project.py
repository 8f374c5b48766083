"""Project files: versioned, human-readable JSON. Loading one executes no code.

Format (see ``docs/project-format.md``)::

    {"format_version": 1, "app": "studio", "name": "...", "graph": {"blocks": [...],
     "edges": [...]}, "training": {...}, "metadata": {...}}

Saving is atomic: the JSON goes to a temporary file beside the target, which is then renamed
over it, so a crash never leaves half a file.
"""

from __future__ import annotations

import errno
import json
import math
import os
import stat
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studio.blocks.text import shorten
from studio.graph import file_keys
from studio.graph.file_keys import first_unknown
from studio.graph.files import UnsafeFile, read_bytes, write_target
from studio.graph.model import Graph
from studio.graph.search import Search
from studio.graph.serialize import FormatError

FORMAT_VERSION = 2
SUFFIX = ".studio.json"
MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_NAME = 200

#: MIGRATIONS[n] turns a version-n document into a version-(n+1) document.
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {}


def _v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    """Version 2 adds module definitions (``graph.modules``); a version-1 file has none."""
    graph = data.get("graph")
    if isinstance(graph, dict):
        data = {**data, "graph": {"modules": [], **graph}}
    return {**data, "format_version": 2}


MIGRATIONS[1] = _v1_to_v2


class ProjectError(Exception):
    """A project file that cannot be read or written; ``str()`` is one line for the user."""


@dataclass
class Project:
    name: str = "Untitled"
    graph: Graph = field(default_factory=Graph)
    training: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None
    search: Search = field(default_factory=Search)

    def to_dict(self) -> dict[str, Any]:
        from studio import __version__

        d = {
            "format_version": FORMAT_VERSION,
            "app": "studio",
            "saved_by": f"studio {__version__}",
            "name": self.name,
            "graph": self.graph.to_dict(),
            "training": self.training,
            "metadata": self.metadata,
        }
        if self.search:  # written only when there are ranges: files without stay as they were
            d["search"] = self.search.to_dict()
        return d

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
        unknown = first_unknown(data, file_keys.PROJECT, "project key")
        if unknown:
            raise FormatError(unknown)
        name = data.get("name", "Untitled")
        if not isinstance(name, str):
            raise FormatError("'name' must be text")
        if len(name) > MAX_NAME:
            raise FormatError(
                f"the project name is too long ({len(name):,} characters; at most {MAX_NAME})"
            )
        training = data.get("training", {})
        if not isinstance(training, dict):
            raise FormatError("'training' must be an object")
        metadata = data.get("metadata", {})
        if not isinstance(metadata, dict):
            raise FormatError("'metadata' must be an object")
        graph = Graph.from_dict(data.get("graph", {}))
        search = Search.from_dict(data.get("search"))
        return cls(name=name, graph=graph, training=training, metadata=metadata, search=search)


def _module_uses(data: dict):
    """The module-use block dicts of a project dict, at the top and in every definition."""
    graph = data.get("graph") or {}
    graphs = [
        graph,
        *[(m.get("graph") or {}) for m in graph.get("modules", []) if isinstance(m, dict)],
    ]
    for g in graphs:
        for b in g.get("blocks", []):
            if (
                isinstance(b, dict)
                and str(b.get("type", "")).startswith("module:")
                and isinstance(b.get("params"), dict)
            ):
                yield b


def _weights_relative(data: dict, folder: Path) -> None:
    """A use's weights file inside the project's folder is stored relative to it, so the folder
    can move (Open as layers writes the file there, by its absolute path)."""
    for b in _module_uses(data):
        w = b["params"].get("weights")
        if isinstance(w, str) and w and os.path.isabs(w):
            try:
                b["params"] = {**b["params"], "weights": Path(w).relative_to(folder).as_posix()}
            except ValueError:
                pass  # outside the folder: kept absolute


def _weights_absolute(graph: Graph, folder: Path) -> None:
    """A relative weights path is the project folder's (not the working folder's): made
    absolute when the project is read, so the generated code loads the right file."""
    from studio.graph.modules import MODULE_PREFIX

    graphs = [graph, *(d.graph for d in graph.library)]
    for g in graphs:
        for b in g.blocks.values():
            w = b.params.get("weights") if b.type.startswith(MODULE_PREFIX) else None
            if (
                isinstance(w, str)
                and w.strip()
                and "\0" not in w
                and not os.path.isabs(os.path.expanduser(w))
            ):
                b.params["weights"] = str(folder / w)


def dumps(project: Project, compact: bool = False, relative_to: Path | None = None) -> str:
    """The project as JSON text. Text that cannot be written as UTF-8 (a lone surrogate read
    from a file) is stored with ``\\u`` escapes instead, so saving never fails on it; a NaN or
    infinite number in free-form data raises :class:`ProjectError` (JSON has no such value).
    ``compact`` leaves out the indentation: 7x faster (the recovery file, written every second)."""
    data = project.to_dict()
    if relative_to is not None:
        _weights_relative(data, relative_to)
    return dumps_data(data, compact)


def dumps_data(data: dict[str, Any], compact: bool = False) -> str:
    """:func:`dumps` of a project dict taken earlier (``Project.to_dict()``): the autosave
    takes the dict on the GUI thread and writes the text in a worker thread."""
    indent = None if compact else 2
    encode = _dumps_in_pieces if compact else json.dumps
    try:
        text = encode(data, indent=indent, ensure_ascii=False, allow_nan=False) + "\n"
    except ValueError as e:
        raise ProjectError(
            f"cannot save: {e} (NaN or infinity is not valid in a project file)"
        ) from None
    except RecursionError:
        raise ProjectError(
            "cannot save: the training or metadata settings are nested too deeply"
        ) from None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = encode(data, indent=indent, ensure_ascii=True, allow_nan=False) + "\n"
    return text


#: list items encoded per ``json.dumps`` call by :func:`_dumps_in_pieces`
PIECE = 200


def _dumps_in_pieces(obj: Any, depth: int = 3, **options: Any) -> str:
    """``json.dumps(obj, **options)`` without indentation, the same text, but long lists in the
    top ``depth`` levels (the blocks, the edges) encoded ``PIECE`` items at a time. One call
    holds the GIL throughout (8-12 ms for 2,000 blocks under load): the autosave's thread
    writing it stalled the window that long; between pieces the GUI thread gets its turn."""
    if depth > 0 and isinstance(obj, dict) and all(isinstance(k, str) for k in obj):
        items = (
            f"{json.dumps(k, **options)}: {_dumps_in_pieces(v, depth - 1, **options)}"
            for k, v in obj.items()
        )
        return "{" + ", ".join(items) + "}"
    if isinstance(obj, list) and len(obj) > PIECE:
        parts = (json.dumps(obj[i : i + PIECE], **options)[1:-1] for i in range(0, len(obj), PIECE))
        return "[" + ", ".join(parts) + "]"
    return json.dumps(obj, **options)


def _finite(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise _NotFinite(text)
    return value


def _not_a_number(text: str) -> float:
    raise _NotFinite(text)


class _NotFinite(ValueError):
    pass


def loads(text: str | bytes, source: str = "project") -> Project:
    try:
        data = json.loads(text, parse_float=_finite, parse_constant=_not_a_number)
    except UnicodeDecodeError:
        raise ProjectError(f"{source}: not a text file (is it really a Studio project?)") from None
    except json.JSONDecodeError as e:
        msg = e.msg.removesuffix(" at")  # "Unterminated string starting at" read "at at line 37"
        raise ProjectError(
            f"{source}: not valid JSON ({msg} at line {e.lineno}, column {e.colno})"
        ) from None
    except _NotFinite as e:
        raise ProjectError(
            f"{source}: the file holds the number {shorten(e)}, which a project cannot store "
            "(JSON has no NaN or infinity); replace it with a finite number"
        ) from None
    except RecursionError:
        raise ProjectError(f"{source}: the JSON is nested too deeply") from None
    except ValueError:  # Python refuses to read integers of more than 4,300 digits
        raise ProjectError(
            f"{source}: the file holds a number with thousands of digits; no setting is that large"
        ) from None
    try:
        return Project.from_dict(data)
    except FormatError as e:
        raise ProjectError(f"{source}: {e}") from None
    except RecursionError:
        raise ProjectError(f"{source}: the JSON is nested too deeply") from None
    except (TypeError, ValueError, KeyError, AttributeError, OverflowError) as e:
        # a shape of data our checks did not foresee: still one clean line, never a traceback
        raise ProjectError(
            f"{source}: inconsistent project data ({type(e).__name__}: {shorten(e)})"
        ) from None


def load_project(path: str | os.PathLike[str]) -> Project:
    path = Path(path)
    name = str(path)
    try:  # a regular file only: a FIFO would block the reader, /dev/zero fill the memory
        raw = read_bytes(path, MAX_FILE_BYTES, "a project")
    except FileNotFoundError:
        raise ProjectError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise ProjectError(f"{name}: is a folder, not a project file") from None
    except UnsafeFile as e:
        raise ProjectError(str(e)) from None
    except OSError as e:
        raise ProjectError(f"{name}: cannot read the file ({e.strerror or e})") from None
    if not raw.strip():
        raise ProjectError(f"{name}: the file is empty")
    project = loads(raw, name)
    _weights_absolute(project.graph, path.absolute().parent)
    project.path = path
    return project


def save_project(project: Project, path: str | os.PathLike[str] | None = None) -> Path:
    """Write atomically (temporary file + rename). Returns the path written. On any failure
    the old file is left as it was and :class:`ProjectError` says why."""
    target = Path(path) if path is not None else project.path
    if target is None:
        raise ProjectError("the project has no file name yet; choose one with Save As")
    write_atomic(target, dumps(project, relative_to=Path(target).absolute().parent))
    if path is not None or project.path is None:
        project.path = target
    return target


def _umask() -> int:
    """The process's umask, read without changing it where the system allows."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_atomic(target: Path, text: str) -> None:
    """Write ``text`` to ``target`` through a temporary file in the same folder, then rename.

    A crash, a full disk or a read-only folder leaves the old file intact; the error is a
    :class:`ProjectError` naming the file and the reason. The new file gets the permissions
    the old one had, or those the umask gives (``mkstemp`` alone would make it private).
    A symbolic link stays a link: its target is written (:func:`~studio.graph.files.write_target`);
    a device, FIFO or folder is refused."""
    try:
        target = write_target(target)
    except UnsafeFile as e:
        raise ProjectError(f"cannot save: {e}; nothing was written") from None
    tmp = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            mode = stat.S_IMODE(target.stat().st_mode)
        except FileNotFoundError:
            mode = 0o666 & ~_umask()
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
        tmp = None
    except OSError as e:
        raise ProjectError(
            f"{target}: cannot save ({_reason(e)}); the file on disk was not changed"
        ) from None
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass


def _reason(e: OSError) -> str:
    if isinstance(e, PermissionError):
        return "permission denied: the folder or file is read-only"
    if e.errno == errno.ENOSPC:
        return f"{e.strerror or 'no space left'}: the disk is full"
    return e.strerror or str(e)
