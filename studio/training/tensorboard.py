"""TensorBoard event files for a run: a callback around ``torch.utils.tensorboard.SummaryWriter``.

Why a callback and not code in the trainer: like the progress bar and the CSV log it only reads
what the trainer reports, so ``studio train`` and the window's runs (a child process) get the
same files by adding it to their callback lists. tensorboard is an optional extra
(``pip install "studio-pytorch[tensorboard]"``): without it the run trains as before and the
front end says so in one line. Open the files with ``tensorboard --logdir RUN/tensorboard``.

Written: the loss of every step (``loss/train_step``), each epoch's ``loss/train``,
``loss/val``, ``accuracy/train`` (or ``mae/train``), ``accuracy/val``, ``lr`` and
``samples_per_s``, and the model graph (traced once on one training sample, in eval mode so
that BatchNorm statistics are untouched).
"""

from __future__ import annotations

import contextlib
import importlib.util
import warnings
from pathlib import Path

from studio.training.callbacks import BaseCallback, EpochReport, RunInfo, RunResult, StepReport

FOLDER = "tensorboard"
INSTALL = 'pip install "studio-pytorch[tensorboard]"'
MISSING_NOTE = f"TensorBoard logs are off: the tensorboard package is not installed ({INSTALL})."
_SKIP = ("epoch", "seconds")


def available() -> bool:
    return importlib.util.find_spec("tensorboard") is not None


def tag(key: str) -> str:
    """``train_loss`` -> ``loss/train``, ``val_accuracy`` -> ``accuracy/val``: TensorBoard groups
    the charts by the part before the slash, so train and validation share one section."""
    split, _, name = key.partition("_")
    return f"{name}/{split}" if split in ("train", "val") and name else key


class TensorBoardLogger(BaseCallback):
    """Writes a run's scalars and graph into ``log_dir`` (created on the run's start)."""

    def __init__(self, log_dir: str | Path, model=None, example=None):
        self.log_dir = Path(log_dir)
        self.model, self.example = model, example
        self.writer = None

    def on_run_start(self, info: RunInfo) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.close()
        self.writer = SummaryWriter(str(self.log_dir))
        if self.model is not None and self.example is not None:
            self._add_graph()

    def _add_graph(self) -> None:
        import torch

        was_training = self.model.training
        try:
            device = next(self.model.parameters()).device
            example = self.example.unsqueeze(0).to(device)
            self.model.eval()
            with warnings.catch_warnings(), torch.no_grad():
                warnings.simplefilter("ignore")  # the tracer's warnings are about TorchScript, not the run
                self.writer.add_graph(self.model, example)
        except Exception:  # noqa: BLE001 - a model the tracer refuses still trains and logs its scalars
            pass
        finally:
            self.model.train(was_training)

    def on_step_end(self, r: StepReport) -> None:
        if self.writer is None:
            return
        for step, loss in enumerate(r.losses, r.first_step):
            self.writer.add_scalar("loss/train_step", loss, step)

    def on_epoch_end(self, r: EpochReport) -> None:
        if self.writer is None:
            return
        for key, value in r.metrics.items():
            if key not in _SKIP and isinstance(value, (int, float)):
                self.writer.add_scalar(tag(key), value, r.epoch)
        self.writer.flush()

    def on_run_end(self, result: RunResult) -> None:
        self.close()

    def on_failure(self, failure) -> None:
        self.close()

    def close(self) -> None:
        if self.writer is not None:
            with contextlib.suppress(Exception):
                self.writer.close()
        self.writer = None


def tensorboard_callbacks(out_dir: str | Path, model=None, data=None, note=None) -> list:
    """``[TensorBoardLogger]`` writing into ``OUT/tensorboard``, or ``[]`` when tensorboard is
    not installed, after calling ``note`` (e.g. a print to stderr) with :data:`MISSING_NOTE`."""
    if not available():
        if note is not None:
            note(MISSING_NOTE)
        return []
    example = None
    if data is not None and len(data.train):
        sample = data.train[0][0]
        example = sample if hasattr(sample, "unsqueeze") else None
    return [TensorBoardLogger(Path(out_dir) / FOLDER, model, example)]
