"""What the window and its training child send each other: the request that starts a run, the
chunks of numbers that come back, and the timings both sides keep to.

Its own module so that the window's side (:mod:`studio.training.remote`) and the child's
(:mod:`studio.training.child`) both import it and neither imports the other at the top: the
window starts the child with ``child_main``, the child needs only these. No Qt, no torch.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field

import numpy as np

CHUNK_SECONDS = 0.04  # at most 25 chunks per second (the window's runs report every 45 ms)
PAUSED_FILE = "paused-state.pt"  # the model's state while paused, read once by the window
SPARE_IDLE_S = 600.0  # a warm spare child that gets no run in this time ends itself


@dataclass
class Chunk:
    """What arrived since the last chunk: raw step losses, learning rates, finished epochs, the
    latest progress and learning-probe values."""

    steps: np.ndarray
    losses: np.ndarray
    lr_steps: list[int] = field(default_factory=list)
    lrs: list[float] = field(default_factory=list)
    epochs: list[dict] = field(default_factory=list)
    progress: dict | None = None  # epoch, epochs, batch, batches, step, samples_per_s, eta_s
    learning: dict | None = None  # block id -> studio.training.probes.BlockLearning


@dataclass
class RunRequest:
    """Everything the child needs, as plain data (pickled into the new process)."""

    project_json: str
    project_path: str | None
    settings: dict
    out_dir: str
    resume_from: str | None = None
    trusted: tuple = ((), False)  # studio.trust.snapshot(): the child starts trusting nothing
    threads: int | None = None  # at most this many intra-op threads (choose_threads picks)
    environ: dict | None = field(default_factory=lambda: dict(os.environ))
    sys_path: list | None = field(default_factory=lambda: list(sys.path))
    cwd: str | None = field(default_factory=os.getcwd)
