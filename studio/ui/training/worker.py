"""Training off the GUI thread: the run itself goes in a child process
(`studio.training.remote`, which says why); a QThread here reads the child's messages and
re-emits them as Qt signals. Widgets are never touched from the thread.

The try-it panel needs the trained model in this process: when the run pauses or ends, the
thread builds a copy with the same `prepare_run` (same generated source, same data) and loads the
child's weights into it, then emits `paused_ready` or `done`.
"""

from __future__ import annotations

import time

from PySide6.QtCore import QObject, QThread, Signal

from studio.training.remote import STOP_GRACE_S, RemoteRun, RunRequest, exit_message, spare_cores

POLL_S = 0.05


class BridgeSignals(QObject):
    chunk = Signal(object)  # studio.training.child_messages.Chunk
    started = Signal(object)  # RunInfo
    status = Signal(str)  # preparation messages (weights download...)
    paused_ready = Signal()  # the paused model can be tried (`model`, `data`)


class TrainingWorker(QThread):
    """One run in a child process. Results are attributes, read by the GUI after `done`:
    result (RunResult), code (GeneratedCode, for mapping a traceback to a block), and model and
    data (a trained copy for the try-it panel, or None)."""

    done = Signal(object)  # RunResult

    def __init__(self, project, settings, out_dir, resume_from=None, parent=None):
        super().__init__(parent)
        import studio.trust
        from studio.graph.project import dumps

        self.project, self.settings = project, settings
        request = RunRequest(
            dumps(project), str(project.path) if project.path else None, settings.to_dict(), str(out_dir),
            str(resume_from) if resume_from else None, studio.trust.snapshot(), spare_cores(),
        )
        self.remote = RemoteRun(request)
        self.control = self.remote.control  # pause / resume / stop, from the GUI thread
        self.signals = BridgeSignals()
        self.result = None
        self.model = self.data = self.code = None
        self._copy = None  # PreparedRun in this process, built on the first pause or at the end

    def run(self) -> None:
        from studio.training import Failure, RunResult

        result = None
        self._ignored_stop = False
        if not self.control.stop_requested:
            self.remote.start()
            result = self._read()
            self.remote.end(0.0 if self._ignored_stop else 5.0)
        if result is None:
            code = self.remote.process.exitcode if self.remote.started else None
            if self._ignored_stop:
                result = RunResult("stopped", message=(
                    f"The run did not stop within {STOP_GRACE_S:g} s (a batch that long, or a model stuck in "
                    "its forward), so its process was ended. Finished epochs are kept in its checkpoints."))
            elif self.control.stop_requested:
                result = RunResult("stopped", message="Stopped before training began.")
            else:
                msg = exit_message(code)
                result = RunResult("failed", message=msg, failure=Failure("error", msg))
        if result.weights_path is not None:
            self._load_copy(result.weights_path)
        self.result = result
        self.done.emit(result)

    def _read(self):
        stop_seen = None
        handlers = {
            "chunk": self.signals.chunk.emit,
            "started": self.signals.started.emit,
            "status": self.signals.status.emit,
            "prepared": self._prepared,
            "paused": self._paused,
        }
        while True:
            message = self.remote.receive(POLL_S)
            if message is None:
                if self.control.stop_requested:  # a child that ignores Stop is ended
                    stop_seen = stop_seen or time.monotonic()
                    if time.monotonic() - stop_seen > STOP_GRACE_S:
                        self._ignored_stop = True
                        return None
                continue
            kind, *args = message
            if kind == "done":
                return args[0]
            if kind == "exit":
                return None
            handler = handlers.get(kind)
            if handler is not None:
                handler(*args)

    def _prepared(self, code) -> None:
        self.code = code

    def _paused(self, path: str) -> None:
        from pathlib import Path

        if self._load_copy(path):
            Path(path).unlink(missing_ok=True)
            self.signals.paused_ready.emit()

    def _load_copy(self, path) -> bool:
        """Build this process's copy of the model (once) and load the child's weights into it."""
        from studio.training.prepare import load_trained

        try:
            self._copy = load_trained(self.project, self.settings, path, self._copy)
            self.model, self.data = self._copy.model, self._copy.data
            return True
        except Exception as e:  # noqa: BLE001 - the run's result stands; only try-it is lost
            self.model = None
            self.signals.status.emit(f"The trained model could not be loaded for trying: {e}")
            return False
