"""The check before the first step: two samples through the model and the loss.

It turns the mismatches a beginner makes (input shape, one score per class, target shape) into
one sentence that says what to change, instead of a shape error from deep inside torch.
"""

from __future__ import annotations

import torch

from studio.training.batches import DataFault, fault_message
from studio.training.kinds import get_loss
from studio.training.metrics import per_sample_metric


class CheckError(Exception):
    """The data does not fit the model; the message says what to change."""


def _shape(t) -> str:
    return "(" + ", ".join(str(s) for s in t) + (",)" if len(t) == 1 else ")")


def check_first_batch(model, data, s, device, autocast, loss_fn, exp) -> None:
    """Raise CheckError naming the first mismatch between `data`, `model` and the loss."""
    if exp is not None and tuple(exp) != tuple(data.input_shape):
        raise CheckError(
            f"The model expects inputs of shape {_shape(exp)} but the dataset gives {_shape(data.input_shape)}. "
            "Change the input block's shape to match the data."
        )
    k = min(2, len(data.train))
    try:
        samples = [data.train[i] for i in range(k)]
    except Exception as e:
        raise DataFault(fault_message(e)) from e
    x = torch.stack([torch.as_tensor(a) for a, _ in samples]).to(device)
    y = torch.stack([torch.as_tensor(b) for _, b in samples]).to(device)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), autocast:
            out = model(x)
    finally:
        model.train(was_training)
    if not isinstance(out, torch.Tensor):
        raise CheckError(f"The model returns {type(out).__name__}, but training needs a single tensor output.")
    kind = get_loss(s.loss.name)
    target = kind.targets  # what the loss compares the output with (`kinds.LossTarget`)
    what = kind.label.lower()
    windows = getattr(data.train, "block_size", None) is not None  # text windows (runtime.text)
    if windows and not target.windows:
        raise CheckError(f"The text data asks for the next token at every position; {kind.label} cannot compare "
                         "that. Choose Next-token cross-entropy as the loss.")
    if target.windows and not windows:
        raise CheckError(f"{kind.label} needs a text file's windows, but the data has one label per sample. "
                         "Choose Cross-entropy.")
    if target.windows:
        _check_tokens(out, y, data.num_classes or int(y.max()) + 1, what)
    elif kind.needs_logits_per_class and not y.dtype.is_floating_point:
        classes = data.num_classes or int(y.max()) + 1
        if out.dim() < 2:
            raise CheckError(
                f"The model outputs one value per sample but {what} needs one score per class "
                f"({classes} classes). Set the last layer's output size to {classes}."
            )
        if out.shape[1] < classes:
            raise CheckError(
                f"The model outputs {out.shape[1]} value{'s' if out.shape[1] != 1 else ''} per sample but the dataset has {classes} classes. "
                f"Set the last layer's output size to {classes}."
            )
        if tuple(out.shape[2:]) != tuple(y.shape[1:]):
            raise CheckError(
                f"The model outputs shape {_shape(out.shape[1:])} per sample but the targets have shape "
                f"{_shape(y.shape[1:])}; {what} needs (classes, *target shape)."
            )
    elif tuple(out.shape) != tuple(y.shape):
        if target.class_label_hint and data.task == "classification":
            hint = " " + target.class_label_hint.format(label=kind.label)
        else:
            hint = f" Set the last layer's output size to {y[0].numel()}." if y.dim() <= 2 else ""
        raise CheckError(
            f"The model outputs shape {_shape(out.shape[1:])} per sample but the targets have shape "
            f"{_shape(y.shape[1:])}.{hint}"
        )
    with torch.no_grad(), autocast:
        loss_fn(out, y.float() if target.float_targets else y)
        per_sample_metric(kind.id, out, y)


def _check_tokens(out, y, vocab: int, what: str) -> None:
    """Next-token scores: one per vocabulary token at each position of the window."""
    want = (*y.shape[1:], vocab)
    if tuple(out.shape[1:]) != want:
        raise CheckError(
            f"The model outputs shape {_shape(out.shape[1:])} per window but {what} needs one score per "
            f"vocabulary token at each position, {_shape(want)}. End the model with a Linear layer of {vocab} out features."
        )
