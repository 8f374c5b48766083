"""The one sentence a run ends with, in the window's message bar and `studio train`'s last line:
how many epochs, and where the run ended up (the last validation figures, and the best epoch of
the monitored metric where it was not the last)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from studio.units import counted


def epochs(n: int) -> str:
    """'1 epoch', '8 epochs'."""
    return counted(n, "epoch")


def metric_label(key: str) -> str:
    """'val_loss' -> 'validation loss', 'train_accuracy' -> 'training accuracy'."""
    for short, long in (("val_", "validation "), ("train_", "training ")):
        if key.startswith(short):
            return long + key[len(short) :].replace("_", " ")
    return key.replace("_", " ")


def finished(history: Sequence[Mapping[str, Any]], best_epoch: int | None, monitor: str) -> str:
    """'Finished 8 epochs: validation loss 1.43, validation accuracy 0.581 (the best validation
    loss was at epoch 6).' The last epoch's validation figures, else its training ones."""
    if not history:
        return "Finished 0 epochs."
    last = history[-1]
    shown = [k for k in last if k.startswith("val_")] or [k for k in last if k.startswith("train_")]
    figures = ", ".join(f"{metric_label(k)} {last[k]:.4g}" for k in shown if _number(last[k]))
    text = f"Finished {epochs(len(history))}" + (f": {figures}" if figures else "")
    if best_epoch is not None and best_epoch != last.get("epoch", len(history)):
        text += f" (the best {metric_label(monitor)} was at epoch {best_epoch})"
    return text + "."


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
