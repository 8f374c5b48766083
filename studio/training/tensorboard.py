"""TensorBoard event files for a run: a callback around ``torch.utils.tensorboard.SummaryWriter``.

Why a callback and not code in the trainer: like the progress bar and the CSV log it only reads
what the trainer reports, so ``studio train`` and the window's runs (a child process) get the
same files by adding it to their callback lists. tensorboard is an optional extra
(``pip install "studio-pytorch[tensorboard]"``): without it the run trains as before and the
front end says so in one line. Open the files with ``tensorboard --logdir RUN/tensorboard``.

Written: the loss of every step (``loss/train_step``), each epoch's ``loss/train``,
``loss/val``, ``accuracy/train`` (or ``mae/train``), ``accuracy/val``, ``lr`` and
``samples_per_s``, and the model graph (traced once on one training sample when the run
completes, in eval mode so that BatchNorm statistics are untouched).
"""

from __future__ import annotations

import contextlib
import importlib.util
import threading
import warnings
from pathlib import Path

from studio.training.callbacks import BaseCallback, EpochReport, RunInfo, RunResult, StepReport
from studio.training.runtime.board import EventLog, epoch_scalars, scalar_tag

FOLDER = "tensorboard"
INSTALL = 'pip install "studio-pytorch[tensorboard]"'
MISSING_NOTE = f"TensorBoard logs are off: the tensorboard package is not installed ({INSTALL})."


def available() -> bool:
    return importlib.util.find_spec("tensorboard") is not None


def tag(key: str) -> str:
    """``train_loss`` -> ``loss/train``, ``val_accuracy`` -> ``accuracy/val``: TensorBoard groups
    the charts by the part before the slash, so train and validation share one section. The
    runtime's rule (:func:`studio.training.runtime.board.scalar_tag`), which train.py's
    ``--tensorboard`` uses too, so both write the same tags."""
    return scalar_tag(key)


class TensorBoardLogger(BaseCallback):
    """Writes a run's scalars and graph into ``log_dir``.

    Importing tensorboard and opening the writer takes about 0.7 s (measured here), so it
    happens on a thread while the first steps train; values reported meanwhile wait in a list.
    The graph is traced when a run completes, when the model is idle (tracing it in eval mode
    while it trains would flip its mode under the training loop). A stopped run is not traced,
    and one stopped before the writer opened writes nothing: Stop must answer within a second,
    and the window's training process exits as soon as the run ends.
    """

    def __init__(self, log_dir: str | Path, model=None, example=None, note=None):
        self.log_dir = Path(log_dir)
        self.model, self.example = model, example
        self.note = note  # called at the end with where the files are and how to open them
        self.writer = None
        self._opening: threading.Thread | None = None
        self._pending: list[tuple[str, float, int]] = []
        self._dropped = False  # the writer could not be opened
        self._lock = threading.Lock()

    def on_run_start(self, info: RunInfo) -> None:
        self.close()
        self._dropped = False
        self._opening = threading.Thread(target=self._open, name="tensorboard-writer", daemon=True)
        self._opening.start()

    def _open(self) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter

            writer = SummaryWriter(str(self.log_dir))
        except Exception:  # noqa: BLE001 - e.g. a folder that cannot be written: the run goes on without
            with self._lock:
                self._pending, self._dropped = [], True
            return
        with self._lock:
            for name, value, step in self._pending:
                writer.add_scalar(name, value, step)
            self._pending.clear()
            self.writer = writer

    def _scalar(self, name: str, value: float, step: int) -> None:
        with self._lock:
            if self._dropped:
                return
            if self.writer is None:
                self._pending.append((name, value, step))
            else:
                self.writer.add_scalar(name, value, step)

    def on_step_end(self, r: StepReport) -> None:
        for step, loss in enumerate(r.losses, r.first_step):
            self._scalar(EventLog.STEP_TAG, loss, step)

    def on_epoch_end(self, r: EpochReport) -> None:
        for name, value in epoch_scalars(r.metrics):
            self._scalar(name, value, r.epoch)
        with self._lock:
            if self.writer is not None:
                self.writer.flush()

    def on_run_end(self, result: RunResult) -> None:
        if result.status == "stopped" and self.writer is None:
            # stopped before the writer opened: the user waits for Stop, not for tensorboard
            self._opening = None  # a daemon thread; the process may end under it
            return
        if self._opening is not None:
            self._opening.join()
        if result.status in ("completed", "early_stopped"):  # a Stop is answered at once, no tracing
            self._add_graph()
        written = self.writer is not None
        self.close()
        if written and self.note is not None:
            self.note(f"TensorBoard logs in {self.log_dir} (open them with: tensorboard --logdir {self.log_dir})")

    def _add_graph(self) -> None:
        if self.writer is None or self.model is None or self.example is None:
            return
        import torch

        was_training = self.model.training
        try:
            device = next(self.model.parameters()).device
            example = self.example.unsqueeze(0).to(device)
            self.model.eval()
            with warnings.catch_warnings(), torch.no_grad():
                warnings.simplefilter("ignore")  # the tracer's warnings are about TorchScript, not the run
                self.writer.add_graph(self.model, example)
        except Exception:  # noqa: BLE001 - a model the tracer refuses still has its scalars logged
            pass
        finally:
            self.model.train(was_training)

    def close(self) -> None:
        if self._opening is not None:
            self._opening.join()
            self._opening = None
        if self.writer is not None:
            with contextlib.suppress(Exception):
                self.writer.close()
        self.writer = None


def tensorboard_callbacks(out_dir: str | Path, model=None, data=None, note=None) -> list:
    """``[TensorBoardLogger]`` writing into ``OUT/tensorboard``, or ``[]`` when tensorboard is
    not installed. ``note`` (e.g. a print to stderr) hears :data:`MISSING_NOTE` then, else where
    the files are when the run ends."""
    if not available():
        if note is not None:
            note(MISSING_NOTE)
        return []
    example = None
    if data is not None and len(data.train):
        sample = data.train[0][0]
        example = sample if hasattr(sample, "unsqueeze") else None
    return [TensorBoardLogger(Path(out_dir) / FOLDER, model, example, note)]
