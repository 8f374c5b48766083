"""Training off the GUI thread: a QThread runs `prepare_run` + `Trainer.fit`; one adapter callback
(`QtBridge`) turns trainer callbacks into throttled Qt signals.

Why a thread and not a process: the trainer already reports through callbacks and obeys a
RunControl within one batch; the model is built in-process from the same generated source the
editor shows (tracebacks point at its lines); torch ops release the GIL; and a subprocess would
re-import torch (~1-2 s) and copy data and weights back for the try-it panel.

The bridge copies numbers into plain lists in the worker and emits one `Chunk` at most every
`EMIT_SECONDS` (and when the run pauses or ends). Widgets are never touched from the worker.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

import numpy as np
from PySide6.QtCore import QObject, QThread, Signal

EMIT_SECONDS = 0.04  # at most 25 chunks per second (the trainer reads back every 45 ms)


@dataclass
class Chunk:
    steps: np.ndarray
    losses: np.ndarray
    lr_steps: list[int] = field(default_factory=list)
    lrs: list[float] = field(default_factory=list)
    epochs: list[dict] = field(default_factory=list)
    progress: dict | None = None  # epoch, epochs, batch, batches, step, samples_per_s, eta_s
    learning: dict | None = None  # block id -> studio.training.probes.BlockLearning


class BridgeSignals(QObject):
    chunk = Signal(object)  # Chunk
    started = Signal(object)  # RunInfo
    status = Signal(str)  # preparation messages (weights download...)


class QtBridge:
    """The one trainer callback of the GUI. Runs on the worker thread; cheap per call."""

    def __init__(self, signals: BridgeSignals, control, probe=None, epochs: int = 0):
        self.signals, self.control, self.probe = signals, control, probe
        self.epochs = epochs
        self._reset()
        self._last_emit = 0.0

    def _reset(self) -> None:
        self._steps: list[int] = []
        self._losses: list[float] = []
        self._lr_steps: list[int] = []
        self._lrs: list[float] = []
        self._epochs: list[dict] = []
        self._progress: dict | None = None
        self._learning = None

    # trainer callbacks ---------------------------------------------------------------------
    def on_run_start(self, info) -> None:
        self.epochs = info.epochs
        self.signals.started.emit(info)

    def on_step_end(self, r) -> None:
        first = r.step - len(r.losses) + 1
        self._steps.extend(range(first, r.step + 1))
        self._losses.extend(r.losses)
        self._lr_steps.append(r.step)
        self._lrs.append(r.lr)
        self._progress = {
            "epoch": r.epoch, "epochs": self.epochs, "batch": r.batch, "batches": r.batches,
            "step": r.step, "samples_per_s": r.samples_per_s, "eta_s": r.eta_s,
        }
        self._maybe_emit(force=self.control.paused)

    def on_epoch_end(self, r) -> None:
        self._epochs.append(dict(r.metrics))
        if self._progress is not None:
            self._progress = {**self._progress, "eta_s": r.eta_s}
        if self.probe is not None:
            self._learning = self.probe.latest
        self._maybe_emit(force=r.epoch == r.epochs)

    def on_checkpoint(self, path, kind, epoch) -> None:
        pass

    def on_run_end(self, result) -> None:
        self.flush()

    def on_failure(self, failure) -> None:
        pass

    # emitting ------------------------------------------------------------------------------
    def _maybe_emit(self, force: bool = False) -> None:
        now = time.perf_counter()
        if force or now - self._last_emit >= EMIT_SECONDS:
            self._last_emit = now
            self.flush()

    def flush(self) -> None:
        if not (self._steps or self._epochs or self._progress):
            return
        if self.probe is not None and self._learning is None:
            self._learning = self.probe.latest
        chunk = Chunk(
            np.asarray(self._steps, dtype=np.float64), np.asarray(self._losses, dtype=np.float64),
            self._lr_steps, self._lrs, self._epochs, self._progress, self._learning,
        )
        self._reset()
        self.signals.chunk.emit(chunk)


class TrainingWorker(QThread):
    """One run: prepare (data, weights, seed, model) then fit. Results are attributes, read by
    the GUI after `done`: result, model, data, code."""

    done = Signal(object)  # RunResult

    def __init__(self, project, settings, out_dir, control, resume_from=None, parent=None):
        super().__init__(parent)
        self.project, self.settings, self.out_dir = project, settings, out_dir
        self.control, self.resume_from = control, resume_from
        self.signals = BridgeSignals()
        self.result = None
        self.model = self.data = self.code = None

    def run(self) -> None:
        from studio.training import CSVLogger, Failure, RunResult, Trainer
        from studio.training.prepare import PrepareError, prepare_run
        from studio.training.probes import LearningProbe

        last = [0.0]

        def progress(p) -> None:  # weights download: report when the shown value changes, 10 Hz
            now = time.perf_counter()
            if now - last[0] > 0.1 or (p.total and p.done >= p.total):
                last[0] = now
                pct = f" {100 * p.done // p.total}%" if p.total else f" {p.done / 1e6:.1f} MB"
                self.signals.status.emit(f"Downloading {p.filename}{pct}")

        try:
            self.signals.status.emit("Preparing data and model…")
            prepared = prepare_run(
                self.project, self.settings, progress=progress,
                cancel=_StopFlag(self.control), with_code=True,
            )
        except PrepareError as e:
            self.result = RunResult("failed", message=str(e), failure=Failure(e.kind, str(e)))
            self.done.emit(self.result)
            return
        except Exception as e:  # noqa: BLE001 - anything else still ends as a message, not a crash
            msg = f"Could not start the run: {type(e).__name__}: {e}"
            self.result = RunResult("failed", message=msg, failure=Failure("error", msg))
            self.done.emit(self.result)
            return
        self.model, self.data, self.code = prepared.model, prepared.data, prepared.code
        probe = LearningProbe(prepared.model, prepared.code.attrs)
        bridge = QtBridge(self.signals, self.control, probe, self.settings.epochs)
        callbacks = [probe, bridge, CSVLogger(self.out_dir / "metrics.csv")]
        trainer = Trainer(
            prepared.model, prepared.data, self.settings, callbacks, out_dir=self.out_dir,
            control=self.control, expected_input_shape=prepared.expected_shape,
        )
        self.signals.status.emit("Training…")
        import torch

        threads = torch.get_num_threads()
        torch.set_num_threads(gui_share(threads))
        try:
            self.result = trainer.fit(resume_from=self.resume_from)
        finally:
            torch.set_num_threads(threads)
        self.done.emit(self.result)


def gui_share(threads: int) -> int:
    """Intra-op threads for a run started from the window: one core fewer, so the GUI thread
    has a core of its own. With every core busy in torch, OpenMP's barriers wait for a thread
    the scheduler parked behind the GUI, and small models train at half speed."""
    cores = os.cpu_count() or threads
    return max(1, min(threads, cores - 1))


class _StopFlag:
    """The hub's cancel protocol (`is_set()`) over a RunControl: Stop also cancels a download."""

    def __init__(self, control):
        self.control = control

    def is_set(self) -> bool:
        return self.control.stop_requested
