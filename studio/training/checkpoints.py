"""Checkpoint files: everything needed to continue a run exactly where it stopped.

Files are written atomically (temp file + rename) and read with `weights_only=True`, so opening a
checkpoint from someone else cannot run code.
"""

from __future__ import annotations

import contextlib
import os
import random
from pathlib import Path

import numpy as np
import torch

from studio.graph.files import check_readable, memory_budget

CHECKPOINT_VERSION = 1


class CheckpointError(Exception):
    """A checkpoint could not be read or does not fit this model; the message is for the user."""


class WriteError(OSError):
    """A run's file could not be written (a full disk, a read-only folder); one line, and the
    files written before are kept: the previous checkpoint stays, no ``.tmp`` is left."""

    def __str__(self) -> str:
        return self.strerror or super().__str__()


def save(path: str | Path, state: dict) -> Path:
    return save_file(path, {"version": CHECKPOINT_VERSION, **state})


def save_file(path: str | Path, obj) -> Path:
    """``torch.save`` through a temporary file and a rename. A failure (torch reports a full
    disk as a RuntimeError from its zip writer) raises :class:`WriteError` and removes the
    temporary file; the file at ``path`` is the one written before, or none."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(obj, tmp)
        os.replace(tmp, path)
    except (OSError, RuntimeError) as e:
        raise write_error(path, e) from None
    return path


def write_error(path: Path, e: BaseException) -> WriteError:
    """The one-line error of a failed write of `path` (torch reports a full disk as a
    RuntimeError from its zip writer); the temporary file it was written to is removed."""
    with contextlib.suppress(OSError):
        path.with_name(path.name + ".tmp").unlink()
    reason = getattr(e, "strerror", None) or str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    if "write" in reason.lower() and isinstance(e, RuntimeError):
        reason = f"the write failed; is the disk full? ({reason})"
    return WriteError(f"Could not write {path} ({reason}).")


def load(path: str | Path) -> dict:
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"Checkpoint not found: {path}")
    try:  # a regular file only: a FIFO would block the run before its first batch
        check_readable(path, memory_budget(), "a checkpoint")
    except OSError as e:
        raise CheckpointError(str(e)) from None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise CheckpointError(f"{path.name} is not a readable Studio checkpoint ({type(e).__name__}: {e}).") from e
    if not isinstance(state, dict) or "model" not in state or "epoch" not in state:
        raise CheckpointError(f"{path.name} is not a Studio training checkpoint (plain weights cannot be resumed).")
    return state


def rng_state(*generators: torch.Generator) -> dict:
    np_state = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "python": list(random.getstate()[1]),
        "python_gauss": random.getstate()[2],
        "numpy": torch.from_numpy(np_state[1].astype(np.int64)),
        "numpy_pos": int(np_state[2]),
        "generators": [g.get_state() for g in generators],
    }


def set_rng_state(state: dict, *generators: torch.Generator) -> None:
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    random.setstate((3, tuple(state["python"]), state["python_gauss"]))
    np.random.set_state(("MT19937", state["numpy"].numpy().astype(np.uint32), state["numpy_pos"], 0, 0.0))
    for g, s in zip(generators, state["generators"], strict=True):
        g.set_state(s)


def seed_everything(seed: int) -> None:
    """Seed torch, Python and NumPy; call before building the model so its initial weights repeat."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
