"""The export formats' registry and what every exporter shares (no Qt, no torch at import).

:mod:`studio.interop.exporters` (Python, weights, TorchScript, ONNX...), :mod:`studio.interop.script`
(train.py) and :mod:`studio.interop.notebook` each register their formats here; `exporters`
imports the other two so that importing it lists them all. Nothing here imports an exporter, so
the imports point one way.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from studio.graph.files import UnsafeFile, write_target
from studio.graph.project import Project


class ExportError(Exception):
    """The export failed; ``str()`` is one line for the user."""


class MissingDependency(ExportError):
    """An optional package the format needs is not installed."""


@dataclass
class ExportResult:
    path: Path
    format: str
    notes: list[str] = field(default_factory=list)

    def message(self) -> str:
        return f"Wrote {self.path} ({self.format})" + "".join(f"\n  {n}" for n in self.notes)


@dataclass(frozen=True)
class ExportFormat:
    name: str
    label: str
    suffix: str
    description: str
    export: Callable[..., ExportResult]
    #: True when ``run=`` (a training run's weights) applies
    uses_weights: bool = False


FORMATS: dict[str, ExportFormat] = {}


def register_format(fmt: ExportFormat) -> ExportFormat:
    """Add an export format (the training package adds ``script``, a standalone train.py)."""
    FORMATS[fmt.name] = fmt
    return fmt


def _code(project: Project):
    from studio.compiler import CompileError, generate

    try:
        return generate(project.graph, project.name)
    except CompileError as e:
        raise ExportError(f"the model has problems: {e}") from None


@contextlib.contextmanager
def _atomic(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yields a temporary path beside ``path``; renames it over ``path`` on success. A symbolic
    link's target is written (the link stays); a device, FIFO or folder is refused."""
    try:
        target = write_target(path)
    except UnsafeFile as e:
        raise ExportError(f"{e}; nothing was written") from None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ExportError(f"{target.parent}: cannot create the folder ({e.strerror or e})") from None
    tmp = target.with_name(f".{target.stem}.tmp{os.getpid()}{target.suffix}")  # same suffix: torch.export wants .pt2
    try:
        yield tmp
        os.replace(tmp, target)
    except OSError as e:
        raise ExportError(f"{target}: cannot write ({e.strerror or e})") from None
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()
