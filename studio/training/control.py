"""Run control and faults: how a run is stopped or paused, where it runs, what failed where.

`RunControl` is safe to call from another thread (the GUI's); the loop checks one attribute per
step. `model_failure` names the generated-source line an exception came from.
"""

from __future__ import annotations

import threading
import traceback

import torch

from studio.training.batches import last_line
from studio.training.callbacks import Failure
from studio.training.first_batch import CheckError
from studio.training.runtime.loop import choose_device

GENERATED_PREFIX = "<studio"  # filenames the compiler registers generated model source under


class RunControl:
    """Cooperative stop/pause, safe to call from another thread (e.g. the GUI thread).

    The loop checks one attribute per step and acts before the next batch.
    """

    def __init__(self):
        self._go = threading.Event()
        self._go.set()
        self.stop_requested = False
        self.attention = False  # read by the loop each step: something to act on

    def stop(self) -> None:
        self.stop_requested = True
        self.attention = True
        self._go.set()

    def pause(self) -> None:
        self._go.clear()
        self.attention = True

    def resume(self) -> None:
        self._go.set()

    @property
    def paused(self) -> bool:
        return not self._go.is_set()

    def wait(self) -> None:
        """Block while paused; called by the loop when `attention` is set."""
        self._go.wait()
        self.attention = self.stop_requested or not self._go.is_set()


def resolve_device(name: str) -> torch.device:
    """The runtime's device choice, refusing a device this machine does not have."""
    dev = choose_device(name)
    if name == "auto":
        return dev
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise CheckError(f"Device '{name}' was chosen but this machine has no usable CUDA GPU; choose cpu or auto.")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise CheckError(f"Device '{name}' does not exist; this machine has {torch.cuda.device_count()} GPU(s).")
    if dev.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise CheckError("Device 'mps' was chosen but Apple GPU support is not available; choose cpu or auto.")
    return dev


def model_failure(e: BaseException, what: str = "The model failed") -> Failure:
    """A Failure naming the generated-source line (file, line, text) where `e` was raised, if any."""
    frames = traceback.extract_tb(e.__traceback__)
    mine = [f for f in frames if f.filename.startswith(GENERATED_PREFIX)]
    frame = mine[-1] if mine else (frames[-1] if frames else None)
    loc = (frame.filename, frame.lineno, (frame.line or "").strip()) if frame else None
    msg = f"{what}: {type(e).__name__}: {last_line(e)}"
    if loc and mine:
        msg += f" (at {loc[0]}, line {loc[1]}: {loc[2]})"
    details = "".join(traceback.format_exception(type(e), e, e.__traceback__))
    return Failure("model", msg, location=loc if mine else None, details=details)
