"""Autosave files for crash recovery. No Qt.

Each running editor writes its open project to ``<config>/recovery/<pid>-<n>.json`` (never over
the user's file). A clean save or close removes it. On the next start, files whose process is
no longer running are offered back.
"""

from __future__ import annotations

import copy
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from studio.graph.project import Project, ProjectError, dumps_data, loads, write_atomic
from studio.training.processes import process_alive
from studio.ui.detached import detached


@dataclass(frozen=True)
class RecoveryFile:
    path: Path
    original: str | None  # the user's file, None for an unsaved project
    name: str
    saved_at: float

    def describe(self) -> str:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.saved_at))
        return f"{self.name} ({self.original or 'never saved'}), autosaved {when}"


@dataclass(frozen=True)
class Snapshot:
    """A project as the recovery file will hold it, taken at one moment."""

    path: Path
    original: str | None
    saved_at: float
    source: Project | dict  # a detached copy of the project, or its dict


class RecoveryStore:
    def __init__(self, config_folder: Path) -> None:
        self.folder = Path(config_folder) / "recovery"
        self._serial = 0
        self.current: Path | None = None

    def write(self, project: Project) -> Path:
        """Autosave ``project``, atomically; the same window keeps overwriting its one recovery
        file. Raises :class:`ProjectError` (NaN in the settings, a read-only folder...)."""
        return self.write_snapshot(self.snapshot(project))

    def snapshot(self, project: Project) -> Snapshot:
        """What the recovery file will hold, taken now (the GUI thread's part of an autosave:
        about a third of it at 2,000 blocks). Nothing in it is shared with the project, so
        :meth:`write_snapshot` may run in another thread while the user edits on."""
        if self.current is None:
            self._serial += 1
            self.current = self.folder / f"{os.getpid()}-{self._serial}.json"
        try:
            source = detached(project)
            if source is None:  # module definitions: their dict, taken here
                source = project.to_dict()
                source["training"], source["metadata"] = copy.deepcopy((source["training"], source["metadata"]))
        except RecursionError:
            raise ProjectError("cannot save: the training or metadata settings are nested too deeply") from None
        original = str(project.path) if project.path else None
        return Snapshot(self.current, original, time.time(), source)

    @staticmethod
    def write_snapshot(snap: Snapshot) -> Path:
        """Write a :meth:`snapshot` (any thread): the JSON text, then an atomic replace, so a
        crash mid-write leaves the last good recovery file as it was."""
        data = snap.source if isinstance(snap.source, dict) else snap.source.to_dict()
        project = dumps_data(data, compact=True)  # ProjectError for NaN
        text = f'{{"original": {json.dumps(snap.original)}, "saved_at": {snap.saved_at!r}, "project": {project}}}'
        write_atomic(snap.path, text)  # ProjectError (with the reason) when it cannot
        return snap.path

    def discard(self) -> None:
        if self.current is not None:
            try:
                self.current.unlink()
            except OSError:
                pass
            self.current = None

    def recoverable(self) -> list[RecoveryFile]:
        """Files left by editors that are no longer running, newest first."""
        out = []
        if not self.folder.is_dir():
            return out
        for path in self.folder.glob("*.json"):
            try:
                pid = int(path.name.split("-", 1)[0])
            except ValueError:
                continue
            if process_alive(pid):
                continue
            try:
                doc = json.loads(path.read_text(encoding="utf-8"))
                out.append(
                    RecoveryFile(
                        path, doc.get("original"), doc["project"].get("name", "Untitled"),
                        float(doc.get("saved_at", path.stat().st_mtime)),
                    )
                )
            except (OSError, ValueError, KeyError, AttributeError, TypeError):
                continue
        out.sort(key=lambda r: r.saved_at, reverse=True)
        return out

    @staticmethod
    def load(item: RecoveryFile) -> Project:
        try:
            doc = json.loads(item.path.read_text(encoding="utf-8"))
            project = loads(json.dumps(doc["project"]), str(item.path))
        except (OSError, ValueError, KeyError) as e:
            raise ProjectError(f"{item.path}: cannot restore ({e})") from None
        project.path = Path(item.original) if item.original else None
        return project

    @staticmethod
    def remove(item: RecoveryFile) -> None:
        try:
            item.path.unlink()
        except OSError:
            pass
