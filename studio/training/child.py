"""The child process's side of a run from the window (:mod:`studio.training.remote` is the
window's side and says why runs live in a process): `child_main` waits for a RunRequest,
prepares and trains, and `Reporter` sends the trainer's reports back through the pipe.

Nothing here runs in the window's process; the child imports this module when it starts.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from pathlib import Path

import numpy as np

from studio.training.child_messages import (
    CHUNK_SECONDS,
    PAUSED_FILE,
    SPARE_IDLE_S,
    Chunk,
    RunRequest,
)
from studio.training.trainer import RunControl


class Reporter:
    """The trainer callback in the child: copies numbers into plain lists and sends one Chunk at
    most every `CHUNK_SECONDS`, and at once when the run pauses or an epoch ends the run."""

    def __init__(self, send, control, probe=None, epochs: int = 0):
        self.send, self.control, self.probe = send, control, probe
        self.epochs = epochs
        self._reset()
        self._last_emit = 0.0
        self._last_progress: dict | None = None  # the last step's, kept across flushes

    def _reset(self) -> None:
        self._steps: list[int] = []
        self._losses: list[float] = []
        self._lr_steps: list[int] = []
        self._lrs: list[float] = []
        self._epochs: list[dict] = []
        self._progress: dict | None = None
        self._learning = None

    def on_run_start(self, info) -> None:
        self.epochs = info.epochs
        self.send("started", info)

    def on_step_end(self, r) -> None:
        first = r.step - len(r.losses) + 1
        self._steps.extend(range(first, r.step + 1))
        self._losses.extend(r.losses)
        self._lr_steps.append(r.step)
        self._lrs.append(r.lr)
        self._progress = {
            "epoch": r.epoch,
            "epochs": self.epochs,
            "batch": r.batch,
            "batches": r.batches,
            "step": r.step,
            "samples_per_s": r.samples_per_s,
            "eta_s": r.eta_s,
        }
        self._last_progress = self._progress
        self._maybe_flush(force=self.control.paused)

    def on_epoch_end(self, r) -> None:
        self._epochs.append(dict(r.metrics))
        # an epoch always comes with its last step's progress (the panel files the epoch under
        # that step): the step may have gone out in an earlier chunk, which left this one none
        # and the run's epoch_steps a list short (a reopened run lost its rates, a resumed
        # one the steps it kept)
        if self._last_progress is not None:
            self._progress = {**self._last_progress, "eta_s": r.eta_s}
        if self.probe is not None:
            self._learning = self.probe.latest
        self._maybe_flush(force=r.epoch == r.epochs)

    def on_checkpoint(self, path, kind, epoch) -> None:
        pass

    def on_run_end(self, result) -> None:
        self.flush()

    def on_failure(self, failure) -> None:
        pass

    def _maybe_flush(self, force: bool = False) -> None:
        now = time.perf_counter()
        if force or now - self._last_emit >= CHUNK_SECONDS:
            self._last_emit = now
            self.flush()

    def flush(self) -> None:
        if not (self._steps or self._epochs or self._progress):
            return
        if self.probe is not None and self._learning is None:
            self._learning = self.probe.latest
        chunk = Chunk(
            np.asarray(self._steps, dtype=np.float64),
            np.asarray(self._losses, dtype=np.float64),
            self._lr_steps,
            self._lrs,
            self._epochs,
            self._progress,
            self._learning,
        )
        self._reset()
        self.send("chunk", chunk)


class ChildControl(RunControl):
    """The child's RunControl: `on_pause` runs on the trainer's thread, between two steps, just
    before the loop blocks (the model is consistent there, so its state can be saved)."""

    on_pause = None

    def wait(self) -> None:
        if self.paused and not self.stop_requested and self.on_pause is not None:
            self.on_pause()
        super().wait()


def child_main(events, commands) -> None:
    """Entry point of the child process: load torch, wait for a RunRequest, prepare, train,
    report; never raises."""
    import studio.compiler  # noqa: F401  (what every run needs, loaded while the child is a spare)
    import studio.training.prepare  # noqa: F401

    try:
        if not commands.poll(SPARE_IDLE_S):
            return
        request = commands.recv()
    except (EOFError, OSError):
        return
    if not isinstance(request, RunRequest):  # stopped before it began
        return
    if request.cwd:
        with contextlib.suppress(OSError):
            os.chdir(request.cwd)
    if request.environ is not None:  # the window's environment now, not when the spare started
        os.environ.clear()
        os.environ.update(request.environ)
    if request.sys_path is not None:  # and its import path (Custom modules import by name)
        sys.path[:] = request.sys_path
    lock = threading.Lock()

    def send(*message) -> None:
        with lock:
            try:
                events.send(message)
            except (OSError, ValueError, BrokenPipeError):
                control.stop()  # the window is gone: nobody to train for

    control = ChildControl()
    threading.Thread(
        target=_listen, args=(commands, control), name="studio-commands", daemon=True
    ).start()
    try:
        result = _train(request, control, send)
    except BaseException as e:  # noqa: BLE001 - the last word goes to the window, not stderr
        from studio.training.batches import last_line
        from studio.training.callbacks import Failure, RunResult

        msg = f"The run failed: {type(e).__name__}: {last_line(e)}"
        result = RunResult("failed", message=msg, failure=Failure("error", msg))
    send("done", result)
    events.close()
    # Everything the run wrote is closed; skip the interpreter's teardown (freeing torch and
    # the data takes about a second, and the window waits for the exit).
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError, AttributeError):
            pass
    os._exit(0)


def _listen(commands, control: RunControl) -> None:
    actions = {"stop": control.stop, "pause": control.pause, "resume": control.resume}
    while True:
        try:
            command = commands.recv()
        except (EOFError, OSError):  # the window closed its end (or died): stop after this batch
            control.stop()
            return
        action = actions.get(command)
        if action is not None:
            action()


def _train(request: RunRequest, control: ChildControl, send):
    import studio.trust
    from studio.graph.project import loads
    from studio.training import CSVLogger, Failure, RunResult, Trainer, TrainingSettings
    from studio.training.prepare import PrepareError, prepare_run
    from studio.training.probes import LearningProbe
    from studio.training.tensorboard import tensorboard_callbacks

    studio.trust.restore(request.trusted)
    project = loads(request.project_json)
    project.path = Path(request.project_path) if request.project_path else None
    settings = TrainingSettings.from_dict(request.settings)
    out_dir = Path(request.out_dir)
    last = [0.0]

    def progress(p) -> None:  # weights download: report when the shown value changes, 10 Hz
        now = time.perf_counter()
        if now - last[0] > 0.1 or (p.total and p.done >= p.total):
            last[0] = now
            pct = f" {100 * p.done // p.total}%" if p.total else f" {p.done / 1e6:.1f} MB"
            send("status", f"Downloading {p.filename}{pct}")

    send("status", "Preparing data and model…")
    try:
        prepared = prepare_run(
            project, settings, progress=progress, cancel=_StopFlag(control), with_code=True
        )
    except PrepareError as e:
        return RunResult("failed", message=str(e), failure=Failure(e.kind, str(e)))
    except Exception as e:  # noqa: BLE001 - anything else still ends as a message, not a crash
        msg = f"Could not start the run: {type(e).__name__}: {e}"
        return RunResult("failed", message=msg, failure=Failure("error", msg))
    send("prepared", prepared.code)
    model = prepared.model

    def save_paused() -> None:
        import torch

        path = out_dir / PAUSED_FILE
        out_dir.mkdir(parents=True, exist_ok=True)
        torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, path)
        send("paused", str(path))

    control.on_pause = save_paused
    probe = LearningProbe(model, prepared.code.attrs)
    callbacks = [
        probe,
        Reporter(send, control, probe, settings.epochs),
        CSVLogger(out_dir / "metrics.csv"),
        *tensorboard_callbacks(out_dir, model, prepared.data),
    ]
    trainer = Trainer(
        model,
        prepared.data,
        settings,
        callbacks,
        out_dir=out_dir,
        control=control,
        expected_input_shape=prepared.expected_shape,
        max_threads=request.threads,
    )
    send("status", "Training…")
    return trainer.fit(resume_from=request.resume_from)


class _StopFlag:
    """The hub's cancel protocol (`is_set()`) over a RunControl: Stop also cancels a download."""

    def __init__(self, control):
        self.control = control

    def is_set(self) -> bool:
        return self.control.stop_requested
