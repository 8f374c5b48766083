"""The predict-the-mean baseline of a regression run: the validation loss of a model that always
answers the training targets' mean. A run that ends worse than that has learnt nothing usable
(diabetes with the defaults ended at MSE 27,715 against the baseline's 6,078) and should say so."""

from __future__ import annotations

import torch


def mean_baseline(data, loss: torch.nn.Module) -> float | None:
    """The loss on the validation set of always predicting the training targets' mean; None when
    the data is not a regression held in memory (tensors) or has no validation set."""
    train, val = getattr(data, "train", None), getattr(data, "val", None)
    if (
        getattr(data, "task", "") != "regression"
        or not hasattr(train, "tensors")
        or not hasattr(val, "tensors")
    ):
        return None
    y_train, y_val = train.tensors[-1].float(), val.tensors[-1].float()
    if len(y_train) == 0 or len(y_val) == 0:
        return None
    guess = y_train.mean(dim=0, keepdim=True).expand_as(y_val)
    with torch.no_grad():
        return float(loss(guess, y_val))


def baseline_warning(data, loss: torch.nn.Module, history: list[dict]) -> str | None:
    """A sentence when the run's last validation loss is worse than the baseline, else None."""
    base = mean_baseline(data, loss)
    last = next(
        (h.get("val_loss") for h in reversed(history or []) if h.get("val_loss") is not None), None
    )
    if base is None or last is None or not last > base:
        return None
    return (
        f"The model ends worse than always predicting the mean (validation loss {last:,.4g} against "
        f"{base:,.4g}): try standardising the inputs, a lower learning rate or more epochs."
    )
