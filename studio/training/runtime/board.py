"""TensorBoard scalars: the tag names, and train.py's writer for ``--tensorboard DIR`` (runtime).

Standard library only at import (the tensorboard package is imported when a writer opens), so
Studio's callback reads the tag names without loading torch. The tags are Studio's too: its callback (``studio.training.tensorboard``) names its scalars with
`scalar_tag` and `EventLog.STEP_TAG`, so the window's runs and train.py's chart the same names.
"""

from __future__ import annotations

import sys


def scalar_tag(key):
    """``train_loss`` -> ``loss/train``, ``val_accuracy`` -> ``accuracy/val``; others (``lr``,
    ``samples_per_s``) as they are. TensorBoard groups the charts by the part before the slash,
    so train and validation share one section."""
    split, _, name = key.partition("_")
    return f"{name}/{split}" if split in ("train", "val") and name else key


def epoch_scalars(metrics):
    """(tag, value) of each number in an epoch's metrics but the epoch and its seconds."""
    return [(scalar_tag(key), value) for key, value in metrics.items()
            if key not in ("epoch", "seconds") and isinstance(value, (int, float))]


class EventLog:
    """TensorBoard event files in `log_dir` (``torch.utils.tensorboard.SummaryWriter``): the loss
    of every optimizer step and each epoch's metrics. With no `log_dir`, or without the
    tensorboard package (then one line on stderr says so), it writes nothing and trains on."""

    STEP_TAG = "loss/train_step"

    def __init__(self, log_dir):
        self.writer = None
        if not log_dir:
            return
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            hint = "the tensorboard package is not installed (pip install tensorboard)."
            print(f"TensorBoard logs are off: {hint}", file=sys.stderr)
            return
        self.writer = SummaryWriter(str(log_dir))

    def epoch(self, step_losses, first_step, metrics):
        """The epoch's step losses (numbers or 0-d tensors, read back here at the epoch's end, not
        at every step; step `first_step` first) and its metrics."""
        if self.writer is None:
            return
        for step, loss in enumerate(step_losses, first_step):
            self.writer.add_scalar(self.STEP_TAG, float(loss), step)
        for tag, value in epoch_scalars(metrics):
            self.writer.add_scalar(tag, value, metrics["epoch"])
        self.writer.flush()

    def close(self):
        if self.writer is not None:
            self.writer.close()
            self.writer = None
