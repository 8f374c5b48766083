"""What the checks before Train hand the window: a problem, and its one-click fix.

The data-against-model check (:mod:`fit_check`) and the checks it calls (:mod:`balance_check`,
:mod:`standardize_check`, and :mod:`weights_check`) all speak these types and share the two
helpers below, so each of them imports this module and none imports another's internals: the
calls run one way, from :mod:`fit_check` down. No Qt, no torch.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studio.graph.commands import AddBlock, Command, Connect, RemoveBlocks
from studio.graph.model import Graph
from studio.graph.validation import Diagnostic


@dataclass(frozen=True)
class Fix:
    """A one-click repair: ``text`` for its button, ``make(graph)`` the command to push."""

    text: str
    make: Callable[[Graph], Command] = field(compare=False)


@dataclass(frozen=True)
class SettingsFix(Fix):
    """A fix that also changes the training settings: `training(settings dict) -> new dict`,
    pushed with the graph command as one undo step."""

    training: Callable[[dict], dict] | None = field(default=None, compare=False)


@dataclass(frozen=True)
class FitProblem(Diagnostic):
    """A diagnostic about the data and the model together, perhaps with a ``fix``."""

    fix: Fix | None = None


def cache_key(spec: Any, base_dir: str | Path | None) -> tuple:
    """What a signature depends on: the spec, the folder paths are read from, and the file's
    modification time (an edited CSV is read again)."""
    text = json.dumps(spec, sort_keys=True, default=str)
    stamp = 0
    path = spec.get("path") if isinstance(spec, dict) else None
    if isinstance(path, str) and path:
        p = Path(path).expanduser()
        if not p.is_absolute() and base_dir:
            p = Path(base_dir) / p
        try:
            stamp = os.stat(p).st_mtime_ns
        except (OSError, ValueError):  # ValueError: a NUL in the name (read_signature says so)
            stamp = -1
    return (text, str(base_dir or ""), stamp)


def insert_after(
    graph: Graph, block_id: str, type_id: str, params: dict | None = None
) -> list[Command]:
    """Commands that put a new block between ``block_id`` and everything it feeds."""
    src = graph.blocks[block_id]
    port = src.output_ports()[0].name
    wires = [e for e in graph.outgoing(block_id) if e.src_port == port]
    new_id = graph.new_id()
    x, y = src.position
    add = AddBlock(type_id, position=(x + 40.0, y + 90.0), params=params, block_id=new_id)
    commands: list[Command] = [RemoveBlocks([], [e.id for e in wires]), add]
    commands.append(Connect(block_id, port, new_id, "in"))
    commands += [Connect(new_id, "out", e.dst, e.dst_port) for e in wires]
    return commands
