"""A run in a child process: how the window trains (no Qt here; `studio.ui.training.worker` turns
the messages into signals).

Why a process and not a thread:

- **Speed.** A training loop for a small model is mostly Python (optimizer steps, autograd
  bookkeeping). In the window's process it shares the GIL with the GUI thread, whose plots and
  widgets are Python too: measured on the example MLP, a thread trained at 0.81-0.89 of the
  headless speed; a process has its own interpreter and trains at the headless speed.
- **Safety.** A crash in native code (a CUDA error, the kernel's out-of-memory killer, a custom
  module that calls `os._exit`) ends the child, not the app: the run is marked failed and the
  user's work stays open. A run that ignores Stop can be ended for sure.
- **Memory.** Everything the run allocated is returned to the system when the child ends.

What it costs: a new child starts an interpreter and imports torch (about 1.5 s, shown as
"preparing"; see the spare below), and the weights come back through a file (`weights.pt` of the run, or a state
file while paused) for the try-it panel, which runs on a copy of the model built in the window's
process by the same `prepare_run` from the same generated source.

A child starts by importing torch and the compiler, then waits for its RunRequest. The window
keeps one such spare (`warm_spare`: soon after start-up and after each run), so Train starts at
once; the spare ends itself after ten idle minutes or when the window's process ends.

The child reports through the pipe what the trainer reports through callbacks: ``status``,
``prepared`` (the GeneratedCode, to map a traceback line to its block), ``started`` (RunInfo),
``chunk`` (Chunk, at most every `CHUNK_SECONDS`), ``paused`` (path of a state file) and ``done``
(RunResult). The parent sends the RunRequest, then ``pause``, ``resume`` and ``stop``; if the
parent disappears the child stops after its batch. The child's side (`child_main`, `Reporter`)
is :mod:`studio.training.child`.
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
import threading

from studio.training.child_messages import RunRequest
from studio.training.trainer import RunControl

STOP_GRACE_S = 15.0  # a child that has not ended this long after Stop is ended by force


class RemoteControl(RunControl):
    """The window's RunControl for a run in a child: the same calls, forwarded through the pipe."""

    def __init__(self, send):
        super().__init__()
        self._send = send

    def stop(self) -> None:
        super().stop()
        self._send("stop")

    def pause(self) -> None:
        super().pause()
        self._send("pause")

    def resume(self) -> None:
        super().resume()
        self._send("resume")


class _Child:
    """A started child process and the window's ends of its two pipes."""

    def __init__(self):
        ctx = multiprocessing.get_context("spawn")  # fork would copy Qt's threads and state
        self.events, events_w = ctx.Pipe(duplex=False)
        commands_r, self.commands = ctx.Pipe(duplex=False)
        # not a daemon: a daemonic process may not start DataLoader workers
        from studio.training.child import child_main  # lazily: it imports torch's training code

        self.process = ctx.Process(
            target=child_main, args=(events_w, commands_r), name="studio-training", daemon=False
        )
        self.process.start()
        for end in (events_w, commands_r):  # the child holds them now; closing ours lets EOF show
            end.close()

    def close(self) -> None:
        for conn in (self.events, self.commands):
            try:
                conn.close()
            except OSError:
                pass


_spare: _Child | None = None
_spare_lock = threading.Lock()


def warm_spare() -> None:
    """Start a child that imports torch and waits, so that the next run starts at once (it
    ends itself after `SPARE_IDLE_S` unused, or when this process ends)."""
    global _spare
    with _spare_lock:
        if _spare is None or not _spare.process.is_alive():
            _spare = _Child()


def discard_spare() -> None:
    global _spare
    with _spare_lock:
        spare, _spare = _spare, None
    if spare is not None:
        spare.close()  # EOF: the child leaves its wait and exits
        spare.process.join(2)
        if spare.process.is_alive():
            spare.process.kill()


atexit.register(discard_spare)  # before multiprocessing's own exit hook, which would join it


def _take_spare() -> _Child | None:
    global _spare
    with _spare_lock:
        spare, _spare = _spare, None
    if spare is not None and spare.process.is_alive():
        return spare
    if spare is not None:
        spare.close()
    return None


class RemoteRun:
    """The parent's side of one run: starts the child (or takes the warm spare), reads its
    messages, forwards commands.

    Thread use: `control` is called from the GUI thread, `start` and `receive` from one reader
    thread. Commands sent before `start` wait in the pipe until the child has its request.
    """

    def __init__(self, request: RunRequest):
        self.request = request
        self.child = _take_spare()
        self._lock = threading.Lock()
        self._pending: list[str] = []
        self.control = RemoteControl(self.send)
        self.started = False

    @property
    def process(self):
        return self.child.process if self.child else None

    def start(self) -> None:
        with self._lock:
            if self.child is None:
                self.child = _Child()
            self.started = True
            self._send(self.request)
            for command in self._pending:
                self._send(command)
            self._pending.clear()

    def send(self, command: str) -> None:
        with self._lock:
            if not self.started:
                self._pending.append(command)
            else:
                self._send(command)

    def _send(self, message) -> None:
        try:
            self.child.commands.send(message)
        except (OSError, ValueError):  # the child has ended (or the pipe was closed)
            pass

    def receive(self, timeout: float) -> tuple | None:
        """The next message, None if none came within `timeout`; ("exit", code) once the child
        has ended and every message was read."""
        try:
            if not self.child.events.poll(timeout):
                return None
            return self.child.events.recv()
        except (EOFError, OSError):
            self.child.process.join(5)
            return ("exit", self.child.process.exitcode)

    def end(self, timeout: float = 5.0) -> None:
        """Wait for the child to exit; end it by force after `timeout`."""
        if self.child is None:
            return
        self.child.process.join(timeout)
        if self.child.process.is_alive():
            self.child.process.kill()
            self.child.process.join(5)
        self.child.close()


def exit_message(code: int | None) -> str:
    """A failed run's message for a child that ended without reporting."""
    if code is not None and code < 0:
        import signal

        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        hint = (
            " (the system may have run out of memory)"
            if -code == getattr(signal, "SIGKILL", 9)
            else ""
        )
        return f"The training process was ended by {name}{hint}. The project is unchanged; try a smaller batch."
    return (
        f"The training process ended unexpectedly (exit code {code}). "
        "The project is unchanged; the history so far is kept."
    )


def spare_cores(threads: int | None = None) -> int:
    """Intra-op threads for a run started from the window: one core fewer, so the GUI has a core
    of its own. With every core busy in torch, OpenMP's barriers wait for a thread the scheduler
    parked behind the GUI, and small models train at half speed."""
    if threads is None:
        import torch

        threads = torch.get_num_threads()
    cores = os.cpu_count() or threads
    return max(1, min(threads, cores - 1))
